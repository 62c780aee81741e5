"""Architectures by name (`model.arch`): every one follows MTLModel's forward contract."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from mtlaqa.config import ModelConfig
from mtlaqa.errors import MtlaqaError
from mtlaqa.models.mscadc import MSCADC
from mtlaqa.models.mtl import MTLModel
from mtlaqa.models.network import Network
from mtlaqa.registry import Registry

# (cfg, frames, size, vocab_size, num_clips) -> a Network (.tasks, .cfg, .input_spec, .backbone, …)
ArchFactory = Callable[..., Network]
log = logging.getLogger(__name__)

ARCHS: Registry[ArchFactory] = Registry("model.arch")
# model.* fields an architecture does not read: a value other than the default is named in a
# warning (not refused: a preset's settings under `--set model.arch=…` and checkpoints of earlier
# versions carry them)
ARCH_IGNORES: dict[str, frozenset[str]] = {}


def register_arch(name: str, factory: ArchFactory, ignores: frozenset[str] = frozenset()) -> None:
    """Add architecture `name`; `ignores`: the ModelConfig fields it does not read."""
    unknown = ignores - {f.name for f in dataclasses.fields(ModelConfig)}
    if unknown:
        raise MtlaqaError(f"model.arch {name!r}: ignores unknown model fields {sorted(unknown)}")
    ARCHS.add(name, factory)
    ARCH_IGNORES[name] = ignores


# backbone per clip -> aggregator -> heads (any backbone, any aggregator)
register_arch("multiclip", MTLModel)  # was c3d_avg (config.py still reads it)
# its own C3D-small body on one clip, no aggregator
register_arch("mscadc", MSCADC, frozenset({"backbone", "backbone_norm", "aggregator"}))


def arch_names() -> list[str]:
    """The registered architectures, sorted."""
    return ARCHS.names()


def ignored_fields(cfg: ModelConfig) -> list[str]:
    """The model.* fields set away from their default that `cfg.arch` does not read, sorted."""
    ARCHS.get_factory(cfg.arch)  # unknown arch: one-line error listing the known ones
    defaults = ModelConfig()
    return [k for k in sorted(ARCH_IGNORES[cfg.arch]) if getattr(cfg, k) != getattr(defaults, k)]


def build_arch(
    cfg: ModelConfig, clip_len: int, crop_size: int, vocab_size: int = 0, num_clips: int = 6
) -> Network:
    """The network `cfg.arch` for `num_clips` clips of `clip_len` × `crop_size`²."""
    ARCHS.get_factory(cfg.arch)
    if cfg.score_head == "exemplar" and cfg.arch != "multiclip":
        raise MtlaqaError(f"model.score_head=exemplar needs model.arch=multiclip, not {cfg.arch!r}")
    ignored = ignored_fields(cfg)
    if (
        ignored
    ):  # a preset's multiclip settings under arch=mscadc; earlier checkpoints hold them too
        log.warning(
            "model.arch=%s does not read %s (left as set, without effect)",
            cfg.arch,
            ", ".join(f"model.{k}={getattr(cfg, k)!r}" for k in ignored),
        )
    return ARCHS[cfg.arch](
        cfg, clip_len=clip_len, crop_size=crop_size, vocab_size=vocab_size, num_clips=num_clips
    )
