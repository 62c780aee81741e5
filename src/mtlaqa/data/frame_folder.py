"""Frames stored as a folder of images (`000001.jpg`, …): listing in frame order, reading.

Also the PyAV read errors and their one-line reason, shared with data/video.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import av
import numpy as np

from mtlaqa.errors import VideoError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
FFMPEG_ERRORS = (av.error.FFmpegError, OSError, ValueError, EOFError)  # a failed PyAV read


def error_reason(e: BaseException) -> str:
    """The first line of an exception's message (at most 200 characters)."""
    msg = str(e).strip() or type(e).__name__
    return msg.splitlines()[0][:200]


_LISTINGS: dict[tuple[str, int], list[Path]] = {}


def image_files(folder: Path) -> list[Path]:
    """Sorted image files; memoised by the folder's mtime (an event's folder holds ~100k frames
    and every sample would otherwise list it again)."""
    memo = (str(folder), folder.stat().st_mtime_ns)
    files = _LISTINGS.get(memo)
    if files is None:
        files = frame_order(folder, [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS])
        if len(_LISTINGS) >= 64:
            _LISTINGS.clear()
        _LISTINGS[memo] = files
    return files


_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def frame_order(folder: Path, files: list[Path]) -> list[Path]:
    """Numbered images (`000001.jpg`, `frame_7.png`) in number order, refusing a gap or a repeat
    (a missing image would shift every later frame); other names in name order."""
    marks = [m for m in (_NUMBERED.match(p.stem) for p in files) if m is not None]
    if not files or len(marks) < len(files) or len({m.group(1) for m in marks}) > 1:
        return sorted(files)
    nums = sorted((int(m.group(2)), p) for m, p in zip(marks, files, strict=True))
    for (a, pa), (b, pb) in zip(nums, nums[1:], strict=False):
        if b == a:
            raise VideoError(f"{folder}: two images for frame {a} ({pa.name}, {pb.name})")
        if b != a + 1:
            gap = (
                f"frame {a + 1} is missing"
                if b == a + 2
                else f"frames {a + 1}..{b - 1} are missing"
            )
            raise VideoError(f"{folder}: {gap} (the images jump from {pa.name} to {pb.name})")
    return [p for _, p in nums]


def read_image(f: Path, size: tuple[int, int] | None) -> np.ndarray:
    """One image file as uint8 (H, W, 3) RGB, resized to `size` = (W, H) when given."""
    try:
        with av.open(str(f)) as c:
            frame = next(c.decode(video=0))
    except (*FFMPEG_ERRORS, StopIteration) as e:
        raise VideoError(f"{f}: cannot read image ({error_reason(e)})") from None
    img: np.ndarray
    if size is not None:
        img = frame.to_ndarray(width=size[0], height=size[1], format="rgb24")
    else:
        img = frame.to_ndarray(format="rgb24")
    return img


def read_image_folder(
    folder: Path, start: int, stop: int, size: tuple[int, int] | None
) -> np.ndarray:
    """Images start..stop-1 of a frame folder as uint8 (N, H, W, 3) RGB (`size` = (W, H))."""
    files = image_files(folder)[max(0, start) : stop]
    if not files:
        raise VideoError(f"{folder}: no image frames in {max(0, start)}..{stop - 1}")
    return np.stack([read_image(f, size) for f in files])
