"""Built-in backbones; importing this package registers them."""

from __future__ import annotations

from torch import nn

from mtlaqa.models.backbones.c3d import C3D
from mtlaqa.models.registry import InputSpec, register_backbone


@register_backbone("c3d")
def c3d(frames: int = 16, size: int = 112, width: float = 1.0, norm: str = "none") -> nn.Module:
    """C3D to pool5; ImageNet normalization on [0, 1] pixels, as the MTL-AQA code used with c3d.pickle."""
    model = C3D(frames=frames, size=size, width=width, norm=norm)
    model.input_spec = InputSpec(frames=frames, size=size)
    return model
