"""Datasets that mix sports: per-class score normalisation, per-class ρ and the Fisher-z mean,
and the tasks a manifest supports."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from mtlaqa.class_metrics import fisher_z_mean, per_class_metrics
from mtlaqa.data.dataset import ScoreNorm
from mtlaqa.data.manifest import Sample
from mtlaqa.data.support import supported_tasks
from mtlaqa.evaluate import compute_metrics


def test_fisher_z_mean() -> None:
    assert fisher_z_mean([0.5, 0.5]) == pytest.approx(0.5)
    expect = math.tanh((math.atanh(0.9) + math.atanh(0.3)) / 2)
    assert fisher_z_mean([0.9, float("nan"), 0.3]) == pytest.approx(expect)
    assert fisher_z_mean([0.9, 0.3]) > (0.9 + 0.3) / 2  # not the plain mean
    assert fisher_z_mean([1.0, 1.0]) == pytest.approx(1.0, abs=1e-5)  # clipped, finite
    assert math.isnan(fisher_z_mean([float("nan")]))


def test_per_class_metrics() -> None:
    rng = np.random.default_rng(0)
    classes = ["a"] * 10 + ["b"] * 10
    true = np.r_[rng.uniform(0, 10, 10), rng.uniform(50, 60, 10)]
    pred = true + rng.normal(0, [1.0] * 10 + [4.0] * 10)
    m = per_class_metrics(pred, true, classes, np.array([5.0, 55.0]), ["a", "b"])
    ra = stats.spearmanr(pred[:10], true[:10])[0]
    rb = stats.spearmanr(pred[10:], true[10:])[0]
    assert m["score_spearman/a"] == pytest.approx(ra) and m["score_spearman/b"] == pytest.approx(rb)
    assert m["score_spearman_fisher_z"] == pytest.approx(fisher_z_mean([ra, rb]))
    # the class means alone rank every b above every a: a high pooled baseline ρ
    assert m["score_baseline_spearman"] == pytest.approx(
        stats.spearmanr(np.r_[[5.0] * 10, [55.0] * 10], true)[0]
    )


def test_score_norm_per_class_round_trip() -> None:
    scores = [1.0, 3.0, 100.0, 140.0, 7.0]
    sports = ["vault", "vault", "dive", "dive", None]
    norm = ScoreNorm.fit(scores, sports)
    assert set(norm.classes) == {"vault", "dive"}
    assert norm(3.0, "vault") == pytest.approx(1.0) and norm(140.0, "dive") == pytest.approx(1.0)
    z = np.array([norm(s, c) for s, c in zip(scores, sports, strict=True)])
    assert np.allclose(norm.inverse(z, sports), scores)
    zt = torch.tensor(z, dtype=torch.float32)
    assert torch.allclose(norm.inverse(zt, sports), torch.tensor(scores), atol=1e-4)
    assert np.allclose(norm.inverse(z), z * norm.std + norm.mean)  # no classes given: global
    single = ScoreNorm.fit([1.0, 2.0], ["dive", "dive"])
    assert single.classes == {}  # one class: plain z-score
    restored = ScoreNorm(norm.mean, norm.std, norm.classes)  # as the checkpoint stores it
    assert restored(140.0, "dive") == pytest.approx(1.0)


def _s(i: int, **kw) -> Sample:
    return Sample(id=f"s{i}", video="x.mp4", score=float(i), **kw)


def test_supported_tasks() -> None:
    both = ["score", "attributes", "caption"]
    tasks, note = supported_tasks(both, [_s(1), _s(2)])
    assert tasks == ["score"]
    assert note == "heads built: score (the training split has no attributes, no captions)"
    tasks, note = supported_tasks(both, [_s(1, ss_no=3), _s(2, caption="a dive")])
    assert tasks == both and note is None
    assert supported_tasks(["score", "caption"], [_s(1, ss_no=3)])[0] == ["score"]


def test_compute_metrics_reports_per_class_only_for_mixed_sports() -> None:
    test = [_s(i, sport="a" if i < 5 else "b") for i in range(10)]
    train = [_s(i, sport="a" if i < 5 else "b") for i in range(10)]
    pred = {"ids": [s.id for s in test], "score_pred": np.arange(10.0)[::-1] % 5 + (np.arange(10) >= 5) * 5,
            "score_true": np.arange(10.0)}  # fmt: skip
    m = compute_metrics(pred, test, train)
    assert m["score_spearman/a"] == pytest.approx(-1.0) and m["score_spearman/b"] == pytest.approx(
        -1.0
    )
    assert m["score_spearman_fisher_z"] == pytest.approx(-1.0, abs=1e-5)
    assert m["score_baseline_spearman"] > 0.8  # the class alone orders a below b
    one = [_s(i, sport="a") for i in range(10)]
    assert "score_spearman_fisher_z" not in compute_metrics(pred, one, one)
