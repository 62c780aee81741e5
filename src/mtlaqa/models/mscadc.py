"""MSCADC (Parmar & Morris 2019, design §1): a C3D-small body with batch norm and dilated conv5,
one down-sampled 16-frame clip, and per-task heads with a multi-scale context net.

Built as the authors' code (ParitoshParmar/MTL-AQA, models/MSCADC): floor-mode pools, conv5b
dilated 2 with padding 1 (the body gives 256×2×20×20 at 16×180×180), BatchNorm after every context
conv, the heads' 1×1 bottleneck padded by 1. Their pretrained C3D-small body file
(`conv1, bn1, conv2, bn2, conv3a, bn3a, …, conv5b, bn5b`) loads through a key map. Differences,
so that other input sizes work: task outputs average globally (the original's fixed 2×11×11 average
is the whole map at 180²), and the caption grid pools adaptively to 1×10×10 (exactly the
original's 12×10×10 = 1200-d at 180²). The forward contract is MTLModel's.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mtlaqa.config import ModelConfig
from mtlaqa.errors import MtlaqaError
from mtlaqa.inputspec import InputSpec
from mtlaqa.models.grounding import condition_vector
from mtlaqa.models.heads import CaptionHead
from mtlaqa.models.network import CaptionDecoder, Network
from mtlaqa.models.score_heads import build_score_head
from mtlaqa.schema import ATTRIBUTE_CLASSES


def _c3(c_in: int, c_out: int, dilation: int = 1, pad: bool = True) -> nn.Conv3d:
    """3×3×3 conv; padded to keep the size unless `pad=False` (the context net consumes padding)."""
    return nn.Conv3d(c_in, c_out, 3, padding=dilation if pad else 0, dilation=dilation)


def _cbr(c_in: int, c_out: int, dilation: int = 1) -> list[nn.Module]:
    return [_c3(c_in, c_out, dilation), nn.BatchNorm3d(c_out), nn.ReLU(inplace=True)]


# the authors' layer names -> this body's (blocks conv1 … conv5 are Sequentials: conv, BN, ReLU, …)
AUTHOR_KEYS = {
    "conv1": "conv1.0", "bn1": "conv1.1", "conv2": "conv2.0", "bn2": "conv2.1",
    "conv3a": "conv3.0", "bn3a": "conv3.1", "conv3b": "conv3.3", "bn3b": "conv3.4",
    "conv4a": "conv4.0", "bn4a": "conv4.1", "conv4b": "conv4.3", "bn4b": "conv4.4",
    "conv5a": "conv5.0", "bn5a": "conv5.1", "conv5b": "conv5.3", "bn5b": "conv5.4",
}  # fmt: skip


def body_out_shape(clip_len: int, crop_size: int) -> tuple[int, int, int]:
    """(T', H', W') of the body's map for a clip_len × crop_size × crop_size clip (floor pools, conv5b −2)."""
    t, h = clip_len // 2 // 2 - 2, crop_size // 2 // 2 // 2 - 2
    return t, h, h


class MSCADCBody(nn.Module):
    """C3D-small with BN: (N, 3, T, H, W) -> (N, 256·w, T/4 − 2, H/8 − 2, W/8 − 2) feature map."""

    def __init__(self, width: float = 1.0, dropout: float = 0.5) -> None:
        super().__init__()

        def ch(c: int) -> int:
            return max(4, round(c * width))

        c1, c2, c3, c4 = ch(32), ch(64), ch(128), ch(256)
        # blocks (named for freezing the last N): conv1, conv2, conv3, conv4, conv5 (dilated)
        self.conv1 = nn.Sequential(*_cbr(3, c1), nn.MaxPool3d((1, 2, 2), (1, 2, 2)))
        self.conv2 = nn.Sequential(*_cbr(c1, c2), nn.MaxPool3d(2, 2))
        self.conv3 = nn.Sequential(*_cbr(c2, c3), *_cbr(c3, c3), nn.MaxPool3d(2, 2))
        self.conv4 = nn.Sequential(*_cbr(c3, c4), *_cbr(c4, c4))
        conv5b = nn.Conv3d(c4, c4, 3, padding=1, dilation=2)  # as the original: shrinks by 2
        self.conv5 = nn.Sequential(
            *_cbr(c4, c4, 2), conv5b, nn.BatchNorm3d(c4), nn.ReLU(inplace=True), nn.Dropout(dropout)
        )
        self.out_channels = c4
        self.out_dim = c4  # channels of the map; clip "features" here are maps, not vectors

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, 3, T, H, W)
        maps: torch.Tensor = self.conv5(self.conv4(self.conv3(self.conv2(self.conv1(x)))))
        return maps  # (N, C, T', H', W')

    def adapt_weights(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The authors' C3D-small file (`conv1.weight`, `bn3a.running_mean`, …) under this body's
        names; other keys (their fc layers, or a file already in this layout) pass unchanged."""
        out: dict[str, torch.Tensor] = {}
        for k, v in state.items():
            layer, _, rest = k.partition(".")
            out[f"{AUTHOR_KEYS[layer]}.{rest}" if layer in AUTHOR_KEYS and rest else k] = v
        return out


class ContextHead(nn.Module):
    """One task's head trunk: 1×1 bottleneck (padded by 1, as the original: +2 per dim), replication
    pad 9, multi-scale context net (conv + BN + ReLU each), 1×1, BN, pool, conv.

    The context net's convs are unpadded; their receptive growth (2+2+4+8+2 = 18) consumes the
    padding of 9 on each side, so the map keeps the bottleneck's size until the max-pool
    (2×20×20 -> 4×22×22 -> 2×11×11 at 180² input).
    """

    def __init__(self, c_in: int, width: float = 1.0) -> None:
        super().__init__()

        def ch(c: int) -> int:
            return max(4, round(c * width))

        b, c24, c48, c96 = ch(12), ch(24), ch(48), ch(96)
        relu = nn.ReLU
        self.net = nn.Sequential(
            nn.Conv3d(c_in, b, 1, padding=1),
            nn.ReplicationPad3d(9),
            _c3(b, c24, pad=False), nn.BatchNorm3d(c24), relu(inplace=True),
            _c3(c24, c24, pad=False), nn.BatchNorm3d(c24), relu(inplace=True),
            _c3(c24, c48, 2, pad=False), nn.BatchNorm3d(c48), relu(inplace=True),
            _c3(c48, c96, 4, pad=False), nn.BatchNorm3d(c96), relu(inplace=True),
            _c3(c96, c96, pad=False), nn.BatchNorm3d(c96), relu(inplace=True),
            nn.Conv3d(c96, b, 1), nn.BatchNorm3d(b), relu(inplace=True),
            nn.MaxPool3d(2, 2),
            _c3(b, b), nn.BatchNorm3d(b), relu(inplace=True),
        )  # fmt: skip
        self.out_channels = b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.net(x)  # (N, 12·w, T'/2, H'/2, W'/2)
        return y


class ConvOutput(nn.Module):
    """Task output: a 3×3×3 conv to n channels, then global average pooling -> (N, n)."""

    def __init__(self, c_in: int, n: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(c_in, n, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.conv(x)  # (N, n, t, h, w)
        return y.mean(dim=(2, 3, 4))


class MSCADCCaption(CaptionDecoder):
    """Caption branch: context head, C3(12), max-pool, 12×1×10×10 grid -> the GRU encoder-decoder.

    Takes the body's clip maps (B, K, C, T, H, W) like MTLModel's caption head takes clip vectors,
    so `model.caption(features, tokens)` and `model.caption.generate(features)` work the same.
    """

    def __init__(self, c_in: int, vocab_size: int, cfg: ModelConfig, width: float) -> None:
        super().__init__()
        self.trunk = ContextHead(c_in, width)
        c = self.trunk.out_channels
        self.conv = nn.Conv3d(c, c, 3, padding=1)
        self.pool = nn.Sequential(
            nn.MaxPool3d(2, 1, ceil_mode=True), nn.AdaptiveAvgPool3d((1, 10, 10))
        )
        self.decoder = CaptionHead.from_config(c * 100, vocab_size, cfg)

    def encode_clips(self, maps: torch.Tensor) -> torch.Tensor:
        # maps: (B, K, C, T, H, W) -> (B, K, 12·100): one encoder step per clip (K = 1 in the paper)
        b, k = maps.shape[:2]
        x: torch.Tensor = self.pool(
            self.conv(self.trunk(maps.flatten(0, 1)))
        )  # (B·K, 12, 1, 10, 10)
        return x.flatten(1).view(b, k, -1)

    def forward(
        self, maps: torch.Tensor, tokens: torch.Tensor, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        logits: torch.Tensor = self.decoder(self.encode_clips(maps), tokens, cond)  # (B, L, V)
        return logits

    @torch.no_grad()
    def generate(self, clips: torch.Tensor, max_len: int = 100, **kw: Any) -> list[list[int]]:
        """Decode captions of the clip maps with the configured decoder (greedy or beam)."""
        return self.decoder.generate(self.encode_clips(clips), max_len, **kw)


class MSCADC(Network):
    """MSCADC with any subset of the tasks; same interface as MTLModel.

    `forward(video (B, K, 3, T, H, W), caption_in)` -> score (B,), attributes {name: (B, n)},
    caption (B, L, V), features (B, K, C, T', H', W') (the body's maps). With K > 1 clips the
    score and attribute outputs are averaged over the clips.
    """

    def __init__(
        self,
        cfg: ModelConfig,
        clip_len: int,
        crop_size: int,
        vocab_size: int = 0,
        num_clips: int = 1,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.tasks = tuple(cfg.tasks)
        self.channels_last = False
        if min(body_out_shape(clip_len, crop_size)) < 1:
            raise MtlaqaError(
                f"model.arch=mscadc needs clips of at least 12 frames and 24 px "
                f"(data.clip_len={clip_len}, data.crop_size={crop_size})"
            )
        self.backbone = MSCADCBody(cfg.width, cfg.dropout)
        # trained from scratch: ImageNet statistics on [0, 1] pixels, like the skeleton's C3D
        self.input_spec = InputSpec(clip_len=clip_len, crop_size=crop_size)
        c = self.backbone.out_channels
        if "score" in self.tasks:
            self.score_trunk = ContextHead(c, cfg.width)
            self.score_head = build_score_head(cfg.score_head)
            self.score = ConvOutput(self.score_trunk.out_channels, self.score_head.outputs)
        if "attributes" in self.tasks:
            self.attributes_trunk = ContextHead(c, cfg.width)
            n = self.attributes_trunk.out_channels
            self.attributes = nn.ModuleDict(
                {k: ConvOutput(n, m) for k, m in ATTRIBUTE_CLASSES.items()}
            )
        if "caption" in self.tasks:
            if vocab_size <= 0:
                raise ValueError("the caption task needs a vocabulary (vocab_size > 0)")
            self.caption = MSCADCCaption(c, vocab_size, cfg, cfg.width)

    def clip_features(self, video: torch.Tensor) -> torch.Tensor:
        # video: (B, K, 3, T, H, W) -> body maps (B, K, C, T', H', W')
        b, k = video.shape[:2]
        x = video.flatten(0, 1)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        y: torch.Tensor = self.backbone(x)  # (B·K, C, T', H', W')
        return y.float().view(b, k, *y.shape[1:])

    def heads(
        self,
        feats: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        exemplar_types: torch.Tensor | None = None,
    ) -> dict[str, Any]:
        """Score and attribute outputs from the clip maps (B, K, C, T', H', W'), averaged over the
        clips (those of mask (B, K) when given); `exemplar_types` is ignored (no exemplar head)."""
        b, k = feats.shape[:2]
        x = feats.flatten(0, 1)  # (B·K, C, T', H', W')
        w = torch.ones(b, k, device=feats.device) if mask is None else mask.float()
        w = (w / w.sum(1, keepdim=True).clamp_min(1.0)).unsqueeze(-1)  # (B, K, 1)
        out: dict[str, Any] = {}
        if "score" in self.tasks:
            raw = self.score(self.score_trunk(x)).float().view(b, k, -1)  # (B, K, outputs)
            out.update(self.score_head.finish((raw * w).sum(1)))  # clip average, then the head
        if "attributes" in self.tasks:
            h = self.attributes_trunk(x)
            out["attributes"] = {
                n: (head(h).float().view(b, k, -1) * w).sum(1)
                for n, head in self.attributes.items()
            }
        return out

    def forward(
        self,
        video: torch.Tensor,
        caption: torch.Tensor | None = None,
        truth: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        # video: (B, K, 3, T, H, W); caption: (B, L) decoder input tokens (teacher forcing);
        # truth: the batch's score/attribute targets (grounded commentary's teacher condition)
        feats = self.clip_features(video)
        out = self.heads(feats)
        out["features"] = feats
        if "caption" in self.tasks and caption is not None:
            cond = condition_vector(out, self.cfg, truth)  # (B, C) with caption_condition=heads
            out["caption"] = self.caption(feats, caption, cond)  # (B, L, V)
        return out
