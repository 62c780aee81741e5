"""`python -m benchmarks.val_summary OUT.json RUN_DIR...`: the validation numbers of training runs.

For each run folder (of `mtlaqa train`): its overrides of the preset as `config.yaml` records the
schedule, the best val ρ and its epoch (history.jsonl), the val caption metrics of the caption
stage (metrics.json's meta, when the run had one) and the seconds per phase. Test numbers are
left out on purpose: this is the table settings are chosen from.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml


def summary(run: Path) -> dict[str, Any]:
    """One run's val summary."""
    hist = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines() if line]
    rhos = [(h.get("val_score_spearman", float("nan")), h["epoch"]) for h in hist]
    best_rho, best_epoch = max(rhos)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    out: dict[str, Any] = {
        "run": f"{run.parent.name}/{run.name}",
        "seed": cfg["train"]["seed"],
        "epochs_run": len(hist),
        "schedule": {
            k: cfg["train"].get(k)
            for k in (
                "epochs",
                "caption_epochs",
                "caption_batch_size",
                "caption_lr",
                "lr",
                "batch_size",
            )
        },  # fmt: skip
        "data": {k: cfg["data"].get(k) for k in ("clip_len", "stride", "num_clips")},
        "backbone_stem": cfg["model"].get("backbone_stem", "none"),
        "val_rho_per_epoch": [round(r, 4) for r, _ in rhos],
        "best_val_rho": best_rho,
        "best_epoch": best_epoch,
    }
    metrics = run / "metrics.json"
    if metrics.is_file():
        meta = json.loads(metrics.read_text())["meta"]
        stage = meta.get("caption_stage", {}).get("best", {})
        if "val" in stage:
            out["stage_val_cider"] = stage["val"].get("caption_cider")
            out["stage_val_bleu_4"] = stage["val"].get("caption_bleu_4")
        out["seconds"] = meta.get("seconds")
    return out


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rows = [summary(Path(p)) for p in sys.argv[2:]]
    Path(sys.argv[1]).write_text(json.dumps(rows, indent=1))
    for r in rows:
        cider = r.get("stage_val_cider")
        print(
            f"{r['run']:<20} seed {r['seed']} epochs {r['schedule']['epochs']:>2}"
            f"  best val ρ {r['best_val_rho']:.3f} (epoch {r['best_epoch']})"
            + (f"  stage val CIDEr {cider:.3f}" if cider is not None else "")
        )


if __name__ == "__main__":
    main()
