"""Release SynthDive -> reader -> prepare-mtl-aqa -> manifest -> training batch; resume, bad sources."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from mtlaqa.cli import main
from mtlaqa.config import DataConfig
from mtlaqa.data.dataset import DiveDataset, collate
from mtlaqa.data.manifest import read_manifest
from mtlaqa.data.prepare import prepare_mtl_aqa
from mtlaqa.data.synth.release_layout import generate_release_synth
from mtlaqa.data.video import read_frames
from mtlaqa.data.vocab import Vocab
from mtlaqa.inputspec import InputSpec


@pytest.fixture(scope="module")
def rel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rel")
    generate_release_synth(out, num=7, seed=2, size=32, per_video=4, progress=False)
    return out


def _copy(rel: Path, tmp: Path) -> tuple[Path, Path]:
    videos = tmp / "videos_in"
    shutil.copytree(rel / "videos", videos)
    return rel / "MTL-AQA_dataset_release", videos


def test_end_to_end_to_batch(rel: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    s = prepare_mtl_aqa(rel / "MTL-AQA_dataset_release", rel / "videos", out, progress=False)
    assert s.ok and len(s.prepared) == 7 and not s.skipped
    samples = read_manifest(out)
    assert [x.id for x in samples] == [
        "01_001",
        "01_002",
        "01_003",
        "01_004",
        "02_001",
        "02_002",
        "02_003",
    ]
    assert {x.split for x in samples} == {"train", "test"}
    s2 = next(x for x in samples if x.id == "01_002")
    assert s2.key == [1, 2] and s2.end_frame == 106 and s2.extra["event_first_frame"] == 218 - 106
    assert s2.caption and "<sos>" not in s2.caption
    # the clip holds the event frames lo … end+margin-1
    clip = read_frames(s2.video, 0, 1000)
    event = read_frames(rel / "videos" / "01.mp4", 112, 112 + 109)
    assert len(clip) == 109
    assert np.abs(clip.astype(int) - event.astype(int)).mean() < 4  # re-encoded, nearly equal
    cfg = DataConfig(num_clips=2, clip_len=8, stride=3, resize=[32, 32], crop_size=32, cache="none")
    ds = DiveDataset(
        samples, cfg, InputSpec(), train=True, vocab=Vocab.build([x.caption for x in samples])
    )
    batch = collate([ds[0], ds[1]])
    assert batch["video"].shape == (2, 2, 3, 8, 32, 32)
    assert batch["caption_in"].shape[0] == 2 and batch["attributes"]["position"].shape == (2,)


def test_resume_missing_and_unreadable(rel: Path, tmp_path: Path) -> None:
    release, videos = _copy(rel, tmp_path)
    out = tmp_path / "ds"
    (videos / "02.mp4").unlink()
    s = prepare_mtl_aqa(release, videos, out, progress=False)
    assert not s.ok and len(s.prepared) == 4 and sorted(s.missing) == ["02_001", "02_002", "02_003"]
    assert "event video 02 not found" in next(iter(s.missing.values()))
    assert len(read_manifest(out)) == 4  # what was prepared is usable
    # resume: the 4 are skipped, a garbage 02.mp4 fails with the file named
    (videos / "02.mp4").write_bytes(b"\x00garbage" * 100)
    s = prepare_mtl_aqa(release, videos, out, progress=False)
    assert len(s.skipped) == 4 and not s.prepared and len(s.failed) == 3
    assert "02.mp4" in next(iter(s.failed.values()))
    # a good video again: only the 3 missing dives are prepared
    shutil.copy(rel / "videos" / "02.mp4", videos / "02.mp4")
    (out / "videos" / "01_003.mp4").unlink()
    s = prepare_mtl_aqa(release, videos, out, progress=False)
    assert s.ok and sorted(s.prepared) == ["01_003", "02_001", "02_002", "02_003"]
    assert len(read_manifest(out)) == 7
    assert not list((out / "videos").glob("*.part.mp4"))


def test_cli_exit_status(rel: Path, tmp_path: Path) -> None:
    release, videos = _copy(rel, tmp_path)
    (videos / "01.mp4").write_bytes(b"")
    out = tmp_path / "o"
    args = [
        "data",
        "prepare-mtl-aqa",
        "--release",
        str(release),
        "--videos",
        str(videos),
        "--out",
        str(out),
        "--quiet",
    ]
    r = CliRunner().invoke(main, [*args, "--size", "24x16", "--preset", "ultrafast"])
    assert r.exit_code == 1, r.output
    assert "prepared 3 dives" in r.output and "failed 4" in r.output and "empty file" in r.output
    assert read_frames(out / "videos" / "02_001.mp4", 0, 5).shape == (5, 16, 24, 3)
    r = CliRunner().invoke(main, [*args, "--size", "big"])
    assert r.exit_code == 2 and "--size expects WxH" in r.output


def test_frame_folder_source(rel: Path, tmp_path: Path) -> None:
    frames = tmp_path / "src" / "frames" / "02"
    frames.mkdir(parents=True)
    with av.open(str(rel / "videos" / "02.mp4")) as c:
        for i, f in enumerate(c.decode(video=0)):
            f.to_image().save(frames / f"{i + 1:06d}.png")
    s = prepare_mtl_aqa(
        rel / "MTL-AQA_dataset_release", tmp_path / "src", tmp_path / "ds", progress=False
    )
    assert sorted(s.prepared) == ["02_001", "02_002", "02_003"] and len(s.missing) == 4
    a = read_frames(tmp_path / "ds" / "videos" / "02_002.mp4", 0, 1000)
    b = read_frames(rel / "videos" / "02.mp4", 112, 221)
    assert a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).mean() < 4


def test_event_video_at_50fps_is_resampled(rel: Path, tmp_path: Path) -> None:
    """A download at another rate: annotation frames are 25 fps frames, found by timestamps."""
    src = tmp_path / "src"
    src.mkdir()
    with av.open(str(rel / "videos" / "02.mp4")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(src / "02.mkv"), "w") as c:
        s = c.add_stream("libx264", rate=50)
        s.width = s.height = 32
        s.pix_fmt = "yuv444p"
        for img in frames:
            for _ in range(2):  # every frame shown twice as long at 50 fps
                c.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        c.mux(s.encode(None))
    out = tmp_path / "ds"
    summary = prepare_mtl_aqa(rel / "MTL-AQA_dataset_release", src, out, progress=False)
    assert sorted(summary.prepared) == ["02_001", "02_002", "02_003"]
    a = read_frames(out / "videos" / "02_003.mp4", 0, 1000).astype(int)
    assert len(a) == 109
    # two lossy generations: check the frames line up (offset 0 fits best, and well)
    err = {
        d: np.abs(a - read_frames(rel / "videos" / "02.mp4", 224 + d, 333 + d)).mean()
        for d in (-1, 0, 1)
    }
    assert min(err, key=err.get) == 0 and err[0] < 6 and err[0] < 0.7 * min(err[-1], err[1])


def test_smaller_set_keeps_shared_dives_in_both_splits(rel: Path, tmp_path: Path) -> None:
    """A smaller training set that lists test dives (as the release's do): two rows, one clip;
    --leak-free drops the training rows."""
    import pickle

    from mtlaqa.data.release import MAIN, SMALLER, read_key_list

    release = tmp_path / "MTL-AQA_dataset_release"
    shutil.copytree(rel / "MTL-AQA_dataset_release", release)
    ready = release / "Ready_2_Use"
    train = read_key_list(ready / MAIN / "train_split_0.pkl")
    test = read_key_list(ready / MAIN / "test_split_0.pkl")
    small = ready / SMALLER / "size_140"
    small.mkdir(parents=True)
    shutil.copy(ready / MAIN / "final_annotations_dict.pkl", small)
    (small / "train_split_0.pkl").write_bytes(pickle.dumps(train[:2] + test[:1], protocol=2))
    s = prepare_mtl_aqa(release, rel / "videos", tmp_path / "ds", "size_140", progress=False)
    assert s.ok
    rows = {x.id: x for x in read_manifest(tmp_path / "ds")}
    sid = f"{test[0][0]:02d}_{test[0][1]:03d}"
    assert rows[sid].split == "test" and rows[sid + "_tr"].split == "train"
    assert rows[sid].video == rows[sid + "_tr"].video
    assert sum(x.split == "train" for x in rows.values()) == 3
    assert sum(x.split == "test" for x in rows.values()) == len(test)
    s = prepare_mtl_aqa(
        release, rel / "videos", tmp_path / "lf", "size_140", leak_free=True, progress=False
    )
    rows = {x.id: x for x in read_manifest(tmp_path / "lf")}
    assert sum(x.split == "train" for x in rows.values()) == 2 and sid + "_tr" not in rows
