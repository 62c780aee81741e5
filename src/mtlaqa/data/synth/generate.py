"""Generate SynthDive: labels (seeded per sample), rendered H.264 videos, manifest and hidden
truth (`synth_meta.jsonl`)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np
from tqdm import tqdm

from mtlaqa.cpu import cpu_flags
from mtlaqa.data.manifest import write_manifest
from mtlaqa.data.synth.caption import make_caption
from mtlaqa.data.synth.catalogue import ATTRS, draw_dive
from mtlaqa.data.synth.render import END_FRAME, NUM_FRAMES, render_dive

FPS = 25
CRF = 20


def _split_of(num: int, seed: int, splits: Sequence[float]) -> list[str]:
    rng = np.random.default_rng([seed, 991])
    order = rng.permutation(num)
    n_train = int(round(splits[0] * num))
    n_val = int(round(splits[1] * num))
    out = ["test"] * num
    for rank, i in enumerate(order):
        out[i] = "train" if rank < n_train else ("val" if rank < n_train + n_val else "test")
    return out


def sample_labels(
    num: int, seed: int = 0, splits: Sequence[float] = (0.7, 0.1, 0.2)
) -> list[dict[str, Any]]:
    """Labels, hidden quality/flaws, timing and caption of `num` dives (no rendering)."""
    split = _split_of(num, seed, splits)
    out = []
    for i in range(num):
        rng = np.random.default_rng([seed, i])
        d = draw_dive(rng)
        start = int(rng.integers(9, 15))
        d.update(
            id=f"d{i + 1:05d}",
            split=split[i],
            start_frame=start,
            end_frame=END_FRAME,
            # entry early enough that the splash lies in the first 96 window frames (design §1)
            entry_frame=int(rng.integers(78, 83)),
            num_frames=NUM_FRAMES,
            scene_seed=[int(seed), i],
        )
        d["caption"] = make_caption(d, rng)
        out.append(d)
    return out


def manifest_entry(d: dict[str, Any]) -> dict[str, Any]:
    """The public manifest object of one sampled dive (design §4)."""
    return {
        "id": d["id"],
        "video": f"videos/{d['id']}.mp4",
        "split": d["split"],
        "start_frame": d["start_frame"],
        "end_frame": d["end_frame"],
        "score": d["score"],
        "difficulty": d["difficulty"],
        "judges": d["judges"],
        **{k: int(d[k]) for k in ATTRS},
        "caption": d["caption"],
    }


def x264_determinism() -> dict[str, str]:
    """Encoder options that make the same frames give the same bytes on every run.

    Measured on an AVX-512 Xeon: x264's AVX-512 code gave different bitstreams for the same frames
    from run to run (1-3 of 6 videos differed); limited to AVX2 (the set older CPUs use anyway),
    6 concurrent runs were byte-identical and equal to an AVX2 machine's output. A CPU without
    AVX-512 keeps x264's own choice (never told to use AVX2 it may lack). One encoder thread: the
    workers already run one video each."""
    opts = {"threads": "1"}
    if "avx512bw" in cpu_flags():
        opts["x264-params"] = "asm=AVX2"
    return opts


def write_video(frames: np.ndarray, path: Path) -> None:
    """Write (T, H, W, 3) uint8 frames as H.264 (yuv420p) to path via a temp file + rename."""
    tmp = path.with_name(path.stem + ".tmp.mp4")
    with av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(CRF), "preset": "veryfast", **x264_determinism()}
        for img in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode(None))
    os.replace(tmp, path)


def _render_one(job: tuple[dict[str, Any], int, str]) -> str:
    d, size, path = job
    write_video(render_dive(d, size), Path(path))
    return str(d["id"])


def generate_synthdive(
    out: Path,
    num: int,
    seed: int = 0,
    size: int = 112,
    workers: int = 2,
    splits: Sequence[float] = (0.7, 0.1, 0.2),
    progress: bool = True,
) -> Path:
    """Render `num` dives into `out` (videos/, manifest.jsonl, synth_meta.jsonl); return the
    manifest path. The same seed gives the same labels and frames for any `workers`."""
    if size % 2:
        raise ValueError(f"size must be even for yuv420p video, got {size}")
    out = Path(out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    dives = sample_labels(num, seed, splits)
    jobs = [(d, size, str(out / "videos" / f"{d['id']}.mp4")) for d in dives]
    bar = tqdm(total=num, desc="synthdive", unit="dive", disable=not progress)
    if workers > 1:
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ctx.Pool(workers) as pool:
            for _ in pool.imap_unordered(_render_one, jobs, chunksize=2):
                bar.update(1)
    else:
        for job in jobs:
            _render_one(job)
            bar.update(1)
    bar.close()
    meta_tmp = out / "synth_meta.jsonl.tmp"
    with meta_tmp.open("w", encoding="utf-8") as f:
        for d in dives:
            hidden = {
                k: d[k]
                for k in ("id", "number", "height", "quality", "flaws", "entry_frame", "scene_seed")
            }
            f.write(json.dumps(hidden) + "\n")
    os.replace(meta_tmp, out / "synth_meta.jsonl")
    return write_manifest([manifest_entry(d) for d in dives], out / "manifest.jsonl")
