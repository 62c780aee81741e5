"""`python -m benchmarks.demo_levers DATA`: the fifth session's demo speed levers, A/B.

DATA is a demo SynthDive folder (`mtlaqa demo` leaves one in runs/demo/data). On an idle machine:

1. heap: 3 joint epochs of the demo preset (`mtlaqa train demo`, no caption stage, no METEOR)
   with freed memory kept in the heap (`mtlaqa/heap.py`, the default) and with glibc's defaults
   (`MTLAQA_MALLOC=system`), each in its own process, interleaved `--pairs` times: clips/s per
   epoch and the process's user / system CPU seconds;
2. prefill: the train + val windows (640 videos) decoded by a pool of 2 processes with and
   without FFmpeg's own decoding threads inside each;
3. transforms: one sample's clips from its cached window, `to_clips` (frames picked first, one
   table lookup per channel) against cropping and flipping the window and normalizing the picked
   frames with `normalize` (the earlier formulation; the two give identical tensors), after a
   warm-up, in this process with the heap kept as `mtlaqa` commands keep it;
4. jvm: the caption stage (`frozen_inputs` + `fit_caption_head`, the preset's 15 epochs) on the
   pre-stage weights of a 3-epoch run, plus one METEOR score, with METEOR's JVM started when the
   stage starts (as `fit` did) against started 15 s before (as `mtlaqa demo` now does), each in
   its own process, interleaved `--pairs` times.

`--parts` picks some of them; their results replace those keys in an existing JSON.

Writes JSON (default benchmarks/results/demo_levers-<kind>.json) and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.measure import timed
from mtlaqa.cpu import cpu_flags, kind_slug
from mtlaqa.data import video
from mtlaqa.data.manifest import read_manifest
from mtlaqa.data.transforms import crop, normalize, to_clips
from mtlaqa.heap import keep_freed_memory
from mtlaqa.inputspec import InputSpec

EPOCH = re.compile(r"epoch (\d+): loss ([\d.]+), ([\d.]+) clips/s")


def joint_epochs_only(data: Path, out: str, epochs: int) -> list[str]:
    """The command of a `mtlaqa train demo` run of `epochs` joint epochs: no caption stage, no
    METEOR (its checkpoint holds the pre-stage weights)."""
    args = ["train", "demo", "--data", str(data), "--out", out, "--quiet"]
    args += ["--set", f"train.epochs={epochs}", "--set", "train.caption_epochs=0"]
    return [sys.executable, "-m", "mtlaqa", *args, "--set", "train.meteor=false"]


def heap_run(data: Path, heap: str, epochs: int) -> dict[str, Any]:
    """One `mtlaqa train demo` process; its epochs' clips/s and its CPU seconds."""
    env = {**os.environ, "MTLAQA_MALLOC": heap}
    with tempfile.TemporaryDirectory() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(
            joint_epochs_only(data, out, epochs), env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"mtlaqa train failed ({heap}):\n{done.stderr[-2000:]}")
    found = EPOCH.findall(done.stdout + done.stderr)
    return {
        "heap": heap,
        "wall_s": round(wall, 2),
        "user_s": round(after.ru_utime - before.ru_utime, 2),
        "sys_s": round(after.ru_stime - before.ru_stime, 2),
        "clips_per_s": [float(c) for _, _, c in found],
        "loss": [float(loss) for _, loss, _ in found],
    }


JVM_STAGE = """
import sys, time, torch
from mtlaqa.heap import keep_freed_memory
from mtlaqa.meteor import meteor_score, prestart_meteor
keep_freed_memory()
early = sys.argv[3] == "early"
if early:
    prestart_meteor()
    time.sleep(15)
from mtlaqa.caption_stage import fit_caption_head, frozen_inputs
from mtlaqa.checkpoint import load_checkpoint, model_from_checkpoint
from mtlaqa.data.dataset import DiveDataset
from mtlaqa.data.manifest import read_manifest
from mtlaqa.data.prefill import prefill_memory_cache
model, cfg, vocab, norm = model_from_checkpoint(load_checkpoint(sys.argv[1]))
train = [s for s in read_manifest(sys.argv[2]) if s.split == "train"]
ds = DiveDataset(train, cfg.data, model.input_spec, False, vocab, norm, 0, cfg.model.caption_max_len)
prefill_memory_cache(ds)
t0 = time.perf_counter()
if not early:
    prestart_meteor()
inputs = frozen_inputs(model, ds, torch.device("cpu"), None, 32)
fit_caption_head(model.caption, inputs, torch.device("cpu"), 15, 3e-3, 32, 0, False, "cosine")
meteor_score({"a": ["a diver entered the water"]}, {"a": ["the diver entered"]}, 600)
print(round(time.perf_counter() - t0, 2))
"""


def jvm_runs(data: Path, pairs: int) -> dict[str, Any]:
    """Seconds of the caption stage plus one METEOR score, the JVM started at the stage or 15 s
    before it (see the module docstring)."""
    with tempfile.TemporaryDirectory() as run:
        subprocess.run(joint_epochs_only(data, run, 3), check=True, capture_output=True)
        times: dict[str, list[float]] = {"at_stage": [], "early": []}
        for _ in range(pairs):
            for when in times:
                cmd = [sys.executable, "-c", JVM_STAGE, f"{run}/checkpoint.pt", str(data), when]
                done = subprocess.run(cmd, check=True, capture_output=True, text=True)
                times[when].append(float(done.stdout.split()[-1]))
                print(f"jvm {when}: {times[when][-1]} s", flush=True)
    return {"stage_and_first_meteor_s": times}


def _init(threads: bool) -> None:
    video.set_decoder_threads(threads)


def _decode(path: str) -> int:
    return len(video.read_frames(path, 0, 109, (64, 64)))


def prefill_run(paths: list[str], threads: bool) -> float:
    """Seconds to decode `paths` in a pool of 2 processes (as data/prefill.py does)."""
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(2, _init, (threads,)) as pool:
        sum(pool.imap(_decode, paths, chunksize=4))
    return time.perf_counter() - t0


def transform_ms(repeats: int = 400) -> dict[str, float]:
    """ms per sample of the demo's clips (3 x 8 frames at 64 px) from a 109-frame window."""
    spec = InputSpec(clip_len=8, crop_size=64)
    window = np.random.default_rng(0).integers(0, 256, (109, 64, 64, 3), dtype=np.uint8)
    offsets = np.array([6, 36, 72])[:, None] + 3 * np.arange(8)[None] + 3

    def earlier(flip: bool) -> object:
        frames = crop(window, 64, None)
        frames = frames[:, :, ::-1] if flip else frames
        return normalize(frames[offsets.reshape(-1)], spec).view(3, 3, 8, 64, 64)

    def calls(fn: Callable[[bool], object]) -> None:
        for i in range(repeats):
            fn(i % 2 == 0)

    fns: dict[str, Callable[[bool], object]] = {
        "to_clips": lambda f: to_clips(window, offsets, spec, 64, None, f, False),
        "normalize_window": earlier,
    }
    cpu = torch.device("cpu")  # `timed`: one warm-up pass of the calls, then one timed pass
    return {
        name: round(timed(lambda fn=fn: calls(fn), cpu, 1)["median_s"] / repeats * 1000, 3)
        for name, fn in fns.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.demo_levers")
    ap.add_argument("data", type=Path, help="a demo SynthDive folder (runs/demo/data)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=1, help="keep/system process pairs")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--parts", default="transforms,prefill,heap,jvm", help="comma-separated")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    keep_freed_memory()  # as in the `mtlaqa` commands (the heap A/B sets it per process)
    out = args.out or Path(__file__).parent / "results" / f"demo_levers-{kind_slug()}.json"
    res: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
    when = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpu_flags": sorted({"avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16"} & cpu_flags()),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
        "load_avg": os.getloadavg(),
    }
    res.setdefault("measured", {})
    if "transforms" in parts:
        res["transforms_ms"] = transform_ms()
        print("transforms, ms per sample:", res["transforms_ms"], flush=True)
    if "prefill" in parts:
        paths = [str(s.media) for s in read_manifest(args.data) if s.split in ("train", "val")]
        res["prefill_s"] = {
            "videos": len(paths),
            "decoder_threads_on": round(prefill_run(paths, True), 2),
            "decoder_threads_off": round(prefill_run(paths, False), 2),
        }
        print("prefill, 2 processes:", res["prefill_s"], flush=True)
    if "heap" in parts:
        res["heap"] = []
        for _ in range(args.pairs):
            for heap in ("keep", "system"):
                res["heap"].append(heap_run(args.data, heap, args.epochs))
                print("heap:", res["heap"][-1], flush=True)
    if "jvm" in parts:
        res["jvm"] = jvm_runs(args.data, args.pairs)
    for part in parts:
        res["measured"][part] = when
    out.write_text(json.dumps(res, indent=1))
    print(f"written {out}")


if __name__ == "__main__":
    main()
