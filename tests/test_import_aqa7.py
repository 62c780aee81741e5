"""AQA-7 importer: rows, class selection, malformed .mat lists and frame folders, and one epoch
of `mtlaqa train` with per-class normalisation and per-class ρ."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.io import savemat

from mtlaqa.cli import main
from mtlaqa.data.import_aqa7 import import_aqa7
from mtlaqa.data.manifest import read_manifest
from mtlaqa.errors import DataError
from tests.public_datasets import TRAIN_OVERRIDES, aqa7_lists, write_aqa7


@pytest.fixture(scope="module")
def aqa7(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_aqa7(tmp_path_factory.mktemp("aqa7"))


def test_rows_and_classes(aqa7: Path, tmp_path: Path) -> None:
    path, summary = import_aqa7(aqa7, tmp_path / "all")
    assert summary.endswith("(train 12, test 6)")  # trampoline's row is left out
    samples = read_manifest(path)
    s = next(x for x in samples if x.id == "gym_vault_002")
    assert (s.split, s.sport, s.start_frame, s.end_frame) == ("train", "gym_vault", 0, 103)
    assert s.frames is not None and s.frames.endswith("gym_vault-out/002")
    assert s.attributes() is None and s.difficulty is None
    assert sorted({x.sport for x in samples}) == ["diving", "gym_vault", "sync_diving_3m"]
    _, summary = import_aqa7(aqa7, tmp_path / "diving", ["diving"])
    assert summary.endswith("(train 4, test 2)")
    _, summary = import_aqa7(aqa7, tmp_path / "tramp", ["trampoline"])  # only when asked
    assert summary.endswith("(train 1)")
    with pytest.raises(DataError, match="unknown AQA-7 classes surfing"):
        import_aqa7(aqa7, tmp_path / "x", ["diving", "surfing"])


def _lists(tmp_path: Path, train: object, var: str = "consolidated_train_list") -> Path:
    root = tmp_path / "aqa7"
    lists = aqa7_lists()
    write_aqa7(root, lists, frames=103)
    savemat(root / "Split_4" / "split_4_train_list.mat", {var: train})
    return root


@pytest.mark.parametrize(
    "train, var, message",
    [
        (np.zeros((3, 2)), "consolidated_train_list",
         "split_4_train_list.mat: 'consolidated_train_list' must be an N×3 numeric array"),
        (np.array([[1, 1, 50.0]]), "train_list",
         "split_4_train_list.mat: no variable 'consolidated_train_list' (found train_list)"),
        (np.array([[9, 1, 50.0]]), "consolidated_train_list",
         "'consolidated_train_list' row 1: class_id must be 1..7, got 9"),
        (np.array([[1, 1, 50.0], [1, 1.5, 50.0]]), "consolidated_train_list",
         "row 2: sample_idx must be a positive integer, got 1.5"),
        (np.array([[1, 5, 50.0]]), "consolidated_train_list",
         "split_4_test_list.mat: sample diving_005 is also in the train list"),
        (np.array(["abc"]), "consolidated_train_list", "must be an N×3 numeric array"),
    ],
)  # fmt: skip
def test_malformed_lists(tmp_path: Path, train: object, var: str, message: str) -> None:
    root = _lists(tmp_path, train, var)
    with pytest.raises(DataError) as e:
        import_aqa7(root, tmp_path / "out")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_not_a_mat_file(tmp_path: Path) -> None:
    root = _lists(tmp_path, aqa7_lists()["train"])
    (root / "Split_4" / "split_4_test_list.mat").write_text("not matlab")
    with pytest.raises(DataError, match="split_4_test_list.mat: not a readable .mat file"):
        import_aqa7(root, tmp_path / "out")


def test_frame_folders(tmp_path: Path) -> None:
    root = _lists(tmp_path, aqa7_lists()["train"])
    folder = root / "diving-out" / "003"
    os.remove(folder / "img_00050.jpg")
    with pytest.raises(DataError) as e:
        import_aqa7(root, tmp_path / "out")
    assert (
        f"{folder}: frames 50..50 are missing (a gap in the numbering) (split_4_train_list.mat row 3)"
        == str(e.value)
    )
    os.remove(folder / "img_00103.jpg")
    shutil.copy(folder / "img_00049.jpg", folder / "img_00050.jpg")
    with pytest.raises(DataError, match="102 frames, the annotation says 103"):
        import_aqa7(root, tmp_path / "out")
    shutil.rmtree(root / "gym_vault-out" / "006")
    with pytest.raises(DataError, match="gym_vault-out/006: frame folder not found"):
        import_aqa7(root, tmp_path / "out", ["gym_vault"])


def test_cli_import_and_one_epoch_per_class(aqa7: Path, tmp_path: Path) -> None:
    out, run = tmp_path / "aqa", tmp_path / "run"
    r = CliRunner().invoke(main, ["data", "import-aqa7", "--root", str(aqa7), "--out", str(out)])
    assert r.exit_code == 0 and "wrote 18 samples" in r.output, r.output
    args = ["train", "--data", str(out), "--out", str(run), "--quiet"]
    for o in TRAIN_OVERRIDES:
        args += ["--set", o]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "heads built: score (the training split has no attributes, no captions)" in r.output
    m = json.loads((run / "metrics.json").read_text())
    assert m["meta"]["tasks"] == ["score"]
    assert m["meta"]["selection"].startswith("best val Fisher-z")
    last = m["test"]["last"]
    for c in ("diving", "gym_vault", "sync_diving_3m"):
        assert f"score_spearman/{c}" in last
    assert "score_spearman_fisher_z" in last and "score_baseline_spearman" in last
    assert "## Score per class" in (run / "report.md").read_text()
    # evaluate maps each prediction back with its own class's statistics: same numbers
    r = CliRunner().invoke(
        main, ["evaluate", str(run / "last.pt"), "--data", str(out), "--no-meteor",
               "--json", str(tmp_path / "ev.json")],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    ev = json.loads((tmp_path / "ev.json").read_text())
    assert ev["score_mae"] == pytest.approx(last["score_mae"], rel=1e-5)
    assert set(ev) >= {f"score_spearman/{c}" for c in ("diving", "gym_vault", "sync_diving_3m")}
