"""Shared fixtures: `tiny_run`, a narrow demo model trained for one epoch on 12 SynthDive videos."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

TINY_OVERRIDES = [
    "model.width=0.0625",
    "model.fc_dim=32",
    "model.caption_hidden=16",
    "model.caption_embed=16",
    "train.epochs=1",
    "train.batch_size=4",
    "data.resize=[32,32]",
    "data.crop=32",
]


@dataclass
class TinyRun:
    """A trained run folder, its dataset and the checkpoint file to load."""

    run: Path
    data: Path
    checkpoint: Path
    videos: list[Path]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """Demo preset shrunk to seconds of CPU (all three tasks); no test split, so fit skips the
    test evaluation. `checkpoint` is last.pt: with one epoch and 4 validation videos the
    best-validation checkpoint.pt exists only when validation ρ is defined."""
    from mtlaqa.config import load_config
    from mtlaqa.data.synth.generate import generate_synthdive
    from mtlaqa.engine import fit

    root = tmp_path_factory.mktemp("tiny_run")
    data = root / "data"
    generate_synthdive(
        data, num=12, seed=0, size=32, workers=1, progress=False, splits=(0.67, 0.33, 0.0)
    )
    cfg = load_config("demo", [f"data.root={data}", *TINY_OVERRIDES])
    fit(cfg, root / "run", progress=False)
    videos = sorted((data / "videos").glob("*.mp4"))
    return TinyRun(run=root / "run", data=data, checkpoint=root / "run" / "last.pt", videos=videos)
