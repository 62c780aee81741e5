"""Issue 19, prediction inputs: symlink loops, folders of videos, bad end frames, missing media."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from mtlaqa.cli import main
from mtlaqa.errors import DataError, MtlaqaError
from test_predict_videos import _checkpoint
from videofiles import write_video


def _blocks(output: str) -> list[str]:
    """The first line (the video) of each prediction block printed by `predict`."""
    return [ln for ln in output.splitlines() if ln and not ln.startswith((" ", "error"))]


def test_symlink_loop_is_one_line_and_the_batch_goes_on(tmp_path: Path):
    ckpt = _checkpoint(tmp_path / "ckpt.pt")
    good = write_video(tmp_path / "good.mp4", n=110)
    loop = tmp_path / "loop.mp4"
    loop.symlink_to(tmp_path / "loop2.mp4")
    (tmp_path / "loop2.mp4").symlink_to(loop)
    r = CliRunner().invoke(main, ["predict", str(ckpt), str(loop), str(good)])
    assert r.exit_code == 1
    assert f"error: {loop}: symbolic link loop" in r.output.splitlines()
    assert _blocks(r.output)[:1] == [str(good)]
    assert r.output.strip().splitlines()[-1] == "1 of 2 videos failed"


def test_folder_of_video_files_is_scored_file_by_file(tmp_path: Path):
    ckpt = _checkpoint(tmp_path / "ckpt.pt")
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("b.mp4", "a.avi"):
        write_video(folder / name, n=110)
    (folder / "notes.txt").write_text("not a video")
    r = CliRunner().invoke(main, ["predict", str(ckpt), str(folder)])
    assert r.exit_code == 0, r.output
    assert _blocks(r.output) == [str(folder / "a.avi"), str(folder / "b.mp4")]


def test_folder_without_videos_or_frames_is_one_line(tmp_path: Path):
    ckpt = _checkpoint(tmp_path / "ckpt.pt")
    empty = tmp_path / "empty"
    empty.mkdir()
    r = CliRunner().invoke(main, ["predict", str(ckpt), str(empty)])
    assert r.exit_code == 1
    assert r.output.splitlines()[0].startswith(f"error: {empty}: no video files (")


def test_negative_end_frame_is_refused(tmp_path: Path):
    ckpt = _checkpoint(tmp_path / "ckpt.pt")
    video = write_video(tmp_path / "v.mp4", n=110)
    r = CliRunner().invoke(main, ["predict", str(ckpt), str(video), "--end-frame", "-5"])
    assert r.exit_code == 2 and "--end-frame" in r.output
    from mtlaqa.predict import load_model

    with pytest.raises(MtlaqaError, match=r"v.mp4: end_frame must be a frame number >= 1, got -5"):
        load_model(ckpt, "cpu").predict(video, end_frame=-5)


def test_end_frame_past_the_video_names_the_window_honestly(tmp_path: Path):
    ckpt = _checkpoint(tmp_path / "ckpt.pt")
    video = write_video(tmp_path / "v.mp4", n=40)
    r = CliRunner().invoke(main, ["predict", str(ckpt), str(video), "--end-frame", "500"])
    assert r.exit_code == 1
    assert r.output.splitlines()[0] == (
        f"error: {video}: none of the 103 window frames exist (window: frames 397..499; "
        "is end_frame past the video's end?) (at least 16 to pad)"
    )


def test_missing_test_video_is_found_before_the_first_epoch(synth_dir: Path, tmp_path: Path):
    from conftest import TINY
    from mtlaqa.config import load_config
    from mtlaqa.data.manifest import read_manifest
    from mtlaqa.engine import fit

    data = tmp_path / "data"
    shutil.copytree(synth_dir, data)
    gone = next(s for s in read_manifest(data) if s.split == "test")
    Path(gone.video).unlink()
    cfg = load_config("demo", [f"data.root={data}", *TINY])
    with pytest.raises(DataError) as e:
        fit(cfg, tmp_path / "run", progress=False, verbose=False)
    assert str(e.value) == f"{data}: sample {gone.id!r} (test): {gone.video}: not found"
    assert not (tmp_path / "run" / "last.pt").exists()
