"""Run report: a Markdown summary of the metrics (each beside its baseline) with the figures of
report_plots.py (training curves, score scatter, confusion matrices)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mtlaqa.names import read_metrics, read_prediction
from mtlaqa.report_intervals import INTERVAL_KEYS, calibration_lines
from mtlaqa.report_plots import finite_number, plot_confusions, plot_history, plot_scatter
from mtlaqa.schema import ATTRIBUTES

__all__ = ["plot_confusions", "plot_history", "plot_scatter", "write_report"]


_SCORE_KEYS = {
    "score_spearman": "Spearman ρ",
    "score_pearson": "Pearson r",
    "score_mae": "MAE",
    "score_r_l2": "R-ℓ2 (×100)",
    "score_baseline_spearman": "class-only baseline ρ",
}
_CAPTION_KEYS = {  # caption_<key>; baselines caption_baseline_<kind>_<key>
    "bleu_1": "BLEU-1",
    "bleu_2": "BLEU-2",
    "bleu_3": "BLEU-3",
    "bleu_4": "BLEU-4",
    "meteor": "METEOR",
    "rouge_l": "ROUGE-L",
    "cider": "CIDEr",
}


_ACC, _MAJORITY = "attributes_acc_", "attributes_majority_"
_CAPTION_DIAGNOSTICS = {
    "caption_distinct": "distinct captions (fraction)",
    "caption_dive_named": "captions naming a dive",
    "caption_dive_agree_pred": "named dive = predicted dive",
    "caption_dive_agree_true": "named dive = true dive",
}
_CAPTION_BASELINES = {
    "": "model",
    "baseline_constant_": "best constant",  # caption_baseline_constant_<metric>
    "baseline_retrieval_": "retrieval",
}


def _caption_section(
    cols: Mapping[str, Mapping[str, object]], used: set[str], meteor_nan: bool
) -> list[str]:
    """Caption metrics beside the best-constant and retrieval baselines, then the diagnostics."""
    names = list(cols)
    kinds = [p for p in _CAPTION_BASELINES if any(f"caption_{p}cider" in cols[c] for c in names)]
    keys = [k for k in _CAPTION_KEYS if any(f"caption_{k}" in cols[c] for c in names)]
    if not keys:
        return []
    header = ["metric"]
    for c in names:
        suffix = "" if len(names) == 1 else f" ({c})"
        header += [_CAPTION_BASELINES[p] + suffix for p in kinds]
    rows = [
        [_CAPTION_KEYS[k], *(_fmt(cols[c].get(f"caption_{p}{k}")) for c in names for p in kinds)]
        for k in keys
    ]
    used.update(f"caption_{p}{k}" for p in kinds for k in keys)
    out = ["## Captions", "", *_table(header, rows)]
    if len(kinds) > 1:
        out += [
            "Best constant: the training caption that scores best (CIDEr-D) against the other "
            "training captions, for every dive. Retrieval: the caption of the training dive with "
            "the predicted attributes and the nearest score.",
            "",
        ]
    if meteor_nan:
        out += ["METEOR – means it was skipped (Java unavailable or the METEOR jar failed).", ""]
    diag = [k for k in _CAPTION_DIAGNOSTICS if any(k in cols[c] for c in names)]
    if diag:
        rows = [[_CAPTION_DIAGNOSTICS[k], *(_fmt(cols[c].get(k)) for c in names)] for k in diag]
        out += _table(["diagnostic", *names], rows)
        used.update(diag)
    return out


def _fmt(value: object) -> str:
    v = finite_number(value)
    if v is not None:
        return f"{v:.4f}" if isinstance(value, (float, np.floating)) else str(value)
    if isinstance(value, (float, np.floating)):
        return "–"  # nan
    return "–" if value is None else _md(str(value))


def _md(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out + [""]


def _columns(metrics: Mapping[str, object]) -> dict[str, Mapping[str, object]]:
    """Flat metrics are one column; a mapping of mappings (e.g. last / best-val) is several."""
    nested = {k: v for k, v in metrics.items() if isinstance(v, Mapping)}
    if nested and len(nested) == len(metrics):
        return nested
    return {"value": {k: v for k, v in metrics.items() if not isinstance(v, Mapping)}}


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Tables:
    """The metric columns of one report and the keys its sections have shown so far."""

    def __init__(self, metrics: Mapping[str, object]) -> None:
        self.cols = _columns(read_metrics(metrics))  # run folders of earlier versions too
        self.names = list(self.cols)
        self.present = list(dict.fromkeys(k for c in self.cols.values() for k in c))
        self.used: set[str] = set()

    def section(self, heading: str, keys: dict[str, str], note: str | None = None) -> list[str]:
        """A metric table of the `keys` present (key -> row label), or nothing."""
        rows = [
            [label, *(_fmt(self.cols[c].get(k)) for c in self.names)]
            for k, label in keys.items()
            if k in self.present
        ]
        if not rows:
            return []
        self.used.update(k for k in keys if k in self.present)
        lines = [f"## {heading}", "", *_table(["metric", *self.names], rows)]
        return lines + ([note, ""] if note else [])

    def score_lines(self) -> list[str]:
        """Score, score per class and score interval tables."""
        per_class = {
            k: f"ρ {k.split('/', 1)[1]}" for k in self.present if k.startswith("score_spearman/")
        }
        return [
            *self.section("Score", _SCORE_KEYS),
            *self.section(
                "Score per class",
                {**per_class, "score_spearman_fisher_z": "Fisher-z mean ρ over classes"}
                if per_class
                else {},
                "Scores are normalised per class in training; within a class, the class-only "
                "baseline is a constant (ρ 0), so each per-class ρ stands beside 0; the pooled "
                "baseline ρ above is what knowing the class alone gives.",
            ),
            *self.section("Score interval", INTERVAL_KEYS),
        ]

    def attribute_lines(self) -> list[str]:
        """Accuracy beside majority rate per attribute (schema order, whole dive last)."""
        attrs = [k[len(_ACC) :] for k in self.present if k.startswith(_ACC)]
        order = {name: i for i, name in enumerate([*ATTRIBUTES, "whole_dive"])}
        attrs.sort(key=lambda a: order.get(a, len(ATTRIBUTES) - 0.5))
        if not attrs:
            return []
        header = ["attribute"]
        for c in self.names:
            suffix = "" if len(self.names) == 1 else f" ({c})"
            header += [f"accuracy{suffix}", f"majority rate{suffix}"]
        rows = []
        for a in attrs:
            row = [a.replace("_", " ")]
            for c in self.names:
                row += [_fmt(self.cols[c].get(_ACC + a)), _fmt(self.cols[c].get(_MAJORITY + a))]
            rows.append(row)
            self.used.update({_ACC + a, _MAJORITY + a})
        return [
            "## Attributes",
            "",
            *_table(header, rows),
            "The majority rate is the accuracy of always predicting the most common "
            "class: the chance reference for each accuracy.",
            "",
        ]

    def caption_lines(self) -> list[str]:
        """The caption metrics beside their baselines (METEOR skipped when it is nan)."""
        meteor_nan = any(
            "caption_meteor" in self.cols[c]
            and finite_number(self.cols[c]["caption_meteor"]) is None
            for c in self.names
        )
        return _caption_section(self.cols, self.used, meteor_nan)


def _prediction_lines(run_dir: Path, pr: Mapping[str, Any]) -> list[str]:
    """Figures of the predictions: score scatter and attribute confusion matrices."""
    figures = []
    score_pred, score_true = pr.get("score_pred"), pr.get("score_true")
    if score_pred is not None and score_true is not None:
        png = plot_scatter(score_pred, score_true, run_dir / "scatter.png", title="score")
        figures.append(f"![predicted vs true score]({png.name})")
    attr_pred, attr_true = pr.get("attributes_pred"), pr.get("attributes_true")
    if isinstance(attr_pred, Mapping) and isinstance(attr_true, Mapping) and attr_pred:
        png = plot_confusions(attr_pred, attr_true, run_dir / "confusions.png")
        figures.append(f"![attribute confusion matrices]({png.name})")
    if not figures:
        return []
    return ["## Predictions", "", *(line for f in figures for line in (f, ""))]


def _example_caption_lines(captions: Sequence[Sequence[object]]) -> list[str]:
    """A table of (id, generated, reference) caption examples."""
    if not captions:
        return []
    rows = [
        [_md(str(i)), _md(_short(str(h))) or "*(empty)*", _md(_short(str(r)))]
        for i, h, r in captions
    ]
    return ["## Example captions", "", *_table(["id", "generated", "reference"], rows)]


def write_report(
    run_dir: str | Path,
    metrics: Mapping[str, object],
    history: Sequence[Mapping[str, object]] | None = None,
    predictions: Mapping[str, Any] | None = None,
    title: str | None = None,
    n_captions: int = 5,
    calibration: Mapping[str, object] | None = None,
) -> Path:
    """Write ``run_dir/report.md`` with metric tables and the figures it draws into ``run_dir``.

    ``metrics`` is flat (``score_spearman``, ``attributes_acc_position``, ``caption_bleu_4``,
    ``score_baseline_spearman`` …; the names of earlier versions are read too) or one flat dict per column (``{"last": {...}, "best": {...}}``).
    ``predictions`` may hold ``score_pred``/``score_true``, ``attributes_pred``/``attributes_true``
    (name -> labels) and ``caption_pred`` (``(id, hypothesis, reference)`` triples). Anything absent
    is left out of the report.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tables = _Tables(metrics)
    lines = [f"# {title or 'Run report: ' + run_dir.name}", ""]
    lines += tables.score_lines()
    lines += tables.attribute_lines()
    lines += tables.caption_lines()
    lines += tables.section("Other", {k: k for k in tables.present if k not in tables.used})
    history = list(read_metrics(list(history or [])))
    if history:
        png = plot_history(history, run_dir / "history.png")
        lines += ["## Training history", "", f"![training history]({png.name})", ""]
    pr = read_prediction(predictions or {})
    lines += _prediction_lines(run_dir, pr)
    lines += calibration_lines(run_dir, calibration)
    captions = pr.get("caption_pred") or []
    lines += _example_caption_lines(
        list(captions)[:n_captions] if isinstance(captions, Iterable) else []
    )
    path = run_dir / "report.md"
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path
