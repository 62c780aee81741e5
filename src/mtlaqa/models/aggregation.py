"""Clip aggregators: (B, K, D) -> (B, D'); all but `concat` work for any number of clips K.

`mean` is the paper's; the others are the learnable improvements of design §1. Every aggregator
accepts an optional mask (B, K) (True = clip present) so padded clips never leak into the result.
Factories take `dim` and, for those that need it, `num_clips`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mtlaqa.models.network import Aggregator
from mtlaqa.models.registry import register_aggregator


def _masked_softmax(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    # logits: (B, K) -> weights (B, K) summing to 1 over the present clips
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    return logits.softmax(dim=1)


class MeanPool(Aggregator):
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


class ConcatClips(Aggregator):
    """The clip features side by side, in time order: (B, K, D) -> (B, K·D).

    A learnable aggregation for a fixed clip layout: the next layer weighs every clip position
    on its own, so the attribute heads can read the flight clips and the score head the entry
    clip (the demo's layout; with the mean, SynthDive's attributes stayed at their majority rate).
    """

    def __init__(self, dim: int, num_clips: int) -> None:
        super().__init__()
        self.num_clips = num_clips
        self.out_dim = dim * num_clips

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, K, D); mask: (B, K) bool -> (B, K·D), missing clips as zeros
        if x.shape[1] != self.num_clips:
            raise ValueError(
                f"concat aggregator built for {self.num_clips} clips, got {x.shape[1]}"
            )
        if mask is not None:
            x = x * mask.to(x.dtype).unsqueeze(-1)
        return x.flatten(1)


class LearnedWeights(Aggregator):
    """Softmax weights over clips from a per-clip linear score (any K; starts as the mean)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.score = nn.Linear(dim, 1)
        nn.init.zeros_(self.score.weight)  # zero scores = uniform weights = the paper's mean
        nn.init.zeros_(self.score.bias)
        self.out_dim = dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, K, D)
        w = _masked_softmax(self.score(x).squeeze(-1), mask)  # (B, K)
        return (w.unsqueeze(-1) * x).sum(1)  # (B, D)


class AttentionPool(Aggregator):
    """Attention pooling: one learned query attends over the clip features (scaled dot product)."""

    def __init__(self, dim: int, key_dim: int = 128) -> None:
        super().__init__()
        self.key_dim = min(key_dim, dim)
        self.key = nn.Linear(dim, self.key_dim)
        self.query = nn.Parameter(torch.randn(self.key_dim) / math.sqrt(self.key_dim))
        self.out_dim = dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, K, D); keys (B, K, dk); values are the clip features themselves
        logits = self.key(x) @ self.query / math.sqrt(self.key_dim)  # (B, K)
        w = _masked_softmax(logits, mask)
        return (w.unsqueeze(-1) * x).sum(1)  # (B, D)


def sinusoidal_positions(k: int, dim: int, device: torch.device) -> torch.Tensor:
    """(K, dim) fixed sinusoidal positional encoding (Vaswani et al.); defined for any K."""
    pos = torch.arange(k, device=device, dtype=torch.float32).unsqueeze(1)  # (K, 1)
    freq = torch.exp(torch.arange(0, dim, 2, device=device).float() * (-math.log(10000.0) / dim))
    pe = torch.zeros(k, dim, device=device)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return pe


class TemporalTransformer(Aggregator):
    """Project clips to d_model, add positions, a small Transformer encoder, then masked mean."""

    def __init__(
        self, dim: int, d_model: int = 256, heads: int = 4, layers: int = 2, dropout: float = 0.1
    ) -> None:
        super().__init__()
        d_model = min(d_model, dim)
        heads = heads if d_model % heads == 0 else 1
        self.proj = nn.Linear(
            dim, d_model
        )  # C3D's 8192-d clips would make attention needlessly big
        layer = nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward=2 * d_model, dropout=dropout, batch_first=True
        )
        # nested tensors are an inference fast path only; they warn with masks in training
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.pool = MeanPool(d_model)
        self.out_dim = d_model

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, K, D)
        h = self.proj(x)  # (B, K, d)
        h = h + sinusoidal_positions(h.shape[1], h.shape[2], h.device).to(h.dtype)
        h = self.encoder(h, src_key_padding_mask=None if mask is None else ~mask)  # (B, K, d)
        pooled: torch.Tensor = self.pool(h, mask)  # (B, d)
        return pooled


class GRUPool(Aggregator):
    """A GRU over the clips in temporal order; the state after the last present clip."""

    def __init__(self, dim: int, hidden: int = 512) -> None:
        super().__init__()
        hidden = min(hidden, dim)
        self.gru = nn.GRU(dim, hidden, batch_first=True)
        self.out_dim = hidden

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, K, D) -> outputs (B, K, H)
        out: torch.Tensor = self.gru(x)[0]
        if mask is None:
            return out[:, -1]
        # clips are padded at the end, so the last present clip is at index count-1
        last = (mask.long().sum(1) - 1).clamp_min(0)  # (B,)
        return out[torch.arange(out.shape[0], device=out.device), last]  # (B, H)


@register_aggregator("mean")
def mean(dim: int) -> Aggregator:
    """Average over clips."""
    return MeanPool(dim)


@register_aggregator("concat")
def concat(dim: int, num_clips: int = 6) -> Aggregator:
    """Clip features concatenated in time order (fixed number of clips)."""
    return ConcatClips(dim, num_clips)


@register_aggregator("learned")
def learned(dim: int) -> Aggregator:
    """Learned softmax weights over clips."""
    return LearnedWeights(dim)


@register_aggregator("attention")
def attention(dim: int) -> Aggregator:
    """Attention pooling with a learned query."""
    return AttentionPool(dim)


@register_aggregator("transformer")
def transformer(dim: int) -> Aggregator:
    """Small temporal Transformer encoder with positional encoding, then mean pooling."""
    return TemporalTransformer(dim)


@register_aggregator("gru")
def gru(dim: int) -> Aggregator:
    """GRU over the clip sequence."""
    return GRUPool(dim)
