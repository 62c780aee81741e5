"""`python -m benchmarks.conv_layers`: C3D's eight convs alone, fp32 forward, in three layouts.

Where fp32 inference time goes, layer by layer (6 clips of 16 x 112 x 112, the shapes of
C3D-AVG-MTL's backbone): NCDHW as the reference runs it, `channels_last_3d` as eager mtlaqa runs
it, and the frozen TorchScript copy (`torch.jit.optimize_for_inference`, oneDNN's blocked
layout) that `mtlaqa evaluate` uses on fp32 CPUs. Medians of `--repeats` runs after a warm-up,
and GFLOP/s beside them; the peak reached by any layer bounds what this CPU's oneDNN can do.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from benchmarks.profile_step import conv_flops
from benchmarks.reference import CONVS, POOL_AFTER
from mtlaqa.cpu import cpu_kind, kind_slug

CHANNELS = (64, 128, 256, 256, 512, 512, 512, 512)


def median_s(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up: oneDNN primitive creation, weight reorders
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def layer_shapes() -> list[tuple[str, int, int, int, int]]:
    """(name, c_in, c_out, T, H=W) of each conv's input at 16 x 112 x 112."""
    out, c, t, hw = [], 3, 16, 112
    for name, c_out in zip(CONVS, CHANNELS, strict=True):
        out.append((name, c, c_out, t, hw))
        c = c_out
        if name == "conv1":
            hw //= 2
        elif name in POOL_AFTER and name != "conv5b":
            t, hw = t // 2, hw // 2
    return out


@torch.no_grad()
def time_layer(
    c_in: int, c_out: int, t: int, hw: int, clips: int, repeats: int
) -> dict[str, float]:
    """Median forward ms of one conv in each layout."""
    x = torch.randn(clips, c_in, t, hw, hw)  # (N, C, T, H, W)
    conv = torch.nn.Conv3d(c_in, c_out, 3, padding=1).eval()
    xc = x.contiguous(memory_format=torch.channels_last_3d)
    wc = conv.weight.contiguous(memory_format=torch.channels_last_3d)
    traced = torch.jit.trace(conv, x[:1])  # type: ignore[no-untyped-call]
    frozen = torch.jit.optimize_for_inference(traced)
    return {
        "ncdhw": median_s(lambda: conv(x), repeats) * 1e3,
        "channels_last_3d": median_s(lambda: F.conv3d(xc, wc, conv.bias, padding=1), repeats) * 1e3,
        "frozen_blocked": median_s(lambda: frozen(x), repeats) * 1e3,
    }


@torch.no_grad()
def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.conv_layers")
    p.add_argument("--clips", type=int, default=6)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default="")
    args = p.parse_args(argv)
    rows = []
    for name, c_in, c_out, t, hw in layer_shapes():
        gflop = conv_flops(c_in, c_out, t, hw, hw) * args.clips / 1e9
        ms = time_layer(c_in, c_out, t, hw, args.clips, args.repeats)
        rows.append({"layer": name, "gflop": gflop, "ms": ms,
                     "gflops": {k: gflop / (v / 1e3) for k, v in ms.items()}})  # fmt: skip
        print(f"{name:7} {gflop:6.1f} GFLOP  " + "  ".join(
            f"{k} {v:6.0f} ms ({gflop / (v / 1e3):4.0f} GFLOP/s)" for k, v in ms.items()))  # fmt: skip
    totals = {k: sum(r["ms"][k] for r in rows) for k in rows[0]["ms"]}
    print("total ms: " + ", ".join(f"{k} {v:.0f}" for k, v in totals.items()))
    res = {"cpu_kind": cpu_kind(), "threads": torch.get_num_threads(), "clips": args.clips,
           "load_avg": list(os.getloadavg()), "layers": rows, "total_ms": totals}  # fmt: skip
    out = Path(args.out or f"benchmarks/results/conv_layers-{kind_slug()}.json")
    out.write_text(json.dumps(res, indent=1))
    print(f"written {out}")
    return res


if __name__ == "__main__":
    main()
