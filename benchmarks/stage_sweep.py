"""Caption-stage settings compared on one run's pre-stage weights, scored on val.

Takes the checkpoint of a run trained with `train.caption_epochs=0` (the joint epochs only), runs
the caption stage's own loop (`caption_stage.fit_caption_head` on the frozen body's inputs) once
per setting and stage seed (`--stage-seeds N`: the order of dives and the decoder's dropout) from
the same starting caption head, and scores the val commentaries as the run would (greedy, the
predicted dive as the condition) beside the retrieval baseline. Usage:

    mtlaqa train demo --data DATA --out RUN --set train.caption_epochs=0
    python -m benchmarks.stage_sweep RUN/checkpoint.pt DATA OUT.json \\
        --setting const10:10:0.003:32:constant --setting cos15:15:0.003:32:cosine
    python -m benchmarks.stage_sweep --summarize FOLDER   # FOLDER/seed*.json -> FOLDER/summary.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mtlaqa.caption_baselines import caption_report
from mtlaqa.caption_stage import FrozenInputs, fit_caption_head, frozen_inputs
from mtlaqa.checkpoint import load_checkpoint, model_from_checkpoint
from mtlaqa.data.dataset import DiveDataset
from mtlaqa.data.loader import make_loader
from mtlaqa.data.manifest import Sample, read_manifest
from mtlaqa.data.vocab import Vocab
from mtlaqa.models.grounding import condition_vector
from mtlaqa.models.network import Network


def parse_setting(text: str) -> dict[str, Any]:
    """'name:epochs:lr:batch:schedule' -> a setting."""
    name, epochs, lr, batch, schedule = text.split(":")
    return {"name": name, "epochs": int(epochs), "lr": float(lr), "batch": int(batch),
            "schedule": schedule}  # fmt: skip


@torch.no_grad()
def val_inputs(model: Network, ds: DiveDataset) -> dict[str, Any]:
    """Features, inference condition, predicted attributes and scores of every val dive."""
    model.eval()
    feats, conds, attrs, scores, ids = [], [], {}, [], []
    for batch in make_loader(ds, 32, False, 0, 0):
        out = model(batch["video"])  # features (B, K, D), heads
        feats.append(out["features"].float())
        conds.append(condition_vector(out, model.cfg))  # the predicted dive, one-hot
        for k, lg in out["attributes"].items():
            attrs.setdefault(k, []).append(lg.argmax(-1).numpy())
        scores.append(ds.score_norm.inverse(out["score"].float().numpy()))
        ids += batch["id"]
    return {
        "features": torch.cat(feats),
        "cond": torch.cat(conds),
        "attributes": {k: np.concatenate(v) for k, v in attrs.items()},
        "scores": np.concatenate(scores),
        "ids": ids,
    }


def run_setting(
    model: Network,
    vocab: Vocab,
    train: FrozenInputs,
    val: dict[str, Any],
    samples: dict[str, list[Sample]],
    s: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """One stage from the model's current caption head; val caption metrics at its end.

    `seed` sets the stage's order of dives (as `train.seed` does) and the decoder's dropout."""
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    fit_caption_head(model.caption, train, torch.device("cpu"), s["epochs"], s["lr"], s["batch"],
                     seed, False, s["schedule"])  # fmt: skip
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        toks = model.caption.generate(val["features"], max_len=100, beam=1, cond=val["cond"])
    pred = {
        "ids": val["ids"],
        "caption_pred": [vocab.decode(t) for t in toks],
        "attributes_pred": val["attributes"],
        "score_pred": val["scores"],
    }
    m = caption_report(pred, samples["val"], samples["train"], meteor=False)
    keys = ("caption_cider", "caption_baseline_retrieval_cider", "caption_baseline_constant_cider",
            "caption_dive_agree_pred", "caption_distinct", "caption_bleu_4")  # fmt: skip
    return {
        **s,
        "stage_seed": seed,
        "stage_train_s": round(seconds, 1),
        **{k: round(m[k], 4) for k in keys},
    }


def summarize(folder: Path) -> str:
    """A markdown table over the seed*.json files in `folder`: mean (min-max) per setting."""
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("seed*.json"))]
    cols = {"caption_cider": "val CIDEr", "caption_baseline_retrieval_cider": "retrieval",
            "caption_dive_agree_pred": "names the predicted dive", "caption_distinct": "distinct",
            "stage_train_s": "stage s (1 thread)"}  # fmt: skip
    lines = [
        f"# Caption-stage settings on {len(runs)} runs' pre-stage weights, val (mean, min-max)",
        "",
        "One row per setting over every run and stage seed (`stages`: how many stages it ran).",
        "",
        "Regenerate: `python -m benchmarks.stage_sweep --summarize "
        + str(folder)
        + "`; runs: "
        + ", ".join(f"`{r['checkpoint']}`" for r in runs),
        "",
        "| setting | epochs | lr | batch | schedule | stages | " + " | ".join(cols.values()) + " |",
        "|---" * (6 + len(cols)) + "|",
    ]
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        for row in r["rows"]:
            groups.setdefault(row["name"], []).append(row)
    for name, rows in groups.items():
        vals = [[row[k] for row in rows] for k in cols]
        cells = [f"{np.mean(v):.3f} ({min(v):.3f}-{max(v):.3f})" for v in vals]
        first = rows[0]
        head = [name, str(first["epochs"]), str(first["lr"]), str(first["batch"]),
                first["schedule"], str(len(rows))]  # fmt: skip
        lines.append("| " + " | ".join(head + cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--summarize":
        folder = Path(sys.argv[2])
        (folder / "summary.md").write_text(summarize(folder))
        print((folder / "summary.md").read_text())
        return
    ap = argparse.ArgumentParser(prog="python -m benchmarks.stage_sweep")
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--setting", action="append", type=parse_setting, required=True,
                    help="name:epochs:lr:batch:schedule (repeatable)")  # fmt: skip
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stage-seeds", type=int, default=1, help="each setting with seeds 0..N-1")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, cfg, vocab, norm = model_from_checkpoint(load_checkpoint(args.checkpoint))
    if vocab is None:
        raise SystemExit(f"{args.checkpoint}: no caption vocabulary (a run without captions)")
    samples = read_manifest(args.data)
    split = {k: [s for s in samples if s.split == k] for k in ("train", "val")}

    def dataset(name: str) -> DiveDataset:
        return DiveDataset(split[name], cfg.data, model.input_spec, False, vocab, norm, 0,
                           cfg.model.caption_max_len)  # fmt: skip

    train = frozen_inputs(model, dataset("train"), torch.device("cpu"), None, 32)
    val = val_inputs(model, dataset("val"))
    start = {k: v.clone() for k, v in model.caption.state_dict().items()}
    rows = []
    for s in args.setting:
        for seed in range(args.stage_seeds):
            model.caption.load_state_dict(start)
            rows.append(run_setting(model, vocab, train, val, split, s, seed))
            print(json.dumps(rows[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"checkpoint": str(args.checkpoint), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
