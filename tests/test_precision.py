"""The bf16 autocast fast path keeps score predictions within 1 % of fp32 on the same weights."""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from mtlaqa.config import Config, load_config
from mtlaqa.data.dataset import ScoreNorm
from mtlaqa.evaluate import predict_loader
from mtlaqa.models.mtl import MTLModel
from mtlaqa.schema import ATTRIBUTE_CLASSES

# narrow and small: bf16 is emulated (slow) on CPUs without AMX / AVX512-BF16
OVERRIDES = [
    "model.width=0.125",
    "model.fc_dim=64",
    "model.tasks=[score,attributes]",
    "data.num_clips=2",
    "data.clip_len=8",
    "data.crop_size=32",
]
NORM = ScoreNorm(mean=45.0, std=20.0)  # about MTL-AQA's training score statistics


def _batches(cfg: Config) -> list[dict]:
    """Two batches of two samples shaped like `collate` output, with dummy labels."""
    g = torch.Generator().manual_seed(1)
    d = cfg.data
    out = []
    for i in range(2):
        video = (
            torch.rand(2, d.num_clips, 3, d.clip_len, d.crop_size, d.crop_size, generator=g) * 4.0
            - 2.0
        )
        out.append(
            {
                "id": [f"s{i}a", f"s{i}b"],
                "video": video,
                "score": torch.zeros(2),
                "attributes": {k: torch.zeros(2, dtype=torch.long) for k in ATTRIBUTE_CLASSES},
            }
        )
    return out


def _model(cfg: Config) -> MTLModel:
    torch.manual_seed(0)
    model = MTLModel(cfg.model, clip_len=cfg.data.clip_len, crop_size=cfg.data.crop_size)
    model.channels_last = True
    # He init keeps activations at a trained network's scale through the 8 convs; PyTorch's
    # default init shrinks them until every input gets the same score and any error looks small
    for m in model.modules():
        if isinstance(m, nn.Conv3d | nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return model


def test_bf16_scores_within_one_percent_of_fp32() -> None:
    cfg = load_config("c3d_avg_mtl", OVERRIDES)
    model, batches = _model(cfg), _batches(cfg)
    dev = torch.device("cpu")
    fp32 = predict_loader(model, batches, dev, NORM, None, False, None, progress=False)
    bf16 = predict_loader(model, batches, dev, NORM, None, False, torch.bfloat16, progress=False)
    s32, s16 = fp32["score_pred"], bf16["score_pred"]
    assert np.ptp(s32) > 0.1, "the fp32 scores must depend on the input"
    rel = np.abs(s16 - s32) / np.abs(s32)
    assert rel.max() < 0.01, f"bf16 score off by up to {100 * rel.max():.2f} %"
    # under one score point too, whatever the score's size
    assert np.abs(s16 - s32).max() < 1.0
    # the path really ran in bf16: bit-identical results would mean autocast was off
    assert np.abs(s16 - s32).max() > 0.0


def test_onednn_isa_cap_lowers_the_kind_and_the_fast_path_precision(monkeypatch) -> None:
    """ONEDNN_MAX_CPU_ISA=AVX2 on a bigger CPU: the AVX2 kind; bf16 autocast on AMX only."""
    from mtlaqa import cpu, device

    cpu_dev = torch.device("cpu")
    amx = frozenset({"avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16"})
    monkeypatch.setattr(cpu, "cpu_flags", lambda: amx)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert cpu.cpu_kind() == "AMX" and device.amp_dtype(cpu_dev, "auto") == torch.bfloat16
    for cap, kind in (
        ("AVX2", "AVX2"),
        ("avx512_core", "AVX-512"),
        ("AVX512_CORE_BF16", "AVX512-BF16"),
        ("ALL", "AMX"),
    ):
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
        assert cpu.cpu_kind() == kind, cap
        fast = device.amp_dtype(cpu_dev, "auto")
        assert fast == (torch.bfloat16 if kind == "AMX" else None), cap
    # AVX512-BF16 without AMX runs fp32 (its bf16 conv gradients went wrong; see cpu_has_fast_bf16)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    monkeypatch.setattr(cpu, "cpu_flags", lambda: amx - {"amx_bf16"})
    assert cpu.cpu_kind() == "AVX512-BF16" and device.amp_dtype(cpu_dev, "auto") is None
    assert device.amp_dtype(cpu_dev, "bf16") == torch.bfloat16  # asked for, it is given
    # a cap above what the CPU has changes nothing
    assert cpu.cpu_kind(frozenset({"avx2"}), cap="AVX512_CORE_BF16") == "AVX2"


def test_importing_mtlaqa_turns_on_huge_pages_for_big_tensors_unless_set() -> None:
    import subprocess
    import sys

    code = "import os, mtlaqa; print(os.environ['THP_MEM_ALLOC_ENABLE'])"
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "1"
    env["THP_MEM_ALLOC_ENABLE"] = "0"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "0"
