"""`python -m benchmarks.profile_step`: torch.profiler view of one full-size training step.

Which layers dominate, at what fraction of the fp32 matrix peak measured in the same run, and how
much time goes to bandwidth-bound work (ReLU, pooling, Adam, layout copies) rather than convs.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks.measure import matmul_peak
from benchmarks.reference import CONVS
from benchmarks.run import VOCAB, bench_config, fast_train_step, make_batch
from mtlaqa.device import amp_dtype, select_device
from mtlaqa.models.mtl import MTLModel

# self time of these ops is memory traffic, not arithmetic
CATEGORIES = {
    "conv (oneDNN)": ("mkldnn_convolution", "convolution_backward", "_convolution", "conv3d"),
    "matmul (fc6, GRU, heads)": ("addmm", "mm", "bmm", "linear", "gru", "matmul"),
    "relu": ("relu", "threshold_backward", "clamp_min"),
    "max pool": ("max_pool3d", "max_pool3d_with_indices", "max_pool3d_with_indices_backward"),
    "Adam": ("_foreach", "adam", "lerp", "addcmul", "addcdiv", "sqrt"),
    "layout copies": ("copy_", "contiguous", "to_dense", "clone", "empty_like"),
}


def category(name: str) -> str:
    n = name.removeprefix("aten::").lower()
    for cat, keys in CATEGORIES.items():
        if any(n == k or n.startswith(k) for k in keys):
            return cat
    return "other"


def conv_flops(c_in: int, c_out: int, t: int, h: int, w: int) -> int:
    """Forward FLOPs of a 3x3x3 'same' conv producing c_out x t x h x w."""
    return 2 * c_in * 27 * c_out * t * h * w


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.profile_step", description=__doc__.splitlines()[0]
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--clips", type=int, default=6, help="clips in the step (one sample)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default="benchmarks/results/profile_cpu.json")
    args = p.parse_args(argv)
    device = select_device(args.device)
    cfg = bench_config(args.quick)
    cfg.data.num_clips = args.clips
    dtype = amp_dtype(device, cfg.train.amp)
    torch.manual_seed(0)
    model = MTLModel(
        cfg.model, clip_len=cfg.data.clip_len, crop_size=cfg.data.crop_size, vocab_size=VOCAB
    ).to(device)
    model.channels_last = cfg.train.channels_last
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr, fused=True)  # as engine.fit
    b = make_batch(cfg, 1, device, VOCAB)
    peak = matmul_peak(device, torch.float32, 4096)["gflops"]
    fast_train_step(model, opt, b, cfg, device, dtype)  # warm-up: oneDNN primitives, Adam state
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=acts, record_shapes=True) as prof:
        fast_train_step(model, opt, b, cfg, device, dtype)

    events = prof.key_averages()
    total_us = sum(e.self_cpu_time_total for e in events)
    cats: dict[str, float] = defaultdict(float)
    for e in events:
        cats[category(e.key)] += e.self_cpu_time_total
    # per conv layer: forward and backward time by the layer's input shape
    shapes = {}
    c_in, t, hw = 3, cfg.data.clip_len, cfg.data.crop_size
    for name, c_out in zip(CONVS, model.backbone.channels, strict=True):
        flops = conv_flops(c_in, c_out, t, hw, hw) * args.clips
        if (c_in, t, hw) in shapes:  # conv5a and conv5b see the same input shape: one row
            prev, prev_flops, _ = shapes[(c_in, t, hw)]
            name, flops = f"{prev}+{name.removeprefix('conv')}", flops + prev_flops
        shapes[(c_in, t, hw)] = (name, flops, name != "conv1")
        c_in = c_out
        if name in ("conv1",):
            hw = -(-hw // 2)
        elif name in ("conv2", "conv3b", "conv4b"):
            t, hw = -(-t // 2), -(-hw // 2)
    layers: dict[str, dict[str, float]] = {}
    for e in prof.key_averages(group_by_input_shape=True):
        if e.key not in ("aten::convolution", "aten::convolution_backward") or not e.input_shapes:
            continue
        shp = e.input_shapes[1] if e.key == "aten::convolution_backward" else e.input_shapes[0]
        if len(shp) != 5:
            continue
        key = (shp[1], shp[2], shp[3])
        if key not in shapes:
            continue
        name, fwd_flops, grad_input = shapes[key]
        row = layers.setdefault(name, {"fwd_ms": 0.0, "bwd_ms": 0.0, "fwd_gflop": fwd_flops / 1e9})
        row["fwd_ms" if e.key == "aten::convolution" else "bwd_ms"] += e.cpu_time_total / 1e3
        row["bwd_gflop"] = fwd_flops * (2 if grad_input else 1) / 1e9
    for row in layers.values():
        row["fwd_pct_peak"] = (
            100 * row["fwd_gflop"] / (row["fwd_ms"] / 1e3) / peak if row["fwd_ms"] else 0.0
        )
        row["bwd_pct_peak"] = (
            100 * row["bwd_gflop"] / (row["bwd_ms"] / 1e3) / peak if row["bwd_ms"] else 0.0
        )

    res = {
        "clips": args.clips,
        "amp": str(dtype) if dtype else "fp32",
        "fp32_matmul_peak_gflops": peak,
        "step_ms": total_us / 1e3,
        "categories_pct": {
            k: 100 * v / total_us for k, v in sorted(cats.items(), key=lambda kv: -kv[1])
        },
        "conv_layers": layers,
        "top_ops": [
            {"op": e.key, "self_ms": e.self_cpu_time_total / 1e3, "calls": e.count}
            for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:15]
        ],
    }
    print(
        f"one training step, {args.clips} clips, amp {res['amp']}: {res['step_ms'] / 1e3:.1f} s of op time; fp32 matmul peak {peak:.0f} GFLOP/s"
    )
    print("\nshare of op self-time:")
    for k, v in res["categories_pct"].items():
        print(f"  {k:<26}{v:6.1f}%")
    print(f"\n  {'layer':<8}{'fwd ms':>9}{'fwd %pk':>9}{'bwd ms':>9}{'bwd %pk':>9}")
    for name, r in layers.items():
        print(
            f"  {name:<8}{r['fwd_ms']:9.0f}{r['fwd_pct_peak']:8.0f}%{r['bwd_ms']:9.0f}{r['bwd_pct_peak']:8.0f}%"
        )
    print("\ntop ops by self time:")
    for r in res["top_ops"]:
        print(f"  {r['op']:<44}{r['self_ms']:10.0f} ms  x{r['calls']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    print(f"\nwritten {out}")
    return res


if __name__ == "__main__":
    main()
