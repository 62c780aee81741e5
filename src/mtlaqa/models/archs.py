"""Architectures by name (`model.arch`): every one follows MTLModel's forward contract."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from mtlaqa.config import ModelConfig
from mtlaqa.errors import MtlaqaError
from mtlaqa.models.mscadc import MSCADC
from mtlaqa.models.mtl import MTLModel
from mtlaqa.models.network import Network
from mtlaqa.registry import Registry

# (cfg, frames, size, vocab_size, num_clips) -> a Network (.tasks, .cfg, .input_spec, .backbone, …)
ArchFactory = Callable[..., Network]

ARCHS: Registry[ArchFactory] = Registry("model.arch")
# model.* fields an architecture does not read: a value other than the default is refused
ARCH_IGNORES: dict[str, frozenset[str]] = {}


def register_arch(name: str, factory: ArchFactory, ignores: frozenset[str] = frozenset()) -> None:
    """Add architecture `name`; `ignores`: the ModelConfig fields it does not read."""
    unknown = ignores - {f.name for f in dataclasses.fields(ModelConfig)}
    if unknown:
        raise MtlaqaError(f"model.arch {name!r}: ignores unknown model fields {sorted(unknown)}")
    ARCHS.add(name, factory)
    ARCH_IGNORES[name] = ignores


# backbone per clip -> aggregator -> heads (any backbone, any aggregator)
register_arch("c3d_avg", MTLModel)
# its own C3D-small body on one clip, no aggregator
register_arch("mscadc", MSCADC, frozenset({"backbone", "backbone_norm", "aggregator"}))


def arch_names() -> list[str]:
    """The registered architectures, sorted."""
    return ARCHS.names()


def check_arch_options(cfg: ModelConfig) -> None:
    """A one-line error naming the first model.* field set away from its default that
    `cfg.arch` does not read (e.g. model.backbone with arch=mscadc)."""
    ARCHS.get_factory(cfg.arch)  # unknown arch: one-line error listing the known ones
    defaults = ModelConfig()
    for key in sorted(ARCH_IGNORES[cfg.arch]):
        value = getattr(cfg, key)
        if value != getattr(defaults, key):
            raise MtlaqaError(
                f"model.{key}={value!r} is not used by model.arch={cfg.arch} "
                f"(leave it at {getattr(defaults, key)!r})"
            )


def build_arch(
    cfg: ModelConfig, frames: int, size: int, vocab_size: int = 0, num_clips: int = 6
) -> Network:
    """The network `cfg.arch` for `num_clips` clips of `frames` × `size`²."""
    ARCHS.get_factory(cfg.arch)
    if cfg.score_head == "exemplar" and cfg.arch != "c3d_avg":
        raise MtlaqaError(f"model.score_head=exemplar needs model.arch=c3d_avg, not {cfg.arch!r}")
    check_arch_options(cfg)
    return ARCHS[cfg.arch](
        cfg, frames=frames, size=size, vocab_size=vocab_size, num_clips=num_clips
    )
