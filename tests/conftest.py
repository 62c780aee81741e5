"""Shared fixtures: a tiny SynthDive dataset and a tiny trained run, made once per session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from mtlaqa.config import load_config

TINY = [
    "model.width=0.0625",
    "model.fc_dim=32",
    "model.caption_hidden=16",
    "model.caption_embed=16",
    "model.caption_layers=1",
    "model.dropout=0.0",
    "data.resize=[32,32]",
    "data.crop_size=32",
    "data.num_clips=3",
    "data.clip_len=4",
    "data.stride=8",
    "train.epochs=2",
    "train.batch_size=4",
    "train.meteor=false",
    # fp32 everywhere: tests compare numbers across runs, batch splits and machines, and
    # `amp=auto` is bf16 on AMX CPUs (the bf16 path has its own tests: test_precision.py)
    "train.amp=off",
]


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 SynthDive dives at 32×32 (train/val/test splits)."""
    from mtlaqa.data.synth.generate import generate_synthdive

    out = tmp_path_factory.mktemp("synth")
    generate_synthdive(out, num=16, seed=3, size=32, workers=1, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_cfg(synth_dir: Path):
    """The demo preset shrunk to a model that trains in about a second."""
    return load_config("demo", [f"data.root={synth_dir}", *TINY])


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_cfg) -> tuple[Path, dict]:
    """A finished two-epoch training run: (run folder, fit result)."""
    from mtlaqa.engine import fit

    out = tmp_path_factory.mktemp("run")
    result = fit(tiny_cfg, out, progress=False, verbose=False)
    return out, result


TINY_OVERRIDES = [
    "model.width=0.0625",
    "model.fc_dim=32",
    "model.caption_hidden=16",
    "model.caption_embed=16",
    "train.epochs=1",
    "train.batch_size=4",
    "data.resize=[32,32]",
    "data.crop_size=32",
    "train.amp=off",  # fp32: machine-independent numbers (bf16 on AMX: test_precision.py)
]


@dataclass
class TinyRun:
    """A trained run folder, its dataset and the checkpoint file to load."""

    run: Path
    data: Path
    checkpoint: Path
    videos: list[Path]


@pytest.fixture(scope="session")
def serve_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """Demo preset shrunk to seconds of CPU (all three tasks); no test split, so fit skips the
    test evaluation. `checkpoint` is last.pt: with one epoch and 4 validation videos the
    best-validation checkpoint.pt exists only when validation ρ is defined."""
    from mtlaqa.config import load_config
    from mtlaqa.data.synth.generate import generate_synthdive
    from mtlaqa.engine import fit

    root = tmp_path_factory.mktemp("serve_run")
    data = root / "data"
    generate_synthdive(
        data, num=12, seed=0, size=32, workers=1, progress=False, splits=(0.67, 0.33, 0.0)
    )
    cfg = load_config("demo", [f"data.root={data}", *TINY_OVERRIDES])
    fit(cfg, root / "run", progress=False, verbose=False)
    videos = sorted((data / "videos").glob("*.mp4"))
    return TinyRun(run=root / "run", data=data, checkpoint=root / "run" / "last.pt", videos=videos)
