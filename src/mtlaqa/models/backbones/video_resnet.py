"""R3D-18 and R(2+1)D-18 (Tran et al. 2018) with the state-dict keys of torchvision's video
resnets, so torchvision's Kinetics-400 files load without torchvision installed.

Keys: `stem.*`, `layer{1..4}.{0,1}.conv1.0…`, `.conv1.1` (BN), `.conv2.0`, `.conv2.1` (BN),
`.downsample.{0,1}`. In R(2+1)D each conv is itself a Sequential (1×3×3 conv, BN, ReLU, 3×1×1 conv),
hence `conv1.0.0`, `conv1.0.1`, `conv1.0.3`. The file's classifier `fc.*` is not part of the backbone.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from mtlaqa.models.network import Backbone


def _conv3d(c_in: int, c_out: int, mid: int, stride: int) -> nn.Module:
    """R3D: a full 3×3×3 convolution (stride in time and space)."""
    return nn.Conv3d(c_in, c_out, 3, stride, 1, bias=False)


def _conv2plus1d(c_in: int, c_out: int, mid: int, stride: int) -> nn.Module:
    """R(2+1)D: spatial 1×3×3 to `mid` channels, BN, ReLU, temporal 3×1×1."""
    return nn.Sequential(
        nn.Conv3d(c_in, mid, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False),
        nn.BatchNorm3d(mid),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid, c_out, (3, 1, 1), (stride, 1, 1), (1, 0, 0), bias=False),
    )


class BasicBlock(nn.Module):
    """Two convolutions with BN and a residual connection (1×1×1 conv when the shape changes)."""

    def __init__(
        self, c_in: int, c_out: int, conv: Callable[[int, int, int, int], nn.Module], stride: int
    ) -> None:
        super().__init__()
        # R(2+1)D's middle width keeps the parameter count of the 3×3×3 block it replaces
        mid = (c_in * c_out * 27) // (c_in * 9 + 3 * c_out)
        self.conv1 = nn.Sequential(
            conv(c_in, c_out, mid, stride), nn.BatchNorm3d(c_out), nn.ReLU(inplace=True)
        )
        self.conv2 = nn.Sequential(conv(c_out, c_out, mid, 1), nn.BatchNorm3d(c_out))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv3d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm3d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = x if self.downsample is None else self.downsample(x)
        y: torch.Tensor = self.relu(self.conv2(self.conv1(x)) + res)
        return y


class VideoResNet18(Backbone):
    """Stem + 4 stages of 2 basic blocks + global average pool: (N, 3, T, H, W) -> (N, 512·width)."""

    layer1: nn.Sequential  # the stages, set by name in __init__ (torchvision's keys)
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential

    def __init__(self, kind: str = "r3d", width: float = 1.0) -> None:
        super().__init__()

        def ch(c: int) -> int:
            return max(4, round(c * width))

        if kind == "r3d":
            conv = _conv3d
            self.stem = nn.Sequential(
                nn.Conv3d(3, ch(64), (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False),
                nn.BatchNorm3d(ch(64)),
                nn.ReLU(inplace=True),
            )
        elif kind == "r2plus1d":
            conv = _conv2plus1d
            self.stem = nn.Sequential(
                nn.Conv3d(3, ch(45), (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False),
                nn.BatchNorm3d(ch(45)),
                nn.ReLU(inplace=True),
                nn.Conv3d(ch(45), ch(64), (3, 1, 1), (1, 1, 1), (1, 0, 0), bias=False),
                nn.BatchNorm3d(ch(64)),
                nn.ReLU(inplace=True),
            )
        else:
            raise ValueError(f"unknown video resnet kind {kind!r}")
        c = ch(64)
        for i, (planes, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), start=1):
            out = ch(planes)
            setattr(
                self,
                f"layer{i}",
                nn.Sequential(BasicBlock(c, out, conv, stride), BasicBlock(out, out, conv, 1)),
            )
            c = out
        self.out_dim = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, 3, T, H, W) -> (N, C, T/8, H/16, W/16) after layer4
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return x.mean(dim=(2, 3, 4))  # (N, 512)
