"""Architectures by name (`model.arch`): every one follows MTLModel's forward contract."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from mtlaqa.config import ModelConfig
from mtlaqa.errors import MtlaqaError
from mtlaqa.models.mscadc import MSCADC
from mtlaqa.models.mtl import MTLModel

# (cfg, frames, size, vocab_size, num_clips) -> model with .tasks, .cfg, .input_spec, .backbone, .channels_last
ARCHS: dict[str, Callable[..., nn.Module]] = {
    "c3d_avg": MTLModel,  # backbone per clip -> aggregator -> heads (any backbone, any aggregator)
    "mscadc": MSCADC,
}


def build_arch(
    cfg: ModelConfig, frames: int, size: int, vocab_size: int = 0, num_clips: int = 6
) -> nn.Module:
    """The network `cfg.arch` for `num_clips` clips of `frames` × `size`²."""
    if cfg.arch not in ARCHS:
        raise MtlaqaError(
            f"unknown model.arch {cfg.arch!r}; choose one of: {', '.join(sorted(ARCHS))}"
        )
    if cfg.score_head == "exemplar" and cfg.arch != "c3d_avg":
        raise MtlaqaError(f"model.score_head=exemplar needs model.arch=c3d_avg, not {cfg.arch!r}")
    return ARCHS[cfg.arch](
        cfg, frames=frames, size=size, vocab_size=vocab_size, num_clips=num_clips
    )
