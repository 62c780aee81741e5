"""Task heads: score and attributes on the aggregated feature, caption on the per-clip features."""

from __future__ import annotations

import torch
from torch import nn

from mtlaqa.schema import ATTRIBUTE_CLASSES


class SharedFC(nn.Module):
    """The shared `fc6` (D -> hidden) + ReLU + dropout in front of the score/attribute heads."""

    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.fc6 = nn.Linear(dim, hidden)
        self.drop = nn.Dropout(dropout)
        self.out_dim = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(torch.relu(self.fc6(x)))  # (B, hidden)


class AttributeHead(nn.Module):
    """Five linear classifiers, one per dive attribute."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.heads = nn.ModuleDict({k: nn.Linear(dim, n) for k, n in ATTRIBUTE_CLASSES.items()})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: head(x) for k, head in self.heads.items()}  # each (B, n_k)


class CaptionHead(nn.Module):
    """S2VT-style GRU encoder-decoder: the encoder reads the clip features, the decoder emits words.

    Decoder input at each step = last encoder output ⊕ word embedding; its initial state is the
    encoder's final state. Teacher forcing in training (`forward`), greedy decoding in `generate`.
    """

    def __init__(
        self,
        dim: int,
        vocab_size: int,
        hidden: int = 512,
        embed: int = 512,
        layers: int = 2,
        dropout: float = 0.2,
        sos: int = 1,
        eos: int = 2,
    ) -> None:
        super().__init__()
        self.sos, self.eos, self.vocab_size = sos, eos, vocab_size
        drop = dropout if layers > 1 else 0.0
        self.encoder = nn.GRU(dim, hidden, num_layers=layers, batch_first=True, dropout=drop)
        self.embed = nn.Embedding(vocab_size, embed)
        self.decoder = nn.GRU(
            hidden + embed, hidden, num_layers=layers, batch_first=True, dropout=drop
        )
        self.out = nn.Linear(hidden, vocab_size)

    def encode(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # clips: (B, K, D) -> context (B, hidden), state (layers, B, hidden)
        enc, state = self.encoder(clips)
        return enc[:, -1], state

    def forward(self, clips: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        # clips: (B, K, D); tokens: (B, L) decoder inputs starting with <sos> -> logits (B, L, V)
        context, state = self.encode(clips)
        emb = self.embed(tokens)  # (B, L, E)
        ctx = context.unsqueeze(1).expand(-1, tokens.shape[1], -1)  # (B, L, hidden)
        out, _ = self.decoder(torch.cat([ctx, emb], dim=-1), state)
        return self.out(out)

    @torch.no_grad()
    def generate(self, clips: torch.Tensor, max_len: int = 40) -> list[list[int]]:
        """Greedy decoding; returns token ids per sample, without <sos>/<eos>."""
        context, state = self.encode(clips)
        b = clips.shape[0]
        word = torch.full((b, 1), self.sos, dtype=torch.long, device=clips.device)
        done = torch.zeros(b, dtype=torch.bool, device=clips.device)
        result: list[list[int]] = [[] for _ in range(b)]
        for _ in range(max_len):
            x = torch.cat([context.unsqueeze(1), self.embed(word)], dim=-1)  # (B, 1, hidden+E)
            out, state = self.decoder(x, state)
            word = self.out(out[:, -1]).argmax(-1, keepdim=True)  # (B, 1)
            for i, w in enumerate(word.squeeze(1).tolist()):
                if not done[i] and w != self.eos:
                    result[i].append(w)
            done |= word.squeeze(1) == self.eos
            if bool(done.all()):
                break
        return result
