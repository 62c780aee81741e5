"""models/frozen.py: the frozen TorchScript backbone gives the eager model's outputs."""

from __future__ import annotations

import torch

from mtlaqa.config import load_config
from mtlaqa.models.frozen import frozen_backbone
from mtlaqa.models.mtl import MTLModel

CPU = torch.device("cpu")


def _model(backbone: str) -> MTLModel:
    over = [f"model.backbone={backbone}", "model.width=0.125", "model.fc_dim=32"]
    over += ["model.tasks=[score,attributes]", "data.clip_len=8", "data.crop_size=32"]
    cfg = load_config("c3d_avg_mtl", over)
    torch.manual_seed(0)
    m = MTLModel(cfg.model, clip_len=8, crop_size=32, num_clips=cfg.data.num_clips)
    m.channels_last = True
    return m.eval()


def test_frozen_matches_eager_for_any_batch():
    for backbone in ("c3d", "c3d_s"):
        m = _model(backbone)
        videos = [torch.randn(b, 2, 3, 8, 32, 32) for b in (1, 3, 2)]
        with torch.inference_mode():
            eager = [m(v) for v in videos]
            with frozen_backbone(m, CPU, None):  # traced on the first batch, reused for the rest
                frozen = [m(v) for v in videos]
                assert m.frozen is not None and m.frozen.script is not None
        assert m.frozen is None
        for f, e in zip(frozen, eager, strict=True):
            torch.testing.assert_close(f["features"], e["features"], rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(f["score"], e["score"], rtol=1e-4, atol=1e-5)


def test_frozen_only_for_fp32_cpu_eval():
    m = _model("c3d")
    with frozen_backbone(m, CPU, torch.bfloat16):
        assert m.frozen is None
    m.train()
    with frozen_backbone(m, CPU, None):
        assert m.frozen is None
