"""Backbone freezing (`model.freeze`) and optimizer parameter groups (`train.backbone_lr`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import nn

from mtlaqa.config import ModelConfig, TrainConfig
from mtlaqa.errors import MtlaqaError

if TYPE_CHECKING:  # models/network.py imports this module
    from mtlaqa.models.network import Network

FREEZE_MODES = ("none", "all", "last_n")


def backbone_blocks(backbone: nn.Module) -> list[tuple[str, nn.Module]]:
    """The backbone's top-level children that hold parameters, input to output.

    C3D: conv1 … conv5b (8); I3D: Conv3d_1a_7x7 … Mixed_5c (12); video resnets: stem, layer1-4
    (5); MSCADC body: conv1 … conv5 (5). Parameter-free pools are not blocks.
    """
    return [(n, m) for n, m in backbone.named_children() if any(True for _ in m.parameters())]


class FreezableMixin:
    """Keeps frozen backbone blocks in eval mode, so BatchNorm statistics stay those of the weights.

    Mixed into the architectures before nn.Module; `frozen_blocks` holds submodule names.
    """

    frozen_blocks: tuple[str, ...] = ()

    def train(self, mode: bool = True) -> Any:
        super().train(mode)  # type: ignore[misc]
        for name in self.frozen_blocks:
            self.get_submodule(name).eval()  # type: ignore[attr-defined]
        return self


def apply_freeze(model: Network, cfg: ModelConfig) -> list[str]:
    """Stop gradients in the backbone blocks `cfg.freeze` names; returns their names."""
    if cfg.freeze not in FREEZE_MODES:
        raise MtlaqaError(
            f"model.freeze must be one of {', '.join(FREEZE_MODES)}, got {cfg.freeze!r}"
        )
    blocks = backbone_blocks(model.backbone)
    if cfg.freeze == "none":
        frozen: list[tuple[str, nn.Module]] = []
    elif cfg.freeze == "all":
        frozen = blocks
    else:
        n = cfg.finetune_blocks
        if not 0 <= n <= len(blocks):
            raise MtlaqaError(
                f"model.finetune_blocks={n}, but backbone {cfg.backbone!r} has {len(blocks)} blocks "
                f"({', '.join(b for b, _ in blocks)})"
            )
        frozen = blocks[: len(blocks) - n]
    for _, module in frozen:
        module.requires_grad_(False)
    names = tuple(f"backbone.{b}" for b, _ in frozen)
    model.frozen_blocks = names
    model.train(model.training)  # put the frozen blocks in eval mode now
    return list(names)


def param_groups(model: Network, cfg: TrainConfig) -> list[dict[str, Any]]:
    """Adam parameter groups: the trainable backbone at `backbone_lr` (default `lr`), the rest at `lr`."""
    backbone_ids = {id(p) for p in model.backbone.parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    backbone = [p for p in trainable if id(p) in backbone_ids]
    rest = [p for p in trainable if id(p) not in backbone_ids]
    lr_b = cfg.lr if cfg.backbone_lr is None else cfg.backbone_lr
    groups = [
        {"params": backbone, "lr": lr_b, "name": "backbone"},
        {"params": rest, "lr": cfg.lr, "name": "heads"},
    ]
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise MtlaqaError("nothing to train: every parameter is frozen")
    return groups
