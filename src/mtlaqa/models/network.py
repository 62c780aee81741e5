"""The contract every architecture (`model.arch`) follows: what the trainer, the evaluator and the
predictor may rely on, whichever network `build_arch` returns."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mtlaqa.config import ModelConfig
from mtlaqa.inputspec import InputSpec
from mtlaqa.models.finetune import FreezableMixin


class Backbone(nn.Module):
    """A clip encoder (N, 3, T, H, W) -> (N, out_dim); its registry factory sets `input_spec`."""

    out_dim: int
    input_spec: InputSpec


class Aggregator(nn.Module):
    """Clip features (B, K, D) [mask (B, K)] -> (B, out_dim)."""

    out_dim: int

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError


class CaptionDecoder(nn.Module):
    """A caption head: clip features (B, K, …), decoder input tokens (B, L) [, condition (B, C)]
    -> word logits (B, L, V); `generate` decodes token ids per sample (no <sos>/<eos>)."""

    def forward(
        self, clips: torch.Tensor, tokens: torch.Tensor, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        raise NotImplementedError

    def generate(
        self, clips: torch.Tensor, max_len: int = 100, *, cond: torch.Tensor | None = None
    ) -> list[list[int]]:
        raise NotImplementedError


class Network(FreezableMixin, nn.Module):
    """Base of MTLModel and MSCADC: clips -> clip features -> task heads.

    `forward(video (B, K, 3, T, H, W), caption (B, L) | None, truth | None)` returns the task
    outputs (`score` (B,), `attributes` {name: (B, n)}, `caption` (B, L, V)) and `features`.
    """

    cfg: ModelConfig
    tasks: tuple[str, ...]
    input_spec: InputSpec
    backbone: nn.Module
    channels_last: bool
    frozen: Any  # models/frozen.py: a callable frozen copy of the backbone, or None
    caption: CaptionDecoder  # with the caption task only

    def clip_features(self, video: torch.Tensor) -> torch.Tensor:
        """Video (B, K, 3, T, H, W) -> per-clip features (B, K, …)."""
        raise NotImplementedError

    def heads(
        self,
        feats: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        exemplar_types: torch.Tensor | None = None,
    ) -> dict[str, Any]:
        """Score and attribute outputs from clip features; mask (B, K): the clips to use;
        exemplar_types (B, 5): the dive types whose exemplars an exemplar score head compares
        with (an architecture without that head ignores it)."""
        raise NotImplementedError
