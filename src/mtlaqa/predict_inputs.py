"""What `mtlaqa predict` scores for each path it is given: a video file, a folder of frame images
(one video), or a folder of video files (each file one video)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from mtlaqa.data.video import IMAGE_EXTS
from mtlaqa.errors import VideoError

VIDEO_EXTS = (
    ".mp4", ".m4v", ".mov", ".3gp", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".wmv", ".flv",
)  # fmt: skip


def checked_path(path: str | os.PathLike[str]) -> Path:
    """The path resolved, or a one-line VideoError (not found, a symlink loop, unreadable)."""
    p = Path(path)
    try:
        return p.resolve(strict=True)
    except RuntimeError:  # Python < 3.13: "Symlink loop from …"
        raise VideoError(f"{path}: symbolic link loop") from None
    except OSError as e:
        why = (
            "symbolic link loop"
            if e.errno == errno.ELOOP
            else (e.strerror or "cannot open").lower()
        )
        raise VideoError(f"{path}: {why}") from None


def expand_inputs(path: str | os.PathLike[str]) -> list[str]:
    """The videos one argument stands for: itself, or the video files of a folder without images."""
    p = checked_path(path)
    if not p.is_dir():
        return [str(path)]
    try:
        entries = sorted(os.scandir(p), key=lambda e: e.name)
    except OSError as e:
        raise VideoError(f"{path}: cannot list the folder ({e.strerror})") from None
    names = [e.name for e in entries]
    if any(Path(n).suffix.lower() in IMAGE_EXTS for n in names):
        return [str(path)]  # a folder of frame images is one video
    videos = [str(Path(path) / n) for n in names if Path(n).suffix.lower() in VIDEO_EXTS]
    if not videos:
        raise VideoError(
            f"{path}: no video files ({' '.join(VIDEO_EXTS[:4])} …) or frame images in the folder"
        )
    return videos
