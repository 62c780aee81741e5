"""Issue 12's done-when check on `mtlaqa predict --json` output: is the commentary real?

Reads the JSON lines `mtlaqa predict CHECKPOINT VIDEO… --json` printed for SynthDive test videos,
and prints (and writes as JSON) the fraction of distinct commentaries, how often the dive named in
the commentary is the predicted dive and the true dive, and corpus caption metrics beside the best
constant and retrieval baselines (training split of DATA). Usage:

    mtlaqa predict RUN/checkpoint.pt $(python -m benchmarks.commentary_check --videos DATA 80) \\
        --json > pred.jsonl
    python -m benchmarks.commentary_check DATA pred.jsonl OUT.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from mtlaqa.caption_baselines import caption_report
from mtlaqa.data.manifest import read_manifest


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("predictions", nargs="?")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--videos", type=int, default=0, help="only list the first N test videos")
    args = ap.parse_args()
    samples = read_manifest(args.data)
    test = [s for s in samples if s.split == "test"]
    if args.videos:
        print(" ".join(s.video for s in test[: args.videos]))
        return
    rows = [json.loads(line) for line in Path(args.predictions).read_text().splitlines() if line]
    by_stem = {Path(s.video).stem: s for s in test}
    chosen = [by_stem[Path(r["video"]).stem] for r in rows]
    pred = {
        "ids": [s.id for s in chosen],
        "caption_pred": [r["caption"] or "" for r in rows],
        "attributes_pred": {
            k: np.array([r["attributes"][k]["label"] for r in rows]) for k in rows[0]["attributes"]
        },
        "score_pred": np.array([r["score"] for r in rows], dtype=np.float64),
    }
    train = [s for s in samples if s.split == "train"]
    m = caption_report(pred, chosen, train, meteor=False)
    m["n"] = len(rows)
    for k, v in m.items():
        print(f"{k:32s} {v:.4f}" if isinstance(v, float) else f"{k:32s} {v}")
    if args.out:
        Path(args.out).write_text(json.dumps(m, indent=1))


if __name__ == "__main__":
    main()
