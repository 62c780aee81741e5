"""Per-class score metrics for datasets that mix sports (AQA-7's protocol): Spearman ρ within
each class and their Fisher-z mean, the average AQA-7 papers report."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mtlaqa.metrics import score_metrics


def fisher_z_mean(rhos: Sequence[float]) -> float:
    """tanh(mean(artanh ρ)) over the finite ρ (|ρ| clipped below 1); nan when none is finite."""
    r = np.array([x for x in rhos if math.isfinite(x)], dtype=np.float64)
    if not len(r):
        return float("nan")
    return float(np.tanh(np.mean(np.arctanh(np.clip(r, -0.999999, 0.999999)))))


def per_class_metrics(
    pred: np.ndarray,
    true: np.ndarray,
    classes: Sequence[str],
    train_scores: np.ndarray | None = None,
    train_classes: Sequence[str] | None = None,
) -> dict[str, float]:
    """`score_spearman/<class>` for each class, `score_spearman_fisher_z` over them, and (given the
    training split) `score_baseline_spearman`: the pooled ρ of predicting each class's training mean — what the
    class alone explains (within a class that baseline is constant: ρ undefined, 0 in effect)."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    names = sorted(set(classes))
    out: dict[str, float] = {}
    for c in names:
        m = np.array([x == c for x in classes])
        out[f"score_spearman/{c}"] = score_metrics(pred[m], true[m])["score_spearman"]
    out["score_spearman_fisher_z"] = fisher_z_mean([out[f"score_spearman/{c}"] for c in names])
    if train_scores is not None and train_classes is not None and len(train_scores):
        ts = np.asarray(train_scores, np.float64)
        means = {c: float(ts[[x == c for x in train_classes]].mean()) for c in set(train_classes)}
        base = np.array([means.get(c, float(ts.mean())) for c in classes])
        out["score_baseline_spearman"] = score_metrics(base, true)["score_spearman"]
    return out
