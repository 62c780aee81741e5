"""report.md's score-interval part: the metrics table, the calibration plot, or why none."""

from __future__ import annotations

from mtlaqa.report import write_report


def test_report_draws_calibration(tmp_path) -> None:
    metrics = {"score_spearman": 0.9, "interval_coverage": 0.875, "score_uncertainty_kendall": 0.31}
    curve = {"levels": [0.5, 0.9, 0.95], "coverage": [0.52, 0.875, float("nan")]}
    text = write_report(tmp_path, metrics, calibration=curve).read_text(encoding="utf-8")
    assert "| interval coverage (test) | 0.8750 |" in text
    assert "| Kendall τ(σ, absolute error) | 0.3100 |" in text
    assert "| 0.90 | 0.875 |" in text and "| 0.95 | – (too few calibration samples) |" in text
    assert (tmp_path / "calibration.png").stat().st_size > 1000


def test_report_says_why_there_is_no_interval(tmp_path) -> None:
    note = {"note": "no interval: the checkpoint has no calibration"}
    text = write_report(tmp_path, {"score_spearman": 0.9}, calibration=note).read_text(
        encoding="utf-8"
    )
    assert "no interval: the checkpoint has no calibration" in text
    assert not (tmp_path / "calibration.png").exists()
