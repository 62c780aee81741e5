"""GPU smoke test and benchmark: the paper's C3D-AVG-MTL at full size on release-shaped SynthDive.

1. Model step timing without data loading: forward+backward of batches of 6 clips x 16 x 112 x 112
   through the full-width C3D-AVG-MTL (fc6 4096, GRU captions), fp32 vs bf16/fp16 autocast, with and
   without channels_last_3d.
2. One epoch of `fit` (the real training path: loader, honest val selection, checkpoints, test
   evaluation with captions) on SynthDive rendered at 128x128 and resized to 171x128 as the preset.

Usage (one command): benchmarks/gpu_smoke.sh [OUT]   or   python benchmarks/gpu_smoke.py --out OUT
Runs on CPU too (--device cpu, small --num) but is meant for a GPU.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from mtlaqa.config import load_config
from mtlaqa.data.manifest import MANIFEST_NAME
from mtlaqa.data.synth.generate import generate_synthdive
from mtlaqa.device import amp_dtype, select_device
from mtlaqa.engine import fit
from mtlaqa.losses import total_loss
from mtlaqa.models.build import build_model


def step_benchmark(
    device: torch.device, batch: int, amp: str, channels_last: bool, steps: int
) -> dict:
    """Mean seconds per training step of the full model on random clips (no data loading)."""
    cfg = load_config("c3d_avg_mtl", [f"train.amp={amp}"])
    cfg.model.tasks = ["score", "attributes"]  # the caption head's cost is small next to C3D
    model = build_model(cfg, None).to(device)
    model.channels_last = channels_last
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    dtype = amp_dtype(device, amp)
    video = torch.randn(batch, 6, 3, 16, 112, 112, device=device)
    tgt = {"score": torch.randn(batch, device=device), "attributes": {}}
    for k, n in (
        ("position", 3),
        ("armstand", 2),
        ("rotation_type", 4),
        ("ss_no", 10),
        ("tw_no", 8),
    ):
        tgt["attributes"][k] = torch.randint(0, n, (batch,), device=device)

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            out = model(video)
        loss, _ = total_loss(out, tgt, cfg.loss)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):  # warm-up: cuDNN algorithm search, allocator
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / steps
    res = {
        "batch": batch,
        "amp": str(dtype).replace("torch.", "") if dtype else "fp32",
        "channels_last": channels_last,
    }
    res.update({"s_per_step": round(dt, 4), "clips_per_s": round(batch * 6 / dt, 1)})
    if device.type == "cuda":
        res["peak_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/gpu_smoke")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--num", type=int, default=96, help="SynthDive dives for the training epoch")
    ap.add_argument("--batch", type=int, default=3, help="training batch (the paper: 3)")
    ap.add_argument("--bench-batches", default="3,12", help="batches for the step benchmark")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--workers", type=int, default=4, help="data loader processes")
    args = ap.parse_args()
    device = select_device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    info = {"torch": str(torch.__version__), "device": str(device)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    print(json.dumps(info))
    results: dict = {"info": info, "steps": []}
    for b in [int(x) for x in args.bench_batches.split(",") if x]:
        for amp, cl in (("off", False), ("off", True), ("auto", False), ("auto", True)):
            r = step_benchmark(device, b, amp, cl, args.steps)
            results["steps"].append(r)
            print(json.dumps(r), flush=True)
    data = out / "data"
    if not (data / MANIFEST_NAME).is_file():
        t0 = time.perf_counter()
        generate_synthdive(
            data, num=args.num, seed=0, size=128, workers=args.workers, progress=False
        )
        print(
            json.dumps({"synthdive_s": round(time.perf_counter() - t0, 1), "num": args.num}),
            flush=True,
        )
    cfg = load_config(
        "c3d_avg_mtl",
        [
            f"data.root={data}",
            "train.epochs=1",
            f"train.batch_size={args.batch}",
            f"train.device={device}",
            f"data.num_workers={args.workers}",
        ],
    )
    t0 = time.perf_counter()
    cfg.train.meteor = False
    res = fit(cfg, out / "run", progress=False)
    epoch = {
        "fit_s": round(time.perf_counter() - t0, 1),
        **{k: v for k, v in res["history"][-1].items() if not k.startswith("val_attributes_acc")},
    }
    epoch["test_best"] = {
        k: res["test"]["best"].get(k)
        for k in (
            "n",
            "score_spearman",
            "score_mae",
            "attributes_acc_whole_dive",
            "caption_bleu_4",
            "caption_cider",
        )
    }
    if device.type == "cuda":
        epoch["peak_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    results["epoch"] = epoch
    print(json.dumps(epoch, default=str), flush=True)
    (out / "gpu_smoke.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {out / 'gpu_smoke.json'}")


if __name__ == "__main__":
    main()
