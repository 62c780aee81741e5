"""Built-in backbones; importing this package registers them.

Every factory has the signature `(clip_len, crop_size, width[, its own options]) -> Backbone` with
`.out_dim` and an `.input_spec` describing the pixel convention of its public weights. The
signature lists every option the factory reads: the registry refuses any other.
"""

from __future__ import annotations

from mtlaqa.inputspec import InputSpec
from mtlaqa.models.backbones.c3d import C3D
from mtlaqa.models.backbones.c3d_small import C3DSmall
from mtlaqa.models.backbones.i3d import I3D
from mtlaqa.models.backbones.video_resnet import VideoResNet18
from mtlaqa.models.network import Backbone
from mtlaqa.models.registry import register_backbone

# torchvision's Kinetics-400 video normalization (pixels in [0, 1])
_KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
_KINETICS_STD = (0.22803, 0.22145, 0.216989)


@register_backbone("c3d")
def c3d(
    clip_len: int = 16, crop_size: int = 112, width: float = 1.0, norm: str = "none"
) -> Backbone:
    """C3D to pool5; ImageNet normalization on [0, 1] pixels, as the MTL-AQA code used with c3d.pickle."""
    model = C3D(clip_len=clip_len, crop_size=crop_size, width=width, norm=norm)
    model.input_spec = InputSpec(clip_len=clip_len, crop_size=crop_size)
    return model


@register_backbone("c3d_s")
def c3d_s(clip_len: int = 8, crop_size: int = 64, width: float = 0.25) -> Backbone:
    """C3D-S (one conv per stage, BatchNorm, global max-pool) for CPU training from scratch."""
    model = C3DSmall(width=width)
    model.input_spec = InputSpec(clip_len=clip_len, crop_size=crop_size)
    return model


@register_backbone("i3d")
def i3d(clip_len: int = 16, crop_size: int = 224, width: float = 1.0) -> Backbone:
    """I3D RGB (model_rgb.pth): pixels scaled to [-1, 1], 224 crops in the original training."""
    model = I3D(width=width)
    model.input_spec = InputSpec(
        clip_len=clip_len, crop_size=crop_size, scale=1.0 / 255.0, mean=(0.5,) * 3, std=(0.5,) * 3
    )
    return model


@register_backbone("r3d_18")
def r3d_18(clip_len: int = 16, crop_size: int = 112, width: float = 1.0) -> Backbone:
    """torchvision R3D-18 (Kinetics-400: 16×112×112 clips, Kinetics mean/std)."""
    model = VideoResNet18("r3d", width=width)
    model.input_spec = InputSpec(
        clip_len=clip_len, crop_size=crop_size, mean=_KINETICS_MEAN, std=_KINETICS_STD
    )
    return model


@register_backbone("r2plus1d_18")
def r2plus1d_18(clip_len: int = 16, crop_size: int = 112, width: float = 1.0) -> Backbone:
    """torchvision R(2+1)D-18 (Kinetics-400: 16×112×112 clips, Kinetics mean/std)."""
    model = VideoResNet18("r2plus1d", width=width)
    model.input_spec = InputSpec(
        clip_len=clip_len, crop_size=crop_size, mean=_KINETICS_MEAN, std=_KINETICS_STD
    )
    return model
