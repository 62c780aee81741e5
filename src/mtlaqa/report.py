"""Run report: training curves, score scatter, confusion matrices and a Markdown summary.

Figures are drawn with matplotlib's object API (``Figure`` + Agg canvas), never pyplot, so nothing
opens a window, no global backend is switched and nothing leaks between calls.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mtlaqa.metrics import score_metrics
from mtlaqa.report_intervals import INTERVAL_KEYS, calibration_lines
from mtlaqa.schema import ATTRIBUTES

_DPI = 110


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)  # attach an Agg canvas: PNG output without pyplot or a GUI backend
    fig.savefig(path, dpi=_DPI, format="png")
    return path


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    v = float(value)
    return None if math.isnan(v) else v


def _series(history: Sequence[Mapping[str, object]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, row in enumerate(history):
        y = _number(row.get(key))
        if y is not None:
            x = _number(row.get("epoch"))
            xs.append(x if x is not None else float(i + 1))
            ys.append(y)
    return xs, ys


def plot_history(history: Sequence[Mapping[str, object]], path: str | Path) -> Path:
    """Loss curves and validation metrics per epoch from a list of per-epoch dicts.

    Every numeric key is plotted: keys with ``loss`` in their name in the first panel (log scale
    when all positive), ``val_*`` metrics within [−1, 1] (ρ, r, accuracies, BLEU) in the second,
    other ``val_*`` metrics (MAE, R-ℓ2, CIDEr …) in a third when present.
    """
    keys = list(dict.fromkeys(k for row in history for k in row if k != "epoch"))
    keys = [k for k in keys if _series(history, k)[1]]
    losses = [k for k in keys if "loss" in k]
    vals = [k for k in keys if k.startswith("val_") and "loss" not in k]
    unit = [k for k in vals if all(-1.0001 <= y <= 1.0001 for y in _series(history, k)[1])]
    other = [k for k in vals if k not in unit]
    panels = [("loss", losses), ("validation (ρ, r, accuracy …)", unit), ("validation", other)]
    panels = [(t, ks) for t, ks in panels if ks] or [("no numeric history", [])]

    fig = Figure(figsize=(5.2 * len(panels), 4.0), layout="constrained")
    for i, (title, ks) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        all_y: list[float] = []
        for k in ks:
            xs, ys = _series(history, k)
            all_y += ys
            bold = k in ("train_loss", "val_spearman")
            ax.plot(
                xs,
                ys,
                marker="o" if len(xs) < 30 else None,
                markersize=3,
                linewidth=2.2 if bold else 1.2,
                label=k,
            )
        if title == "loss" and all_y and min(all_y) > 0 and max(all_y) / min(all_y) > 20:
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ks:
            ax.legend(fontsize=7)
    return _save(fig, path)


def plot_scatter(
    pred: np.ndarray, true: np.ndarray, path: str | Path, title: str = "score"
) -> Path:
    """Predicted vs true score with the diagonal; Spearman ρ and MAE in the title."""
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    t = np.asarray(true, dtype=np.float64).reshape(-1)
    m = score_metrics(p, t)
    fig = Figure(figsize=(5.0, 5.0), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    if t.size:
        ax.scatter(t, p, s=12, alpha=0.6)
        lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
        pad = 0.03 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="grey", linestyle="--", lw=1)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
    ax.set_title(f"{title}: ρ = {m['spearman']:.3f}, MAE = {m['mae']:.2f} (n = {t.size})")
    ax.set_xlabel("true score")
    ax.set_ylabel("predicted score")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _class_names(name: str, classes: list[int]) -> list[str]:
    names = ATTRIBUTES.get(name, ())
    return [names[c] if 0 <= c < len(names) else str(c) for c in classes]


def plot_confusions(
    pred: Mapping[str, np.ndarray], true: Mapping[str, np.ndarray], path: str | Path
) -> Path:
    """One confusion matrix per attribute (rows true, columns predicted, counts in the cells).

    Only the classes that occur in the labels or predictions are shown, named from
    ``schema.ATTRIBUTES``; colour is the row-normalised rate. Unlabelled samples (< 0) are skipped.
    """
    names = [n for n in ATTRIBUTES if n in pred and n in true]
    names += [n for n in true if n in pred and n not in ATTRIBUTES]
    cols = min(3, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    fig = Figure(figsize=(4.6 * cols, 4.2 * rows), layout="constrained")
    if not names:
        fig.add_subplot(1, 1, 1).set_title("no attribute predictions")
    for i, name in enumerate(names):
        t = np.asarray(true[name]).reshape(-1).astype(np.int64)
        p = np.asarray(pred[name]).reshape(-1).astype(np.int64)
        if t.shape != p.shape:
            raise ValueError(f"plot_confusions: {name}: {p.size} predictions, {t.size} labels")
        keep = t >= 0
        t, p = t[keep], p[keep]
        classes = sorted(set(t.tolist()) | set(p.tolist()))
        index = {c: j for j, c in enumerate(classes)}
        counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
        for a, b in zip(t, p, strict=True):
            counts[index[int(a)], index[int(b)]] += 1
        rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
        labels = _class_names(name, classes)
        ax.set_xticks(range(len(classes)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(classes)), labels, fontsize=7)
        for (r, c), n in np.ndenumerate(counts):
            if n:
                ax.text(
                    c,
                    r,
                    str(n),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if rates[r, c] > 0.6 else "black",
                )
        acc = float(np.mean(t == p)) if t.size else float("nan")
        ax.set_title(f"{name} (acc {acc:.3f}, n = {t.size})", fontsize=9)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
    return _save(fig, path)


# ---------------------------------------------------------------------------------------------
# Markdown report

_SCORE_KEYS = {
    "spearman": "Spearman ρ",
    "pearson": "Pearson r",
    "mae": "MAE",
    "r_l2": "R-ℓ2 (×100)",
    "baseline_spearman": "class-only baseline ρ",
}
_CAPTION_KEYS = {
    "bleu_1": "BLEU-1",
    "bleu_2": "BLEU-2",
    "bleu_3": "BLEU-3",
    "bleu_4": "BLEU-4",
    "meteor": "METEOR",
    "rouge_l": "ROUGE-L",
    "cider": "CIDEr",
}


_CAPTION_DIAGNOSTICS = {
    "caption_distinct": "distinct captions (fraction)",
    "caption_dive_named": "captions naming a dive",
    "caption_dive_agree_pred": "named dive = predicted dive",
    "caption_dive_agree_true": "named dive = true dive",
}
_CAPTION_BASELINES = {
    "": "model",
    "baseline_constant_": "best constant",
    "baseline_retrieval_": "retrieval",
}


def _caption_section(
    cols: Mapping[str, Mapping[str, object]], used: set[str], meteor_nan: bool
) -> list[str]:
    """Caption metrics beside the best-constant and retrieval baselines, then the diagnostics."""
    names = list(cols)
    kinds = [p for p in _CAPTION_BASELINES if any(f"{p}cider" in cols[c] for c in names)]
    keys = [k for k in _CAPTION_KEYS if any(k in cols[c] for c in names)]
    if not keys:
        return []
    header = ["metric"]
    for c in names:
        suffix = "" if len(names) == 1 else f" ({c})"
        header += [_CAPTION_BASELINES[p] + suffix for p in kinds]
    rows = [
        [_CAPTION_KEYS[k], *(_fmt(cols[c].get(p + k)) for c in names for p in kinds)] for k in keys
    ]
    used.update(p + k for p in kinds for k in keys)
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
    v = _number(value)
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


def write_report(
    run_dir: str | Path,
    metrics: Mapping[str, object],
    history: Sequence[Mapping[str, object]] | None = None,
    predictions: Mapping[str, object] | None = None,
    title: str | None = None,
    n_captions: int = 5,
    calibration: Mapping[str, list[float]] | None = None,
) -> Path:
    """Write ``run_dir/report.md`` with metric tables and the figures it draws into ``run_dir``.

    ``metrics`` is flat (``spearman``, ``acc_position``, ``majority_position``, ``bleu_4``,
    ``baseline_spearman`` …) or one flat dict per column (``{"last": {...}, "best": {...}}``).
    ``predictions`` may hold ``score_pred``/``score_true``, ``attr_pred``/``attr_true``
    (name -> labels) and ``captions`` (``(id, hypothesis, reference)`` triples). Anything absent
    is left out of the report.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cols = _columns(metrics)
    col_names = list(cols)
    present = list(dict.fromkeys(k for c in cols.values() for k in c))
    used: set[str] = set()
    lines = [f"# {title or 'Run report: ' + run_dir.name}", ""]

    def section(heading: str, keys: dict[str, str], note: str | None = None) -> None:
        rows = [
            [label, *(_fmt(cols[c].get(k)) for c in col_names)]
            for k, label in keys.items()
            if k in present
        ]
        if not rows:
            return
        used.update(k for k in keys if k in present)
        lines.extend([f"## {heading}", ""])
        lines.extend(_table(["metric", *col_names], rows))
        if note:
            lines.extend([note, ""])

    section("Score", _SCORE_KEYS)
    per_class = {k: f"ρ {k.split('/', 1)[1]}" for k in present if k.startswith("spearman/")}
    section(
        "Score per class",
        {**per_class, "spearman_fisher_z": "Fisher-z mean ρ over classes"} if per_class else {},
        "Scores are normalised per class in training; within a class, the class-only baseline "
        "is a constant (ρ 0), so each per-class ρ stands beside 0; the pooled baseline ρ above "
        "is what knowing the class alone gives.",
    )
    section("Score interval", INTERVAL_KEYS)

    attrs = [k[4:] for k in present if k.startswith("acc_")]
    # schema order, then any other attribute, whole dive last
    order = {name: i for i, name in enumerate([*ATTRIBUTES, "whole_dive"])}
    attrs.sort(key=lambda a: order.get(a, len(ATTRIBUTES) - 0.5))
    if attrs:
        lines.extend(["## Attributes", ""])
        header = ["attribute"]
        for c in col_names:
            suffix = "" if len(col_names) == 1 else f" ({c})"
            header += [f"accuracy{suffix}", f"majority rate{suffix}"]
        rows = []
        for a in attrs:
            row = [a.replace("_", " ")]
            for c in col_names:
                row += [_fmt(cols[c].get(f"acc_{a}")), _fmt(cols[c].get(f"majority_{a}"))]
            rows.append(row)
            used.update({f"acc_{a}", f"majority_{a}"})
        lines.extend(_table(header, rows))
        lines.extend(
            [
                "The majority rate is the accuracy of always predicting the most common "
                "class: the chance reference for each accuracy.",
                "",
            ]
        )

    meteor_nan = any("meteor" in cols[c] and _number(cols[c]["meteor"]) is None for c in col_names)
    lines.extend(_caption_section(cols, used, meteor_nan))

    section("Other", {k: k for k in present if k not in used})

    history = list(history or [])
    if history:
        png = plot_history(history, run_dir / "history.png")
        lines.extend(["## Training history", "", f"![training history]({png.name})", ""])

    pr = predictions or {}
    figures = []
    if pr.get("score_pred") is not None and pr.get("score_true") is not None:
        png = plot_scatter(
            pr["score_pred"], pr["score_true"], run_dir / "scatter.png", title="score"
        )
        figures.append(f"![predicted vs true score]({png.name})")
    attr_pred, attr_true = pr.get("attr_pred"), pr.get("attr_true")
    if isinstance(attr_pred, Mapping) and isinstance(attr_true, Mapping) and attr_pred:
        png = plot_confusions(attr_pred, attr_true, run_dir / "confusions.png")
        figures.append(f"![attribute confusion matrices]({png.name})")
    if figures:
        lines.extend(["## Predictions", ""])
        for f in figures:
            lines.extend([f, ""])

    lines.extend(calibration_lines(run_dir, calibration))

    captions = list(pr.get("captions") or [])[:n_captions]
    if captions:
        lines.extend(["## Example captions", ""])
        rows = [
            [_md(str(i)), _md(_short(h)) or "*(empty)*", _md(_short(r))] for i, h, r in captions
        ]
        lines.extend(_table(["id", "generated", "reference"], rows))

    path = run_dir / "report.md"
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path
