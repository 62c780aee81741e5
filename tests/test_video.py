"""Video reading in the real world: containers/codecs, rotation, frame rates, audio, bad files.

All fixtures are written through PyAV (no ffmpeg binary needed).
"""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np
import pytest

from mtlaqa.config import DataConfig
from mtlaqa.data.dataset import DiveDataset
from mtlaqa.data.manifest import Sample
from mtlaqa.data.video import count_frames, iter_frames, read_frames, video_info
from mtlaqa.errors import VideoError
from mtlaqa.inputspec import InputSpec
from videofiles import level, write_video


def _levels(frames: np.ndarray) -> np.ndarray:
    return frames[:, :, 10:].mean(axis=(1, 2, 3))  # right of the white edge


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt", "fmt"),
    [
        ("a.mp4", "libx264", "yuv420p", None),
        ("a.webm", "libvpx-vp9", "yuv420p", None),
        ("a.avi", "mjpeg", "yuvj420p", None),
        ("a.mov", "mpeg4", "yuv420p", None),
        ("a.mkv", "libx264", "yuv420p", None),
        ("a444.mp4", "libx264", "yuv444p", None),
        ("gray.mkv", "ffv1", "gray", None),
    ],
)
def test_containers_and_codecs(
    tmp_path: Path, name: str, codec: str, pix_fmt: str, fmt: str | None
) -> None:
    p = write_video(tmp_path / name, n=12, codec=codec, pix_fmt=pix_fmt, fmt=fmt)
    f = read_frames(p, 0, 100)
    assert f.shape == (12, 32, 48, 3) and f.dtype == np.uint8
    want = np.array([level(i) for i in range(12)])
    assert np.abs(_levels(f) - want).max() < 6
    assert count_frames(p) == 12
    small = read_frames(p, 3, 7, size=(24, 16))
    assert small.shape == (4, 16, 24, 3)
    assert np.abs(_levels(small) - want[3:7]).max() < 8


def test_audio_is_ignored(tmp_path: Path) -> None:
    p = write_video(tmp_path / "av.mp4", n=15, audio=True)
    with av.open(str(p)) as c:
        assert len(c.streams.audio) == 1
    assert read_frames(p, 0, 100).shape[0] == 15


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotation_is_applied(tmp_path: Path, rotation: int) -> None:
    p = write_video(tmp_path / "rot.mp4", n=4, rotation=rotation)
    f = read_frames(p, 0, 4)
    info = video_info(p)
    if rotation == 180:
        assert f.shape[1:3] == (32, 48)
        assert f[0, :, -3:].mean() > 240 and f[0, :, :3].mean() < 200  # white edge now right
    else:
        assert f.shape[1:3] == (48, 32) and (info.width, info.height) == (32, 48)
        # 90° counter-clockwise moves the left edge to the bottom, clockwise to the top
        edge, other = (f[0, -3:], f[0, :3]) if rotation == 90 else (f[0, :3], f[0, -3:])
        assert edge.mean() > 240 and other.mean() < 200
    resized = read_frames(p, 0, 2, size=(20, 40))
    assert resized.shape == (2, 40, 20, 3)  # size is (W, H) as displayed


@pytest.mark.parametrize("fps", [30, 50, 15])
def test_frame_rate_resampled_to_25(tmp_path: Path, fps: int) -> None:
    n = fps  # one second of video
    p = write_video(tmp_path / f"r{fps}.mp4", n=n, fps=fps)
    assert video_info(p).fps == pytest.approx(fps)
    f = read_frames(p, 0, 1000)
    assert len(f) == 25 and count_frames(p) == 25
    # output k shows the source frame on screen at k/25 s
    src = [int(np.floor(k * fps / 25 + 1e-9)) for k in range(25)]
    assert np.abs(_levels(f) - np.array([level(i) for i in src])).max() < 6
    part = read_frames(p, 10, 15)
    assert np.array_equal(part, f[10:15])
    native = read_frames(p, 0, 1000, fps=None)
    assert len(native) == n


def test_bad_files_give_one_line_errors(tmp_path: Path) -> None:
    good = write_video(tmp_path / "good.mp4", n=30)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    text = tmp_path / "notes.avi"
    text.write_text("this is not a video\n" * 50)
    head = tmp_path / "head.mp4"
    head.write_bytes(good.read_bytes()[:200])  # truncated inside the header
    for p in (empty, garbage, text, head, tmp_path / "missing.mp4"):
        with pytest.raises(VideoError) as e:
            read_frames(p, 0, 10)
        assert str(p) in str(e.value) and "\n" not in str(e.value)
    audio_only = tmp_path / "sound.wav"
    with av.open(str(audio_only), "w") as c:
        a = c.add_stream("pcm_s16le", rate=8000)
        af = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        af.sample_rate = 8000
        c.mux(a.encode(af))
        c.mux(a.encode(None))
    with pytest.raises(VideoError, match="no video stream"):
        read_frames(audio_only, 0, 10)


def test_truncated_tail_keeps_decoded_frames(tmp_path: Path) -> None:
    good = write_video(tmp_path / "good.mkv", n=40, codec="mjpeg", pix_fmt="yuvj420p")
    data = good.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    f = read_frames(cut, 0, 100)
    assert 5 < len(f) < 40


def _spec() -> InputSpec:
    return InputSpec(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), scale=1.0)


def _cfg(**kw) -> DataConfig:
    base = dict(
        window=20, jitter=0, num_clips=2, clip_len=8, resize=[24, 16], crop_size=16, cache="none"
    )
    base.update(kw)
    return DataConfig(**base)


def test_short_video_padded_or_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = write_video(tmp_path / "short.mp4", n=12)
    s = Sample(id="s", video=str(p), end_frame=12)
    with caplog.at_level(logging.WARNING):
        item = DiveDataset([s], _cfg(min_frames=8), _spec())[0]
    assert item["video"].shape == (2, 3, 8, 16, 16)
    assert any("padded with 8 repeated" in r.message for r in caplog.records)
    # the window is frames -8..11: the 8 missing frames before the start repeat frame 0
    v = item["video"]  # (K=2, 3, T=8, S, S): clip 0 is all padding, clip 1 is frames 0..7
    assert v[0, 0, 0].mean() == pytest.approx(v[0, 0, 7].mean())
    assert v[0, 0, 7].mean() == pytest.approx(v[1, 0, 0].mean())
    assert v[1, 0, 1].mean() > v[1, 0, 0].mean() + 5  # levels 9 apart
    with pytest.raises(VideoError, match="only 12 of the 20 window frames"):
        DiveDataset([s], _cfg(short_video="error"), _spec())[0]
    with pytest.raises(VideoError, match="at least 16"):
        DiveDataset([s], _cfg(min_frames=16), _spec())[0]


def test_iter_frames_image_folder(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(5):
        img = np.full((16, 16, 3), level(i), np.uint8)
        av.VideoFrame.from_ndarray(img, format="rgb24").to_image().save(folder / f"{i + 1:06d}.png")
    got = list(iter_frames(folder, 1, 4))
    assert [i for i, _ in got] == [1, 2, 3]
    assert [int(f.mean()) for _, f in got] == [level(1), level(2), level(3)]


def test_missing_jitter_margin_is_not_a_short_video(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A dive ending with its video lacks only the jitter margin: padded silently, never refused."""
    p = write_video(tmp_path / "v.mp4", n=30)
    s = Sample(id="v", video=str(p), end_frame=30)
    with caplog.at_level(logging.WARNING):
        w = DiveDataset([s], _cfg(jitter=3, short_video="error"), _spec()).load_window(0)
    assert len(w) == 26 and not caplog.records
    plain = Sample(id="p", video=str(p))  # no end_frame: the dive ends with the video
    assert (
        len(DiveDataset([plain], _cfg(jitter=3, short_video="error"), _spec()).load_window(0)) == 26
    )


def test_count_frames_errors_name_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "e.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match=r"e\.mp4: empty file"):
        count_frames(empty)
    with pytest.raises(VideoError, match=r"x\.mp4: file not found"):
        count_frames(tmp_path / "x.mp4")


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt", "fps"),
    [
        ("long.mp4", "libx264", "yuv420p", 25),
        ("long.webm", "libvpx-vp9", "yuv420p", 25),
        ("long.avi", "mjpeg", "yuvj420p", 25),
        ("long30.mp4", "libx264", "yuv420p", 30),
    ],
)
def test_seek_matches_decoding_from_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, codec: str, pix_fmt: str, fps: int
) -> None:
    """Reads far into a long video seek to a keyframe; the frames must be exactly those of a
    decode from frame 0 (H.264 here has B-frames and a keyframe every 50 frames)."""
    p = tmp_path / name
    with av.open(str(p), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = 32, 16, pix_fmt
        if codec == "libx264":
            s.options = {"g": "50", "keyint_min": "50", "bf": "3"}
        elif codec == "libvpx-vp9":
            s.options = {"g": "40"}
        for i in range(420):
            img = np.zeros((16, 32, 3), np.uint8)
            img[:, : 1 + i % 32] = 200  # a bar whose width encodes i mod 32
            img[:8, :] += np.uint8(i // 32 * 4)
            c.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        c.mux(s.encode(None))
    ranges = [(260, 280), (301, 330), (330, 1000), (400, 420), (600, 700)]
    import mtlaqa.data.video as video

    fails: list[int] = []
    decode = video._decode

    def spy(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        try:
            yield from decode(*args, **kw)
        except video._SeekFailed:
            fails.append(args[1])
            raise

    monkeypatch.setattr(video, "_decode", spy)
    seek = [read_frames(p, a, b) for a, b in ranges]
    assert not fails  # the seek path was taken, not the fallback
    monkeypatch.setattr("mtlaqa.data.video.SEEK_MIN_FRAMES", 1 << 40)
    full = [read_frames(p, a, b) for a, b in ranges]
    for (a, b), x, y in zip(ranges, seek, full, strict=True):
        assert x.shape == y.shape, (a, b)
        assert np.array_equal(x, y), (a, b)
    n = 350 if fps == 30 else 420  # 420 frames at 30 fps last 14 s = 350 frames at 25 fps
    assert len(full[2]) == n - 330 and len(full[-1]) == 0


def test_odd_frame_size(tmp_path: Path) -> None:
    p = write_video(tmp_path / "odd.mkv", n=6, codec="ffv1", pix_fmt="yuv444p", size=(47, 33))
    assert read_frames(p, 0, 10).shape == (6, 33, 47, 3)
    assert read_frames(p, 0, 10, size=(171, 128)).shape == (6, 128, 171, 3)
