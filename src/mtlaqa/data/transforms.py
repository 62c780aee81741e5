"""Per-sample transforms on uint8 frame stacks (N, H, W, 3); one random draw per sample."""

from __future__ import annotations

import functools

import numpy as np
import torch

from mtlaqa.inputspec import InputSpec


def crop(frames: np.ndarray, size: int, rng: np.random.Generator | None) -> np.ndarray:
    """Random crop (rng given) or center crop of every frame to size×size."""
    h, w = frames.shape[1:3]
    if h < size or w < size:
        raise ValueError(f"frames {w}×{h} are smaller than the crop {size}")
    if rng is None:
        y, x = (h - size) // 2, (w - size) // 2
    else:
        y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    return frames[:, y : y + size, x : x + size]


def normalize(
    frames: np.ndarray, spec: InputSpec, subtract_mean_frame: bool = False
) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float32 (3, N, H, W) in the backbone's pixel convention.

    With `subtract_mean_frame` the video's mean frame replaces the dataset mean: the static
    background cancels and only what moves (the diver, the splash) is left.
    """
    x = torch.from_numpy(np.ascontiguousarray(frames)).float()  # (N, H, W, 3)
    std = torch.tensor(spec.std).view(1, 1, 1, 3)
    if subtract_mean_frame:
        x = (x - x.mean(dim=0, keepdim=True)) * spec.scale / std
    else:
        x = (x * spec.scale - torch.tensor(spec.mean).view(1, 1, 1, 3)) / std
    return x.permute(3, 0, 1, 2).contiguous()  # (3, N, H, W)


@functools.lru_cache(maxsize=8)
def pixel_table(spec: InputSpec) -> np.ndarray:
    """float32 (3, 256): the normalized value of each uint8 level per channel, computed by the
    same float32 operations as `normalize` (the two give identical tensors)."""
    levels = torch.arange(256, dtype=torch.float32).view(256, 1)
    mean, std = torch.tensor(spec.mean).view(1, 3), torch.tensor(spec.std).view(1, 3)
    table: np.ndarray = ((levels * spec.scale - mean) / std).t().contiguous().numpy()
    return table


def to_clips(
    window: np.ndarray,
    offsets: np.ndarray,
    spec: InputSpec,
    crop_size: int,
    rng: np.random.Generator | None,
    flip: bool,
    subtract_mean_frame: bool,
) -> torch.Tensor:
    """Window (F, H, W, 3) + clip offsets (K, T) -> (K, 3, T, S, S), same crop/flip for all clips."""
    idx = offsets.reshape(-1)
    k, t = offsets.shape
    if subtract_mean_frame:
        frames = crop(window, crop_size, rng)
        if flip:
            frames = frames[:, :, ::-1]
        # the mean over the whole window, not just the sampled frames: a steadier background
        x = normalize(frames, spec, True)[:, idx]
    else:  # pick the frames first, then one table lookup per channel writes the (3, K·T, S, S)
        frames = crop(window[idx], crop_size, rng)
        if flip:
            frames = frames[:, :, ::-1]
        table = pixel_table(spec)
        out = np.empty((3, len(idx), crop_size, crop_size), np.float32)
        for c in range(3):
            np.take(table[c], frames[..., c], out=out[c], mode="clip")  # uint8: always in range
        x = torch.from_numpy(out)
    return x.view(3, k, t, crop_size, crop_size).permute(1, 0, 2, 3, 4)  # (K, 3, T, S, S)
