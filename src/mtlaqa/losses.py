"""Task losses (design §1): L = α·(MSE + L1) + β·Σ CE(attributes) + γ·caption NLL (Σ tokens / B)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from mtlaqa.config import LossConfig


def score_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE + L1, mean over the labelled samples of the batch."""
    ok = torch.isfinite(target)
    if not bool(ok.any()):
        return pred.sum() * 0.0
    p, t = pred[ok].float(), target[ok]
    return F.mse_loss(p, t) + F.l1_loss(p, t)


def attributes_loss(
    logits: dict[str, torch.Tensor], target: dict[str, torch.Tensor]
) -> torch.Tensor:
    """Sum over the five attributes of cross-entropy; label -1 (unknown) is ignored."""
    total = torch.zeros((), device=next(iter(logits.values())).device)
    for name, lg in logits.items():
        t = target[name]
        if bool((t >= 0).any()):
            total = total + F.cross_entropy(lg.float(), t, ignore_index=-1)
    return total


def caption_loss(logits: torch.Tensor, target: torch.Tensor, pad: int = 0) -> torch.Tensor:
    """Token NLL summed over each caption (up to and including <eos>), averaged over the captions.

    As the original MTL-AQA code (Σ token NLL / B), so γ = 0.01 weighs it as in the paper; rows
    without a caption (all padding) are not counted. logits (B, L, V), target (B, L).
    """
    has = (target != pad).any(dim=1)  # (B,)
    if not bool(has.any()):
        return logits.sum() * 0.0
    nll = F.cross_entropy(
        logits.float().flatten(0, 1), target.flatten(), ignore_index=pad, reduction="sum"
    )
    return nll / has.sum()


def total_loss(
    out: dict[str, Any], batch: dict[str, Any], weights: LossConfig
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum over the tasks the model produced; also each task's unweighted value."""
    parts: dict[str, torch.Tensor] = {}
    if "score" in out:
        parts["score"] = score_loss(out["score"], batch["score"])
    if "attributes" in out:
        parts["attributes"] = attributes_loss(out["attributes"], batch["attributes"])
    if "caption" in out:
        parts["caption"] = caption_loss(out["caption"], batch["caption_out"])
    total = sum(getattr(weights, k) * v for k, v in parts.items())
    return total, {k: float(v.detach()) for k, v in parts.items()}
