"""Split-conformal score intervals: calibrated on the validation split after training.

Nonconformity on the n calibration samples is |y − ŷ| (`plain`, heads without an uncertainty) or
|y − ŷ| / σ̂ (`normalised`, heads that predict σ̂). The interval at level 1 − α is
ŷ ± q (· σ̂), q the ⌈(n + 1)(1 − α)⌉-th smallest score: for exchangeable data it holds the truth
with probability ≥ 1 − α (and < 1 − α + 1/(n + 1) without ties). When ⌈(n + 1)(1 − α)⌉ > n the
calibration set is too small for that level and no interval is given.

Everything is in final-score units (with the `with_dd` protocol: after × difficulty), which is what
the checkpoint's calibration dict records under "units".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from mtlaqa.errors import MtlaqaError

DEFAULT_LEVEL = 0.9
CURVE_LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
NO_VAL_NOTE = (
    "no interval: the checkpoint has no calibration (its run had no validation split, "
    "e.g. data.val_fraction=0)"
)


def calibrate(
    pred: np.ndarray, true: np.ndarray, sigma: np.ndarray | None = None
) -> dict[str, Any]:
    """Calibration from predictions on the calibration split (unlabelled samples skipped)."""
    pred, true = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    ok = np.isfinite(true) & np.isfinite(pred)
    err = np.abs(true[ok] - pred[ok])
    kind = "plain"
    if sigma is not None:
        kind = "normalised"
        err = err / np.maximum(np.asarray(sigma, dtype=np.float64)[ok], 1e-12)
    return {"kind": kind, "units": "final", "n": int(err.size), "scores": np.sort(err).tolist()}


def check_level(level: float) -> float:
    """The level, or a one-line error when it is not in (0, 1)."""
    if not 0.0 < level < 1.0:
        raise MtlaqaError(f"interval level must be between 0 and 1 (e.g. 0.9), got {level}")
    return float(level)


def quantile(cal: dict[str, Any], level: float) -> float:
    """The conformal quantile q at `level`; inf when the calibration set is too small for it."""
    scores = cal["scores"]
    k = math.ceil((len(scores) + 1) * check_level(level) - 1e-9)
    return float(scores[k - 1]) if 1 <= k <= len(scores) else math.inf


def intervals(
    cal: dict[str, Any], pred: np.ndarray, sigma: np.ndarray | None, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) arrays at `level`; ±inf when the calibration set is too small for it."""
    pred = np.asarray(pred, dtype=np.float64)
    half = np.full_like(pred, quantile(cal, level))
    if cal["kind"] == "normalised":
        if sigma is None:
            raise ValueError("a normalised calibration needs the predicted σ")
        half = half * np.maximum(np.asarray(sigma, dtype=np.float64), 1e-12)
    return pred - half, pred + half


def interval_of(
    cal: dict[str, Any] | None, score: float, sigma: float | None, level: float
) -> list[float] | None:
    """One prediction's [low, high], or None without a (large enough) calibration."""
    if not cal:
        return None
    lo, hi = intervals(cal, np.array([score]), None if sigma is None else np.array([sigma]), level)
    if not (np.isfinite(lo[0]) and np.isfinite(hi[0])):
        return None
    return [float(lo[0]), float(hi[0])]


def kendall_uncertainty(sigma: np.ndarray, pred: np.ndarray, true: np.ndarray) -> float:
    """Kendall τ between predicted uncertainty σ and |error| (RICA²'s calibration measure)."""
    err = np.abs(np.asarray(true) - np.asarray(pred))
    if len(err) < 2 or np.ptp(sigma) == 0 or np.ptp(err) == 0:
        return float("nan")
    return float(stats.kendalltau(sigma, err)[0])


def interval_metrics(
    cal: dict[str, Any],
    pred: np.ndarray,
    true: np.ndarray,
    sigma: np.ndarray | None,
    level: float = DEFAULT_LEVEL,
    levels: Sequence[float] = CURVE_LEVELS,
) -> dict[str, Any]:
    """Coverage and mean width at `level`, τ(σ, |err|), and coverage at each of `levels`."""
    pred, true = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    ok = np.isfinite(true)
    p, t = pred[ok], true[ok]
    s = None if sigma is None else np.asarray(sigma, dtype=np.float64)[ok]

    def cover(lv: float) -> tuple[float, float]:
        lo, hi = intervals(cal, p, s if cal["kind"] == "normalised" else None, lv)
        if not len(p) or not np.isfinite(hi - lo).all():
            return float("nan"), float("nan")
        return float(((t >= lo) & (t <= hi)).mean()), float((hi - lo).mean())

    cov, width = cover(level)
    out: dict[str, Any] = {
        "interval_level": float(level),
        "interval_coverage": cov,
        "interval_width": width,
        "interval_width_vs_range": width / float(np.ptp(t))
        if len(t) and np.ptp(t) > 0
        else math.nan,
        "calibration_n": float(cal["n"]),
    }
    if s is not None:
        out["score_uncertainty_kendall"] = kendall_uncertainty(s, p, t)
    out["curve"] = {"levels": [float(v) for v in levels], "coverage": [cover(v)[0] for v in levels]}
    return out
