"""Data-path timings for one 96-frame sample: cold decode + preprocess vs cached loads."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.measure import timed
from mtlaqa.config import Config


def _upscaled_video(src: Path, dst: Path, size: tuple[int, int]) -> None:
    """Re-encode `src` at `size` (W, H): stands in for a full-resolution broadcast cut."""
    from mtlaqa.data.synth.generate import write_video
    from mtlaqa.data.video import read_frames

    write_video(read_frames(src, 0, 1 << 30, size), dst)


def measure_data_path(cfg: Config, spec: Any, repeats: int, video_size: int) -> dict[str, Any]:
    """Seconds per sample for: decode+preprocess (no cache), the memory cache, and an np.load
    memmap of the saved uint8 window (what a disk cache reads), all in training mode."""
    from mtlaqa.data.dataset import DiveDataset
    from mtlaqa.data.manifest import read_manifest
    from mtlaqa.data.synth.generate import generate_synthdive

    out: dict[str, Any] = {}
    dev = torch.device("cpu")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_synthdive(root, num=1, seed=0, size=video_size, workers=1, progress=False)
        sample = read_manifest(root)[0]
        cfg.data.cache = "none"
        cold = DiveDataset([sample], cfg.data, spec, train=True)
        out["video"] = (
            f"SynthDive {video_size}x{video_size} H.264, decoded to {cfg.data.resize[0]}x{cfg.data.resize[1]}"
        )
        out["window_frames"] = int(cold.load_window(0).shape[0])
        out["cold_s"] = timed(lambda: cold[0], dev, repeats)["median_s"]

        big = root / "videos" / "big.mp4"
        _upscaled_video(Path(sample.media), big, (640, 360))
        sample_big = dataclasses.replace(sample, video=str(big))
        cold_big = DiveDataset([sample_big], cfg.data, spec, train=True)
        out["cold_640x360_s"] = timed(lambda: cold_big[0], dev, repeats)["median_s"]

        cfg.data.cache = "memory"
        mem = DiveDataset([sample], cfg.data, spec, train=True)
        mem[0]  # fills the cache
        out["memory_cache_s"] = timed(lambda: mem[0], dev, repeats)["median_s"]

        cfg.data.cache, cfg.data.cache_dir = "disk", str(root / "cache")  # mtlaqa's disk cache
        disk_cache = DiveDataset([sample], cfg.data, spec, train=True)
        disk_cache[0]  # writes the entry
        out["disk_cache_s"] = timed(lambda: disk_cache[0], dev, repeats)["median_s"]

        npy = root / "window.npy"
        np.save(npy, mem.load_window(0))
        disk = DiveDataset([sample], cfg.data, spec, train=True)
        disk.load_window = lambda i: np.load(npy, mmap_mode="r")  # type: ignore[method-assign]
        out["npy_memmap_s"] = timed(lambda: disk[0], dev, repeats)["median_s"]
        out["npy_bytes"] = npy.stat().st_size
        # what is left once the window is in memory: crop, flip, uint8 -> float, normalize
        out["note"] = (
            "file in the OS page cache (decode cost, not disk cost); one sample, train mode"
        )
    return out
