"""fp32 CPU inference through a frozen TorchScript copy of the backbone.

`torch.jit.optimize_for_inference` prepacks the conv weights for oneDNN and keeps the activations
in oneDNN's blocked layout from conv to max-pool to ReLU, where eager mode converts layouts around
every conv. Measured with `python -m benchmarks.run` (see benchmarks/README.md) on full-size C3D;
used for evaluation, never for training (the copy holds the weights of the moment it was made).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch
from torch import nn

from mtlaqa.models.network import Network


class FrozenBackbone:
    """Callable like the backbone; traced on its first input's shape, then reused."""

    def __init__(self, backbone: nn.Module) -> None:
        self.backbone = backbone
        self.script: torch.jit.ScriptModule | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, 3, T, H, W) -> (N, D)
        if self.script is None:
            with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript, torch >= 2.10
                # torch.jit.trace has no annotations in torch's own sources
                traced = torch.jit.trace(  # type: ignore[no-untyped-call]
                    self.backbone, x[:1].clone(), check_trace=False
                )
                self.script = torch.jit.optimize_for_inference(traced.eval())
        feats: torch.Tensor = self.script(x)  # (N, D)
        return feats


def use_frozen(device: torch.device, dtype: torch.dtype | None) -> bool:
    """Only where it was measured faster: fp32 on CPU (under autocast TorchScript is not used)."""
    return device.type == "cpu" and dtype is None


@contextlib.contextmanager
def frozen_backbone(
    model: Network, device: torch.device, dtype: torch.dtype | None
) -> Iterator[None]:
    """Within the block an eval-mode MTLModel runs its backbone frozen (fp32 CPU only)."""
    if not use_frozen(device, dtype) or model.training:
        yield
        return
    model.frozen = FrozenBackbone(model.backbone)
    try:
        yield
    finally:
        model.frozen = None
