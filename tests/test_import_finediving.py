"""FineDiving importer: rows, the code -> attributes mapping, malformed pickles and frame folders,
and one epoch of `mtlaqa train` on its output."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mtlaqa.cli import main
from mtlaqa.data.import_finediving import import_finediving
from mtlaqa.data.manifest import read_manifest
from mtlaqa.errors import DataError
from tests.public_datasets import TRAIN_OVERRIDES, dump, finediving_annotations, write_finediving


@pytest.fixture(scope="module")
def fd(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_finediving(tmp_path_factory.mktemp("finediving"))


def test_rows(fd: tuple[Path, Path], tmp_path: Path) -> None:
    path, summary = import_finediving(*fd, tmp_path / "out")
    assert summary.endswith("(train 9, test 3); 20–20–20 frames a dive (min–median–max)")
    samples = {s.id: s for s in read_manifest(path)}
    s = samples["Event0_final_1"]  # 5253b: back 2½ somersaults 1½ twists pike, 5 judges
    assert (s.code, s.position, s.armstand, s.rotation_type, s.ss_no, s.tw_no) == (
        "5253b", 1, 0, 0, 5, 3,
    )  # fmt: skip
    assert len(s.judges or []) == 5 and s.difficulty in (2.8, 3.0, 3.2, 3.4)
    assert s.step_labels == [1] * 5 + [7] * 5 + [22] * 5 + [40] * 5
    assert (s.start_frame, s.end_frame) == (0, 20) and Path(s.frames or "").is_dir()
    assert s.extra["transits"] == [5, 15] and s.extra["event_frames"] == [150, 169]
    armstand = samples["Event0_final_2"]  # 626C
    assert (armstand.armstand, armstand.rotation_type, armstand.ss_no) == (1, 0, 6)
    assert [x.split for x in samples.values()].count("test") == 3
    steps = json.loads((tmp_path / "out" / "step_types.json").read_text())
    assert len(steps) == 42 and steps["22"] == "step 22"


def test_numpy_judges_and_numbers(tmp_path: Path) -> None:
    ann = finediving_annotations()
    c = ann["coarse"][("Event0_final", 0)]
    c["judge_scores"] = np.array(c["judge_scores"])
    c["dive_score"], c["start_frame"] = np.float32(c["dive_score"]), np.int64(c["start_frame"])
    path, _ = import_finediving(*write_finediving(tmp_path / "src", ann), tmp_path / "out")
    s = next(x for x in read_manifest(path) if x.id == "Event0_final_0")
    assert s.judges == c["judge_scores"].tolist() and s.score == pytest.approx(
        float(c["dive_score"])
    )


def _broken(tmp_path: Path, edit) -> tuple[Path, Path]:
    ann = finediving_annotations()
    edit(ann)
    return write_finediving(tmp_path / "src", ann)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda a: a["coarse"][("Event0_final", 2)].pop("difficulty"),
         "FineDiving_coarse_annotation.pkl: entry ('Event0_final', 2) lacks key difficulty"),
        (lambda a: a["coarse"][("Event1_final", 0)].update(dive_score="88.2"),
         "entry ('Event1_final', 0) key 'dive_score' must be a number, got str '88.2'"),
        (lambda a: a["coarse"][("Event1_final", 0)].update(judge_scores=[7.0, 8.0]),
         "key 'judge_scores' must be a list of 3, 5 or 7 numbers"),
        (lambda a: a["coarse"][("Event0_final", 0)].update(action_type="101A"),
         "key 'action_type': '101A': position 'A' has no class"),
        (lambda a: a["fine"][("Event0_final", 3)].update(frames_labels=np.zeros((2, 10), np.int64)),
         "FineDiving_fine-grained_annotation.pkl: entry ('Event0_final', 3) key 'frames_labels' "
         "must be a 1-D integer array"),
        (lambda a: a["fine"].pop(("Event1_final", 5)),
         "FineDiving_fine-grained_annotation.pkl: no entry ('Event1_final', 5)"),
        (lambda a: a["test"].append(("Event9", 1)),
         "test_split.pkl: 1 keys have no annotation (first ('Event9', 1))"),
        (lambda a: a["train"].append(("Event0", "x")),
         "train_split.pkl: key ('Event0', 'x') index must be a non-negative integer"),
    ],
)  # fmt: skip
def test_malformed_annotations(tmp_path: Path, edit, message: str) -> None:
    ann_dir, frames = _broken(tmp_path, edit)
    with pytest.raises(DataError) as e:
        import_finediving(ann_dir, frames, tmp_path / "out")
    assert message in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "out" / "manifest.jsonl").exists()


def test_frame_folder_with_a_gap(tmp_path: Path) -> None:
    ann_dir, frames = write_finediving(tmp_path / "src")
    os.remove(frames / "Event1_final" / "2" / "00509.jpg")  # sample 8 starts at frame 500
    with pytest.raises(DataError) as e:
        import_finediving(ann_dir, frames, tmp_path / "out")
    assert "Event1_final/2: frames 509..509 are missing" in str(e.value)
    os.remove(frames / "Event1_final" / "2" / "00519.jpg")  # the last one: now only a count
    (frames / "Event1_final" / "2" / "00509.jpg").write_bytes(b"")
    with pytest.raises(DataError, match=r"19 frames, the annotation says 20 .*frames_labels"):
        import_finediving(ann_dir, frames, tmp_path / "out")


def test_unsafe_pickle_is_refused(tmp_path: Path) -> None:
    ann_dir, frames = write_finediving(tmp_path / "src")

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (ann_dir / "Sub_action_Types_Table.pkl").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(DataError, match="Sub_action_Types_Table.pkl: unsafe or invalid pickle"):
        import_finediving(ann_dir, frames, tmp_path / "out")
    dump({1: 2}, ann_dir / "Sub_action_Types_Table.pkl")
    with pytest.raises(DataError, match=r"Sub_action_Types_Table.pkl: expected a dict \{step id"):
        import_finediving(ann_dir, frames, tmp_path / "out")


def test_cli_import_and_one_epoch_with_dd(fd: tuple[Path, Path], tmp_path: Path) -> None:
    out, run = tmp_path / "fd", tmp_path / "run"
    r = CliRunner().invoke(
        main, ["data", "import-finediving", "--annotations", str(fd[0]), "--frames", str(fd[1]),
               "--out", str(out)],
    )  # fmt: skip
    assert r.exit_code == 0 and "wrote 12 samples" in r.output, r.output
    args = ["train", "--data", str(out), "--out", str(run), "--quiet"]
    for o in [*TRAIN_OVERRIDES, "model.score_protocol=with_dd"]:
        args += ["--set", o]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "heads built: score, attributes (the training split has no captions)" in r.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["meta"]["tasks"] == ["score", "attributes"]
    assert metrics["meta"]["protocol"] == "with_dd"
    assert "attributes_acc_ss_no" in metrics["test"]["last"] and metrics["test"]["last"]["n"] == 3


def test_cli_error_is_one_line(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        main, ["data", "import-finediving", "--annotations", str(tmp_path), "--frames",
               str(tmp_path), "--out", str(tmp_path / "o")],
    )  # fmt: skip
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [
        f"error: {tmp_path / 'FineDiving_coarse_annotation.pkl'}: file not found"
    ]
