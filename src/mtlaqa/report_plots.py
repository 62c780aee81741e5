"""Run report figures: training curves, score scatter and attribute confusion matrices.

Drawn with matplotlib's object API (``Figure`` + Agg canvas), never pyplot, so nothing opens a
window, no global backend is switched and nothing leaks between calls.
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
from mtlaqa.schema import ATTRIBUTES

_DPI = 110


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)  # attach an Agg canvas: PNG output without pyplot or a GUI backend
    fig.savefig(path, dpi=_DPI, format="png")
    return path


def finite_number(value: object) -> float | None:
    """`value` as a float when it is a finite-or-inf real number (not bool, not nan), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    v = float(value)
    return None if math.isnan(v) else v


def _series(history: Sequence[Mapping[str, object]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, row in enumerate(history):
        y = finite_number(row.get(key))
        if y is not None:
            x = finite_number(row.get("epoch"))
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
            bold = k in ("train_loss", "val_score_spearman")
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
    ax.set_title(
        f"{title}: ρ = {m['score_spearman']:.3f}, MAE = {m['score_mae']:.2f} (n = {t.size})"
    )
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
