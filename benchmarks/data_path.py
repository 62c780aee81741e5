"""Data path speed: one 96-frame sample cold (decode + resize) vs from the disk cache, and the
throughput of `prepare-mtl-aqa` (dives per second).

    PYTHONPATH=src python benchmarks/data_path.py [--size 256] [--repeats 10] [--dives 16]

Timings on a shared machine are noisy; the median of `--repeats` runs is reported. "Cached" reads
an entry the OS still has in its page cache (a warm disk); the first epoch pays the cold cost.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from mtlaqa.config import DataConfig
from mtlaqa.data.dataset import DiveDataset
from mtlaqa.data.manifest import read_manifest
from mtlaqa.data.prepare import prepare_mtl_aqa
from mtlaqa.data.synth.generate import generate_synthdive
from mtlaqa.data.synth.release_layout import generate_release_synth
from mtlaqa.models.registry import InputSpec


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def sample_load(tmp: Path, size: int, repeats: int) -> None:
    generate_synthdive(tmp / "sd", num=1, seed=0, size=size, workers=1, progress=False)
    samples = read_manifest(tmp / "sd")
    # the paper's preprocessing: 103-frame window ±3 jitter, 171×128 resize, 6 clips × 16 = 96 frames
    base = dict(num_clips=6, clip_len=16, resize=[171, 128], crop_size=112)
    cold = DiveDataset(samples, DataConfig(**base, cache="none"), InputSpec(), train=True)
    disk = DiveDataset(
        samples,
        DataConfig(**base, cache="disk", cache_dir=str(tmp / "cache")),
        InputSpec(),
        train=True,
    )
    disk[0]  # fills the cache
    print(
        f"video {size}x{size} H.264, sample = 6x16 frames at 112x112 (window 109 frames at 171x128)"
    )
    print(f"  window only, cold  : {_median_ms(lambda: cold.load_window(0), repeats):7.1f} ms")
    print(f"  window only, cached: {_median_ms(lambda: disk.load_window(0), repeats):7.1f} ms")
    print(f"  sample, cold       : {_median_ms(lambda: cold[0], repeats):7.1f} ms")
    print(f"  sample, cached     : {_median_ms(lambda: disk[0], repeats):7.1f} ms")


def prepare_speed(tmp: Path, size: int, dives: int) -> None:
    generate_release_synth(tmp / "rel", num=dives, seed=0, size=size, per_video=8, progress=False)
    t = time.perf_counter()
    s = prepare_mtl_aqa(
        tmp / "rel" / "MTL-AQA_dataset_release", tmp / "rel" / "videos", tmp / "out", progress=False
    )
    dt = time.perf_counter() - t
    assert s.ok, s.format()
    print(
        f"prepare-mtl-aqa: {dives} dives from {size}x{size} event videos in {dt:.2f} s = {dives / dt:.1f} dives/s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--dives", type=int, default=16)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        sample_load(Path(d), a.size, a.repeats)
        prepare_speed(Path(d), a.size, a.dives)


if __name__ == "__main__":
    main()
