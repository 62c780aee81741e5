"""`python -m benchmarks.run`: mtlaqa's fast path vs a plain fp32 eager reference, side by side.

Full-size C3D-AVG-MTL (6 clips x 16 x 112 x 112, score + attributes + caption heads): training
step and inference clips/s, achieved GFLOP/s vs the matrix peak measured in the same run, the
data path of one sample, peak memory, and the effect of a few knobs (threads, oneDNN,
channels_last, no_grad vs inference_mode, torch.compile). Medians over repeats after warm-up;
a table on stdout and JSON in --out.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.measure import PeakMemory, count_flops, matmul_peak, timed
from benchmarks.reference import RefMTL
from mtlaqa.config import Config, load_config
from mtlaqa.cpu import cpu_flags, cpu_kind, kind_slug
from mtlaqa.device import amp_dtype, cpu_has_fast_bf16, inference_context, select_device
from mtlaqa.heap import keep_freed_memory
from mtlaqa.losses import total_loss
from mtlaqa.models.frozen import FrozenBackbone, frozen_backbone, use_frozen
from mtlaqa.models.mtl import MTLModel

VOCAB = 5000  # about the MTL-AQA training vocabulary (5781 words over all captions)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.splitlines()[0]
    )
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.add_argument(
        "--batch", type=int, default=0, help="samples per step (default: 1 on CPU, 3 on GPU)"
    )
    p.add_argument("--repeats", type=int, default=3, help="timed repeats after one warm-up")
    p.add_argument(
        "--quick", action="store_true", help="narrow model, 8x64x64 clips: a <1 min smoke run"
    )
    p.add_argument(
        "--clips",
        type=int,
        default=0,
        help="clips per sample (default: the preset's 6); timing only",
    )
    p.add_argument("--compile", action="store_true", help="add a torch.compile column")
    p.add_argument(
        "--epoch",
        type=int,
        default=0,
        help="also time one epoch of N samples (1059 = MTL-AQA train)",
    )
    p.add_argument("--no-data", action="store_true", help="skip the data-path timings (needs PyAV)")
    p.add_argument("--no-knobs", action="store_true", help="skip the knob sweep")
    p.add_argument(
        "--heap",
        choices=("keep", "system"),
        default="keep",
        help="keep: freed memory stays in the heap for both paths, as mtlaqa commands set it "
        "(mtlaqa/heap.py); system: glibc's defaults",
    )
    p.add_argument(
        "--out", default="", help="JSON path (default benchmarks/results/<device>[-quick].json)"
    )
    return p.parse_args(argv)


def bench_config(quick: bool) -> Config:
    """The paper preset, or a narrow variant of the same code for smoke runs."""
    over = []
    if quick:
        over = [
            "model.width=0.25",
            "model.fc_dim=512",
            "data.clip_len=8",
            "data.crop_size=64",
            "data.resize=[86,64]",
        ]
        over += ["model.caption_hidden=128", "model.caption_embed=128"]
    return load_config("c3d_avg_mtl", over)


def make_batch(cfg: Config, batch: int, device: torch.device, vocab: int) -> dict[str, Any]:
    """Synthetic tensors shaped like a collated batch (normalized video, labels, caption tokens)."""
    g = torch.Generator().manual_seed(0)
    d = cfg.data
    video = torch.randn(batch, d.num_clips, 3, d.clip_len, d.crop_size, d.crop_size, generator=g)
    length = cfg.model.caption_max_len + 1  # <sos> + words (decoder input)
    tokens = torch.randint(4, vocab, (batch, length + 1), generator=g)
    attrs = {"position": 3, "armstand": 2, "rotation_type": 4, "ss_no": 10, "tw_no": 8}
    return {
        "video": video.to(device),
        "score": torch.randn(batch, generator=g).to(device),
        "attributes": {
            k: torch.randint(0, n, (batch,), generator=g).to(device) for k, n in attrs.items()
        },
        "caption_in": tokens[:, :-1].to(device),
        "caption_out": tokens[:, 1:].to(device),
    }


def build_models(cfg: Config, device: torch.device) -> tuple[MTLModel, RefMTL]:
    """mtlaqa's model as `fit` builds it, and the reference with the same weights."""
    torch.manual_seed(0)
    model = MTLModel(
        cfg.model, clip_len=cfg.data.clip_len, crop_size=cfg.data.crop_size, vocab_size=VOCAB
    )
    model.channels_last = cfg.train.channels_last
    m = cfg.model
    ref = RefMTL(
        model.backbone.channels,
        model.backbone.out_dim,
        m.fc_dim,
        VOCAB,
        m.caption_hidden,
        m.caption_embed,
        m.caption_layers,
    )
    ref.load_from(model)
    return model.to(device), ref.to(device)


def autocast(device: torch.device, dtype: torch.dtype | None) -> torch.autocast:
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def fast_train_step(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    b: dict[str, Any],
    cfg: Config,
    device: torch.device,
    dtype: torch.dtype | None,
) -> None:
    """One step exactly as engine.fit runs it."""
    with autocast(device, dtype):
        out = model(b["video"], b["caption_in"])
    loss, _ = total_loss(out, b, cfg.loss)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def ref_train_step(ref: RefMTL, opt: torch.optim.Optimizer, b: dict[str, Any]) -> None:
    out = ref(b["video"], b["caption_in"])
    loss = ref.loss(out, b)
    opt.zero_grad()
    loss.backward()
    opt.step()


def fast_infer(
    model: MTLModel,
    video: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype | None,
    max_len: int,
    mode: str = "auto",
) -> dict[str, Any]:
    """What predict_loader does per batch: all heads, greedy captions."""
    if mode == "auto":  # mtlaqa's choice (device.inference_context)
        ctx = inference_context(dtype)
    else:
        ctx = torch.inference_mode() if mode == "inference" else torch.no_grad()
    with ctx, autocast(device, dtype):
        out = model(video)
        out["tokens"] = model.caption.generate(out["features"], max_len=max_len)
    return out


def ref_infer(ref: RefMTL, video: torch.Tensor, max_len: int) -> dict[str, Any]:
    with torch.no_grad():
        out = ref(video)
        out["tokens"] = ref.caption.greedy(out["features"], max_len)
    return out


def side(
    name: str, fn: Any, device: torch.device, repeats: int, clips: int, flops: int
) -> dict[str, Any]:
    """Time `fn` (already warmed up) and derive clips/s, GFLOP/s and peak memory."""
    with PeakMemory(device) as mem:
        t = timed(fn, device, repeats, warmup=0)
    s = t["median_s"]
    return {
        "name": name,
        "median_s": s,
        "times_s": t["times_s"],
        "clips_per_s": clips / s,
        "gflops": flops / s / 1e9,
        "peak_mem_mb": mem.peak_bytes / 2**20,
        "mem_rise_mb": mem.delta_bytes / 2**20,
    }


def knob_sweep(
    model: MTLModel, cfg: Config, device: torch.device, dtype: torch.dtype | None, repeats: int
) -> list[dict[str, Any]]:
    """One knob changed at a time from the default: inference on 2 clips, training on 1 clip.

    The knobs run interleaved (each repeat visits every knob once), so a load change on a shared
    machine hits all of them alike instead of whichever ran during it.
    """
    b = make_batch(cfg, 1, device, VOCAB)
    video = b["video"][:, :2]  # 2 clips: keeps the sweep short
    one = {**b, "video": b["video"][:, :1]}
    ml = cfg.model.caption_max_len
    threads = torch.get_num_threads()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr, fused=True)  # as engine.fit

    # the frozen backbone is made once (timing only: the train knobs change the weights after it)
    fz = FrozenBackbone(model.backbone)

    def infer(mode: str = "auto", amp: torch.dtype | None = dtype, frozen: bool = True) -> None:
        model.eval()
        model.frozen = fz if frozen and use_frozen(device, amp) else None
        try:
            fast_infer(model, video, device, amp, ml, mode)
        finally:
            model.frozen = None

    def train(amp: torch.dtype | None = dtype) -> None:
        model.train()
        fast_train_step(model, opt, one, cfg, device, amp)

    def channels_last(v: bool) -> Any:
        return lambda: setattr(model, "channels_last", v)

    def nthreads(n: int) -> Any:
        return lambda: torch.set_num_threads(n)

    def mkldnn_off() -> None:  # fp32: ATen has no fast bf16 conv3d without oneDNN
        with torch.backends.mkldnn.flags(enabled=False):
            infer(amp=None)

    # (label, fn, setup, undo, clips)
    knobs = [
        ("infer: default (fast path)", infer, None, None, 2),
        (
            "infer: inference_mode instead of no_grad"
            if dtype
            else "infer: no_grad instead of inference_mode",
            lambda: infer("inference" if dtype else "no_grad"),
            None,
            None,
            2,
        ),
        ("infer: channels_last off (NCDHW)", infer, channels_last(False), channels_last(True), 2),
        (
            "infer: eager backbone (no frozen TorchScript)",
            lambda: infer(frozen=False),
            None,
            None,
            2,
        ),
        ("train: default (fast path)", train, None, None, 1),
        ("train: channels_last off (NCDHW)", train, channels_last(False), channels_last(True), 1),
    ]
    if device.type == "cpu":
        knobs += [
            (f"infer: threads 1 (default {threads})", infer, nthreads(1), nthreads(threads), 2),
            ("infer: oneDNN off (fp32, ATen slow_conv3d)", mkldnn_off, None, None, 2),
        ]
    if dtype is not None:
        knobs += [
            ("infer: fp32 (no autocast)", lambda: infer(amp=None), None, None, 2),
            ("train: fp32 (no autocast)", lambda: train(amp=None), None, None, 1),
        ]
    times: dict[str, list[float]] = {k[0]: [] for k in knobs}
    for r in range(min(repeats, 2) + 1):  # round 0 is the warm-up; at most 2 timed rounds
        for label, fn, setup, undo, _ in knobs:
            if setup:
                setup()
            try:
                t = timed(fn, device, 1, warmup=0)["median_s"]
            finally:
                if undo:
                    undo()
            if r:
                times[label].append(t)
    rows = []
    for label, _, _, _, clips in knobs:
        med = statistics.median(times[label])
        rows.append(
            {"knob": label, "median_s": med, "clips_per_s": clips / med, "times_s": times[label]}
        )
    if device.type == "cpu" and dtype is None:  # emulated bf16 is ~10x slower: 1 clip, 1 cold run
        model.eval()
        t = timed(lambda: fast_infer(model, video[:, :1], device, torch.bfloat16, ml), device, 1, 0)
        label = "infer: bf16 autocast (emulated; 1 clip, 1 cold run)"
        rows.append({"knob": label, "median_s": t["median_s"], "clips_per_s": 1 / t["median_s"]})
    return rows


def epoch_timing(
    model: MTLModel,
    cfg: Config,
    device: torch.device,
    dtype: torch.dtype | None,
    samples: int,
    batch: int,
) -> dict[str, Any]:
    """One training epoch of `samples` synthetic samples (tensors already on the device)."""
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr, fused=True)  # as engine.fit
    b = make_batch(cfg, batch, device, VOCAB)
    steps = math.ceil(samples / batch)
    fast_train_step(model, opt, b, cfg, device, dtype)  # warm-up
    t = timed(
        lambda: [fast_train_step(model, opt, b, cfg, device, dtype) for _ in range(steps)],
        device,
        1,
        warmup=0,
    )
    return {
        "samples": samples,
        "clips": samples * cfg.data.num_clips,
        "batch": batch,
        "steps": steps,
        "epoch_s": t["median_s"],
        "clips_per_s": samples * cfg.data.num_clips / t["median_s"],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    heap = "keep" if args.heap == "keep" and keep_freed_memory() else "system"
    device = select_device(args.device)
    cfg = bench_config(args.quick)
    data_cfg = copy.deepcopy(cfg)  # the data path always reads the preset's full window
    if args.clips:
        cfg.data.num_clips = args.clips
    dtype = amp_dtype(device, cfg.train.amp)
    batch = args.batch or (3 if device.type == "cuda" else 1)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    d = cfg.data
    clips = batch * d.num_clips
    ml = cfg.model.caption_max_len
    res: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {
            "device": torch.cuda.get_device_name(device)
            if device.type == "cuda"
            else platform.processor() or platform.machine(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "fast_bf16_cpu": cpu_has_fast_bf16(),
            "cpu_kind": cpu_kind(),
            "cpu_kind_uncapped": cpu_kind(cap=""),
            "cpu_flags": sorted(
                {"avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16"} & cpu_flags()
            ),
            "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
            "threads": torch.get_num_threads(),
            "cores": os.cpu_count(),
            "load_avg": os.getloadavg(),
            "torch": torch.__version__,
        },
        "setup": {
            "quick": args.quick,
            "batch": batch,
            "clips_per_step": clips,
            "clip": [d.clip_len, d.crop_size, d.crop_size],
            "num_clips": d.num_clips,
            "width": cfg.model.width,
            "vocab": VOCAB,
            "caption_len": ml + 1,
            "fast_amp": str(dtype).removeprefix("torch.") if dtype else "fp32",
            "repeats": args.repeats,
            "heap": heap,
        },
    }
    print(
        f"# {res['machine']['device']} ({res['machine']['cpu_capability']}), {res['machine']['threads']} threads, "
        f"load {res['machine']['load_avg'][0]:.1f}; fast path amp: {res['setup']['fast_amp']}; "
        f"heap: {heap}",
        flush=True,
    )
    print(f"# {describe_kind(res['machine'], res['setup']['fast_amp'])}", flush=True)

    # 1. matrix peaks of this machine, now
    big = 16384 if device.type == "cuda" else 4096
    res["peak"] = {
        "fp32": matmul_peak(device, torch.float32, big),
        "bf16": matmul_peak(device, torch.bfloat16, big),
    }
    print(
        f"peak matmul: fp32 {res['peak']['fp32']['gflops']:.0f} GFLOP/s, bf16 {res['peak']['bf16']['gflops']:.0f} GFLOP/s",
        flush=True,
    )

    model, ref = build_models(cfg, device)
    b = make_batch(cfg, batch, device, VOCAB)

    # 2. the two paths agree on the same weights (eval mode: no dropout); on fp32 CPUs the fast
    # path evaluates through a frozen TorchScript backbone (models/frozen.py), as `evaluate` does
    model.eval()
    ref.eval()
    frozen = frozen_backbone(model, device, dtype)
    frozen.__enter__()
    f_out = fast_infer(model, b["video"], device, dtype, ml)
    r_out = ref_infer(ref, b["video"], ml)
    diff = (f_out["score"].float() - r_out["score"]).abs().max().item()
    res["agreement"] = {
        "score_max_abs_diff": diff,
        "score_ref_abs_max": r_out["score"].abs().max().item(),
    }
    print(f"fast vs reference score: max |diff| {diff:.2e}", flush=True)

    # 3. inference (warm-up = the FLOP-counted call)
    inf_flops = count_flops(lambda: ref_infer(ref, b["video"], ml))
    cols = {
        "reference": lambda: ref_infer(ref, b["video"], ml),
        "fast": lambda: fast_infer(model, b["video"], device, dtype, ml),
    }
    compiled = None
    if args.compile:
        compiled = torch.compile(model)
        t0 = time.perf_counter()
        fast_infer(compiled, b["video"], device, dtype, ml)
        res["compile_infer_warmup_s"] = time.perf_counter() - t0
        cols["fast+compile"] = lambda: fast_infer(compiled, b["video"], device, dtype, ml)
    cols["fast"]()
    res["infer"] = {
        k: side(k, fn, device, args.repeats, clips, inf_flops) for k, fn in cols.items()
    }
    res["infer_flops_per_clip"] = inf_flops / clips
    res["setup"]["fast_infer_backbone"] = "torchscript frozen" if model.frozen else "eager"
    frozen.__exit__(None, None, None)
    print_phase("inference", res["infer"])

    # 4. training step (forward, backward, Adam)
    model.train()
    ref.train()
    opt_f = torch.optim.Adam(model.parameters(), lr=cfg.train.lr, fused=True)  # as engine.fit
    opt_r = torch.optim.Adam(ref.parameters(), lr=cfg.train.lr)
    train_flops = count_flops(lambda: ref_train_step(ref, opt_r, b))
    cols = {
        "reference": lambda: ref_train_step(ref, opt_r, b),
        "fast": lambda: fast_train_step(model, opt_f, b, cfg, device, dtype),
    }
    if compiled is not None:
        t0 = time.perf_counter()
        fast_train_step(compiled, opt_f, b, cfg, device, dtype)
        res["compile_train_warmup_s"] = time.perf_counter() - t0
        cols["fast+compile"] = lambda: fast_train_step(compiled, opt_f, b, cfg, device, dtype)
    cols["fast"]()
    res["train"] = {
        k: side(k, fn, device, args.repeats, clips, train_flops) for k, fn in cols.items()
    }
    res["train_flops_per_clip"] = train_flops / clips
    print_phase("training step", res["train"])

    # 5. data path of one sample vs one training step on it
    try:
        import av  # noqa: F401  (decoding needs PyAV; GPU images may lack it)
    except ImportError:
        args.no_data = True
        res["data_skipped"] = "PyAV is not installed"
    if not args.no_data:
        from benchmarks.loading import measure_data_path

        spec = model.input_spec
        dp = measure_data_path(data_cfg, spec, args.repeats, 64 if args.quick else 176)
        # one training step on one full sample (the preset's clip count), from the per-clip time
        step_per_sample = res["train"]["fast"]["median_s"] / clips * data_cfg.data.num_clips
        for k in ("cold_s", "cold_640x360_s", "memory_cache_s", "disk_cache_s", "npy_memmap_s"):
            dp[k.replace("_s", "_frac_of_step")] = dp[k] / step_per_sample
        res["data"] = dp

    # 6. knobs, one at a time
    if not args.no_knobs:
        res["knobs"] = knob_sweep(model, cfg, device, dtype, args.repeats)

    if args.epoch:
        res["epoch"] = epoch_timing(model, cfg, device, dtype, args.epoch, batch)

    print_table(res)
    out = Path(args.out or default_out(device, args.quick))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, default=str))
    print(f"\nwritten {out}")
    return res


def describe_kind(machine: dict[str, Any], fast_amp: str) -> str:
    """One line: the CPU kind from its flags, oneDNN's ISA cap if set, the fast path's precision."""
    if machine.get("cpu_kind") is None:  # a GPU run
        return f"device {machine['device']}; fast path precision: {fast_amp}"
    flags = " ".join(machine["cpu_flags"]) or "none of avx2/avx512f/avx512_bf16/amx_bf16"
    cap = machine["onednn_max_cpu_isa"]
    real = machine.get("cpu_kind_uncapped", machine["cpu_kind"])
    cap = f", ONEDNN_MAX_CPU_ISA={cap} on a {real} CPU" if cap else ""
    why = (
        "bf16 on AMX"
        if machine["fast_bf16_cpu"]
        else "bf16 unreliable without AMX" if machine["cpu_kind"] == "AVX512-BF16"
        else "bf16 would be emulated"
    )  # fmt: skip
    return (
        f"CPU kind: {machine['cpu_kind']} (flags: {flags}{cap}); "
        f"fast path precision: {fast_amp} ({why})"
    )


def default_out(device: torch.device, quick: bool) -> str:
    """benchmarks/results/cpu-<kind>[-quick].json (one file per CPU kind), cuda[-quick].json."""
    name = device.type
    if device.type == "cpu":
        name += "-" + kind_slug()
    return f"benchmarks/results/{name}{'-quick' if quick else ''}.json"


def print_phase(phase: str, cols: dict[str, dict[str, Any]]) -> None:
    """One line per column as soon as a phase is measured (the full table comes at the end)."""
    for k, c in cols.items():
        print(
            f"{phase:<14} {k:<13} {c['clips_per_s']:8.2f} clips/s  {c['gflops']:7.0f} GFLOP/s",
            flush=True,
        )


def print_table(res: dict[str, Any]) -> None:
    """The side-by-side table."""
    p32 = res["peak"]["fp32"]["gflops"]
    pbf = res["peak"]["bf16"]["gflops"]
    s = res["setup"]
    print(
        f"\nC3D-AVG-MTL, {s['clips_per_step']} clips/step ({s['batch']} x {s['num_clips']} clips of "
        f"{'x'.join(map(str, s['clip']))}), width {s['width']}, fast path amp {s['fast_amp']}"
    )
    print(f"matrix peak measured now: fp32 {p32:.0f} GFLOP/s, bf16 {pbf:.0f} GFLOP/s")
    for phase, gf in (
        ("train", res["train_flops_per_clip"]),
        ("infer", res["infer_flops_per_clip"]),
    ):
        cols = res[phase]
        ref = cols["reference"]
        print(f"\n{phase} ({gf / 1e9:.0f} GFLOP/clip)   " + "".join(f"{k:>15}" for k in cols))
        rows = [
            ("s / step", lambda c: f"{c['median_s']:.3f}"),
            ("clips/s", lambda c: f"{c['clips_per_s']:.2f}"),
            ("speed-up", lambda c, ref=ref: f"{c['clips_per_s'] / ref['clips_per_s']:.2f}x"),
            ("GFLOP/s", lambda c: f"{c['gflops']:.0f}"),
            ("% fp32 matmul peak", lambda c: f"{100 * c['gflops'] / p32:.0f}%"),
        ]
        if s["fast_amp"] != "fp32":  # bf16 peak is meaningless where bf16 is emulated
            rows.append(("% bf16 matmul peak", lambda c: f"{100 * c['gflops'] / pbf:.0f}%"))
        rows += [
            ("peak mem MB", lambda c: f"{c['peak_mem_mb']:.0f}"),
            ("mem rise MB", lambda c: f"{c['mem_rise_mb']:.0f}"),
        ]
        for label, fmt in rows:
            print(f"  {label:<24}" + "".join(f"{fmt(c):>15}" for c in cols.values()))
    if "data" in res:
        dp = res["data"]
        print(f"\ndata path, one sample ({dp['window_frames']}-frame window, {dp['video']}):")
        for k, label in (
            ("cold", "decode+preprocess"),
            ("cold_640x360", "decode 640x360+preprocess"),
            ("memory_cache", "memory cache"),
            ("disk_cache", "disk cache (data.cache=disk)"),
            ("npy_memmap", "np.load memmap (.npy)"),
        ):
            print(
                f"  {label:<28}{1000 * dp[k + '_s']:9.1f} ms  {100 * dp[k + '_frac_of_step']:6.2f}% of a training step"
            )
    if "knobs" in res:
        base = {r["knob"].split(":")[0]: r["clips_per_s"] for r in reversed(res["knobs"])}
        print("\nknobs (one change at a time; infer: 2 clips, train: 1 clip; interleaved repeats):")
        for r in res["knobs"]:
            rel = r["clips_per_s"] / base[r["knob"].split(":")[0]]
            print(f"  {r['knob']:<52}{r['clips_per_s']:8.2f} clips/s  {rel:5.2f}x")
    if "epoch" in res:
        e = res["epoch"]
        print(
            f"\none epoch: {e['samples']} samples x {s['num_clips']} clips, batch {e['batch']}: "
            f"{e['epoch_s']:.1f} s ({e['clips_per_s']:.0f} clips/s)"
        )
    print(
        f"\nmachine load average at start: {res['machine']['load_avg'][0]:.1f} on {res['machine']['cores']} cores"
    )


if __name__ == "__main__":
    main()
