"""Direct vs exemplar score head (issue 16) on SynthDive with the demo preset, over seeds.

    PYTHONPATH=src python benchmarks/exemplar_study.py --data DATA --runs RUNS [--seeds 0 1 2]

Trains `mtlaqa train demo --set model.score_head={direct,exemplar} --set train.seed=S` into
RUNS/<head>_s<S> (one at a time, `train.threads=1`; a folder that already has metrics.json is
reused) and writes docs/results/exemplar.json and exemplar.md: test ρ of the best-val checkpoint
(mean ± sample std over seeds), the last epoch, MAE, the class-only baseline (dive type -> mean
training score) and, for the exemplar head, Kendall τ of the spread over exemplars with |error|.
The exemplar runs are re-evaluated from their checkpoints so every run is scored the same way:
exemplars of each test dive's annotated dive type (CoRe's protocol, `model.exemplar_pick`'s
default), and two diagnostics: exemplars of the predicted dive, and the whole bank.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from mtlaqa.names import read_metrics

HEADS = ("direct", "exemplar")
OUT = Path(__file__).resolve().parents[1] / "docs" / "results"


def run(data: str, folder: Path, head: str, seed: int, threads: int) -> dict[str, Any]:
    """metrics.json of one training run (trained first when missing)."""
    if not (folder / "metrics.json").is_file():
        cmd = [sys.executable, "-m", "mtlaqa.cli", "train", "demo", "--data", data]
        cmd += ["--out", str(folder), "--quiet", "--set", f"model.score_head={head}"]
        cmd += ["--set", f"train.seed={seed}", "--set", f"train.threads={threads}"]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    return read_metrics(json.loads((folder / "metrics.json").read_text()))  # old keys too


def exemplar_choice_rho(run_dir: Path, data: str, pick: str) -> float:
    """Test ρ of run_dir/checkpoint.pt with other exemplars: pick=annotated (those of each test
    dive's annotated type, CoRe's test protocol) or pick=bank (the whole bank for every dive)."""
    import torch
    import torch.nn.functional as F

    from mtlaqa.checkpoint import load_checkpoint, model_from_checkpoint
    from mtlaqa.data.dataset import DiveDataset
    from mtlaqa.data.loader import make_loader
    from mtlaqa.data.manifest import read_manifest
    from mtlaqa.metrics import score_metrics
    from mtlaqa.protocols import protocol_samples, to_final_units
    from mtlaqa.schema import ATTRIBUTE_CLASSES

    model, cfg, _, norm = model_from_checkpoint(load_checkpoint(run_dir / "checkpoint.pt"))
    test = [s for s in read_manifest(data) if s.split == "test"]
    targets = protocol_samples(test, cfg.model.score_protocol)
    ds = DiveDataset(targets, cfg.data, model.input_spec, False, None, norm, cfg.train.seed)
    pred: dict[str, Any] = {"ids": [], "score_pred": [], "score_true": []}
    with torch.no_grad():
        for b in make_loader(ds, 8, False, 0, 0):
            h = model.embed(model.clip_features(b["video"]))  # (B, fc_dim)
            onehot = {
                k: F.one_hot(b["attributes"][k].clamp_min(0), n).float()
                for k, n in ATTRIBUTE_CLASSES.items()
            }  # the annotated dive as attribute "logits"
            if pick == "annotated":
                out = model.score.against_bank(h, onehot, model.bank, cfg.model.exemplars)
            else:
                out = model.score.against_bank(h, None, model.bank, len(model.bank))
            pred["ids"] += b["id"]
            pred["score_pred"].append(norm.inverse(out["score"].numpy()))
            pred["score_true"].append(norm.inverse(b["score"].numpy()))
    pred = {k: v if k == "ids" else np.concatenate(v) for k, v in pred.items()}
    pred = to_final_units(pred, test, cfg.model.score_protocol)
    return score_metrics(pred["score_pred"], pred["score_true"])["score_spearman"]


def exemplar_picks(run_dir: Path, data: str) -> dict[str, Any]:
    """An exemplar run's test numbers, the same for every run whatever pick it trained with: its
    best-val and last checkpoints with the annotated dive's exemplars (CoRe's protocol, the
    default), the best-val one with the predicted dive's and with the whole bank."""
    import yaml

    from mtlaqa.evaluate import evaluate_checkpoint

    def test(name: str, pick: str) -> dict[str, Any]:
        return evaluate_checkpoint(
            run_dir / name, data, "test", "cpu", meteor=False, progress=False, exemplar_pick=pick
        )

    best, last = test("checkpoint.pt", "annotated"), test("last.pt", "annotated")
    model_cfg = yaml.safe_load((run_dir / "config.yaml").read_text())["model"]
    return {
        "spearman_best": best["score_spearman"],
        "spearman_last": last["score_spearman"],
        "mae_best": best["score_mae"],
        "spread_error_kendall_best": best.get("score_spread_error_kendall"),
        "spearman_best_predicted_type": test("checkpoint.pt", "predicted")["score_spearman"],
        "spearman_best_whole_bank": exemplar_choice_rho(run_dir, data, "bank"),
        # the pick its val ρ selected the best epoch with (runs before the key: predicted)
        "selected_with": model_cfg.get("exemplar_pick", "predicted"),
    }


def row(head: str, seed: int, m: dict[str, Any]) -> dict[str, Any]:
    """The numbers of one run that the table shows."""
    best, last = m["test"]["best"], m["test"]["last"]
    out = {
        "head": head,
        "seed": seed,
        "spearman_best": best["score_spearman"],
        "spearman_last": last["score_spearman"],
        "mae_best": best["score_mae"],
        "baseline_spearman": best.get("score_baseline_spearman"),
        "acc_whole_dive_best": best.get("attributes_acc_whole_dive"),
        "best_epoch": ([h["epoch"] for h in m["history"] if h.get("best")] or [None])[-1],
        "code_version": m["meta"].get("code_version"),
    }
    if "score_spread_error_kendall" in best:
        out["spread_error_kendall_best"] = best["score_spread_error_kendall"]
    if "exemplar_bank" in m["meta"]:
        out["exemplar_bank"] = m["meta"]["exemplar_bank"]
    return out


def summary(rows: list[dict[str, Any]], key: str) -> dict[str, float] | None:
    """Mean and sample std (ddof 1) of a key over runs."""
    v = np.array([r[key] for r in rows if r.get(key) is not None], dtype=float)
    if not len(v):
        return None
    return {
        "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
        "n": len(v),
    }


def _pm(s: dict[str, float] | None, scale: float = 100.0) -> str:
    if s is None:
        return "—"
    return f"{s['mean'] * scale:.2f} ± {s['std'] * scale:.2f} (n={s['n']})"


def markdown(res: dict[str, Any]) -> str:
    """The results table."""
    seeds = res["seeds"]
    lines = [
        f"# Direct vs exemplar score head (issue 16), SynthDive demo preset, test split, seeds {seeds}",
        "",
        "Exemplar head: exemplars of each test dive's **annotated** dive type (CoRe's test protocol;"
        " `model.exemplar_pick=annotated`, the default) unless the column says otherwise.",
        "",
        "| score head | ρ×100 best-val | ρ×100 last | MAE best-val | spread–abs. error Kendall τ"
        " | ρ×100 best-val, exemplars of the predicted dive | ρ×100 best-val, whole bank |",
        "|---|---|---|---|---|---|---|",
    ]
    for head in HEADS:
        s = res["summary"][head]
        tau = _pm(s.get("spread_error_kendall_best"), 1.0)
        mae, oracle = _pm(s["mae_best"], 1.0), _pm(s.get("spearman_best_predicted_type"))
        whole = _pm(s.get("spearman_best_whole_bank"))
        lines.append(
            f"| {head} | {_pm(s['spearman_best'])} | {_pm(s['spearman_last'])} | {mae} | {tau}"
            f" | {oracle} | {whole} |"
        )
    base = res["summary"]["baseline_spearman"]
    lines += ["", f"Class-only baseline (dive type → mean training score): ρ×100 = {_pm(base)}", ""]
    lines += [
        "| run | seed | ρ best-val | ρ last | best epoch | best epoch selected on val with |",
        "|---|---|---|---|---|---|",
    ]
    for r in res["runs"]:
        sel = f"{r['selected_with']} exemplars" if "selected_with" in r else "–"
        lines.append(
            f"| {r['head']} | {r['seed']} | {r['spearman_best']:.4f} | {r['spearman_last']:.4f}"
            f" | {r['best_epoch']} | {sel} |"
        )
    bank = next((r["exemplar_bank"] for r in res["runs"] if "exemplar_bank" in r), None)
    if bank:
        lines += [
            "",
            f"Exemplar bank in the checkpoint: {bank['count']} training dives (up to "
            f"{bank['per_query']} per dive type), {bank['bytes'] / 1024:.0f} KiB.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", required=True, help="SynthDive folder (the demo's: 800 dives, seed 0)"
    )
    ap.add_argument("--runs", required=True, help="folder for the run folders")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--no-train", action="store_true", help="only the runs already finished")
    a = ap.parse_args()
    rows = [
        row(h, s, run(a.data, Path(a.runs) / f"{h}_s{s}", h, s, a.threads))
        for h in HEADS
        for s in a.seeds
        if not a.no_train or (Path(a.runs) / f"{h}_s{s}" / "metrics.json").is_file()
    ]
    for r in rows:
        if r["head"] == "exemplar":
            r.update(exemplar_picks(Path(a.runs) / f"exemplar_s{r['seed']}", a.data))
    keys = ("spearman_best", "spearman_last", "mae_best", "spread_error_kendall_best")
    keys += ("spearman_best_predicted_type", "spearman_best_whole_bank")
    res: dict[str, Any] = {"seeds": a.seeds, "data": a.data, "runs": rows, "summary": {}}
    for h in HEADS:
        mine = [r for r in rows if r["head"] == h]
        res["summary"][h] = {k: summary(mine, k) for k in keys}
    one_per_seed = list({r["seed"]: r for r in rows}.values())  # the baseline depends on the seed
    res["summary"]["baseline_spearman"] = summary(one_per_seed, "baseline_spearman")
    out = Path(a.out)
    (out / "exemplar.json").write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    (out / "exemplar.md").write_text(markdown(res), encoding="utf-8")
    print(markdown(res))


if __name__ == "__main__":
    main()
