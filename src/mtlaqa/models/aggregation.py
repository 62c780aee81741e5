"""Clip aggregators: (B, K, D) -> (B, D')."""

from __future__ import annotations

import torch
from torch import nn

from mtlaqa.models.registry import register_aggregator


class MeanPool(nn.Module):
    """The paper's aggregation: the average of the clip features."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.out_dim = dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, K, D); mask: (B, K) bool, True = clip present
        if mask is None:
            return x.mean(dim=1)
        w = mask.to(x.dtype).unsqueeze(-1)  # (B, K, 1)
        return (x * w).sum(1) / w.sum(1).clamp_min(1.0)


@register_aggregator("mean")
def mean(dim: int) -> nn.Module:
    """Average over clips."""
    return MeanPool(dim)
