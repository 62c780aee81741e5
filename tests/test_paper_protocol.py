"""The paper's protocol on the real release: its smaller training sets as manifests (Table 8),
and the val_fraction=0 selection (every training dive trains, last epoch reported)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtlaqa.data.manifest import read_manifest, write_manifest
from mtlaqa.data.release import read_release, release_entry, release_rows
from mtlaqa.data.release_subsets import release_manifests
from mtlaqa.data.splits import split_samples
from mtlaqa.errors import DataError

RELEASE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "MTL-AQA_dataset_release"
if not RELEASE.is_dir():
    RELEASE = Path("/work/shared/data/MTL-AQA_dataset_release")
real = pytest.mark.skipif(
    not RELEASE.is_dir(), reason="official MTL-AQA annotations not found at ../shared/data"
)


def _main_dataset(tmp: Path) -> Path:
    """A manifest as `prepare-mtl-aqa --subset main` writes it (every row pointing at one file:
    the release has no videos here, and nothing below opens them)."""
    data = read_release(RELEASE, "main")
    (tmp / "videos").mkdir(parents=True)
    (tmp / "videos" / "clip.mp4").write_bytes(b"")
    rows = []
    for key, split, row_id in release_rows(data):
        e = release_entry(data, key, split, row_id)
        rows.append({**e, "video": "videos/clip.mp4", "start_frame": 0, "end_frame": 105})
    return write_manifest(rows, tmp / "manifest.jsonl").parent


@real
def test_release_subsets_are_the_papers_training_sets(tmp_path: Path) -> None:
    root = _main_dataset(tmp_path / "main")
    paths = release_manifests(root, RELEASE, tmp_path / "m")
    assert sorted(paths) == [143, 279, 443, 1059]
    main_test = {s.id for s in read_manifest(root) if s.split == "test"}
    for n, overlap in ((143, 36), (279, 80), (443, 115), (1059, 0)):
        ss = read_manifest(paths[n])
        train = [s for s in ss if s.split == "train"]
        assert len(train) == n and {s.id for s in ss if s.split == "test"} == main_test
        shared = [s for s in train if s.id.endswith("_tr")]
        assert len(shared) == overlap and all(s.id[:-3] in main_test for s in shared)
    clean = release_manifests(root, RELEASE, tmp_path / "lf", leak_free=True)
    assert sorted(clean) == [107, 199, 328, 1059]
    assert not any(s.id.endswith("_tr") for s in read_manifest(clean[107]))


@real
def test_release_subsets_need_the_main_dataset(tmp_path: Path) -> None:
    (tmp_path / "v.mp4").write_bytes(b"")
    write_manifest([{"id": "a", "video": "v.mp4", "key": [1, 1]}], tmp_path / "manifest.jsonl")
    with pytest.raises(DataError, match="--subset main"):
        release_manifests(tmp_path, RELEASE, tmp_path / "m", sets=("size_140",))


@real
def test_val_fraction_zero_trains_on_every_training_dive(tmp_path: Path) -> None:
    samples = read_manifest(_main_dataset(tmp_path))
    honest = split_samples(samples, 0.1, seed=0)
    paper = split_samples(samples, 0.0, seed=0)
    assert [len(honest[k]) for k in ("train", "val", "test")] == [
        954,
        105,
        353,
    ]  # floor(0.1 * 1059) carved
    assert [len(paper[k]) for k in ("train", "val", "test")] == [1059, 0, 353]


def test_val_fraction_zero_run_reports_last_epoch(
    synth_dir: Path, tiny_cfg, tmp_path: Path
) -> None:  # noqa: ANN001
    """One --set apart: the default carves val and selects on it; val_fraction=0 trains on all of
    train and reports the last epoch."""
    import dataclasses

    from mtlaqa.engine import fit

    rows = [dataclasses.replace(s, split="train" if s.split == "val" else s.split)
            for s in read_manifest(synth_dir)]  # fmt: skip
    root = write_manifest(rows, tmp_path / "data" / "manifest.jsonl").parent
    n_train = sum(s.split == "train" for s in rows)
    n_test = len(rows) - n_train
    data = dataclasses.replace(tiny_cfg.data, root=str(root))
    honest = fit(
        dataclasses.replace(tiny_cfg, data=data), tmp_path / "a", progress=False, verbose=False
    )
    paper_cfg = dataclasses.replace(tiny_cfg, data=dataclasses.replace(data, val_fraction=0.0))
    paper = fit(paper_cfg, tmp_path / "b", progress=False, verbose=False)
    assert honest["meta"]["selection"] == "best val score_spearman"
    assert honest["meta"]["split_sizes"]["val"] > 0
    assert paper["meta"]["split_sizes"] == {"train": n_train, "val": 0, "test": n_test}
    assert paper["meta"]["selection"].startswith("last epoch (data.val_fraction=0")
    assert paper["meta"]["val_source"] == "none"
    assert paper["best_epoch"] == paper["history"][-1]["epoch"] == 2
    assert paper["test"]["best"] == paper["test"]["last"]


def test_cli_release_subsets_need_release_and_data(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mtlaqa.cli import main

    args = ["experiment", "data-efficiency", "--out", str(tmp_path), "--subsets", "release"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and "--subsets release and --release DIR go together" in r.output
    r = CliRunner().invoke(main, [*args, "--release", str(tmp_path)])
    assert r.exit_code == 2 and "needs --data" in r.output
