"""C3D-AVG multitask model: backbone per clip -> aggregation -> score / attributes / caption."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mtlaqa.config import ModelConfig
from mtlaqa.errors import MtlaqaError
from mtlaqa.models.exemplar import ExemplarBank, ExemplarHead
from mtlaqa.models.grounding import condition_vector
from mtlaqa.models.heads import AttributeHead, CaptionHead, SharedFC
from mtlaqa.models.network import Backbone, Network
from mtlaqa.models.registry import backbone_options, build_aggregator, build_backbone
from mtlaqa.models.score_heads import build_score_head

# backbone factory option <- model.* field, passed only when set away from its default "none"
BACKBONE_OPTIONS = {"norm": "backbone_norm"}


def backbone_extras(cfg: ModelConfig) -> dict[str, object]:
    """The model.* backbone options set in `cfg`, refused when `cfg.backbone` does not read them."""
    extras: dict[str, object] = {}
    for option, key in BACKBONE_OPTIONS.items():
        value = getattr(cfg, key)
        if value == "none":
            continue
        known = backbone_options(cfg.backbone)
        if known is not None and option not in known:
            raise MtlaqaError(
                f"model.{key}={value!r} is not used by backbone {cfg.backbone!r} (leave it 'none')"
            )
        extras[option] = value
    return extras


class MTLModel(Network):
    """The C3D-AVG network of Parmar & Morris with any subset of the three task heads."""

    backbone: Backbone

    def __init__(
        self,
        cfg: ModelConfig,
        clip_len: int,
        crop_size: int,
        vocab_size: int = 0,
        num_clips: int = 6,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.tasks = tuple(cfg.tasks)
        self.channels_last = False
        self.frozen = None  # models/frozen.py: a frozen backbone for fp32 CPU evaluation
        self.backbone = build_backbone(
            cfg.backbone,
            clip_len=clip_len,
            crop_size=crop_size,
            width=cfg.width,
            **backbone_extras(cfg),
        )
        self.input_spec = self.backbone.input_spec
        d = self.backbone.out_dim
        self.aggregator = build_aggregator(cfg.aggregator, dim=d, num_clips=num_clips)
        if "score" in self.tasks or "attributes" in self.tasks:
            self.shared = SharedFC(self.aggregator.out_dim, cfg.fc_dim, cfg.dropout)
        self.score: nn.Module
        if "score" in self.tasks and cfg.score_head == "exemplar":
            self.score = ExemplarHead(cfg.fc_dim)  # relative to exemplars (models/exemplar.py)
            self.bank = ExemplarBank(cfg.fc_dim)
        elif "score" in self.tasks:
            self.score_head = build_score_head(cfg.score_head)  # direct | gaussian | distribution
            self.score = nn.Linear(cfg.fc_dim, self.score_head.outputs)
        if "attributes" in self.tasks:
            self.attributes = AttributeHead(cfg.fc_dim)
        if "caption" in self.tasks:
            if vocab_size <= 0:
                raise ValueError("the caption task needs a vocabulary (vocab_size > 0)")
            self.caption = CaptionHead.from_config(d, vocab_size, cfg)

    def clip_features(self, video: torch.Tensor) -> torch.Tensor:
        # video: (B, K, 3, T, H, W) -> (B, K, D); all clips of the batch go through the backbone at once
        b, k = video.shape[:2]
        x = video.flatten(0, 1)
        if self.channels_last:  # measured faster for 3D convs on CPU (oneDNN) and GPU (cuDNN)
            x = x.contiguous(memory_format=torch.channels_last_3d)
        backbone = self.frozen if self.frozen is not None and not self.training else self.backbone
        feats: torch.Tensor = backbone(x)  # (B·K, D)
        return feats.float().view(b, k, -1)

    def embed(self, feats: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The shared feature (B, fc_dim) of clip features (B, K, D)."""
        shared: torch.Tensor = self.shared(self.aggregator(feats, mask))
        return shared

    def heads(
        self,
        feats: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        exemplar_types: torch.Tensor | None = None,
        exemplar: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> dict[str, Any]:
        """Score and attribute outputs from clip features (B, K, D); mask (B, K): clips to use.

        `exemplar` (score_head=exemplar, training): the exemplars' shared features (B, fc_dim) and
        normalised scores (B,); without it an exemplar head scores against the bank, with the
        exemplars of `exemplar_types` (B, 5) when given, else of the predicted dive.
        """
        out: dict[str, Any] = {}
        if not hasattr(self, "shared"):
            return out
        h = self.embed(feats, mask)  # (B, fc_dim)
        if "attributes" in self.tasks:
            out["attributes"] = self.attributes(h)  # {name: (B, n)}
        if "score" in self.tasks and isinstance(self.score, ExemplarHead):
            if exemplar is not None:
                out.update(self.score.pair(h, *exemplar))  # score (B,), score_difference (B,)
            else:  # score (B,), score_spread (B,)
                out.update(
                    self.score.against_bank(
                        h, out.get("attributes"), self.bank, self.cfg.exemplars, exemplar_types
                    )
                )
        elif "score" in self.tasks:
            out.update(self.score_head.finish(self.score(h)))  # score (B,) [, score_sigma (B,)]
        return out

    def forward(
        self,
        video: torch.Tensor,
        caption: torch.Tensor | None = None,
        truth: dict[str, Any] | None = None,
        exemplar: tuple[torch.Tensor, torch.Tensor] | None = None,
        exemplar_types: torch.Tensor | None = None,
    ) -> dict[str, Any]:
        # video: (B, K, 3, T, H, W); caption: (B, L) decoder input tokens (teacher forcing);
        # truth: the batch's score/attribute targets (grounded commentary's teacher condition);
        # exemplar: the exemplars' videos (B, K, 3, T, H, W) and normalised scores (B,);
        # exemplar_types: (B, 5) dive types whose bank exemplars score each query (-1: predicted)
        if exemplar is not None and hasattr(self, "bank"):
            b = video.shape[0]
            both = self.clip_features(torch.cat([video, exemplar[0]]))  # (2B, K, D): one pass
            feats = both[:b]  # (B, K, D)
            out = self.heads(feats, exemplar=(self.embed(both[b:]), exemplar[1]))
        else:
            feats = self.clip_features(video)  # (B, K, D)
            out = self.heads(feats, exemplar_types=exemplar_types)
        out["features"] = feats
        if "caption" in self.tasks and caption is not None:
            cond = condition_vector(out, self.cfg, truth)  # (B, C) with caption_condition=heads
            out["caption"] = self.caption(feats, caption, cond)  # (B, L, V)
        return out
