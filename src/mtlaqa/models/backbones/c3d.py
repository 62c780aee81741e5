"""C3D (Tran et al. 2015) up to pool5, with the layer names of the Sports-1M port `c3d.pickle`."""

from __future__ import annotations

import torch
from torch import nn

from mtlaqa.models.backbones.pooling import max_pool3d
from mtlaqa.models.network import Backbone

# (name, out_channels at width 1.0); a pool follows conv1, conv2, conv3b, conv4b, conv5b
_CONVS = (
    ("conv1", 64),
    ("conv2", 128),
    ("conv3a", 256),
    ("conv3b", 256),
    ("conv4a", 512),
    ("conv4b", 512),
    ("conv5a", 512),
    ("conv5b", 512),
)
_POOL_AFTER = {
    "conv1": "pool1",
    "conv2": "pool2",
    "conv3b": "pool3",
    "conv4b": "pool4",
    "conv5b": "pool5",
}


def _pooled(size: int, kernel: int, pad: int) -> int:
    """Output length of a ceil-mode max-pool with stride == kernel (PyTorch's rule: the last
    window must start inside the input or its left padding, else it is dropped)."""
    if size + 2 * pad < kernel:
        return 1
    out = -(-(size + 2 * pad - kernel) // kernel) + 1
    if (out - 1) * kernel >= size + pad:
        out -= 1
    return out


class C3D(Backbone):
    """C3D conv1…pool5: (N, 3, T, H, W) -> (N, D), D = C5·T5·H5·W5 (8192 at 16×112×112).

    `norm="batch"` adds BatchNorm after each conv (bn1, bn2, bn3a, …) for narrow models trained
    from scratch; the conv names stay those of c3d.pickle. `width` scales every channel count (0.25 gives the narrow CPU variants); pools use ceil mode so
    small inputs (e.g. 8×64×64) still work, and at the paper's 16×112×112 the shapes are exactly the
    original's (pool5: kernel 2, padding (0, 1, 1) -> 512×1×4×4).
    """

    def __init__(
        self, clip_len: int = 16, crop_size: int = 112, width: float = 1.0, norm: str = "none"
    ) -> None:
        super().__init__()
        if norm not in ("none", "batch"):
            raise ValueError(f"C3D norm must be 'none' or 'batch', got {norm!r}")
        self.channels = [max(4, round(c * width)) for _, c in _CONVS]
        self.norm = norm
        c_in = 3
        for (name, _), c_out in zip(_CONVS, self.channels, strict=True):
            setattr(self, name, nn.Conv3d(c_in, c_out, kernel_size=3, padding=1))
            if (
                norm == "batch"
            ):  # optional, for narrow models trained from scratch; not in c3d.pickle
                setattr(self, name.replace("conv", "bn"), nn.BatchNorm3d(c_out))
            c_in = c_out
        self.pool1 = nn.MaxPool3d((1, 2, 2), (1, 2, 2), ceil_mode=True)
        self.pool2 = nn.MaxPool3d(2, 2, ceil_mode=True)
        self.pool3 = nn.MaxPool3d(2, 2, ceil_mode=True)
        self.pool4 = nn.MaxPool3d(2, 2, ceil_mode=True)
        self.pool5 = nn.MaxPool3d(2, 2, padding=(0, 1, 1), ceil_mode=True)
        self.relu = nn.ReLU(inplace=True)
        t, h, w = clip_len, crop_size, crop_size
        h, w = _pooled(h, 2, 0), _pooled(w, 2, 0)  # pool1
        for _ in range(3):  # pool2..pool4
            t, h, w = _pooled(t, 2, 0), _pooled(h, 2, 0), _pooled(w, 2, 0)
        t, h, w = _pooled(t, 2, 0), _pooled(h, 2, 1), _pooled(w, 2, 1)  # pool5
        self.out_shape = (self.channels[-1], t, h, w)
        self.out_dim = self.channels[-1] * t * h * w
        for name, _ in _CONVS:
            # He init: with PyTorch's default a plain 8-layer ReLU stack (no batch norm) starts with
            # vanishing activations and trains from scratch far slower; pretrained files overwrite it
            conv = getattr(self, name)
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, 3, T, H, W)
        for name, _ in _CONVS:
            x = getattr(self, name)(x)
            if self.norm == "batch":
                x = getattr(self, name.replace("conv", "bn"))(x)
            if name in _POOL_AFTER:
                # max-pool then ReLU: the same values and gradients as ReLU then max-pool (both are
                # monotone), with the ReLU on a 4-8x smaller tensor
                p = getattr(self, _POOL_AFTER[name])
                x = max_pool3d(x, p.kernel_size, p.stride, p.padding, p.ceil_mode)
            x = self.relu(x)
        return x.flatten(1)  # (N, D)
