"""Tests for the training engine: honest val carve, schedules, data order, exact resume, NaN stop."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mtlaqa import engine, train_epoch
from mtlaqa.config import load_config
from mtlaqa.data.manifest import Sample
from mtlaqa.data.sampler import EpochSampler
from mtlaqa.data.splits import split_samples
from mtlaqa.data.synth.generate import generate_synthdive
from mtlaqa.distributed import DistInfo
from mtlaqa.errors import MtlaqaError
from mtlaqa.optim import lr_lambda
from mtlaqa.trainstate import TrainState, resume_config

SRC = Path(__file__).resolve().parents[1] / "src"

# a narrow model on 32x32 SynthDive: seconds per epoch on one thread
TINY = [
    "data.resize=[32,32]",
    "data.crop_size=32",
    "data.num_clips=2",
    "data.clip_starts=[]",
    "model.width=0.125",
    "model.fc_dim=32",
    "model.dropout=0.3",
    "model.tasks=[score,attributes]",
    "train.batch_size=2",
    "train.threads=1",
    "train.deterministic=true",
    "train.tensorboard=false",
    "train.amp=off",  # fp32: machine-independent numbers (bf16 on AMX: test_precision.py)
]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    return generate_synthdive(root, num=24, seed=0, size=32, workers=1, progress=False)


def _samples(n_types: int, per_type: int) -> list[Sample]:
    out = []
    for t in range(n_types):
        for j in range(per_type):
            out.append(
                Sample(
                    id=f"s{t}_{j}",
                    video="x.mp4",
                    score=float(t),
                    position=t % 3,
                    armstand=0,
                    rotation_type=t % 4,
                    ss_no=t,
                    tw_no=0,
                )
            )
    return out


def test_val_carve_is_seeded_exact_and_stratified() -> None:
    samples = _samples(n_types=5, per_type=10)  # 50 train samples, 5 dive types
    a = split_samples(samples, 0.2, seed=3)
    b = split_samples(samples, 0.2, seed=3)
    c = split_samples(samples, 0.2, seed=4)
    assert [s.id for s in a["val"]] == [s.id for s in b["val"]]
    assert [s.id for s in a["val"]] != [s.id for s in c["val"]]
    assert len(a["val"]) == 10 and len(a["train"]) == 40
    assert not {s.id for s in a["val"]} & {s.id for s in a["train"]}
    per_type = {}
    for s in a["val"]:
        per_type[s.dive_type()] = per_type.get(s.dive_type(), 0) + 1
    assert sorted(per_type.values()) == [2, 2, 2, 2, 2]  # each type its 20 %


def test_val_carve_keeps_manifest_val() -> None:
    samples = _samples(3, 5)
    samples[0].split = "val"
    out = split_samples(samples, 0.5, seed=0)
    assert [s.id for s in out["val"]] == [samples[0].id]


def test_lr_schedules() -> None:
    const = lr_lambda("constant", 0, 100)
    assert const(0) == const(99) == 1.0
    cos = lr_lambda("cosine", 10, 110, min_ratio=0.1)
    assert cos(0) == pytest.approx(0.1) and cos(9) == pytest.approx(1.0)
    assert cos(60) == pytest.approx(0.1 + 0.9 * 0.5)
    assert cos(110) == pytest.approx(0.1)
    with pytest.raises(MtlaqaError):
        lr_lambda("step", 0, 10)


def test_sampler_shards_are_the_global_batches_and_resume() -> None:
    full = EpochSampler(12, seed=5)
    full.set_epoch(2)
    order = full.order()
    assert sorted(order) == list(range(12)) and order != list(range(12))
    r0, r1 = EpochSampler(12, 5, rank=0, world=2), EpochSampler(12, 5, rank=1, world=2)
    r0.set_epoch(2)
    r1.set_epoch(2)
    # per-rank batch 2 <-> global batch 4: the k-th global batch is the union of the ranks' k-th
    for k in range(3):
        assert sorted(r0.order()[2 * k : 2 * k + 2] + r1.order()[2 * k : 2 * k + 2]) == sorted(
            order[4 * k : 4 * k + 4]
        )
    full.set_epoch(2, skip=5)
    assert list(full) == order[5:] and len(full) == 7


def test_train_state_round_trip_restores_rng_and_moves_past_a_finished_epoch() -> None:
    s = TrainState()
    s.progress.epoch, s.progress.batch, s.progress.step = 2, 5, 7
    s.progress.epoch_done, s.progress.sums = True, {"loss": 3.0}
    s.history, s.best_val, s.best_epoch, s.bad_epochs = [{"epoch": 1}, {"epoch": 2}], 0.5, 1, 1
    saved = s.state_dict(DistInfo())
    after_save = torch.rand(3)  # what the run draws next
    torch.rand(5)  # a crash later, a fresh process: other draws
    restored = TrainState()
    restored.load_state_dict(saved)
    assert torch.equal(torch.rand(3), after_save)
    p = restored.progress
    assert (p.epoch, p.batch, p.step, p.epoch_done, p.sums) == (3, 0, 7, False, {})
    assert (restored.best_val, restored.best_epoch, restored.bad_epochs) == (0.5, 1, 1)
    assert restored.history == s.history


def _train_cmd(data: Path, out: Path, extra: list[str]) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "mtlaqa.cli",
        "train",
        "demo",
        "--data",
        str(data),
        "--out",
        str(out),
        "--quiet",
    ]
    for o in TINY + extra:
        cmd += ["--set", o]
    return cmd


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}


def test_resume_after_sigkill_matches_uninterrupted_run(data: Path, tmp_path: Path) -> None:
    extra = [
        "train.epochs=3",
        "train.checkpoint_every_steps=1",
        "train.schedule=cosine",
        "train.warmup_steps=2",
    ]
    # the reference: the same run, never interrupted (in this process)
    ref = engine.fit(
        load_config("demo", [*TINY, *extra, f"data.root={data}"]), tmp_path / "ref", progress=False
    )

    run = tmp_path / "killed"
    proc = subprocess.Popen(
        _train_cmd(data, run, extra), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    killed_at = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if (run / "last.pt").is_file():
            try:
                p = torch.load(run / "last.pt", weights_only=True)["progress"]
            except Exception:  # noqa: BLE001 - replaced while reading: try again
                p = None
            if p and p["epoch"] >= 2 and p["batch"] >= 1 and not p["epoch_done"]:
                proc.send_signal(signal.SIGKILL)  # mid-epoch, at whatever it was doing
                killed_at = p
                break
        time.sleep(0.005)
    proc.wait(timeout=30)
    assert proc.returncode is not None and proc.returncode <= 0, proc.stderr.read().decode()[-2000:]
    assert killed_at is not None, "the run finished or stalled before it could be killed mid-epoch"
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "metrics.json").exists()

    done = subprocess.run(
        [sys.executable, "-m", "mtlaqa.cli", "train", "--resume", str(run), "--quiet"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    a = torch.load(tmp_path / "ref" / "last.pt", weights_only=True)
    b = torch.load(run / "last.pt", weights_only=True)
    assert b["meta"]["resumed"] == 1
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    drop = {"train_clips_per_s"}
    assert [{k: v for k, v in r.items() if k not in drop} for r in a["history"]] == [
        {k: v for k, v in r.items() if k not in drop} for r in b["history"]
    ]
    best = torch.load(run / "checkpoint.pt", weights_only=True)
    assert best["best_epoch"] == ref["best_epoch"]
    import json

    metrics = json.loads((run / "metrics.json").read_text())
    for which in ("last", "best"):
        for k, v in ref["test"][which].items():
            if isinstance(v, float) and math.isfinite(v):
                assert metrics["test"][which][k] == pytest.approx(v, abs=1e-9), (which, k)
    assert len((run / "history.csv").read_text().strip().splitlines()) == 1 + 3


def test_nan_loss_stops_and_keeps_last_good_checkpoint(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = train_epoch.total_loss
    calls = {"n": 0}

    def flaky(out, batch, weights):  # noqa: ANN001, ANN202
        calls["n"] += 1
        loss, parts = real(out, batch, weights)
        return (loss * float("nan"), parts) if calls["n"] == 12 else (loss, parts)

    monkeypatch.setattr(train_epoch, "total_loss", flaky)
    cfg = load_config("demo", [*TINY, "train.epochs=3", f"data.root={data}"])
    with pytest.raises(MtlaqaError, match=r"non-finite .* epoch 2.*last good checkpoint"):
        engine.fit(cfg, tmp_path, progress=False)
    ck = torch.load(tmp_path / "last.pt", weights_only=True)
    assert ck["progress"]["epoch"] == 1 and ck["progress"]["epoch_done"]
    assert all(torch.isfinite(v).all() for v in ck["model"].values() if v.is_floating_point())


def test_gradient_accumulation_matches_the_larger_batch(data: Path, tmp_path: Path) -> None:
    # no dropout and no BatchNorm: both make a batch of 2 differ from half a batch of 4
    common = [
        *TINY,
        "model.dropout=0",
        "model.backbone=c3d",
        "model.backbone_norm=none",
        "train.epochs=1",
    ]
    common += [f"data.root={data}", "data.flip=false"]
    engine.fit(load_config("demo", [*common, "train.batch_size=4"]), tmp_path / "a", progress=False)
    engine.fit(
        load_config("demo", [*common, "train.batch_size=2", "train.accum_steps=2"]),
        tmp_path / "b",
        progress=False,
    )
    engine.fit(load_config("demo", [*common, "train.batch_size=2"]), tmp_path / "c", progress=False)
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["model"]
    c = torch.load(tmp_path / "c" / "last.pt", weights_only=True)["model"]
    # Adam divides by sqrt(v): float-order differences of tiny gradients show up as ~1e-5 in the
    # weights; plain batch 2 without accumulation (twice the steps) lands ~1e-3 away
    gap = max(float((a[k] - b[k]).abs().max()) for k in a)
    plain = max(float((a[k] - c[k]).abs().max()) for k in a)
    assert gap < 1e-4 < plain
    moved = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["progress"]["step"]
    assert moved == math.ceil(math.ceil(17 / 2) / 2)


def test_early_stopping_and_resume_config_guard(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the val ρ of each epoch, scripted: a gain at epoch 3 resets the count, then two epochs
    # without one stop the run (patience 2) at epoch 5 of 8
    rhos = iter([0.5, 0.4, 0.6, 0.3, 0.2, 0.9, 0.9, 0.9])
    real = train_epoch.compute_metrics

    def scripted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        return {**real(*args, **kwargs), "score_spearman": next(rhos)}

    monkeypatch.setattr(train_epoch, "compute_metrics", scripted)
    cfg = load_config(
        "demo", [*TINY, "train.epochs=8", "train.early_stop_patience=2", f"data.root={data}"]
    )
    res = engine.fit(cfg, tmp_path, progress=False, verbose=False)
    assert res["stopped_early"]
    assert [r["val_score_spearman"] for r in res["history"]] == [0.5, 0.4, 0.6, 0.3, 0.2]
    assert res["best_epoch"] == 3
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["best_epoch"] == 3
    assert torch.load(tmp_path / "last.pt", weights_only=True)["progress"]["epoch"] == 5
    with pytest.raises(MtlaqaError, match="train.lr cannot change"):
        resume_config(tmp_path, ["train.lr=0.5"])
    assert resume_config(tmp_path, ["train.epochs=9"]).train.epochs == 9


def test_undefined_val_rho_still_writes_the_best_checkpoint(
    synth_dir: Path, tmp_path: Path
) -> None:
    """A val split with one score has no ρ (NaN); the run must still leave a checkpoint.pt."""
    import json

    lines = (synth_dir / "manifest.jsonl").read_text().splitlines()
    rows = [json.loads(x) for x in lines]
    for r in rows:
        r["video"] = str(synth_dir / r["video"])
        if r["split"] == "val":
            r["score"] = 50.0  # every val dive scores the same: Spearman ρ is undefined
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    from conftest import TINY

    cfg = load_config("demo", [f"data.root={tmp_path / 'data'}", *TINY, "train.epochs=1"])
    result = engine.fit(cfg, tmp_path / "run", progress=False, verbose=False)
    assert math.isnan(result["history"][0]["val_score_spearman"])
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    assert result["best_epoch"] == 1
