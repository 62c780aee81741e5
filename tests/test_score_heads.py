"""Score heads (`model.score_head`): shapes in both architectures, loss values on made-up numbers,
a checkpoint round trip, and a tiny run that calibrates intervals on val."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mtlaqa.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from mtlaqa.config import ModelConfig, load_config
from mtlaqa.engine import fit
from mtlaqa.errors import MtlaqaError
from mtlaqa.losses import (
    distribution_loss,
    gaussian_nll_loss,
    score_head_loss,
    smoothed_target,
    total_loss,
)
from mtlaqa.models.archs import build_arch
from mtlaqa.models.score_heads import DIST_BINS, DistributionHead, bin_centres, build_score_head

torch.set_num_threads(1)
HEADS = ["direct", "gaussian", "distribution"]
ARCHS = ["multiclip", "mscadc"]


def narrow(arch: str, head: str) -> ModelConfig:
    common = {"tasks": ["score", "attributes"], "score_head": head, "dropout": 0.0}
    if arch == "mscadc":
        return ModelConfig(arch="mscadc", width=0.125, **common)
    return ModelConfig(arch="multiclip", backbone="c3d_s", width=0.125, fc_dim=16, **common)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("head", HEADS)
def test_outputs_per_head_and_arch(arch: str, head: str) -> None:
    torch.manual_seed(0)
    model = build_arch(narrow(arch, head), clip_len=12, crop_size=32, num_clips=2).eval()
    out = model(torch.randn(3, 2, 3, 12, 32, 32))
    assert out["score"].shape == (3,)
    if head == "direct":
        assert "score_sigma" not in out and "score_logits" not in out
    else:
        assert out["score_sigma"].shape == (3,) and bool((out["score_sigma"] > 0).all())
    if head == "distribution":
        assert out["score_logits"].shape == (3, DIST_BINS)
        assert bool((out["score"].abs() <= 4.0).all())  # a mean of the bins lies inside them
    # one training step: the head's loss has gradients down to the backbone
    model.train()
    out = model(torch.randn(3, 2, 3, 12, 32, 32))
    tgt = {
        "score": torch.tensor([0.5, -1.0, float("nan")]),
        "attributes": {k: torch.zeros(3, dtype=torch.long) for k in out["attributes"]},
    }
    loss, parts = total_loss(out, tgt, load_config().loss)
    loss.backward()
    assert math.isfinite(float(loss.detach())) and ("score_mse_l1" in parts) == (head != "direct")
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.backbone.parameters())


def test_gaussian_nll_on_made_up_numbers() -> None:
    mean, sigma, y = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])
    # per sample 0.5·(log σ² + (y − μ)²/σ²): 0 and 0.5·(log 4 + 1/4)
    second = 0.5 * (math.log(4.0) + 0.25)
    assert float(gaussian_nll_loss(mean, sigma, y, beta=0.0)) == pytest.approx(second / 2)
    # β = 0.5 weights each sample by σ: (1·0 + 2·second) / 2
    assert float(gaussian_nll_loss(mean, sigma, y, beta=0.5)) == pytest.approx(second)
    # unlabelled samples are skipped
    y2 = torch.tensor([0.0, float("nan")])
    assert float(gaussian_nll_loss(mean, sigma, y2, beta=0.0)) == pytest.approx(0.0)


def test_distribution_loss_and_head_on_made_up_numbers() -> None:
    y = torch.tensor([0.0, 1.3])
    target = smoothed_target(y)
    assert target.shape == (2, DIST_BINS) and torch.allclose(target.sum(-1), torch.ones(2))
    x = bin_centres().numpy()
    assert x[int(target[1].argmax())] == pytest.approx(1.3, abs=0.051)
    # the target's own log-probabilities: KL 0; uniform logits: KL = log(bins) − H(target)
    assert float(distribution_loss(target.clamp_min(1e-30).log(), y)) == pytest.approx(
        0.0, abs=1e-5
    )
    t = target.numpy().astype(np.float64)
    entropy = -(t * np.log(t + 1e-30)).sum(-1).mean()
    uniform = torch.zeros(2, DIST_BINS)
    assert float(distribution_loss(uniform, y)) == pytest.approx(
        math.log(DIST_BINS) - entropy, rel=1e-4
    )
    # half the mass on −1, half on +1: mean 0, standard deviation 1
    logits = torch.full((1, DIST_BINS), -1e4)
    logits[0, [int(np.argmin(abs(x + 1))), int(np.argmin(abs(x - 1)))]] = 0.0
    out = DistributionHead().finish(logits)
    assert float(out["score"]) == pytest.approx(0.0, abs=1e-5)
    assert float(out["score_sigma"]) == pytest.approx(1.0, abs=1e-4)
    # the training loss follows the head; MSE + L1 is always its second value
    loss, mse_l1 = score_head_loss({"score": out["score"], "score_logits": logits}, y[:1])
    assert float(mse_l1) == pytest.approx(0.0, abs=1e-5) and float(loss) > 1.0


def test_direct_loss_is_mse_plus_l1() -> None:
    loss, mse_l1 = score_head_loss({"score": torch.tensor([1.0, 3.0])}, torch.tensor([0.0, 1.0]))
    assert float(loss) == float(mse_l1) == pytest.approx((1 + 4) / 2 + (1 + 2) / 2)


def test_unknown_head_is_a_one_line_error() -> None:
    with pytest.raises(MtlaqaError, match="model.score_head 'exemplarr'"):
        build_score_head("exemplarr")


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("head", ["gaussian", "distribution"])
def test_checkpoint_round_trip(arch: str, head: str, tmp_path) -> None:
    cfg = load_config(
        "demo",
        [
            f"model.arch={arch}",
            f"model.score_head={head}",
            "model.width=0.125",
            "model.fc_dim=16",
            "model.tasks=[score]",
            "data.resize=[32,32]",
            "data.crop_size=32",
            "data.clip_len=12",
        ],
    )
    model = build_arch(cfg.model, clip_len=12, crop_size=32, num_clips=cfg.data.num_clips).eval()
    path = tmp_path / "checkpoint.pt"
    cal = {"kind": "normalised", "units": "final", "n": 3, "scores": [0.5, 1.0, 2.0]}
    state = {"config": cfg.to_dict(), "model": model.state_dict(), "score_norm": (50.0, 10.0)}
    save_checkpoint(path, {**state, "conformal": cal})
    ck = load_checkpoint(path)
    again, cfg2, _, norm = model_from_checkpoint(ck)
    assert cfg2.model.score_head == head and ck["conformal"] == cal and norm.std == 10.0
    x = torch.randn(2, cfg.data.num_clips, 3, 12, 32, 32)
    a, b = model(x), again(x)
    for key in ("score", "score_sigma"):
        assert torch.allclose(a[key], b[key])


def test_tiny_run_calibrates_on_val(tiny_cfg, tmp_path) -> None:
    cfg = load_config("demo", [])
    cfg.data, cfg.train = tiny_cfg.data, tiny_cfg.train
    cfg.model = ModelConfig(**{**tiny_cfg.model.__dict__, "score_head": "gaussian"})
    cfg.model.tasks = ["score"]
    res = fit(cfg, tmp_path / "run", progress=False, verbose=False)
    ck = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    cal = ck["conformal"]
    assert cal["kind"] == "normalised" and cal["n"] == res["meta"]["split_sizes"]["val"]
    assert cal["scores"] == sorted(cal["scores"])
    assert "split-conformal (normalised)" in res["meta"]["interval"]
    assert "train_score_mse_l1_loss" in res["history"][0]
    assert "val_score_uncertainty_kendall" in res["history"][0]
    best = res["test"]["best"]
    assert best["interval_level"] == 0.9 and "score_uncertainty_kendall" in best
    assert res["calibration"]["levels"] == [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    # `mtlaqa calibrate` on the same checkpoint finds the same val split and the same scores
    from mtlaqa.calibrate import calibrate_checkpoint

    again = calibrate_checkpoint(tmp_path / "run", cfg.data.root, tmp_path / "re.pt", "cpu", False)
    assert again["n"] == cal["n"] and again["scores"] == pytest.approx(cal["scores"], rel=1e-4)


def test_no_val_split_gives_no_interval_and_says_so(tmp_path) -> None:
    from mtlaqa.calibrate import calibrate_checkpoint
    from mtlaqa.data.synth.generate import generate_synthdive
    from mtlaqa.predict import load_model

    from .conftest import TINY

    data = tmp_path / "data"
    generate_synthdive(
        data, num=12, seed=2, size=32, workers=1, progress=False, splits=(0.75, 0.0, 0.25)
    )
    cfg = load_config(
        "demo",
        [
            f"data.root={data}",
            *TINY,
            "data.val_fraction=0",
            "model.tasks=[score]",
            "train.epochs=1",
        ],
    )
    res = fit(cfg, tmp_path / "run", progress=False, verbose=False)
    assert (
        res["meta"]["split_sizes"]["val"] == 0 and "no validation split" in res["meta"]["interval"]
    )
    assert "interval_coverage" not in res["test"]["best"]
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["conformal"] is None
    p = load_model(tmp_path / "run", "cpu").predict(sorted((data / "videos").glob("*.mp4"))[0])
    assert p.score is not None and p.score_interval is None and p.interval_level is None
    assert "no validation split" in p.interval_note and p.interval_note in p.format()
    with pytest.raises(MtlaqaError, match="no validation split"):
        calibrate_checkpoint(tmp_path / "run", data, None, "cpu", False)


def test_prediction_prints_its_interval() -> None:
    from mtlaqa.predict import Prediction

    p = Prediction(video="d.mp4", score=56.6, score_interval=[51.2, 62.0], interval_level=0.9)
    assert "56.60 (90%: 51.20 – 62.00)" in p.format()
    assert p.to_dict()["score_interval"] == [51.2, 62.0]
