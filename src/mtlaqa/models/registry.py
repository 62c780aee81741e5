"""Name -> constructor registries for backbones and aggregators (adding one is one line)."""

from __future__ import annotations

from collections.abc import Callable

from mtlaqa.models.network import Aggregator, Backbone
from mtlaqa.registry import Registry

BackboneFactory = Callable[..., Backbone]
AggregatorFactory = Callable[..., Aggregator]

BACKBONES: Registry[BackboneFactory] = Registry("backbone")
AGGREGATORS: Registry[AggregatorFactory] = Registry("aggregator")


def register_backbone(name: str) -> Callable[[BackboneFactory], BackboneFactory]:
    """Decorator: register a backbone factory `(clip_len, crop_size, width, <its options>) -> Backbone`.

    The factory's signature is the list of options it reads; a name already taken raises.
    """
    return BACKBONES.register(name)


def register_aggregator(name: str) -> Callable[[AggregatorFactory], AggregatorFactory]:
    """Decorator: register an aggregator factory `(dim[, num_clips]) -> Aggregator`.

    `num_clips` is passed only to factories whose signature names it; a name already taken raises.
    """
    return AGGREGATORS.register(name)


def _load_builtins() -> None:
    from mtlaqa.models import aggregation, backbones  # noqa: F401  (registers the built-ins)


def backbone_names() -> list[str]:
    """The registered backbones, sorted."""
    _load_builtins()
    return BACKBONES.names()


def aggregator_names() -> list[str]:
    """The registered aggregators, sorted."""
    _load_builtins()
    return AGGREGATORS.names()


def backbone_options(name: str) -> frozenset[str] | None:
    """The options backbone `name` reads (None: any)."""
    _load_builtins()
    return BACKBONES.options(name)


def build_backbone(name: str, **kwargs: object) -> Backbone:
    """Build a registered backbone; it has `.out_dim` and `.input_spec`.

    An option the backbone does not read is a one-line MtlaqaError naming it.
    """
    _load_builtins()
    BACKBONES.check_options(name, kwargs)
    return BACKBONES.get_factory(name)(**kwargs)


def build_aggregator(
    name: str, dim: int, num_clips: int | None = None, **kwargs: object
) -> Aggregator:
    """Build a registered aggregator mapping (B, K, D) -> (B, D').

    `num_clips` (the clips per sample) reaches only the aggregators that read it; any other option
    an aggregator does not read is a one-line MtlaqaError naming it.
    """
    _load_builtins()
    options = dict(kwargs)
    known = AGGREGATORS.options(name)
    if num_clips is not None and (known is None or "num_clips" in known):
        options["num_clips"] = num_clips
    AGGREGATORS.check_options(name, options)
    return AGGREGATORS.get_factory(name)(dim=dim, **options)
