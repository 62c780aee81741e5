"""Exemplar score head (CoRe-style relative scoring, `model.score_head=exemplar`).

The head reads the query's and an exemplar's shared features (concatenation, difference and the
exemplar's score) and regresses the score difference; the score is exemplar score + difference.
Training pairs come from the data layer (data/exemplars.py). At inference the query is compared
with the exemplars of the bank of its predicted dive type (the nearest types when absent) and the
score is the mean over them; their spread is an uncertainty. The bank (features, scores, dive
types, ids) is filled from training dives with the final weights and travels in the checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from mtlaqa.errors import MtlaqaError
from mtlaqa.schema import ATTRIBUTE_CLASSES

if TYPE_CHECKING:  # models/mtl.py imports this module
    from mtlaqa.models.mtl import MTLModel


class ExemplarBank(nn.Module):
    """Exemplars for inference: features (N, D), normalised scores (N,), dive types (N, 5), ids.

    Buffers are not in the state dict: the bank is saved under the checkpoint's `exemplar_bank`.
    """

    features: torch.Tensor  # (N, D)
    scores: torch.Tensor  # (N,)
    types: torch.Tensor  # (N, 5)

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("features", torch.zeros(0, dim), persistent=False)
        self.register_buffer("scores", torch.zeros(0), persistent=False)
        self.register_buffer("types", torch.zeros(0, 5, dtype=torch.long), persistent=False)
        self.ids: list[str] = []

    def __len__(self) -> int:
        return int(self.scores.numel())

    def fill(
        self, features: torch.Tensor, scores: torch.Tensor, types: torch.Tensor, ids: list[str]
    ) -> None:
        """Replace the bank (kept on the device of the current buffers)."""
        dev = self.features.device
        self.features = features.detach().float().to(dev)
        self.scores = scores.detach().float().to(dev)
        self.types = types.detach().long().to(dev)
        self.ids = list(ids)

    def nbytes(self) -> int:
        """Memory of the bank's tensors in bytes."""
        return sum(t.numel() * t.element_size() for t in (self.features, self.scores, self.types))

    def to_dict(self) -> dict[str, Any]:
        """Checkpoint form (CPU tensors and a list of ids)."""
        return {
            "ids": list(self.ids),
            "features": self.features.cpu(),
            "scores": self.scores.cpu(),
            "types": self.types.cpu(),
        }

    def load_dict(self, d: dict[str, Any]) -> None:
        """Restore from `to_dict`'s form."""
        self.fill(d["features"], d["scores"], d["types"], d["ids"])

    def pick(self, types: torch.Tensor | None, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows of the K exemplars of each query: (B, K') indices and a (B, K') validity mask.

        With dive types (B, 5): the first K bank rows (bank order) of the nearest dive type by
        attributes (the same type when the bank has it). Without: K rows evenly spread over the
        bank, the same for every query. K' = min(K, N).
        """
        n = len(self)
        if n == 0:
            raise MtlaqaError(
                "this exemplar model has no exemplar bank (a checkpoint written before training ended?)"
            )
        k = min(k, n)
        if types is None:
            rows = torch.linspace(0, n - 1, k, device=self.scores.device).round().long()
            return rows.expand(1, k), torch.ones(1, k, dtype=torch.bool, device=rows.device)
        dist = (types[:, None, :] != self.types[None, :, :]).sum(-1)  # (B, N)
        near = dist == dist.min(1, keepdim=True).values  # (B, N)
        first = near.float() * (n - torch.arange(n, device=near.device)).float()  # earlier rows win
        rows = first.topk(k, dim=1).indices  # (B, K)
        return rows, near.gather(1, rows)


class ExemplarHead(nn.Module):
    """MLP over [query, exemplar, query − exemplar, exemplar score] -> score difference."""

    def __init__(self, dim: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or min(dim, 512)
        self.fc = nn.Linear(3 * dim + 1, hidden)
        self.out = nn.Linear(hidden, 1)
        nn.init.zeros_(self.out.bias)

    def difference(self, q: torch.Tensor, e: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Predicted score(q) − score(e); q, e (..., D), s (...) normalised -> (...)."""
        x = torch.cat([q, e, q - e, s.unsqueeze(-1).to(q.dtype)], -1)  # (..., 3D + 1)
        diff: torch.Tensor = self.out(torch.relu(self.fc(x)))  # (..., 1)
        return diff.squeeze(-1)

    def pair(self, h: torch.Tensor, ex_h: torch.Tensor, ex_score: torch.Tensor) -> dict[str, Any]:
        """Training: each query (B, D) against its exemplar (B, D) with score (B,)."""
        d = self.difference(h, ex_h, ex_score)  # (B,)
        return {"score": ex_score.to(d.dtype) + d, "score_difference": d}

    def against_bank(
        self,
        h: torch.Tensor,
        attributes: dict[str, torch.Tensor] | None,
        bank: ExemplarBank,
        k: int,
        types: torch.Tensor | None = None,
    ) -> dict[str, Any]:
        """Inference: mean over K exemplars of (exemplar score + difference), and their spread.

        The exemplars are those of the dive `types` (B, 5) when given, else of the argmax of the
        `attributes` logits, else spread over the bank.
        """
        if attributes is not None:  # rows of `types` with an unknown attribute (-1): predicted
            pred = predicted_types(attributes)  # (B, 5)
            if types is None:
                types = pred
            else:
                known = (types >= 0).all(1, keepdim=True)  # (B, 1)
                types = torch.where(known, types.to(pred.device), pred)
        elif types is not None and not bool((types >= 0).all()):
            types = None  # no attribute head to fill the unknown ones: spread over the bank
        rows, mask = bank.pick(types, k)  # (B or 1, K)
        rows, mask = rows.expand(h.shape[0], -1), mask.expand(h.shape[0], -1)
        e = bank.features[rows].to(h.dtype)  # (B, K, D)
        s = bank.scores[rows]  # (B, K)
        est = s + self.difference(h[:, None].expand_as(e), e, s).float()  # (B, K)
        m = mask.float()
        n = m.sum(1).clamp_min(1.0)
        mean = (est * m).sum(1) / n  # (B,)
        spread = (((est - mean[:, None]) ** 2 * m).sum(1) / n).sqrt()  # (B,)
        return {"score": mean, "score_spread": spread}


def predicted_types(attributes: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, 5) dive types from attribute logits {name: (B, n)}."""
    return torch.stack([attributes[a].argmax(-1) for a in ATTRIBUTE_CLASSES], 1)


@torch.no_grad()
def fill_bank(
    model: MTLModel,
    batches: Iterable[dict[str, Any]],
    device: torch.device,
    dtype: torch.dtype | None = None,
) -> None:
    """Fill `model.bank` from batches of DiveDataset items (eval mode, the model's weights now)."""
    was_training = model.training
    model.eval()
    feats, scores, types, ids = [], [], [], []
    for batch in batches:
        video = batch["video"].to(device)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            h = model.embed(model.clip_features(video))  # (B, D)
        feats.append(h.float())
        scores.append(batch["score"])
        types.append(torch.stack([batch["attributes"][a] for a in ATTRIBUTE_CLASSES], 1))
        ids += batch["id"]
    if not ids:
        raise MtlaqaError("score_head=exemplar: no scored training sample for the exemplar bank")
    model.bank.fill(torch.cat(feats), torch.cat(scores), torch.cat(types), ids)
    model.train(was_training)


def bank_summary(model: MTLModel) -> dict[str, Any]:
    """Count and memory of the model's exemplar bank (for metrics and the report)."""
    bank = model.bank
    return {"count": len(bank), "bytes": bank.nbytes(), "per_query": int(model.cfg.exemplars)}
