"""FLOPs of the paper's experiments at full size, for the GPU-time estimate in docs/reproduce.md.

    PYTHONPATH=src python benchmarks/paper_flops.py [--json benchmarks/results/paper_flops.json]

Counts (torch.utils.flop_counter on the meta device: nothing is computed, any machine gives the
same numbers) one dive through `c3d_avg_mtl` (6 × 16 × 112²) and `mscadc_mtl` (1 × 16 × 180²),
forward and forward + backward, score and attribute heads (the caption GRU adds < 1 %), then
multiplies by the protocol's dives and epochs. No timing: GPU seconds = FLOPs / the sustained
rate you assume (docs/reproduce.md says which).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from mtlaqa.config import load_config
from mtlaqa.models.archs import build_arch

CLIPS = {"c3d_avg_mtl": (6, 16, 112), "mscadc_mtl": (1, 16, 180)}
TEST, EPOCHS = 353, 100
TRAIN = {"default (val carved)": (954, 105), "paper (val_fraction=0)": (1059, 0)}


def dive_flops(preset: str) -> tuple[float, float]:
    """(forward, forward + backward) FLOPs of one dive."""
    k, frames, size = CLIPS[preset]
    cfg = load_config(preset, ["model.tasks=[score,attributes]"])
    real = torch.is_autocast_enabled
    torch.is_autocast_enabled = lambda *a: False  # type: ignore[assignment]  # meta has no autocast
    try:
        with torch.device("meta"):
            model = build_arch(cfg.model, clip_len=frames, crop_size=size, num_clips=k)
        x = torch.randn(1, k, 3, frames, size, size, device="meta")
        with FlopCounterMode(display=False) as train:
            out = model(x)
            (out["score"].sum() + sum(v.sum() for v in out["attributes"].values())).backward()
        with FlopCounterMode(display=False) as infer, torch.no_grad():
            model(x)
    finally:
        torch.is_autocast_enabled = real  # type: ignore[assignment]
    return float(infer.get_total_flops()), float(train.get_total_flops())


def run_flops(fwd: float, train: float, n_train: int, n_val: int) -> float:
    """One run: EPOCHS epochs of training + val every epoch + test twice (last and best)."""
    return EPOCHS * (n_train * train + n_val * fwd) + 2 * TEST * fwd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None, help="Write the numbers here.")
    args = ap.parse_args()
    result: dict[str, dict] = {}
    for preset in CLIPS:
        fwd, train = dive_flops(preset)
        runs = {name: run_flops(fwd, train, n, v) / 1e15 for name, (n, v) in TRAIN.items()}
        result[preset] = {
            "dive_forward_gflop": fwd / 1e9,
            "dive_train_gflop": train / 1e9,
            "run_pflop": runs,
        }
        print(f"{preset}: one dive {fwd / 1e9:.1f} GFLOP forward, {train / 1e9:.1f} train; "
              + ", ".join(f"{k}: {v:.1f} PFLOP per {EPOCHS}-epoch run" for k, v in runs.items()))  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
