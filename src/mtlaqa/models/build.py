"""The network of a config: the architecture by name, pretrained backbone weights, freezing."""

from __future__ import annotations

import logging

from mtlaqa.config import Config
from mtlaqa.data.vocab import Vocab
from mtlaqa.models.archs import build_arch
from mtlaqa.models.finetune import apply_freeze
from mtlaqa.models.network import Network
from mtlaqa.models.weights import load_backbone_weights

log = logging.getLogger(__name__)


def build_model(cfg: Config, vocab: Vocab | None) -> Network:
    """The network of `cfg.model` (arch by name) for clips of `cfg.data`, weights loaded, frozen as set."""
    model = build_arch(
        cfg.model,
        clip_len=cfg.data.clip_len,
        crop_size=cfg.data.crop_size,
        vocab_size=len(vocab) if vocab else 0,
        num_clips=cfg.data.num_clips,
    )
    if cfg.model.backbone_weights:
        report = load_backbone_weights(model, cfg.model.backbone_weights)
        log.info("backbone weights %s: %s", cfg.model.backbone_weights, report.summary())
    apply_freeze(model, cfg.model)
    return model
