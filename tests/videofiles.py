"""Test video files written through PyAV (no ffmpeg binary needed)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def level(i: int) -> int:
    """Gray level of frame i in `write_video` files."""
    return 20 + 9 * (i % 25)  # a distinct gray level per frame, far apart for lossy codecs


def write_video(
    path: Path,
    n: int = 20,
    fps: int = 25,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    size: tuple[int, int] = (48, 32),
    rotation: int | None = None,
    audio: bool = False,
    fmt: str | None = None,
) -> Path:
    """Frame i is uniform gray `level(i)` except a white left edge (to see rotation)."""
    w, h = size
    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        if rotation is not None:
            s.set_display_rotation(rotation)
        a = c.add_stream("aac", rate=16000) if audio else None
        for i in range(n):
            img = np.full((h, w, 3), level(i), np.uint8)
            img[:, :6] = 255
            c.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
            if a is not None:
                samples = np.zeros((1, 16000 // fps), np.float32)
                af = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                af.sample_rate = 16000
                af.pts = i * (16000 // fps)
                af.time_base = Fraction(1, 16000)
                c.mux(a.encode(af))
        c.mux(s.encode(None))
        if a is not None:
            c.mux(a.encode(None))
    return path
