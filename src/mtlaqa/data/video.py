"""Frame reading with PyAV (any FFmpeg-readable file) or from a folder of images.

Every reader returns frames at the model's frame rate (`MODEL_FPS`, the 25 fps of MTL-AQA): a file
with another rate is resampled by timestamps (each output time takes the frame on screen then).
Rotation metadata (the display matrix phones write) is applied, audio and other streams are
ignored, and a missing, empty, truncated or non-video file raises a one-line VideoError.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from mtlaqa.data.frame_folder import (
    FFMPEG_ERRORS,
    IMAGE_EXTS,
    error_reason,
    image_files,
    read_image,
    read_image_folder,
)
from mtlaqa.errors import VideoError

__all__ = ["IMAGE_EXTS", "MODEL_FPS", "count_frames", "iter_frames", "read_frames", "video_info"]

MODEL_FPS = 25.0
# rates within this relative tolerance of the model's are read frame by frame (no resampling)
_RATE_TOL = 0.01
# reads starting this far in seek to the keyframe before them instead of decoding from frame 0
SEEK_MIN_FRAMES = 250
_decoder_threads = True  # FFmpeg's own decoding threads (thread_type AUTO); see set_decoder_threads


def set_decoder_threads(enabled: bool) -> None:
    """FFmpeg's decoding threads in this process on (the default) or off. A pool of decoding
    processes already keeps every core busy, and threads inside each only contend: 640 demo
    videos (64 px) decoded by 2 processes took 8.0 s with them and 5.9 s without
    (benchmarks/results/demo_levers-avx2-on-avx512bf16.json)."""
    global _decoder_threads
    _decoder_threads = enabled


@dataclass
class VideoInfo:
    """What the container says about the first video stream."""

    fps: float | None
    width: int  # as displayed (after rotation)
    height: int
    rotation: int  # counter-clockwise degrees applied to decoded frames, 0/90/180/270
    frames: int | None  # frame count in the file's own rate when the container knows it


def count_frames(path: str | os.PathLike[str], fps: float | None = MODEL_FPS) -> int:
    """Number of frames at `fps` (None: the file's own frames); exact, decodes when needed."""
    path = _existing(path)
    if path.is_dir():
        return len(image_files(path))
    n = 0
    for _ in _iter(path, 0, 1 << 62, None, fps, convert=False):
        n += 1
    if n == 0:
        raise VideoError(f"{path}: no decodable video frames")
    return n


def video_info(path: str | os.PathLike[str]) -> VideoInfo:
    """Rate, display size, rotation and frame count of a video file (decodes one frame)."""
    path = _existing(path)
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            frame = next(container.decode(stream), None)
            if frame is None:
                raise VideoError(f"{path}: no decodable video frames")
            rot = _rotation(frame)
            w, h = frame.width, frame.height
            if rot in (90, 270):
                w, h = h, w
            rate = stream.average_rate or stream.guessed_rate
            return VideoInfo(float(rate) if rate else None, w, h, rot, int(stream.frames) or None)
    except FFMPEG_ERRORS as e:
        raise VideoError(f"{path}: cannot read video ({error_reason(e)})") from None


def iter_frames(
    path: str | os.PathLike[str],
    start: int = 0,
    stop: int = 1 << 62,
    size: tuple[int, int] | None = None,
    fps: float | None = MODEL_FPS,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (index, uint8 (H, W, 3) RGB) for frames start..stop-1 at `fps`, decoding once.

    A file that ends early just stops (the caller checks the count); a file that cannot be opened
    or decodes nothing raises VideoError.
    """
    path = _existing(path)
    if path.is_dir():
        files = image_files(path)
        for i in range(max(0, start), min(stop, len(files))):
            yield i, read_image(files[i], size)
        return
    yield from _iter(path, start, stop, size, fps, convert=True)


def read_frames(
    path: str | os.PathLike[str],
    start: int,
    stop: int,
    size: tuple[int, int] | None = None,
    fps: float | None = MODEL_FPS,
) -> np.ndarray:
    """Decoded frames start..stop-1 (0-based, at `fps`) as uint8 (N, H, W, 3) RGB.

    `size` = (W, H) resizes in FFmpeg's scaler while decoding. Frames past the end of the video are
    not returned (the caller decides how to pad); a missing or unreadable file raises VideoError.
    """
    path = _existing(path)
    if path.is_dir():
        return read_image_folder(path, start, stop, size)
    out = [img for _, img in _iter(path, start, stop, size, fps, convert=True)]
    if not out:
        if start > 0:
            return np.zeros((0, *(size[::-1] if size else (0, 0)), 3), np.uint8)
        raise VideoError(f"{path}: no decodable video frames")
    return np.stack(out)


class _SeekFailed(Exception):
    """The file's timestamps don't allow a frame-accurate seek: decode from the start instead."""


def _iter(
    path: Path,
    start: int,
    stop: int,
    size: tuple[int, int] | None,
    fps: float | None,
    convert: bool,
) -> Iterator[tuple[int, np.ndarray]]:
    """Frames start..stop-1; far into a long video, seek to the keyframe before `start` first."""
    start = max(0, start)
    if start >= SEEK_MIN_FRAMES:
        try:
            yield from _decode(path, start, stop, size, fps, convert, seek=True)
            return
        except _SeekFailed:
            pass
    yield from _decode(path, start, stop, size, fps, convert, seek=False)


@dataclass
class _Progress:
    """What a decoder loop got through: frames decoded, and whether any frame was yielded."""

    decoded: int = 0
    yielded: bool = False


def _decode(
    path: Path,
    start: int,
    stop: int,
    size: tuple[int, int] | None,
    fps: float | None,
    convert: bool,
    seek: bool,
) -> Iterator[tuple[int, np.ndarray]]:
    """The decoder loop; `convert=False` yields placeholders (counting without pixel work).

    Without seeking, frame i is the i-th decoded frame. With seeking, frames are numbered by
    their timestamps from the first frame's (the same numbers for constant-rate video); _SeekFailed
    is raised, before anything is yielded, when the timestamps don't line up.
    """
    # one reformatter for the whole read: PyAV otherwise rebuilds the scaler per frame (4x slower)
    rf = VideoReformatter()
    progress = _Progress()
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            if _decoder_threads:
                stream.thread_type = "AUTO"
            rate = stream.average_rate or stream.guessed_rate
            resample = (
                fps is not None and rate is not None and abs(float(rate) / fps - 1.0) > _RATE_TOL
            )

            def conv(frame: av.VideoFrame) -> np.ndarray:
                return _to_rgb(rf, frame, size) if convert else _EMPTY

            t0 = None
            if seek:
                if not rate:
                    raise _SeekFailed
                out_rate = fps if resample and fps is not None else float(rate)
                t0 = _seek_before(container, stream, start, out_rate)
            frames = container.decode(stream)
            if not resample:  # the common case: one decoded frame = one model frame
                yield from _frames_as_decoded(frames, start, stop, rate, t0, conv, progress)
            else:
                assert fps is not None  # resampling happens only towards a set rate
                step = 1.0 / float(rate) if rate else 1.0 / MODEL_FPS
                yield from _frames_resampled(
                    frames, start, stop, fps, step, t0, seek, conv, progress
                )
    except FFMPEG_ERRORS as e:
        if seek and not progress.yielded:
            raise _SeekFailed from None
        if progress.decoded == 0:
            raise VideoError(f"{path}: cannot read video ({error_reason(e)})") from None
        # a truncated file: keep what decoded; the caller pads or refuses short videos


def _seek_before(
    container: av.container.InputContainer, stream: av.VideoStream, start: int, out_rate: float
) -> float:
    """Seek to the keyframe at or before output frame `start`; returns the first frame's time."""
    if stream.time_base is None:
        raise _SeekFailed
    first = next(container.decode(stream), None)
    if first is None or first.time is None:
        raise _SeekFailed
    t0 = float(first.time)
    target = t0 + (start - 0.5) / out_rate  # keyframe at or before output `start`
    container.seek(int(target / stream.time_base), stream=stream, backward=True)
    return t0


def _frames_as_decoded(
    frames: Iterator[av.VideoFrame],
    start: int,
    stop: int,
    rate: Fraction | None,
    t0: float | None,
    conv: Callable[[av.VideoFrame], np.ndarray],
    progress: _Progress,
) -> Iterator[tuple[int, np.ndarray]]:
    """Frame i = the i-th decoded one; after a seek (`t0` set) numbered by timestamp instead."""
    prev: int | None = None
    for n, frame in enumerate(frames):
        progress.decoded += 1
        i = n
        if t0 is not None:
            if frame.time is None or rate is None:
                raise _SeekFailed
            i = int(round((frame.time - t0) * float(rate)))
            # until the first yield: the keyframe must not be past `start` and the
            # numbers must advance one by one (a constant-rate file)
            if not progress.yielded and (i > start if prev is None else i != prev + 1):
                raise _SeekFailed
            prev = i
        if i >= stop:
            return
        if i >= start:
            progress.yielded = True
            yield i, conv(frame)


def _frames_resampled(
    frames: Iterator[av.VideoFrame],
    start: int,
    stop: int,
    fps: float,
    step: float,
    t0: float | None,
    seek: bool,
    conv: Callable[[av.VideoFrame], np.ndarray],
    progress: _Progress,
) -> Iterator[tuple[int, np.ndarray]]:
    """Output k (time k/fps from the first frame) shows the latest frame with time <= k/fps; a
    frame is converted only when some output in start..stop uses it."""
    k = start if seek else 0
    pending: av.VideoFrame | None = None
    for frame in frames:
        progress.decoded += 1
        t = frame.time if frame.time is not None else (progress.decoded - 1) * step
        if seek and frame.time is None:
            raise _SeekFailed
        t0 = t if t0 is None else t0
        if pending is None and seek and (t - t0) > start / fps + 1e-9:
            raise _SeekFailed  # landed after the first wanted output
        if pending is not None:
            img = None
            while k < stop and (k / fps) < (t - t0) - 1e-9:
                if k >= start:
                    img = conv(pending) if img is None else img
                    progress.yielded = True
                    yield k, img
                k += 1
            if k >= stop:
                return
        pending = frame
    if pending is not None and t0 is not None:  # the last frame lasts one source frame period
        end = (
            pending.time - t0 if pending.time is not None else (progress.decoded - 1) * step
        ) + step
        img = None
        while k < stop and (k / fps) < end - 1e-9:
            if k >= start:
                img = conv(pending) if img is None else img
                yield k, img
            k += 1


_EMPTY = np.zeros((0,), np.uint8)


def _to_rgb(rf: VideoReformatter, frame: av.VideoFrame, size: tuple[int, int] | None) -> np.ndarray:
    rot = _rotation(frame)
    w, h = size if size is not None else (None, None)
    if rot in (90, 270) and size is not None:
        w, h = h, w  # scale in the stored orientation, then rotate to (W, H)
    img: np.ndarray = rf.reformat(frame, width=w, height=h, format="rgb24").to_ndarray()
    if rot:
        img = np.ascontiguousarray(np.rot90(img, k=rot // 90))
    return img


def _rotation(frame: av.VideoFrame) -> int:
    """Display rotation (counter-clockwise degrees) rounded to a multiple of 90."""
    try:
        r = frame.rotation
    except (AttributeError, ValueError):  # older PyAV, or no display matrix
        return 0
    if r is None or not math.isfinite(r):
        return 0
    return int(round(r / 90.0)) % 4 * 90


def _existing(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: file not found")
    if path.is_file() and path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file")
    return path


def _video_stream(
    container: av.container.InputContainer, path: Path
) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise VideoError(f"{path}: no video stream")
    return container.streams.video[0]
