"""Score heads by name (`model.score_head`): how the raw score outputs become a score and, for the
heads that know it, an uncertainty.

Every architecture builds its last score layer with `head.outputs` channels (a Linear in C3D-AVG, a
conv output in MSCADC, averaged over clips there) and hands the raw values to `head.finish`:

- ``direct``: one number, the score (the paper; MSE + L1).
- ``gaussian``: mean and log-variance; ``score_sigma`` = exp(log-variance / 2) (Gaussian NLL).
- ``distribution`` (MUSDL-style): logits over `DIST_BINS` score bins spanning ±`DIST_SPAN`
  normalised units; score = the distribution's mean, ``score_sigma`` = its standard deviation,
  ``score_logits`` kept for the KL loss against a Gaussian-smoothed target.

All outputs are in normalised score units (the z-score of data.dataset.ScoreNorm).
"""

from __future__ import annotations

import torch

from mtlaqa.errors import MtlaqaError
from mtlaqa.registry import Registry

DIST_BINS = 81  # bins of the distribution head (0.1 normalised units apart)
DIST_SPAN = 4.0  # the bins cover [-DIST_SPAN, DIST_SPAN] normalised units
LOGVAR_RANGE = (-9.0, 5.0)  # clamp of the gaussian head's log-variance (σ in ~[0.011, 12])


def bin_centres(device: torch.device | None = None) -> torch.Tensor:
    """The distribution head's bin centres (DIST_BINS,) in normalised units."""
    return torch.linspace(-DIST_SPAN, DIST_SPAN, DIST_BINS, device=device)


class ScoreHead:
    """Base: `outputs` raw channels -> {'score': (B,), ...} by `finish`."""

    name = ""
    outputs = 1
    predicts_sigma = False

    def finish(self, raw: torch.Tensor) -> dict[str, torch.Tensor]:
        """Raw head outputs (B, outputs) -> named outputs, each (B,) unless said otherwise."""
        raise NotImplementedError


class DirectHead(ScoreHead):
    """The score itself (the paper's head)."""

    name, outputs = "direct", 1

    def finish(self, raw: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"score": raw[:, 0]}  # (B,)


class GaussianHead(ScoreHead):
    """Mean and log-variance of a Gaussian over the normalised score."""

    name, outputs, predicts_sigma = "gaussian", 2, True

    def finish(self, raw: torch.Tensor) -> dict[str, torch.Tensor]:
        raw = raw.float()
        logvar = raw[:, 1].clamp(*LOGVAR_RANGE)
        return {"score": raw[:, 0], "score_sigma": (0.5 * logvar).exp()}  # (B,), (B,)


class DistributionHead(ScoreHead):
    """A discretised score distribution (MUSDL's uncertainty-aware score distribution)."""

    name, outputs, predicts_sigma = "distribution", DIST_BINS, True

    def finish(self, raw: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = raw.float()  # (B, DIST_BINS)
        p = logits.softmax(-1)
        x = bin_centres(logits.device)
        mean = (p * x).sum(-1)  # (B,)
        var = (p * (x - mean.unsqueeze(-1)) ** 2).sum(-1)
        return {"score": mean, "score_sigma": var.clamp_min(1e-12).sqrt(), "score_logits": logits}


SCORE_HEADS: Registry[type[ScoreHead]] = Registry("model.score_head")
for _head in (DirectHead, GaussianHead, DistributionHead):
    SCORE_HEADS.add(_head.name, _head)


def score_head_names() -> list[str]:
    """Every `model.score_head` value: the registered heads and `exemplar` (models/exemplar.py)."""
    return sorted([*SCORE_HEADS.names(), "exemplar"])


def build_score_head(name: str) -> ScoreHead:
    """The score head `name`, or a one-line error listing the known ones."""
    if name not in SCORE_HEADS:
        known = ", ".join([*SCORE_HEADS, "exemplar (models/exemplar.py)"])
        raise MtlaqaError(f"unknown model.score_head {name!r}; choose one of: {known}")
    return SCORE_HEADS[name]()
