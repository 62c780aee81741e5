"""The score-interval part of report.md: coverage vs nominal level (calibration plot) and a note."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

INTERVAL_KEYS = {
    "interval_level": "interval level",
    "interval_coverage": "interval coverage (test)",
    "interval_width": "mean interval width",
    "interval_width_vs_range": "mean width / test score range",
    "score_uncertainty_kendall": "Kendall τ(σ, absolute error)",
    "calibration_n": "calibration samples (val)",
}


def plot_calibration(curve: Mapping[str, Sequence[float | None]], path: str | Path) -> Path:
    """Empirical test coverage against the nominal level, with the diagonal."""
    levels = [lv if lv is not None else float("nan") for lv in curve["levels"]]
    cov = list(curve["coverage"])
    fig = Figure(figsize=(4.5, 4.5), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0.4, 1.0], [0.4, 1.0], color="grey", linestyle="--", lw=1, label="ideal")
    ax.plot(levels, [c if c is not None else float("nan") for c in cov], "o-", label="test")
    ax.set_xlim(0.4, 1.0)
    ax.set_ylim(0.4, 1.0)
    ax.set_xlabel("nominal level")
    ax.set_ylabel("empirical coverage on test")
    ax.set_title("score interval calibration")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    path = Path(path)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, format="png")
    return path


def _cov(c: float | None) -> str:
    return "– (too few calibration samples)" if c is None or math.isnan(c) else f"{c:.3f}"


def calibration_lines(run_dir: Path, curve: Mapping[str, object] | None) -> list[str]:
    """Markdown: the calibration plot and its table; {"note": why} says why there is none."""
    if not curve:
        return []
    if "note" in curve:
        return ["## Score interval calibration", "", str(curve["note"]), ""]
    levels, coverage = curve["levels"], curve["coverage"]
    assert isinstance(levels, Sequence) and isinstance(coverage, Sequence)  # conformal.py's lists
    png = plot_calibration({"levels": levels, "coverage": coverage}, run_dir / "calibration.png")
    rows = [f"| {lv:.2f} | {_cov(c)} |" for lv, c in zip(levels, coverage, strict=True)]
    return [
        "## Score interval calibration",
        "",
        "Split-conformal intervals calibrated on the validation split (best-val weights); each "
        "level's share of test scores inside the interval.",
        "",
        "| nominal level | test coverage |",
        "|---|---|",
        *rows,
        "",
        f"![coverage vs nominal level]({png.name})",
        "",
    ]
