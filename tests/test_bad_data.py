"""Issue 19, data: frame gaps, CSV quoting, label rules per sport, non-UTF-8 manifests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mtlaqa.cli import main
from mtlaqa.data.import_csv import import_csv
from mtlaqa.data.manifest import read_manifest
from mtlaqa.data.score_rules import SPORTS
from mtlaqa.data.video import count_frames, read_frames
from mtlaqa.errors import DataError, VideoError
from videofiles import write_video


def _frames(folder: Path, numbers: list[int], name: str = "{:06d}.png") -> Path:
    import av

    folder.mkdir(parents=True)
    for i in numbers:
        frame = av.VideoFrame.from_ndarray(np.full((8, 8, 3), i % 256, np.uint8), format="rgb24")
        frame.to_image().save(folder / name.format(i))
    return folder


def test_frames_folder_with_missing_images_is_refused_naming_the_first_gap(tmp_path: Path):
    folder = _frames(tmp_path / "f", [1, 2, 3, 4, 8, 9, 12])
    with pytest.raises(VideoError) as e:
        read_frames(folder, 0, 5)
    assert str(e.value) == (
        f"{folder}: frames 5..7 are missing (the images jump from 000004.png to 000008.png)"
    )


def test_frames_folder_unpadded_numbers_are_read_in_number_order(tmp_path: Path):
    folder = _frames(tmp_path / "f", list(range(1, 13)), name="frame_{}.png")
    assert count_frames(folder) == 12
    levels = read_frames(folder, 0, 12)[:, 0, 0, 0].tolist()
    assert levels == list(range(1, 13))  # frame_10 after frame_9, not after frame_1


@pytest.fixture
def vids(tmp_path: Path) -> Path:
    d = tmp_path / "clips"
    d.mkdir()
    for name in ("a.mp4", "b.mp4"):
        write_video(d / name, n=12)
    return d


def test_unquoted_comma_in_a_caption_is_refused_naming_the_line(vids: Path, tmp_path: Path):
    csv = tmp_path / "s.csv"
    csv.write_text("video,score,caption\na.mp4,70,good\nb.mp4,60,clean entry, little splash\n")
    r = CliRunner().invoke(
        main,
        ["data", "import-csv", str(csv), "--video-dir", str(vids), "--out", str(tmp_path / "o")],
    )
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [
        f"error: {csv}:3: 4 fields but the header has 3 (an unquoted ',' inside a value? quote "
        "it, e.g. \"a, b\"; judges are separated by spaces, or by ';' in a quoted cell)"
    ]
    assert not (tmp_path / "o").exists()


def test_judges_with_the_files_own_delimiter_are_refused(vids: Path, tmp_path: Path):
    csv = tmp_path / "s.csv"
    csv.write_text("video;score;judges\na.mp4;60;6;6.5;7\n")
    with pytest.raises(DataError, match=r"s.csv:2: 5 fields but the header has 3"):
        import_csv(csv, vids, tmp_path / "o")


def test_judges_quoted_with_semicolons_in_a_semicolon_file(vids: Path, tmp_path: Path):
    csv = tmp_path / "s.csv"
    csv.write_text('video;score;judges\na.mp4;60;"6;6.5;7"\n')
    s = read_manifest(import_csv(csv, vids, tmp_path / "o", test_fraction=0))
    assert s[0].judges == [6.0, 6.5, 7.0]


def test_quoted_newline_in_a_caption_becomes_a_space(vids: Path, tmp_path: Path):
    csv = tmp_path / "s.csv"
    csv.write_text('video,score,caption\na.mp4,70,"a clean\nentry"\nb.mp4,50,ok\n')
    s = read_manifest(import_csv(csv, vids, tmp_path / "o", test_fraction=0))
    assert [x.caption for x in s] == ["a clean entry", "ok"]


def test_negative_diving_score_in_a_csv_is_refused_unless_the_sport_allows_it(
    vids: Path, tmp_path: Path
):
    csv = tmp_path / "s.csv"
    csv.write_text("video,score\na.mp4,-3\nb.mp4,50\n")
    with pytest.raises(DataError, match=r"row 2: 'score' must be >= 0 for diving, got -3"):
        import_csv(csv, vids, tmp_path / "o")
    s = read_manifest(import_csv(csv, vids, tmp_path / "o", test_fraction=0, sport="any"))
    assert s[0].score == -3.0 and s[0].sport == "any"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"score": -1.5}, "field 'score' must be >= 0 for diving, got -1.5"),
        ({"score": True}, "field 'score' must be a finite number, got True"),
        ({"difficulty": False}, "field 'difficulty' must be a finite number, got False"),
        ({"judges": [7, True]}, "field 'judges' must be a finite number, got True"),
        ({"judges": [7, 11]}, "field 'judges' marks must be 0..10 for diving, got 11"),
        ({"sport": "curling"}, f"field 'sport' must be one of {', '.join(SPORTS)}, got 'curling'"),
    ],
)
def test_manifest_label_rules(fields, message, tmp_path: Path):
    line = {"id": "a", "video": "a.mp4", "score": 50.0, **fields}
    (tmp_path / "manifest.jsonl").write_text(json.dumps(line) + "\n")
    with pytest.raises(DataError) as e:
        read_manifest(tmp_path)
    assert str(e.value) == f"{tmp_path / 'manifest.jsonl'}:1: {message}"


def test_negative_score_allowed_for_sport_any(tmp_path: Path):
    line = {"id": "a", "video": "a.mp4", "score": -2.0, "sport": "any"}
    (tmp_path / "manifest.jsonl").write_text(json.dumps(line) + "\n")
    assert read_manifest(tmp_path)[0].score == -2.0


def test_non_utf8_manifest_is_one_line(tmp_path: Path):
    good = json.dumps({"id": "a", "video": "a.mp4"}) + "\n"
    bad = '{"id": "b", "video": "b.mp4", "caption": "plongée"}\n'.encode("latin-1")
    (tmp_path / "manifest.jsonl").write_bytes(good.encode() + bad)
    with pytest.raises(DataError) as e:
        read_manifest(tmp_path)
    assert (
        str(e.value)
        == f"{tmp_path / 'manifest.jsonl'}:2: not UTF-8 text; save the manifest as UTF-8"
    )


def test_import_csv_test_fraction_outside_0_1_is_refused(vids: Path, tmp_path: Path):
    csv = tmp_path / "s.csv"
    csv.write_text("video,score\na.mp4,3\n")
    args = ["data", "import-csv", str(csv), "--video-dir", str(vids), "--out", str(tmp_path / "o")]
    r = CliRunner().invoke(main, [*args, "--test-fraction", "2"])
    assert r.exit_code == 2 and "--test-fraction" in r.output
    with pytest.raises(DataError, match="--test-fraction must be in 0..1"):
        import_csv(csv, vids, tmp_path / "o", test_fraction=2)
