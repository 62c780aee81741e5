"""Frame reading with PyAV (any FFmpeg-readable file) or from a folder of images."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from mtlaqa.errors import VideoError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")


def count_frames(path: str | os.PathLike[str]) -> int:
    """Number of decodable frames (exact: decodes the stream when the container doesn't say)."""
    path = Path(path)
    if path.is_dir():
        return len(_image_files(path))
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            if stream.frames:
                return int(stream.frames)
            return sum(1 for _ in container.decode(stream))
    except (av.error.FFmpegError, OSError) as e:
        raise VideoError(f"{path}: cannot read video ({_reason(e)})") from None


def read_frames(
    path: str | os.PathLike[str],
    start: int,
    stop: int,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Decoded frames start..stop-1 (0-based decode order) as uint8 (N, H, W, 3) RGB.

    `size` = (W, H) resizes in FFmpeg's scaler while decoding. Frames past the end of the video are
    not returned (the caller decides how to pad); a missing or unreadable file raises VideoError.
    """
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: file not found")
    if path.is_dir():
        return _read_image_folder(path, start, stop, size)
    start = max(0, start)
    out: list[np.ndarray] = []
    # one reformatter for the whole read: PyAV otherwise rebuilds the scaler per frame (4x slower)
    rf = VideoReformatter()
    w, h = size if size is not None else (None, None)
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            stream.thread_type = "AUTO"
            for i, frame in enumerate(container.decode(stream)):
                if i >= stop:
                    break
                if i >= start:
                    out.append(rf.reformat(frame, width=w, height=h, format="rgb24").to_ndarray())
    except (av.error.FFmpegError, OSError, ValueError) as e:
        if not out:
            raise VideoError(f"{path}: cannot read video ({_reason(e)})") from None
        # a truncated file: keep what decoded; the caller pads or refuses short videos
    if not out:
        if start > 0:
            return np.zeros((0, *(size[::-1] if size else (0, 0)), 3), np.uint8)
        raise VideoError(f"{path}: no decodable video frames")
    return np.stack(out)


def _reason(e: BaseException) -> str:
    msg = str(e).strip() or type(e).__name__
    return msg.splitlines()[0][:200]


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise VideoError(f"{path}: no video stream")
    return container.streams.video[0]


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)


def _read_image_folder(
    folder: Path, start: int, stop: int, size: tuple[int, int] | None
) -> np.ndarray:
    files = _image_files(folder)[max(0, start) : stop]
    if not files:
        raise VideoError(f"{folder}: no image frames in {max(0, start)}..{stop - 1}")
    out = []
    for f in files:
        try:
            with av.open(str(f)) as c:
                frame = next(c.decode(video=0))
        except (av.error.FFmpegError, OSError, StopIteration) as e:
            raise VideoError(f"{f}: cannot read image ({_reason(e)})") from None
        if size is not None:
            out.append(frame.to_ndarray(width=size[0], height=size[1], format="rgb24"))
        else:
            out.append(frame.to_ndarray(format="rgb24"))
    return np.stack(out)
