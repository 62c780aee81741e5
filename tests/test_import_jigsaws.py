"""JIGSAWS importer: meta-file rows, the three kinds of split, malformed meta files, and one epoch
of `mtlaqa train` on a task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mtlaqa.cli import main
from mtlaqa.data.import_jigsaws import import_jigsaws
from mtlaqa.data.manifest import read_manifest
from mtlaqa.errors import DataError, MtlaqaError
from tests.public_datasets import TRAIN_OVERRIDES, jigsaws_meta, write_jigsaws


@pytest.fixture(scope="module")
def jig(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jigsaws(tmp_path_factory.mktemp("jigsaws"))


def test_rows_and_splits(jig: Path, tmp_path: Path) -> None:
    path, summary = import_jigsaws(jig, "Suturing", tmp_path / "louo", split="louo", fold=1)
    assert summary.endswith("(train 9, test 3)")
    samples = {s.id: s for s in read_manifest(path)}
    assert {i for i, s in samples.items() if s.split == "test"} == {
        "Suturing_C001", "Suturing_C002", "Suturing_C003",
    }  # fmt: skip
    s = samples["Suturing_B002"]
    cells = next(line for line in jigsaws_meta() if line.startswith("Suturing_B002")).split()
    assert s.score == float(cells[2]) and s.extra["grs"] == float(cells[2])
    assert s.extra["skill"] == "N" and s.extra["user"] == "B" and s.extra["supertrial"] == 2
    assert s.extra["osats"]["time_and_motion"] == float(cells[5]) and s.sport == "Suturing"
    assert s.video is not None and s.video.endswith("Suturing/video/Suturing_B002_capture1.avi")

    path, _ = import_jigsaws(jig, "Suturing", tmp_path / "loso", "flow_of_operation", "loso", 2)
    samples = {s.id: s for s in read_manifest(path)}
    assert sorted(i for i, s in samples.items() if s.split == "test") == [
        f"Suturing_{u}003" for u in "BCDE"
    ]
    assert samples["Suturing_B002"].score == float(cells[6])

    folds = tmp_path / "folds.json"
    folds.write_text(json.dumps([["Suturing_B001", "Suturing_E003"], ["Suturing_C002"]]))
    path, _ = import_jigsaws(jig, "Suturing", tmp_path / "f", split="folds", folds_file=folds)
    assert sorted(s.id for s in read_manifest(path) if s.split == "test") == [
        "Suturing_B001", "Suturing_E003",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda ls: ls + ["Suturing_F001\tN\t12\t2\t2"],
         "meta_file_Suturing.txt:13: expected 9 tab-separated columns"),
        (lambda ls: [ls[0].replace("\tN\t", "\tX\t")] + ls[1:],
         "meta_file_Suturing.txt:1: skill level must be N, I or E, got 'X'"),
        (lambda ls: ls[:2] + [ls[2].replace("Suturing_B003", "Knot_Tying_B003")] + ls[3:],
         "meta_file_Suturing.txt:3: trial name 'Knot_Tying_B003' is not Suturing_<user letter><NNN>"),
        (lambda ls: ls[:4] + ["\t\t".join(["Suturing_C002", "I", "ten", *"123456"])] + ls[5:],
         "meta_file_Suturing.txt:5: GRS and OSATS scores must be numbers"),
        (lambda ls: [], "meta_file_Suturing.txt: no trials"),
    ],
)  # fmt: skip
def test_malformed_meta(tmp_path: Path, edit, message: str) -> None:
    root = tmp_path / "jig"
    write_jigsaws(root, lines=jigsaws_meta())
    (root / "Suturing" / "meta_file_Suturing.txt").write_text("\n".join(edit(jigsaws_meta())))
    with pytest.raises(DataError) as e:
        import_jigsaws(root, "Suturing", tmp_path / "out")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_missing_video_and_bad_folds(jig: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Knot_Tying/meta_file_Knot_Tying.txt: file not found"):
        import_jigsaws(jig, "Knot_Tying", tmp_path / "out")
    folds = tmp_path / "folds.json"
    folds.write_text(json.dumps({"fold0": ["Suturing_B001"]}))
    with pytest.raises(DataError, match="expected a JSON list of folds"):
        import_jigsaws(jig, "Suturing", tmp_path / "o", split="folds", folds_file=folds)
    folds.write_text(json.dumps([["Suturing_Z001"]]))
    with pytest.raises(DataError, match=r"fold 0 names unknown trials \(Suturing_Z001"):
        import_jigsaws(jig, "Suturing", tmp_path / "o", split="folds", folds_file=folds)
    with pytest.raises(DataError, match="has 1 folds, --fold 3 is not one"):
        import_jigsaws(jig, "Suturing", tmp_path / "o", split="folds", fold=3, folds_file=folds)
    with pytest.raises(DataError, match="--split folds needs --folds-file"):
        import_jigsaws(jig, "Suturing", tmp_path / "o", split="folds")
    root = tmp_path / "j2"
    write_jigsaws(root)
    (root / "Suturing" / "video" / "Suturing_D002_capture1.avi").unlink()
    with pytest.raises(
        DataError, match="Suturing_D002_capture1.avi: video of trial Suturing_D002 not found"
    ):
        import_jigsaws(root, "Suturing", tmp_path / "o")
    (root / "Suturing" / "video" / "Suturing_D002_capture1.avi").write_bytes(b"not a video")
    with pytest.raises(MtlaqaError, match="Suturing_D002_capture1.avi: cannot read video"):
        import_jigsaws(root, "Suturing", tmp_path / "o")


def test_cli_import_and_one_epoch(jig: Path, tmp_path: Path) -> None:
    out, run = tmp_path / "jig", tmp_path / "run"
    r = CliRunner().invoke(
        main, ["data", "import-jigsaws", "--root", str(jig), "--task", "Suturing",
               "--split", "loso", "--fold", "0", "--out", str(out)],
    )  # fmt: skip
    assert r.exit_code == 0 and "wrote 12 samples" in r.output, r.output
    args = ["train", "--data", str(out), "--out", str(run), "--quiet"]
    for o in TRAIN_OVERRIDES:
        args += ["--set", o]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    m = json.loads((run / "metrics.json").read_text())
    assert m["meta"]["tasks"] == ["score"] and m["test"]["last"]["n"] == 4
    assert "score_spearman_fisher_z" not in m["test"]["last"]  # one task: no per-class table
