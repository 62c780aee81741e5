"""Task losses (design §1): L = α·(MSE + L1) + β·Σ CE(attributes) + γ·caption NLL (Σ tokens / B).

The score term follows the model's score head (models/score_heads.py): MSE + L1 for `direct`,
Gaussian NLL for `gaussian`, KL to a Gaussian-smoothed target for `distribution`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from mtlaqa.config import LossConfig
from mtlaqa.models.score_heads import DIST_SPAN, bin_centres

NLL_BETA = 0.5  # β-NLL (Seitzer et al. 2022): NLL × σ^(2β) (σ detached) keeps the mean learning
DIST_TARGET_SIGMA = 0.3  # width of the distribution head's Gaussian target, normalised units


def score_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE + L1, mean over the labelled samples of the batch."""
    ok = torch.isfinite(target)
    if not bool(ok.any()):
        return pred.sum() * 0.0
    p, t = pred[ok].float(), target[ok]
    return F.mse_loss(p, t) + F.l1_loss(p, t)


def gaussian_nll_loss(
    mean: torch.Tensor, sigma: torch.Tensor, target: torch.Tensor, beta: float = NLL_BETA
) -> torch.Tensor:
    """β-weighted Gaussian NLL, 0.5·(log σ² + (y − μ)²/σ²)·stopgrad(σ^(2β)), over labelled samples."""
    ok = torch.isfinite(target)
    if not bool(ok.any()):
        return mean.sum() * 0.0 + sigma.sum() * 0.0
    m, s, t = mean[ok].float(), sigma[ok].float(), target[ok]
    var = s**2
    nll = 0.5 * (var.log() + (t - m) ** 2 / var)
    return (nll * var.detach() ** beta).mean() if beta > 0 else nll.mean()


def smoothed_target(target: torch.Tensor, sigma: float = DIST_TARGET_SIGMA) -> torch.Tensor:
    """(B,) normalised scores -> (B, bins) Gaussian-smoothed target distributions (MUSDL)."""
    x = bin_centres(target.device)
    t = target.clamp(-DIST_SPAN, DIST_SPAN).unsqueeze(-1)
    return torch.softmax(-0.5 * ((x - t) / sigma) ** 2, dim=-1)  # normalised Gaussian on the bins


def distribution_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """KL(smoothed target ‖ predicted distribution), mean over labelled samples; logits (B, bins)."""
    ok = torch.isfinite(target)
    if not bool(ok.any()):
        return logits.sum() * 0.0
    logp = logits[ok].float().log_softmax(-1)
    return F.kl_div(logp, smoothed_target(target[ok]), reduction="batchmean")


def score_head_loss(out: dict[str, Any], target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The score head's training loss, and MSE + L1 of its score (reported for comparison)."""
    mse_l1 = score_loss(out["score"], target)
    if "score_logits" in out:
        return distribution_loss(out["score_logits"], target), mse_l1
    if "score_sigma" in out:
        return gaussian_nll_loss(out["score"], out["score_sigma"], target), mse_l1
    return mse_l1, mse_l1


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
    extra: dict[str, float] = {}
    if "score" in out:
        parts["score"], mse_l1 = score_head_loss(out, batch["score"])
        if "score_sigma" in out:
            extra["score_mse_l1"] = float(mse_l1.detach())
    if "attributes" in out:
        parts["attributes"] = attributes_loss(out["attributes"], batch["attributes"])
    if "caption" in out:
        parts["caption"] = caption_loss(out["caption"], batch["caption_out"])
    total = sum(getattr(weights, k) * v for k, v in parts.items())
    return total, {**{k: float(v.detach()) for k, v in parts.items()}, **extra}
