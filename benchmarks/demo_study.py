"""STL vs MTL on the demo preset at full demo size, over seeds, with every baseline beside it.

    PYTHONPATH=src python -m benchmarks.demo_study --data DEMO_DATA --runs RUNS [--seeds 0 1 2]

Trains (one at a time, `train.threads=1`; a folder with metrics.json is reused)
`mtlaqa train demo --set train.seed=S` into RUNS/mtl_sS and the same with
`--set model.tasks=[score]` into RUNS/stl_sS, then writes docs/results/demo_study.json and
demo_study.md: test ρ of the best-val checkpoint and of the last epoch (mean ± sample std), the
class-only baseline, the MTL runs' attribute accuracies beside the majority rates, and their
commentary (BLEU-4, CIDEr, distinct captions, how often the named dive is the predicted / the
true one) beside the best constant training caption and retrieval.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mtlaqa.names import read_metrics

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"
VARIANTS = {"mtl": [], "stl": ["--set", "model.tasks=[score]"]}
ATTRS = ("position", "armstand", "rotation_type", "ss_no", "tw_no", "whole_dive")
CAPTION = (
    ("caption_bleu_4", "caption_baseline_constant_bleu_4", "caption_baseline_retrieval_bleu_4"),
    ("caption_cider", "caption_baseline_constant_cider", "caption_baseline_retrieval_cider"),
)
# per run, best-val weights: what issue 12's commentary bars read
PER_RUN = ("caption_cider", "caption_baseline_retrieval_cider", "caption_dive_agree_pred",
           "caption_distinct")  # fmt: skip
STAGE_KEYS = ("epochs", "caption_epochs", "caption_batch_size", "caption_lr", "caption_schedule")
DIAGNOSTICS = ("caption_distinct", "caption_dive_agree_pred", "caption_dive_agree_true")


def run(data: str, folder: Path, variant: str, seed: int) -> dict[str, Any]:
    """metrics.json of one run (trained first when missing)."""
    if not (folder / "metrics.json").is_file():
        cmd = [sys.executable, "-m", "mtlaqa.cli", "train", "demo", "--data", data]
        cmd += ["--out", str(folder), "--quiet", *VARIANTS[variant]]
        cmd += ["--set", f"train.seed={seed}", "--set", "train.threads=1"]
        cmd += ["--set", "train.meteor=false", "--set", "train.tensorboard=false"]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    return read_metrics(json.loads((folder / "metrics.json").read_text()))  # old keys too


def stat(values: list[float | None]) -> dict[str, float] | None:
    """Mean, sample std (ddof 1) and count of the values that exist."""
    v = np.array([x for x in values if x is not None], dtype=float)
    if not len(v):
        return None
    std = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    return {"mean": float(v.mean()), "std": std, "n": int(len(v))}


def pm(s: dict[str, float] | None, scale: float = 1.0, digits: int = 3) -> str:
    """'mean ± std' or a dash."""
    if s is None:
        return "–"
    return f"{s['mean'] * scale:.{digits}f} ± {s['std'] * scale:.{digits}f}"


def collect(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per-variant summaries of the metrics the tables show."""
    out: dict[str, Any] = {}
    for variant, ms in runs.items():
        best = [m["test"]["best"] for m in ms]
        last = [m["test"]["last"] for m in ms]
        keys = ["score_spearman", "score_mae", "score_baseline_spearman"]
        keys += [f"attributes_acc_{a}" for a in ATTRS] + [f"attributes_majority_{a}" for a in ATTRS]
        keys += [k for row in CAPTION for k in row] + list(DIAGNOSTICS)
        s = {k: stat([b.get(k) for b in best]) for k in keys}
        s["score_spearman_last"] = stat([x.get("score_spearman") for x in last])
        out[variant] = {k: v for k, v in s.items() if v is not None}
    return out


def markdown(res: dict[str, Any]) -> str:
    """The tables."""
    s, seeds = res["summary"], res["seeds"]
    what = "STL vs MTL" if len(s) > 1 else "MTL" if "mtl" in s else "STL"
    lines = [
        f"# {what}, demo preset, SynthDive demo data, test split (160 dives), seeds {seeds}",
        "",
        "Mean ± sample std over the runs (± 0 for a single run); `best-val` is the checkpoint"
        " chosen by val ρ. The MTL runs include the demo preset's caption stage"
        f" ({res.get('preset', 'see the runs')}).",
        "",
        "| run | runs | ρ best-val | ρ last epoch | MAE best-val | class-only baseline ρ |",
        "|---|---|---|---|---|---|",
    ]
    for v, name in (("mtl", "MTL (score + attributes + caption)"), ("stl", "STL (score)")):
        if v in s:
            x = s[v]
            lines.append(
                f"| {name} | {x['score_spearman']['n']} | {pm(x.get('score_spearman'))}"
                f" | {pm(x.get('score_spearman_last'))}"
                f" | {pm(x.get('score_mae'), digits=2)} | {pm(x.get('score_baseline_spearman'))} |"
            )
    m = s.get("mtl", {})
    if "attributes_acc_position" in m:
        lines += ["", "MTL attributes (best-val):", "", "| attribute | accuracy | majority |"]
        lines.append("|---|---|---|")
        lines += [
            f"| {a} | {pm(m[f'attributes_acc_{a}'])} | {pm(m[f'attributes_majority_{a}'])} |"
            for a in ATTRS
        ]
    if "caption_cider" in m:
        lines += ["", "MTL commentary (best-val):", ""]
        lines += ["| metric | model | best constant caption | retrieval |", "|---|---|---|---|"]
        for k, c, r in CAPTION:
            lines.append(
                f"| {k.removeprefix('caption_')} | {pm(m[k])} | {pm(m.get(c))} | {pm(m.get(r))} |"
            )
        names = {
            "caption_distinct": "distinct commentaries (fraction)",
            "caption_dive_agree_pred": "names the predicted dive",
            "caption_dive_agree_true": "names the true dive",
        }
        lines += ["", "| diagnostic | model |", "|---|---|"]
        lines += [f"| {names[k]} | {pm(m[k])} |" for k in DIAGNOSTICS if k in m]
    lines += ["", "Per run (test ρ best-val / last):", "", "| run | seed | best-val | last |"]
    lines.append("|---|---|---|---|")
    for r in res["runs"]:
        lines.append(f"| {r['variant']} | {r['seed']} | {r['best']:.4f} | {r['last']:.4f} |")
    with_caption = [r for r in res["runs"] if r.get("commentary")]
    if with_caption:
        lines += ["", "Per run, commentary (best-val): " + ", ".join(PER_RUN), "",
                  "| run | seed | " + " | ".join(PER_RUN) + " |", "|---" * (2 + len(PER_RUN)) + "|"]  # fmt: skip
        for r in with_caption:
            c = r["commentary"]
            cells = [f"{c[k]:.3f}" if k in c else "–" for k in PER_RUN]
            lines.append(f"| {r['variant']} | {r['seed']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--runs", required=True, type=Path)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--no-train", action="store_true", help="only the runs already finished")
    args = ap.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    rows = []
    for variant in VARIANTS:
        for seed in args.seeds:
            if args.no_train and not (args.runs / f"{variant}_s{seed}" / "metrics.json").is_file():
                continue
            m = run(args.data, args.runs / f"{variant}_s{seed}", variant, seed)
            runs[variant].append(m)
            rows.append(
                {
                    "variant": variant,
                    "seed": seed,
                    "best": m["test"]["best"]["score_spearman"],
                    "last": m["test"]["last"]["score_spearman"],
                    "config_hash": m["meta"].get("config_hash"),
                    "code_version": m["meta"].get("code_version"),
                    "commentary": {k: b[k] for k in PER_RUN if k in (b := m["test"]["best"])},
                }
            )
    res = {"seeds": args.seeds, "data": args.data, "runs": rows, "summary": collect(runs)}
    res["summary"] = {k: v for k, v in res["summary"].items() if v}
    done = sorted(args.runs.glob("*_s*/config.yaml"))
    if done:  # the preset's schedule as the runs' config.yaml records it
        t = yaml.safe_load(done[0].read_text()).get("train", {})
        res["preset"] = ", ".join(f"{k} {t[k]}" for k in STAGE_KEYS if k in t)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "demo_study.json").write_text(json.dumps(res, indent=1))
    (args.out / "demo_study.md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
