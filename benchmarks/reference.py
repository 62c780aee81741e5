"""A plain fp32 eager C3D-AVG-MTL, written the way AQA codebases run it: the baseline to beat.

No tricks: NCDHW tensors, fp32, one backbone call per clip (the original MTL-AQA code loops over
the six clips), autograd on at inference under `no_grad`. Same layers and shapes as mtlaqa's
MTLModel, so `load_from` copies its weights and both must give the same outputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ATTRIBUTES = {"position": 3, "armstand": 2, "rotation_type": 4, "ss_no": 10, "tw_no": 8}
CONVS = ("conv1", "conv2", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b")
POOL_AFTER = ("conv1", "conv2", "conv3b", "conv4b", "conv5b")


class RefC3D(nn.Module):
    """C3D conv1..pool5 as in Tran et al. / the Sports-1M port: (N, 3, T, H, W) -> (N, D)."""

    def __init__(self, channels: list[int]) -> None:
        super().__init__()
        c_in = 3
        for name, c_out in zip(CONVS, channels, strict=True):
            setattr(self, name, nn.Conv3d(c_in, c_out, kernel_size=3, padding=1))
            c_in = c_out
        self.pools = nn.ModuleDict(
            {
                "conv1": nn.MaxPool3d((1, 2, 2), (1, 2, 2), ceil_mode=True),
                "conv2": nn.MaxPool3d(2, 2, ceil_mode=True),
                "conv3b": nn.MaxPool3d(2, 2, ceil_mode=True),
                "conv4b": nn.MaxPool3d(2, 2, ceil_mode=True),
                "conv5b": nn.MaxPool3d(2, 2, padding=(0, 1, 1), ceil_mode=True),
            }
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, 3, T, H, W)
        for name in CONVS:
            x = F.relu(getattr(self, name)(x))
            if name in POOL_AFTER:
                x = self.pools[name](x)
        return x.flatten(1)  # (N, D)


class RefCaption(nn.Module):
    """S2VT-style GRU encoder-decoder with the same parameter names as mtlaqa's CaptionHead."""

    def __init__(self, dim: int, vocab: int, hidden: int, embed: int, layers: int) -> None:
        super().__init__()
        self.encoder = nn.GRU(dim, hidden, num_layers=layers, batch_first=True, dropout=0.2)
        self.embed = nn.Embedding(vocab, embed)
        self.decoder = nn.GRU(
            hidden + embed, hidden, num_layers=layers, batch_first=True, dropout=0.2
        )
        self.out = nn.Linear(hidden, vocab)

    def forward(self, clips: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        # clips: (B, K, D), tokens: (B, L) -> logits (B, L, V)
        enc, state = self.encoder(clips)
        ctx = enc[:, -1:].expand(-1, tokens.shape[1], -1)
        out, _ = self.decoder(torch.cat([ctx, self.embed(tokens)], dim=-1), state)
        return self.out(out)

    def greedy(self, clips: torch.Tensor, max_len: int, sos: int = 1) -> torch.Tensor:
        """max_len greedy steps (no early stop): (B, max_len) token ids."""
        enc, state = self.encoder(clips)
        word = torch.full((clips.shape[0], 1), sos, dtype=torch.long, device=clips.device)
        words = []
        for _ in range(max_len):
            out, state = self.decoder(torch.cat([enc[:, -1:], self.embed(word)], dim=-1), state)
            word = self.out(out[:, -1]).argmax(-1, keepdim=True)
            words.append(word)
        return torch.cat(words, dim=1)


class RefMTL(nn.Module):
    """C3D per clip -> mean -> fc6 -> score / five attributes; GRU captions on the clip features."""

    def __init__(
        self,
        channels: list[int],
        feat_dim: int,
        fc_dim: int,
        vocab: int,
        hidden: int = 512,
        embed: int = 512,
        layers: int = 2,
    ) -> None:
        super().__init__()
        self.c3d = RefC3D(channels)
        self.fc6 = nn.Linear(feat_dim, fc_dim)
        self.drop = nn.Dropout(0.5)
        self.score = nn.Linear(fc_dim, 1)
        self.attributes = nn.ModuleDict({k: nn.Linear(fc_dim, n) for k, n in ATTRIBUTES.items()})
        self.caption = RefCaption(feat_dim, vocab, hidden, embed, layers)

    def features(self, video: torch.Tensor) -> torch.Tensor:
        # video: (B, K, 3, T, H, W) -> (B, K, D), one backbone call per clip as the original code
        return torch.stack([self.c3d(video[:, k]) for k in range(video.shape[1])], dim=1)

    def forward(
        self, video: torch.Tensor, tokens: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        feats = self.features(video)  # (B, K, D)
        h = self.drop(F.relu(self.fc6(feats.mean(1))))  # (B, fc_dim)
        out = {"score": self.score(h).squeeze(-1), "features": feats}
        out.update({f"attr_{k}": head(h) for k, head in self.attributes.items()})
        if tokens is not None:
            out["caption"] = self.caption(feats, tokens)  # (B, L, V)
        return out

    def loss(self, out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """MSE + L1 on the score, Σ CE over attributes, 0.01 · caption NLL (pad 0 masked)."""
        s = F.mse_loss(out["score"], batch["score"]) + F.l1_loss(out["score"], batch["score"])
        a = sum(F.cross_entropy(out[f"attr_{k}"], batch["attributes"][k]) for k in ATTRIBUTES)
        c = F.cross_entropy(
            out["caption"].flatten(0, 1), batch["caption_out"].flatten(), ignore_index=0
        )
        return s + a + 0.01 * c

    @torch.no_grad()
    def load_from(self, model: nn.Module) -> None:
        """Copy the weights of an mtlaqa MTLModel (same architecture, other parameter names)."""
        src = model.state_dict()
        rename = {"backbone.": "c3d.", "shared.fc6.": "fc6.", "attributes.heads.": "attributes."}
        mapped = {}
        for k, v in src.items():
            for a, b in rename.items():
                if k.startswith(a):
                    k = b + k[len(a) :]
                    break
            mapped[k] = v
        self.load_state_dict(mapped)
