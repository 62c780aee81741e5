"""Full-size backbones: parameters, GFLOP per clip (FlopCounterMode) and CPU forward time per clip.

    PYTHONPATH=src python benchmarks/model_zoo.py [--threads 2] [--repeats 1] [--json out.json]

One clip per forward (batch 1) at each backbone's native clip size; fp32, eval mode, no grad.
Timings are wall-clock on whatever machine runs this: noisy on a shared CPU.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from mtlaqa.config import ModelConfig
from mtlaqa.models.mscadc import MSCADCBody
from mtlaqa.models.registry import build_backbone

# name -> (frames, size) the public weights were trained at
CLIPS = {"c3d": (16, 112), "i3d": (16, 224), "r3d_18": (16, 112), "r2plus1d_18": (16, 112)}


def measure(model: torch.nn.Module, frames: int, size: int, repeats: int) -> dict[str, float]:
    """Parameters, GFLOP and seconds of one forward pass of one clip."""
    model.eval()
    x = torch.randn(1, 3, frames, size, size)
    with torch.no_grad():
        with FlopCounterMode(display=False) as counter:
            model(x)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return {
        "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
        "gflop_per_clip": counter.get_total_flops() / 1e9,
        "cpu_s_per_clip": min(times),
        "clip": f"{frames}x{size}x{size}",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = {}
    for name, (frames, size) in CLIPS.items():
        rows[name] = measure(
            build_backbone(name, clip_len=frames, crop_size=size, width=1.0),
            frames,
            size,
            args.repeats,
        )
    cfg = ModelConfig(arch="mscadc")
    rows["mscadc_body"] = measure(MSCADCBody(cfg.width, cfg.dropout), 16, 180, args.repeats)
    print(f"{'backbone':<14}{'clip':>12}{'params (M)':>12}{'GFLOP/clip':>12}{'CPU s/clip':>12}")
    for name, r in rows.items():
        print(
            f"{name:<14}{r['clip']:>12}{r['params_M']:>12.2f}{r['gflop_per_clip']:>12.1f}{r['cpu_s_per_clip']:>12.3f}"
        )
    print(
        f"torch {torch.__version__}, {args.threads} threads, fp32, batch 1, best of {args.repeats}"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
