import json

import pytest

from mtlaqa.data.manifest import Sample, read_manifest, write_manifest
from mtlaqa.errors import DataError


def _write(tmp_path, rows):
    p = tmp_path / "manifest.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return p


def test_round_trip_resolves_paths_relative_to_manifest(tmp_path):
    s = Sample(
        id="a", video=str(tmp_path / "videos" / "a.mp4"), score=50.0, position=1, caption="x"
    )
    write_manifest([s], tmp_path)
    raw = json.loads((tmp_path / "manifest.jsonl").read_text())
    assert raw["video"] == "videos/a.mp4"
    (back,) = read_manifest(tmp_path)
    assert back.video == str((tmp_path / "videos" / "a.mp4").resolve())
    assert back.score == 50.0 and back.position == 1 and back.attributes() is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"id": "a", "video": "v.mp4", "position": 3}, "'position' must be an integer in 0..2"),
        ({"id": "a"}, "needs 'video'"),
        ({"id": "a", "video": "v.mp4", "split": "dev"}, "'split' must be one of"),
        ({"id": "a", "video": "v.mp4", "score": "high"}, "'score' must be a finite number"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path, row, message):
    p = _write(tmp_path, [{"id": "ok", "video": "x.mp4"}, row])
    with pytest.raises(DataError, match=message) as e:
        read_manifest(p)
    assert f"{p}:2" in str(e.value)


def test_duplicate_ids_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="duplicate id"):
        read_manifest(_write(tmp_path, [{"id": "a", "video": "x"}, {"id": "a", "video": "y"}]))
    with pytest.raises(DataError, match="manifest not found"):
        read_manifest(tmp_path / "nope")
