"""Task heads: score and attributes on the aggregated feature, caption on the per-clip features."""

from __future__ import annotations

import torch
from torch import nn

from mtlaqa.config import ModelConfig
from mtlaqa.models.network import CaptionDecoder
from mtlaqa.schema import ATTRIBUTE_CLASSES


class SharedFC(nn.Module):
    """The shared `fc6` (D -> hidden) + ReLU + dropout in front of the score/attribute heads."""

    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.fc6 = nn.Linear(dim, hidden)
        self.drop = nn.Dropout(dropout)
        self.out_dim = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h: torch.Tensor = self.drop(torch.relu(self.fc6(x)))  # (B, hidden)
        return h


class AttributeHead(nn.Module):
    """Five linear classifiers, one per dive attribute."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.heads = nn.ModuleDict({k: nn.Linear(dim, n) for k, n in ATTRIBUTE_CLASSES.items()})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: head(x) for k, head in self.heads.items()}  # each (B, n_k)


class CaptionHead(CaptionDecoder):
    """S2VT-style GRU encoder-decoder: the encoder reads the clip features, the decoder emits words.

    Decoder input at each step = last encoder output ⊕ word embedding; its initial state is the
    encoder's final state. Teacher forcing in training (`forward`); `generate` decodes greedily
    (beam 1) or with a batched, length-normalized beam search. With `cond_dim` > 0 the decoder also
    reads a condition vector (models/grounding.py): appended to its input at every step
    (`cond_at="step"`) or mapped into its initial state (`"state"`).
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
        beam: int = 1,
        length_alpha: float = 1.0,
        cond_dim: int = 0,
        cond_at: str = "step",
    ) -> None:
        super().__init__()
        self.sos, self.eos, self.vocab_size = sos, eos, vocab_size
        self.beam, self.length_alpha = beam, length_alpha  # the configured decoder (1 = greedy)
        self.cond_dim, self.cond_at = cond_dim, cond_at
        drop = dropout if layers > 1 else 0.0
        self.encoder = nn.GRU(dim, hidden, num_layers=layers, batch_first=True, dropout=drop)
        self.embed = nn.Embedding(vocab_size, embed)
        step_cond = cond_dim if cond_at == "step" else 0
        self.decoder = nn.GRU(
            hidden + step_cond + embed, hidden, num_layers=layers, batch_first=True, dropout=drop
        )
        if cond_dim and cond_at == "state":
            self.cond_state = nn.Linear(cond_dim, layers * hidden)
        self.out = nn.Linear(hidden, vocab_size)

    @classmethod
    def from_config(cls, dim: int, vocab_size: int, cfg: ModelConfig) -> CaptionHead:
        """The caption head sized, conditioned and decoded as `cfg` (model.caption_*) says."""
        from mtlaqa.models.grounding import condition_dim

        return cls(
            dim,
            vocab_size,
            hidden=cfg.caption_hidden,
            embed=cfg.caption_embed,
            layers=cfg.caption_layers,
            beam=cfg.caption_beam,
            length_alpha=cfg.caption_length_alpha,
            cond_dim=condition_dim(cfg),
            cond_at=cfg.caption_condition_at,
        )

    def encode(
        self, clips: torch.Tensor, cond: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # clips: (B, K, D), cond: (B, C) -> context (B, hidden [+ C]), state (layers, B, hidden)
        enc, state = self.encoder(clips)
        context = enc[:, -1]
        if self.cond_dim:
            if cond is None:
                raise ValueError("this caption head is conditioned: pass cond (B, cond_dim)")
            cond = cond.to(context.dtype)
            if self.cond_at == "step":
                context = torch.cat([context, cond], dim=-1)
            else:
                extra = torch.tanh(self.cond_state(cond)).view(cond.shape[0], *state.shape[::2])
                state = state + extra.transpose(0, 1).to(state.dtype)  # (layers, B, hidden)
        return context, state

    def forward(
        self, clips: torch.Tensor, tokens: torch.Tensor, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        # clips: (B, K, D); tokens: (B, L) decoder inputs starting with <sos>; cond: (B, C)
        # -> logits (B, L, V)
        context, state = self.encode(clips, cond)
        emb = self.embed(tokens)  # (B, L, E)
        ctx = context.unsqueeze(1).expand(-1, tokens.shape[1], -1)  # (B, L, hidden [+ C])
        out, _ = self.decoder(torch.cat([ctx, emb], dim=-1), state)
        logits: torch.Tensor = self.out(out)  # (B, L, V)
        return logits

    def step(
        self, context: torch.Tensor, word: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One decoder step: context (N, hidden [+ C]), word (N, 1), state -> logits (N, V), state."""
        x = torch.cat([context.unsqueeze(1), self.embed(word)], dim=-1)  # (N, 1, hidden+E)
        out, state = self.decoder(x, state)
        return self.out(out[:, -1]), state

    @torch.no_grad()
    def generate(
        self,
        clips: torch.Tensor,
        max_len: int = 100,
        beam: int | None = None,
        length_alpha: float | None = None,
        cond: torch.Tensor | None = None,
    ) -> list[list[int]]:
        """Token ids per sample, without <sos>/<eos>, by the configured decoder (or the one given)."""
        beam = self.beam if beam is None else beam
        alpha = self.length_alpha if length_alpha is None else length_alpha
        if beam <= 1:
            return self.greedy(clips, max_len, cond)
        return self.beam_search(clips, max_len, beam, alpha, cond)

    @torch.no_grad()
    def beam_search(
        self,
        clips: torch.Tensor,
        max_len: int,
        beam: int,
        alpha: float,
        cond: torch.Tensor | None = None,
    ) -> list[list[int]]:
        """Batched beam search; hypotheses are ranked by log-probability / length**alpha.

        A hypothesis that emitted <eos> stays in its beam with a frozen score and length, so it
        competes with the growing ones on equal (normalized) terms until the end.
        """
        context, state = self.encode(clips, cond)
        b, w, dev = clips.shape[0], beam, clips.device
        context = context.repeat_interleave(w, 0)  # (B·W, hidden)
        state = state.repeat_interleave(w, 1)  # (layers, B·W, hidden)
        word = torch.full((b * w, 1), self.sos, dtype=torch.long, device=dev)
        logp_sum = torch.zeros(b, w, device=dev)
        logp_sum[:, 1:] = float("-inf")  # all beams start identical: expand only the first
        length = torch.zeros(b, w, device=dev)
        done = torch.zeros(b, w, dtype=torch.bool, device=dev)
        history = torch.zeros(b, w, 0, dtype=torch.long, device=dev)
        for t in range(1, max_len + 1):
            logits, state = self.step(context, word, state)
            logp = logits.float().log_softmax(-1).view(b, w, -1)  # (B, W, V)
            v = logp.shape[-1]
            # a finished hypothesis may only "emit" <eos> again, at no cost and no extra length
            frozen = torch.full_like(logp, float("-inf"))
            frozen[..., self.eos] = 0.0
            logp = torch.where(done.unsqueeze(-1), frozen, logp)
            cand = logp_sum.unsqueeze(-1) + logp  # (B, W, V)
            cand_len = torch.where(done, length, torch.full_like(length, float(t))).unsqueeze(-1)
            rank = (cand / cand_len.clamp_min(1.0) ** alpha).view(b, w * v)
            top = rank.topk(w, dim=1).indices  # (B, W)
            src, tok = top // v, top % v  # beam each candidate extends, its new word
            logp_sum = cand.view(b, w * v).gather(1, top)
            length = cand_len.expand(-1, -1, v).reshape(b, w * v).gather(1, top)
            was_done = done.gather(1, src)
            done = was_done | (tok == self.eos)
            history = torch.cat(
                [
                    history.gather(1, src.unsqueeze(-1).expand(-1, -1, history.shape[2])),
                    tok.unsqueeze(-1),
                ],
                2,
            )
            rows = src + torch.arange(b, device=dev).unsqueeze(1) * w  # (B, W) decoder rows to keep
            flat = rows.view(-1)
            state = state[:, flat]
            word = tok.view(-1, 1)
            if bool(done.all()):
                break
        best = (logp_sum / length.clamp_min(1.0) ** alpha).argmax(1)  # (B,)
        result: list[list[int]] = []
        for i in range(b):
            seq = history[i, int(best[i])].tolist()
            result.append(seq[: seq.index(self.eos)] if self.eos in seq else seq)
        return result

    @torch.no_grad()
    def greedy(
        self, clips: torch.Tensor, max_len: int = 100, cond: torch.Tensor | None = None
    ) -> list[list[int]]:
        """Greedy decoding; returns token ids per sample, without <sos>/<eos>."""
        context, state = self.encode(clips, cond)
        b = clips.shape[0]
        word = torch.full((b, 1), self.sos, dtype=torch.long, device=clips.device)
        done = torch.zeros(b, dtype=torch.bool, device=clips.device)
        result: list[list[int]] = [[] for _ in range(b)]
        for _ in range(max_len):
            logits, state = self.step(context, word, state)
            word = logits.argmax(-1, keepdim=True)  # (B, 1)
            for i, w in enumerate(word.squeeze(1).tolist()):
                if not done[i] and w != self.eos:
                    result[i].append(w)
            done |= word.squeeze(1) == self.eos
            if bool(done.all()):
                break
        return result
