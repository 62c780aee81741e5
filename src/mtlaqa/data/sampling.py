"""Pure index functions: the dive window and the clips inside it (design §1)."""

from __future__ import annotations

import numpy as np


def window_range(end_frame: int, window: int = 103) -> tuple[int, int]:
    """[start, stop) of the `window` frames before end_frame: end_frame-window … end_frame-1."""
    return end_frame - window, end_frame


def clip_indices(
    num_clips: int, clip_len: int, stride: int = 1, starts: list[int] | None = None
) -> np.ndarray:
    """Offsets into the window of each clip's frames: (num_clips, clip_len).

    By default clips are consecutive and non-overlapping from the window's start; with the
    paper's 6×16, stride 1, they are the first 96 of the 103 frames. `starts` places clip k at
    window offset starts[k] instead (e.g. one clip on the flight, one on the entry).
    """
    if not starts:
        return (np.arange(num_clips * clip_len) * stride).reshape(num_clips, clip_len)
    if len(starts) != num_clips:
        raise ValueError(
            f"clip_starts has {len(starts)} entries but num_clips is {num_clips}"
            " (give one window offset per clip, or [] for back-to-back clips)"
        )
    return np.asarray(starts)[:, None] + np.arange(clip_len)[None, :] * stride


def span(num_clips: int, clip_len: int, stride: int = 1, starts: list[int] | None = None) -> int:
    """Frames of the window the clips reach: one past the last offset used."""
    return int(clip_indices(num_clips, clip_len, stride, starts).max()) + 1


def pad_edges(frames: np.ndarray, before: int, after: int) -> np.ndarray:
    """Repeat the first/last frame to pad (N, ...) to (before + N + after, ...)."""
    if before <= 0 and after <= 0:
        return frames
    parts = []
    if before > 0:
        parts.append(np.repeat(frames[:1], before, axis=0))
    parts.append(frames)
    if after > 0:
        parts.append(np.repeat(frames[-1:], after, axis=0))
    return np.concatenate(parts)
