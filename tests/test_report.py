"""Tests for mtlaqa.report: figures are real PNGs, report.md holds what was given."""

from __future__ import annotations

import numpy as np
import pytest

from mtlaqa.report import plot_confusions, plot_history, plot_scatter, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and data.startswith(PNG_MAGIC)


HISTORY = [
    {
        "epoch": 1,
        "train_loss": 3.0,
        "train_score_loss": 2.0,
        "train_caption_loss": 90.0,
        "val_score_spearman": 0.2,
        "val_score_mae": 12.0,
    },
    {"epoch": 2, "train_loss": 2.0, "train_score_loss": 1.5, "train_caption_loss": 60.0},
    {
        "epoch": 3,
        "train_loss": 1.0,
        "train_score_loss": 0.7,
        "train_caption_loss": 40.0,
        "val_score_spearman": 0.6,
        "val_score_mae": 8.0,
        "lr": 1e-4,
    },
]


def _attrs(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    sizes = {"position": 3, "armstand": 2, "rotation_type": 4, "ss_no": 10, "tw_no": 8}
    return {k: rng.integers(0, c, n) for k, c in sizes.items()}


def test_plots_write_pngs(tmp_path):
    rng = np.random.default_rng(0)
    true = rng.uniform(20, 100, 40)
    assert _is_png(plot_history(HISTORY, tmp_path / "h.png"))
    assert _is_png(plot_scatter(true + rng.normal(0, 5, 40), true, tmp_path / "s.png", "test"))
    assert _is_png(plot_confusions(_attrs(rng, 40), _attrs(rng, 40), tmp_path / "sub" / "c.png"))


def test_plots_survive_degenerate_input(tmp_path):
    assert _is_png(plot_history([{"epoch": 1}], tmp_path / "h.png"))
    assert _is_png(plot_scatter(np.array([]), np.array([]), tmp_path / "s.png"))
    assert _is_png(plot_confusions({}, {}, tmp_path / "c.png"))
    with pytest.raises(ValueError):
        plot_confusions({"position": np.zeros(2)}, {"position": np.zeros(3)}, tmp_path / "x.png")


def test_write_report_full(tmp_path):
    rng = np.random.default_rng(1)
    true = rng.uniform(20, 100, 30)
    attr_true = _attrs(rng, 30)
    metrics = {
        "score_spearman": 0.8123,
        "score_pearson": 0.8,
        "score_mae": 6.5,
        "score_r_l2": 1.2,
        "score_baseline_spearman": 0.7011,
        "attributes_acc_whole_dive": 0.4,
        "attributes_majority_whole_dive": 0.1,
        "attributes_acc_position": 0.9,
        "attributes_majority_position": 0.55,
        "caption_bleu_4": 0.2,
        "caption_meteor": float("nan"),
        "caption_cider": 0.9,
        "epoch": 7,
    }
    preds = {
        "score_pred": true + 1.0,
        "score_true": true,
        "attributes_pred": attr_true,
        "attributes_true": attr_true,
        "caption_pred": [("d1", "a dive | with a pipe", "the reference"), ("d2", "", "ref two")]
        + [(f"x{i}", "h", "r") for i in range(10)],
    }
    path = write_report(tmp_path / "run", metrics, HISTORY, preds)
    text = path.read_text()
    assert path == tmp_path / "run" / "report.md"
    for png in ("history.png", "scatter.png", "confusions.png"):
        assert _is_png(tmp_path / "run" / png)
        assert f"({png})" in text
    assert "| Spearman ρ | 0.8123 |" in text
    assert "| class-only baseline ρ | 0.7011 |" in text
    assert "| position | 0.9000 | 0.5500 |" in text
    assert "| whole dive | 0.4000 | 0.1000 |" in text
    assert text.index("| position |") < text.index("| whole dive |")
    assert "| METEOR | – |" in text and "Java" in text
    assert "| epoch | 7 |" in text  # unknown keys land in "Other"
    assert "a dive \\| with a pipe" in text and "*(empty)*" in text
    assert "x2" in text and "x3" not in text  # only the first five examples


def test_write_report_minimal_and_columns(tmp_path):
    path = write_report(
        tmp_path, {"last": {"score_spearman": 0.5}, "best": {"score_spearman": 0.6}}
    )
    text = path.read_text()
    assert "| metric | last | best |" in text and "| Spearman ρ | 0.5000 | 0.6000 |" in text
    assert "![" not in text and "Attributes" not in text and "Captions" not in text
    assert not list(tmp_path.glob("*.png"))
