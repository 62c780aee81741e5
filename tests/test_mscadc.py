"""MSCADC: shapes at several input sizes, STL and MTL, a training step at batch size 1, and the
whole engine (fit -> predict -> evaluate) through `model.arch: mscadc`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mtlaqa.config import ModelConfig, load_config
from mtlaqa.data.synth.generate import generate_synthdive
from mtlaqa.engine import fit
from mtlaqa.evaluate import evaluate_checkpoint
from mtlaqa.losses import total_loss
from mtlaqa.models.archs import build_arch
from mtlaqa.models.mscadc import MSCADC
from mtlaqa.predict import load_model

torch.set_num_threads(1)


def narrow(tasks: list[str]) -> ModelConfig:
    return ModelConfig(arch="mscadc", width=0.125, tasks=tasks, caption_hidden=16, caption_embed=8)


@pytest.mark.parametrize(("frames", "size"), [(16, 64), (16, 48), (8, 40)])
def test_any_input_size(frames: int, size: int) -> None:
    model = build_arch(narrow(["score", "attributes"]), frames=frames, size=size).eval()
    out = model(torch.randn(2, 1, 3, frames, size, size))
    assert out["score"].shape == (2,)
    assert {k: v.shape[1] for k, v in out["attributes"].items()} == {
        "position": 3, "armstand": 2, "rotation_type": 4, "ss_no": 10, "tw_no": 8,
    }  # fmt: skip
    assert out["features"].shape[:3] == (2, 1, model.backbone.out_channels)


def test_stl_has_only_the_score_head() -> None:
    model = build_arch(narrow(["score"]), frames=16, size=48)
    assert isinstance(model, MSCADC)
    assert not hasattr(model, "attributes") and not hasattr(model, "caption")
    assert set(model(torch.randn(1, 1, 3, 16, 48, 48))) == {"score", "features"}


def test_context_net_consumes_its_padding() -> None:
    # replication pad 9, then the unpadded context net: the map is back to the body's size
    model = build_arch(narrow(["score"]), frames=16, size=64)
    x = torch.randn(1, model.backbone.out_channels, 4, 8, 8)
    net = model.score_trunk.net
    assert isinstance(net[16], torch.nn.MaxPool3d)
    y = net[:16](x)  # up to and including the context net's last 1×1 conv, BN, ReLU
    assert y.shape[2:] == x.shape[2:]


def test_trains_a_step_at_batch_size_1() -> None:
    torch.manual_seed(0)
    model = build_arch(
        narrow(["score", "attributes", "caption"]), frames=16, size=48, vocab_size=10
    )
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    video = torch.randn(1, 1, 3, 16, 48, 48)
    cap_in, cap_out = torch.tensor([[1, 5, 6]]), torch.tensor([[5, 6, 2]])
    target = {
        "score": torch.tensor([0.5]),
        "attributes": {
            k: torch.tensor([1])
            for k in ("position", "armstand", "rotation_type", "ss_no", "tw_no")
        },
        "caption_out": cap_out,
    }
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    loss, parts = total_loss(model(video, cap_in), target, load_config(None).loss)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and set(parts) == {"score", "attributes", "caption"}
    unchanged = {n for n, p in model.named_parameters() if torch.equal(before[n], p)}
    # the caption encoder takes ONE step from a zero state (one clip), so its recurrent weights
    # cannot get a gradient; everything else (body with BN at batch 1, three heads) must move
    assert unchanged == {
        "caption.decoder.encoder.weight_hh_l0",
        "caption.decoder.encoder.weight_hh_l1",
    }
    toks = model.caption.generate(model.eval()(video)["features"], max_len=4, beam=2)
    assert len(toks) == 1 and len(toks[0]) <= 4


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    generate_synthdive(root, num=10, size=48, workers=1, progress=False)
    return root


def test_engine_fit_predict_evaluate_with_dd(synth: Path, tmp_path: Path) -> None:
    overrides = [
        f"data.root={synth}",
        "data.num_clips=1", "data.clip_len=16", "data.stride=6",
        "data.resize=[48,48]", "data.crop=40",
        "model.arch=mscadc", "model.width=0.125", "model.tasks=score,attributes",
        "model.score_protocol=with_dd",
        "train.epochs=1", "train.batch_size=1", "train.device=cpu", "train.amp='off'",
        "train.channels_last=false",
    ]  # fmt: skip
    cfg = load_config("mscadc_mtl", overrides)
    result = fit(cfg, tmp_path, progress=False)
    assert result["meta"]["protocol"] == "with_dd"
    pred = result["predictions"]["last"]
    samples = {
        json.loads(line)["id"]: json.loads(line) for line in (synth / "manifest.jsonl").open()
    }
    for i, p, t, e in zip(
        pred["ids"], pred["score_pred"], pred["score_true"], pred["execution_pred"], strict=True
    ):
        dd = samples[i]["difficulty"]
        assert t == pytest.approx(samples[i]["score"], rel=1e-5)  # truth back in final-score units
        assert p == pytest.approx(e * dd, rel=1e-6)
    metrics = evaluate_checkpoint(
        tmp_path / "last.pt", synth, "test", "cpu", meteor=False, progress=False
    )
    assert metrics["protocol"] == "with_dd" and "spearman" in metrics
    video = next(s for s in samples.values() if s["split"] == "test")
    p = load_model(tmp_path / "last.pt", "cpu").predict(synth / video["video"], difficulty=2.0)
    assert p.execution is not None and p.score == pytest.approx(2.0 * p.execution)
    assert p.dive_number is not None
