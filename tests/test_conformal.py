"""Split-conformal intervals on synthetic numbers: finite-sample coverage, the quantile rule,
normalised intervals that adapt to σ, and the metrics evaluate/report show."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mtlaqa import conformal
from mtlaqa.errors import MtlaqaError


def _trials(rng: np.random.Generator, trials: int, n: int, hetero: bool) -> tuple[np.ndarray, ...]:
    """`trials` independent (calibration of n, one test point) draws of y = f(x) + σ(x)·ε."""
    x = rng.uniform(0, 1, (trials, n + 1))
    sigma = 0.2 + 2.0 * x if hetero else np.ones_like(x)
    y = 3 * x + sigma * rng.standard_normal(x.shape)
    pred = 3 * x + 0.1  # a slightly biased model: coverage must not depend on a perfect one
    return pred, y, sigma


@pytest.mark.parametrize("kind", ["plain", "normalised"])
@pytest.mark.parametrize(("n", "level"), [(19, 0.9), (50, 0.8), (9, 0.5)])
def test_finite_sample_coverage(kind: str, n: int, level: float) -> None:
    """P(y ∈ C) ≥ level, and < level + 1/(n + 1): the split-conformal guarantee at small n."""
    rng = np.random.default_rng(0)
    trials = 4000
    pred, y, sigma = _trials(rng, trials, n, hetero=True)
    hits = 0
    for t in range(trials):
        s = sigma[t, :n] if kind == "normalised" else None
        cal = conformal.calibrate(pred[t, :n], y[t, :n], s)
        assert cal["kind"] == kind and cal["n"] == n
        lo, hi = conformal.intervals(cal, pred[t, n:], sigma[t, n:], level)
        hits += int(lo[0] <= y[t, n] <= hi[0])
    exact = math.ceil((n + 1) * level) / (n + 1)  # the coverage of the k-th order statistic
    se = math.sqrt(exact * (1 - exact) / trials)
    assert abs(hits / trials - exact) < 4 * se
    assert exact >= level and exact < level + 1 / (n + 1)


def test_normalised_intervals_follow_sigma() -> None:
    """Same marginal coverage, but width tracks σ: the noisy half gets the wide intervals."""
    rng = np.random.default_rng(1)
    pred, y, sigma = _trials(rng, 1, 2000, hetero=True)
    pred, y, sigma = pred[0], y[0], sigma[0]
    cal_n = conformal.calibrate(pred[:1000], y[:1000], sigma[:1000])
    cal_p = conformal.calibrate(pred[:1000], y[:1000])
    lo, hi = conformal.intervals(cal_n, pred[1000:], sigma[1000:], 0.9)
    width, s = hi - lo, sigma[1000:]
    assert width[s > 1.5].mean() > 2 * width[s < 0.7].mean()
    quiet = s < 0.7  # where the noise is low, plain intervals over-cover and normalised do not
    lo_p, hi_p = conformal.intervals(cal_p, pred[1000:], None, 0.9)
    cover_p = ((y[1000:] >= lo_p) & (y[1000:] <= hi_p))[quiet].mean()
    cover_n = ((y[1000:] >= lo) & (y[1000:] <= hi))[quiet].mean()
    assert cover_p > 0.97 and 0.8 < cover_n < 0.95  # (the model bias costs a little)


def test_quantile_rule_and_too_small_sets() -> None:
    cal = conformal.calibrate(np.zeros(9), np.arange(1, 10) / 10)  # scores 0.1 … 0.9
    assert conformal.quantile(cal, 0.5) == pytest.approx(0.5)  # ⌈10·0.5⌉ = 5th smallest
    assert conformal.quantile(cal, 0.9) == pytest.approx(0.9)  # ⌈10·0.9⌉ = 9th
    assert conformal.quantile(cal, 0.95) == math.inf  # ⌈10·0.95⌉ = 10 > 9: too few
    assert conformal.interval_of(cal, 50.0, None, 0.5) == pytest.approx([49.5, 50.5])
    assert conformal.interval_of(cal, 50.0, None, 0.95) is None
    assert conformal.interval_of(None, 50.0, None, 0.9) is None
    with pytest.raises(MtlaqaError, match="between 0 and 1"):
        conformal.quantile(cal, 1.5)


def test_unlabelled_calibration_samples_are_skipped() -> None:
    cal = conformal.calibrate(np.array([1.0, 2.0, 3.0]), np.array([1.5, np.nan, 2.0]))
    assert cal["n"] == 2 and cal["scores"] == pytest.approx([0.5, 1.0])


def test_interval_metrics_on_made_up_numbers() -> None:
    cal = {"kind": "normalised", "units": "final", "n": 3, "scores": [1.0, 1.0, 1.0]}
    pred = np.array([10.0, 20.0, 30.0, 40.0])
    true = np.array([10.5, 23.0, 30.0, 47.0])
    sigma = np.array([1.0, 2.0, 0.5, 4.0])  # |err| 0.5, 3, 0, 7: the same order as σ
    m = conformal.interval_metrics(cal, pred, true, sigma, level=0.5, levels=(0.5, 0.75))
    # q = 1 at both levels: intervals ±σ hold 10.5 and 30 only
    assert m["interval_coverage"] == pytest.approx(0.5)
    assert m["interval_width"] == pytest.approx(2 * sigma.mean())
    assert m["interval_width_vs_range"] == pytest.approx(2 * sigma.mean() / 36.5)
    # all 6 pairs (σ, |err|) concordant
    assert m["score_uncertainty_kendall"] == pytest.approx(1.0)
    assert m["curve"] == {"levels": [0.5, 0.75], "coverage": [0.5, 0.5]}
    plain = conformal.interval_metrics(
        {**cal, "kind": "plain"}, pred, true, None, level=0.5, levels=(0.5, 0.99)
    )
    assert "score_uncertainty_kendall" not in plain and math.isnan(plain["curve"]["coverage"][1])


def test_with_dd_intervals_are_in_final_units() -> None:
    """with_dd: execution and σ are both multiplied by the difficulty before calibrating."""
    from mtlaqa.data.manifest import Sample
    from mtlaqa.protocols import to_final_units

    samples = [
        Sample(id="a", score=60.0, difficulty=3.0),
        Sample(id="b", score=40.0, difficulty=2.0),
    ]
    pred = {
        "ids": ["a", "b"],
        "score_pred": np.array([21.0, 19.0]),  # execution
        "score_true": np.array([20.0, 20.0]),
        "score_sigma": np.array([1.0, 2.0]),
    }
    final = to_final_units(pred, samples, "with_dd")
    assert final["score_pred"].tolist() == [63.0, 38.0]
    assert final["score_sigma"].tolist() == [3.0, 4.0]
    cal = conformal.calibrate(final["score_pred"], final["score_true"], final["score_sigma"])
    assert cal["scores"] == pytest.approx([0.5, 1.0])  # |60 − 63| / 3, |40 − 38| / 4
