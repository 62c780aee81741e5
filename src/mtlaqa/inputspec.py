"""What a backbone expects of its input clips; read by the data layer and the models alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputSpec:
    """What a backbone's weights expect: clip length, crop size, pixel scale and normalization."""

    clip_len: int = 16  # frames per clip (config data.clip_len)
    crop_size: int = 112  # side of the square crop in pixels (config data.crop_size)
    scale: float = 1.0 / 255.0  # pixel values are multiplied by this before mean/std
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
