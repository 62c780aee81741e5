"""Tests for the STL-vs-MTL and data-efficiency experiments (tiny model, generated SynthDive)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mtlaqa.config import load_config
from mtlaqa.data.manifest import read_manifest
from mtlaqa.data.synth.generate import generate_synthdive
from mtlaqa.experiments import stl_vs_mtl, subset_manifests

TINY = [
    "data.resize=[32,32]",
    "data.crop_size=32",
    "data.num_clips=2",
    "data.clip_starts=[]",
    "model.width=0.125",
    "model.fc_dim=32",
    "train.batch_size=4",
    "train.epochs=1",
    "train.threads=1",
    "train.tensorboard=false",
    "train.amp=off",  # fp32: machine-independent numbers (bf16 on AMX: test_precision.py)
]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    return generate_synthdive(root, num=24, seed=2, size=32, workers=1, progress=False).parent


def test_subsets_are_nested_seeded_and_keep_val_and_test(data: Path, tmp_path: Path) -> None:
    full = read_manifest(data)
    n_train = sum(s.split == "train" for s in full)
    paths = subset_manifests(data, [1.0, 0.5, 4], seed=0, out=tmp_path, val_fraction=0.1)
    assert sorted(paths, reverse=True) == [n_train, round(n_train / 2), 4]
    sets = {n: read_manifest(p) for n, p in paths.items()}
    ids = {n: {s.id for s in ss if s.split == "train"} for n, ss in sets.items()}
    assert ids[4] < ids[round(n_train / 2)] < ids[n_train]
    for ss in sets.values():  # val and test identical for every size
        assert {s.id for s in ss if s.split != "train"} == {
            s.id for s in full if s.split != "train"
        }
        assert all(Path(s.video).is_file() for s in ss)
    other = subset_manifests(data, [4], seed=1, out=tmp_path / "b", val_fraction=0.1)
    assert {s.id for s in read_manifest(other[4]) if s.split == "train"} != ids[4]


def test_stl_vs_mtl_runs_every_cell_and_reuses_finished_runs(data: Path, tmp_path: Path) -> None:
    cfg = load_config("demo", [*TINY, f"data.root={data}"])
    grid = {"STL": ["score"], "MTL": ["score", "attributes"]}
    lines: list[str] = []
    res = stl_vs_mtl(cfg, tmp_path, seeds=(0, 1), grid=grid, progress=False, echo=lines.append)
    assert len(res["runs"]) == 4 and {(r["variant"], r["seed"]) for r in res["runs"]} == {
        (v, s) for v in grid for s in (0, 1)
    }
    assert all(-1 <= r["best"]["score_spearman"] <= 1 for r in res["runs"])
    assert "±" in lines[1] and "STL" in lines[1]
    assert (tmp_path / "stl_vs_mtl.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "stl_vs_mtl.json").read_text())
    assert saved["table"]["rows"][0][0] == "STL"
    # a second call finds every run finished and only rebuilds the table
    (tmp_path / "score" / "seed0" / "last.pt").unlink()
    again = stl_vs_mtl(cfg, tmp_path, seeds=(0, 1), grid=grid, progress=False, echo=lambda _: None)
    assert again["table"] == res["table"]
    assert not (tmp_path / "score" / "seed0" / "last.pt").exists()
