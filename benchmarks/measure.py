"""Timing, peak-memory, FLOP and matrix-peak helpers shared by the benchmarks."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode


def sync(device: torch.device) -> None:
    """Wait for queued GPU work so wall-clock timings are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(
    fn: Callable[[], Any], device: torch.device, repeats: int, warmup: int = 1
) -> dict[str, Any]:
    """Median (and all) wall-clock seconds of `fn` over `repeats` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "times_s": times}


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of one call of `fn` as torch.utils.flop_counter counts them (convs, matmuls)."""
    with FlopCounterMode(display=False) as fc:
        fn()
    return int(fc.get_total_flops())


def _trim_heap() -> None:
    """Give freed heap pages back to the OS (glibc), so RSS rises measure the block alone."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """Peak memory while the block runs: GPU allocator peak on CUDA, sampled process RSS on CPU.

    On CPU a thread reads /proc/self/statm every 2 ms; `peak_bytes` is the highest RSS seen and
    `delta_bytes` its rise over the RSS when the block started (what the block itself needed;
    freed heap is handed back to the OS first, else memory kept from earlier blocks hides it).
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak_bytes = 0
        self.delta_bytes = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, _rss_bytes())
            self._stop.wait(0.002)

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
        else:
            gc.collect()
            _trim_heap()
            self._start = _rss_bytes()
            self.peak_bytes = self._start
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device)
        else:
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self.peak_bytes, _rss_bytes())
        self.delta_bytes = self.peak_bytes - self._start


def matmul_peak(
    device: torch.device, dtype: torch.dtype, max_n: int, repeats: int = 3
) -> dict[str, Any]:
    """Achieved GFLOP/s of a square matmul: the size doubles from 256 until one product takes
    ≥ 0.2 s (or reaches max_n), so emulated dtypes (bf16 on AVX2) do not stall the run."""
    n = 256
    while True:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        t = timed(lambda a=a, b=b: a @ b, device, repeats=1, warmup=1)["median_s"]
        if t >= 0.2 or n * 2 > max_n:
            break
        n *= 2
    reps = max(repeats, 10) if t < 0.05 else repeats
    t = timed(lambda: a @ b, device, repeats=reps, warmup=1)["median_s"]
    return {
        "n": n,
        "dtype": str(dtype).removeprefix("torch."),
        "gflops": 2 * n**3 / t / 1e9,
        "median_s": t,
    }
