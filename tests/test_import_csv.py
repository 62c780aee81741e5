"""`mtlaqa data import-csv`: a manifest from a spreadsheet; every bad row reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mtlaqa.cli import main
from mtlaqa.config import DataConfig
from mtlaqa.data.dataset import DiveDataset
from mtlaqa.data.import_csv import import_csv
from mtlaqa.data.manifest import read_manifest
from mtlaqa.errors import DataError
from mtlaqa.inputspec import InputSpec
from videofiles import write_video


@pytest.fixture
def vids(tmp_path: Path) -> Path:
    d = tmp_path / "clips"
    d.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4", "d.mp4", "e.mp4"):
        write_video(d / name, n=20)
    (d / "broken.mp4").write_bytes(b"nope" * 100)
    return d


def test_score_only(vids: Path, tmp_path: Path) -> None:
    csv = tmp_path / "scores.csv"
    csv.write_text("\ufeffVideo,Score\na.mp4,71.5\nb.mp4,60\nc.mp4,55.25\nd.mp4,80\ne.mp4,42\n")
    path = import_csv(csv, vids, tmp_path / "ds")
    s = read_manifest(path)
    assert [x.id for x in s] == ["a", "b", "c", "d", "e"] and s[0].score == 71.5
    assert sum(x.split == "test" for x in s) == 1 and s[0].position is None
    assert Path(s[0].video).samefile(vids / "a.mp4")
    cfg = DataConfig(
        window=16, jitter=0, num_clips=1, clip_len=8, resize=[48, 32], crop_size=32, cache="none"
    )
    assert DiveDataset(s, cfg, InputSpec())[0]["video"].shape == (1, 3, 8, 32, 32)


def test_labels_names_and_semicolons(vids: Path, tmp_path: Path) -> None:
    csv = tmp_path / "full.csv"
    csv.write_text(
        "file;split;final_score;position;rotation_type;armstand;ss_no;tw_no;judges;caption;end_frame\n"
        "a.mp4;train;70;pike;Forward;no;5;0;7 7.5 8;a nice dive;18\n"
        "b.mp4;test;50;2;3;1;4;1;;;\n"
    )
    s = read_manifest(import_csv(csv, vids, tmp_path / "ds"))
    assert (s[0].position, s[0].rotation_type, s[0].armstand, s[0].judges) == (
        1,
        1,
        0,
        [7.0, 7.5, 8.0],
    )
    assert s[0].end_frame == 18 and s[0].caption == "a nice dive" and s[1].split == "test"
    assert s[1].caption is None and s[1].judges is None


def test_all_bad_rows_reported(vids: Path, tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text(
        "video,score,position,split\n"
        "a.mp4,70,1,train\n"
        "missing.mp4,70,1,train\n"
        "b.mp4,seventy,1,train\n"
        "c.mp4,70,5,train\n"
        "d.mp4,70,1,holdout\n"
        "broken.mp4,70,1,train\n"
        "a.mp4,60,0,test\n"
    )
    with pytest.raises(DataError) as e:
        import_csv(csv, vids, tmp_path / "ds")
    msg = str(e.value)
    assert msg.startswith(f"{csv}: 6 of 7 rows are invalid")
    for needle in (
        "row 3: video",
        "row 4: 'score' is not a number",
        "row 5: 'position' must be 0..2",
        "row 6: 'split'",
        "row 7: ",
        "broken.mp4",
        "row 8: duplicate id 'a' (also row 2)",
    ):
        assert needle in msg
    assert not (tmp_path / "ds" / "manifest.jsonl").exists()


def test_cli(vids: Path, tmp_path: Path) -> None:
    csv = tmp_path / "s.csv"
    csv.write_text("video,score,colour\na.mp4,1\n")
    r = CliRunner().invoke(
        main,
        ["data", "import-csv", str(csv), "--video-dir", str(vids), "--out", str(tmp_path / "o")],
    )
    assert r.exit_code == 2 and "unknown columns colour" in r.output
    csv.write_text("video,score\na.mp4,1\nb.mp4,2\n")
    r = CliRunner().invoke(
        main,
        ["data", "import-csv", str(csv), "--video-dir", str(vids), "--out", str(tmp_path / "o")],
    )
    assert r.exit_code == 0 and "wrote 2 samples" in r.output
