"""C3D-AVG multitask model: backbone per clip -> aggregation -> score / attributes / caption."""

from __future__ import annotations

import torch
from torch import nn

from mtlaqa.config import ModelConfig
from mtlaqa.models.finetune import FreezableMixin
from mtlaqa.models.heads import AttributeHead, CaptionHead, SharedFC
from mtlaqa.models.registry import build_aggregator, build_backbone


class MTLModel(FreezableMixin, nn.Module):
    """The C3D-AVG network of Parmar & Morris with any subset of the three task heads."""

    def __init__(
        self, cfg: ModelConfig, frames: int, size: int, vocab_size: int = 0, num_clips: int = 6
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.tasks = tuple(cfg.tasks)
        self.channels_last = False
        self.frozen = None  # models/frozen.py: a frozen backbone for fp32 CPU evaluation
        extra = {"norm": cfg.backbone_norm} if cfg.backbone_norm != "none" else {}
        self.backbone = build_backbone(
            cfg.backbone, frames=frames, size=size, width=cfg.width, **extra
        )
        self.input_spec = self.backbone.input_spec
        d = self.backbone.out_dim
        self.aggregator = build_aggregator(cfg.aggregator, dim=d, num_clips=num_clips)
        if "score" in self.tasks or "attributes" in self.tasks:
            self.shared = SharedFC(self.aggregator.out_dim, cfg.fc_dim, cfg.dropout)
        if "score" in self.tasks:
            self.score = nn.Linear(cfg.fc_dim, 1)
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
        return backbone(x).float().view(b, k, -1)

    def heads(
        self, feats: torch.Tensor, mask: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Score and attribute outputs from clip features (B, K, D); mask (B, K): clips to use."""
        out: dict[str, torch.Tensor] = {}
        if not hasattr(self, "shared"):
            return out
        h = self.shared(self.aggregator(feats, mask))  # (B, fc_dim)
        if "score" in self.tasks:
            out["score"] = self.score(h).squeeze(-1)  # (B,)
        if "attributes" in self.tasks:
            out["attributes"] = self.attributes(h)  # {name: (B, n)}
        return out

    def forward(
        self, video: torch.Tensor, caption: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        # video: (B, K, 3, T, H, W); caption: (B, L) decoder input tokens (teacher forcing)
        feats = self.clip_features(video)  # (B, K, D)
        out = self.heads(feats)
        if "caption" in self.tasks and caption is not None:
            out["caption"] = self.caption(feats, caption)  # (B, L, V)
        out["features"] = feats
        return out
