"""The paper's two studies, over several seeds: STL vs MTL (Table 4) and data efficiency (Table 8).

Every run follows the honest protocol (selection on val ρ, test reported for the best-val and the
last epoch). Runs already finished in the output folder are reused, so an interrupted experiment
continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from mtlaqa.config import Config
from mtlaqa.data.manifest import Sample, read_manifest, write_manifest
from mtlaqa.data.splits import carve_val
from mtlaqa.engine import fit
from mtlaqa.errors import MtlaqaError
from mtlaqa.metrics import format_table
from mtlaqa.names import read_metrics
from mtlaqa.runfiles import write_json

# Table 4 of the paper: C3D-AVG with the score task alone and with each auxiliary task
STL_MTL_GRID: dict[str, list[str]] = {
    "STL (score)": ["score"],
    "MTL score + attributes": ["score", "attributes"],
    "MTL score + caption": ["score", "caption"],
    "MTL all (C3D-AVG-MTL)": ["score", "attributes", "caption"],
}
# Table 8: the paper's training-set sizes on MTL-AQA
PAPER_SIZES = [1059, 450, 280, 140]
QUICK_FRACTIONS = [1.0, 0.5, 0.25]


@dataclass
class RunResult:
    """Test metrics of one (variant, seed) run."""

    variant: str
    seed: int
    size: int
    best: dict[str, float]
    last: dict[str, float]
    best_epoch: int


def _run(cfg: Config, out: Path, meteor: bool) -> dict[str, Any]:
    """One training run, or the finished one already in `out`."""
    done = out / "result.json"
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, meteor=meteor))
    if done.is_file():
        old = json.loads(done.read_text())
        if old["meta"]["config_hash"] != cfg.hash():
            raise MtlaqaError(
                f"{out}: finished with another config; use a new --out for new settings"
            )
        previous: dict[str, Any] = read_metrics(old)  # earlier versions' keys too
        return previous
    res = fit(cfg, out, progress=False, verbose=False)
    if "test" not in res:
        raise MtlaqaError(f"{cfg.data.root}: the experiments need a test split")
    keep = {"test": res["test"], "best_epoch": res["best_epoch"], "meta": res["meta"]}
    keep["train_size"] = res["meta"]["split_sizes"]["train"]
    write_json(keep, done)
    written: dict[str, Any] = json.loads(done.read_text())
    return written


def _with(cfg: Config, tasks: list[str], seed: int, root: str | None = None) -> Config:
    new = dataclasses.replace(
        cfg,
        model=dataclasses.replace(cfg.model, tasks=list(tasks)),
        train=dataclasses.replace(cfg.train, seed=seed),
        data=dataclasses.replace(cfg.data, root=root or cfg.data.root),
    )
    return new


def _mean_std(values: Sequence[float | None]) -> tuple[float, float]:
    """Mean and sample std of the finite values (missing ones skipped); nan when there are none."""
    a = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if not len(a):
        return float("nan"), float("nan")
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def _pm(values: Sequence[float | None], scale: float = 100.0) -> str:
    m, s = _mean_std(values)
    return "n/a" if math.isnan(m) else f"{scale * m:.2f} ± {scale * s:.2f}"


def stl_vs_mtl(
    cfg: Config,
    out: str | Path,
    seeds: Sequence[int] = (0, 1, 2),
    grid: dict[str, list[str]] | None = None,
    meteor: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train every task set of `grid` with every seed; table of test ρ (mean ± std), plot, JSON."""
    out = Path(out)
    grid = grid or STL_MTL_GRID
    runs: list[RunResult] = []
    jobs = [(name, tasks, s) for name, tasks in grid.items() for s in seeds]
    for name, tasks, seed in tqdm(jobs, desc="stl-vs-mtl runs", disable=not progress):
        slug = "+".join(tasks)
        r = _run(_with(cfg, tasks, seed), out / slug / f"seed{seed}", meteor)
        runs.append(
            RunResult(
                name, seed, r["train_size"], r["test"]["best"], r["test"]["last"], r["best_epoch"]
            )
        )
    header = [
        "model",
        "score",
        "attributes",
        "caption",
        "ρ×100 best-val",
        "ρ×100 last",
        "MAE best-val",
        "CIDEr best-val",
    ]
    rows = []
    for name, tasks in grid.items():
        rs = [r for r in runs if r.variant == name]
        mark = ["✓" if t in tasks else "" for t in ("score", "attributes", "caption")]
        rows.append(
            [
                name,
                *mark,
                _pm([r.best.get("score_spearman") for r in rs]),
                _pm([r.last.get("score_spearman") for r in rs]),
                _pm([r.best.get("score_mae") for r in rs], 1.0),
                _pm([r.best.get("caption_cider") for r in rs], 1.0) if "caption" in tasks else "–",
            ]
        )
    title = f"STL vs MTL (paper Table 4), test split, mean ± std over seeds {list(seeds)}"
    table = format_table(rows, header=header)
    base = _baseline(runs)
    echo(title)
    echo(table)
    echo(f"class-only baseline (mean training score of the dive type): ρ×100 = {100 * base:.2f}")
    caption_base = {
        k: _mean_std([r.best.get(f"caption_baseline_{k}_cider") for r in runs])[0]
        for k in ("constant", "retrieval")
    }
    if any(math.isfinite(v) for v in caption_base.values()):
        echo(
            "caption baselines (CIDEr): best constant {constant:.3f}, retrieval {retrieval:.3f}".format(
                **caption_base
            )
        )
    plot = _bar_plot(grid, runs, out / "stl_vs_mtl.png", base)
    summary = {
        "experiment": "stl-vs-mtl",
        "seeds": list(seeds),
        "config": cfg.to_dict(),
        "runs": [dataclasses.asdict(r) for r in runs],
        "table": {"header": header, "rows": rows},
        "score_baseline_spearman": base,
        "caption_baseline_cider": caption_base,
    }
    write_json(summary, out / "stl_vs_mtl.json")
    _markdown(out / "stl_vs_mtl.md", title, header, rows, plot.name, base, caption_base)
    return summary


def subset_manifests(
    data_root: str | Path, sizes: Sequence[float], seed: int, out: Path, val_fraction: float
) -> dict[int, Path]:
    """Manifests whose train split is a seeded, nested subset of the dataset's (val, test fixed).

    A size <= 1 is a fraction of the training split. When the dataset has no val split, val is
    carved once (seed 0) before subsampling, so every size is selected and tested on the same
    samples.
    """
    samples = read_manifest(data_root)
    train = [s for s in samples if s.split == "train"]
    val = [s for s in samples if s.split == "val"]
    test = [s for s in samples if s.split == "test"]
    if not val and val_fraction > 0:
        train, val, _ = carve_val(train, val_fraction, 0)
        val = [dataclasses.replace(s, split="val") for s in val]
    order = np.random.default_rng(seed).permutation(len(train))
    result: dict[int, Path] = {}
    for size in sizes:
        n = round(size * len(train)) if size <= 1 else int(size)
        n = max(2, min(n, len(train)))
        chosen: list[Sample] = [train[i] for i in sorted(order[:n].tolist())]
        path = write_manifest(chosen + val + test, out / f"train{n}_seed{seed}")
        result[n] = path
    return result


def _training_sets(
    cfg: Config,
    out: Path,
    sizes: Sequence[float],
    seeds: Sequence[int],
    release: str | Path | None,
    leak_free: bool,
) -> tuple[dict[int, dict[int, Path]], str]:
    """Manifest roots per seed and training-set size, and the protocol's name."""
    if release is not None:
        from mtlaqa.data.release_subsets import release_manifests

        fixed = release_manifests(cfg.data.root, release, out / "manifests", leak_free)
        protocol = "release subsets" + (" (leak-free)" if leak_free else "")
        return {s: fixed for s in seeds}, protocol
    per_seed = {
        s: subset_manifests(cfg.data.root, sizes, s, out / "manifests", cfg.data.val_fraction)
        for s in seeds
    }
    return per_seed, "random nested subsets (mtlaqa's own protocol)"


def _efficiency_rows(
    grid: Mapping[str, object], ns: list[int], runs: list[RunResult]
) -> list[list[str]]:
    """Test ρ×100 (mean ± std over seeds) per variant and size: best-val, then last epoch, then
    the class-only baseline."""
    rows = []
    for name in grid:
        best = [
            [r.best.get("score_spearman") for r in runs if r.variant == name and r.size == n]
            for n in ns
        ]
        rows.append([name, *(_pm(v) for v in best)])
    for name in grid:
        last = [
            [r.last.get("score_spearman") for r in runs if r.variant == name and r.size == n]
            for n in ns
        ]
        rows.append([f"{name} (last epoch)", *(_pm(v) for v in last)])
    base_row = ["class-only baseline"]
    for n in ns:
        m, sd = _mean_std([r.best.get("score_baseline_spearman") for r in runs if r.size == n])
        base_row.append("n/a" if math.isnan(m) else f"{100 * m:.2f} ± {100 * sd:.2f}")
    rows.append(base_row)
    return rows


def data_efficiency(
    cfg: Config,
    out: str | Path,
    sizes: Sequence[float] = PAPER_SIZES,
    seeds: Sequence[int] = (0, 1, 2),
    grid: dict[str, list[str]] | None = None,
    meteor: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    release: str | Path | None = None,
    leak_free: bool = False,
) -> dict[str, Any]:
    """STL and MTL trained on shrinking training sets; table of test ρ per size, plot, JSON.

    Without `release`: seeded, nested random subsets of the training split (`sizes`; mtlaqa's own
    protocol). With `release` (the MTL-AQA release folder; `cfg.data.root` prepared with
    `--subset main`): the release's own sets, as the paper's Table 8, the same for every seed.
    """
    out = Path(out)
    grid = grid or {"STL": ["score"], "MTL": ["score", "attributes", "caption"]}
    per_seed, protocol = _training_sets(cfg, out, sizes, seeds, release, leak_free)
    ns = sorted({n for m in per_seed.values() for n in m}, reverse=True)
    runs: list[RunResult] = []
    jobs = [(name, tasks, n, s) for n in ns for name, tasks in grid.items() for s in seeds]
    for name, tasks, n, seed in tqdm(jobs, desc="data-efficiency runs", disable=not progress):
        root = str(per_seed[seed][n])
        slug = "+".join(tasks)
        r = _run(_with(cfg, tasks, seed, root), out / f"train{n}" / slug / f"seed{seed}", meteor)
        runs.append(RunResult(name, seed, n, r["test"]["best"], r["test"]["last"], r["best_epoch"]))
    header = ["model", *[f"{n} train" for n in ns]]
    rows = _efficiency_rows(grid, ns, runs)
    title = (
        f"Data efficiency (paper Table 8), {protocol}: test ρ×100 of the best-val checkpoint (last "
        f"epoch below), mean ± std over seeds {list(seeds)}"
    )
    table = format_table(rows, header=header)
    echo(title)
    echo(table)
    plot = _size_plot(grid, ns, runs, out / "data_efficiency.png")
    summary = {
        "experiment": "data-efficiency",
        "protocol": protocol,
        "seeds": list(seeds),
        "sizes": ns,
        "config": cfg.to_dict(),
        "runs": [dataclasses.asdict(r) for r in runs],
        "table": {"header": header, "rows": rows},
    }
    write_json(summary, out / "data_efficiency.json")
    _markdown(out / "data_efficiency.md", title, header, rows, plot.name)
    return summary


def _baseline(runs: list[RunResult]) -> float:
    """Test ρ of the class-only baseline (the same test split for every run)."""
    return _mean_std([r.best.get("score_baseline_spearman") for r in runs])[0]


def _markdown(
    path: Path,
    title: str,
    header: list[str],
    rows: list[list[str]],
    plot: str,
    base: float | None = None,
    caption_base: dict[str, float] | None = None,
) -> None:
    lines = [f"# {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    if base is not None:
        lines += [
            "",
            f"Class-only baseline (dive type → mean training score): ρ×100 = {100 * base:.2f}",
        ]
    if caption_base and any(math.isfinite(v) for v in caption_base.values()):
        lines += [
            "",
            f"Caption baselines (test CIDEr): best constant training caption "
            f"{caption_base['constant']:.3f}, retrieval {caption_base['retrieval']:.3f}",
        ]
    lines += ["", f"![plot]({plot})", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110)
    return path


def _bar_plot(grid: dict[str, list[str]], runs: list[RunResult], path: Path, base: float) -> Path:
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    names = list(grid)
    for j, (key, label) in enumerate((("best", "best-val"), ("last", "last epoch"))):
        stats = [
            _mean_std([getattr(r, key).get("score_spearman") for r in runs if r.variant == n])
            for n in names
        ]
        x = np.arange(len(names)) + (j - 0.5) * 0.38
        ax.bar(x, [m for m, _ in stats], 0.36, yerr=[s for _, s in stats], capsize=4, label=label)
        for i, n in enumerate(names):  # the individual seeds, so the spread is visible
            ys = [getattr(r, key).get("score_spearman") for r in runs if r.variant == n]
            ax.scatter([x[i]] * len(ys), ys, color="k", s=8, zorder=3)
    ax.set_xticks(
        np.arange(len(names)),
        [n.replace(" (", "\n(").replace(" + ", "\n+ ") for n in names],
        fontsize=8,
    )
    if math.isfinite(base):
        ax.axhline(base, color="grey", linestyle="--", label="class-only baseline")
    ax.set_ylabel("test Spearman ρ")
    ax.set_title("STL vs MTL (mean ± std over seeds; dots: seeds)")
    ax.legend()
    return _save(fig, path)


def _size_plot(
    grid: dict[str, list[str]], ns: list[int], runs: list[RunResult], path: Path
) -> Path:
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    for name in grid:
        stats = [
            _mean_std(
                [r.best.get("score_spearman") for r in runs if r.variant == name and r.size == n]
            )
            for n in ns
        ]
        ax.errorbar(
            ns, [m for m, _ in stats], yerr=[s for _, s in stats], marker="o", capsize=4, label=name
        )
    base = [
        _mean_std([r.best.get("score_baseline_spearman") for r in runs if r.size == n])[0]
        for n in ns
    ]
    ax.plot(ns, base, color="grey", linestyle="--", label="class-only baseline")
    ax.set_xlabel("training samples")
    ax.set_ylabel("test Spearman ρ (best-val checkpoint)")
    ax.set_title("Data efficiency (mean ± std over seeds)")
    ax.legend()
    return _save(fig, path)
