"""Name -> constructor registries for backbones and aggregators (adding one is one line)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from mtlaqa.errors import MtlaqaError

BackboneFactory = Callable[..., nn.Module]
AggregatorFactory = Callable[..., nn.Module]

BACKBONES: dict[str, BackboneFactory] = {}
AGGREGATORS: dict[str, AggregatorFactory] = {}


@dataclass(frozen=True)
class InputSpec:
    """What a backbone's weights expect: clip length, crop size, pixel scale and normalization."""

    frames: int = 16
    size: int = 112
    scale: float = 1.0 / 255.0  # pixel values are multiplied by this before mean/std
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)


def register_backbone(name: str) -> Callable[[BackboneFactory], BackboneFactory]:
    """Decorator: register a backbone factory `(frames, size, width, **kw) -> nn.Module`."""

    def deco(fn: BackboneFactory) -> BackboneFactory:
        BACKBONES[name] = fn
        return fn

    return deco


def register_aggregator(name: str) -> Callable[[AggregatorFactory], AggregatorFactory]:
    """Decorator: register an aggregator factory `(dim, **kw) -> nn.Module` with `.out_dim`."""

    def deco(fn: AggregatorFactory) -> AggregatorFactory:
        AGGREGATORS[name] = fn
        return fn

    return deco


def _lookup(table: dict[str, Callable[..., nn.Module]], kind: str, name: str) -> Callable[..., nn.Module]:
    if name not in table:
        raise MtlaqaError(f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(table))}")
    return table[name]


def build_backbone(name: str, **kwargs: object) -> nn.Module:
    """Build a registered backbone; it has `.out_dim` and `.input_spec`."""
    from mtlaqa.models import backbones  # noqa: F401  (registers the built-ins)

    return _lookup(BACKBONES, "backbone", name)(**kwargs)


def build_aggregator(name: str, dim: int, **kwargs: object) -> nn.Module:
    """Build a registered aggregator mapping (B, K, D) -> (B, D')."""
    from mtlaqa.models import aggregation  # noqa: F401  (registers the built-ins)

    return _lookup(AGGREGATORS, "aggregator", name)(dim=dim, **kwargs)
