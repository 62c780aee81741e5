"""One small still per clip (its middle frame) as a data URL the page can show inline."""

from __future__ import annotations

import base64
import io
import os

import av
import numpy as np
from PIL import Image

from mtlaqa.data.video import read_frames
from mtlaqa.errors import VideoError


def frame_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) of the first video stream."""
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise VideoError(f"{path}: no video stream")
            s = c.streams.video[0]
            return int(s.codec_context.width), int(s.codec_context.height)
    except (av.error.FFmpegError, OSError) as e:
        raise VideoError(f"{path}: cannot read video ({str(e).splitlines()[0][:200]})") from None


def thumb_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Keep the aspect ratio, longest side `max_side`, even sizes (what FFmpeg's scaler likes)."""
    if width <= 0 or height <= 0:
        return max_side, max_side
    scale = max_side / max(width, height)
    w = max(2, int(round(width * scale / 2)) * 2)
    h = max(2, int(round(height * scale / 2)) * 2)
    return w, h


def encode_jpeg(frame: np.ndarray, quality: int = 80) -> str:
    """uint8 (H, W, 3) RGB -> 'data:image/jpeg;base64,...'."""
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def clip_thumbnails(
    path: str | os.PathLike[str], clip_frames: list[list[int]], max_side: int = 128
) -> list[str]:
    """The middle frame of each clip, decoded once at thumbnail size, as JPEG data URLs.

    A clip whose frames lie past the end of the video (a padded window) shows the last frame.
    """
    if not clip_frames:
        return []
    mids = [row[len(row) // 2] if row else 0 for row in clip_frames]
    lo, hi = min(mids), max(mids) + 1
    frames = read_frames(path, lo, hi, thumb_size(*frame_size(path), max_side))
    if len(frames) == 0:
        raise VideoError(f"{path}: no frames to show for the clips")
    return [encode_jpeg(frames[min(m - lo, len(frames) - 1)]) for m in mids]
