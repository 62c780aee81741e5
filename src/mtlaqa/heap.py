"""Keep freed memory in the process's heap (glibc) instead of handing it back to the kernel.

glibc serves every allocation above its mmap threshold (at most 32 MB) with fresh pages from the
kernel and unmaps them on free. A training step of the demo allocates activations of ~150 MB
(24 clips × 16 channels × 24 frames × 64²) many times per step, so every step page-faults its
activations in again and the kernel zeroes them. With mmap off (`M_MMAP_MAX` 0) and a high trim
threshold the freed blocks stay in the heap and the next step reuses them: 3 demo epochs on the
AVX2 stand-in, two interleaved pairs of processes, ran at 76-98 instead of 58-79 clips/s with
10-15 instead of 22-27 s of system time, the same losses
(`python -m benchmarks.demo_levers`, benchmarks/results/demo_levers-avx2-on-avx512bf16.json).

The cost: the heap keeps its high-water mark until the process ends. `mtlaqa` commands turn it on;
`MTLAQA_MALLOC=system`, or any glibc malloc setting of the user's own in the environment, keeps
glibc's defaults.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_MAX = -4
_TRIM = 2**31 - 1  # mallopt takes an int: give memory back only above 2 GB free at the heap top
_USER_SETTINGS = (
    "MALLOC_MMAP_MAX_",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "GLIBC_TUNABLES",
)


def keep_freed_memory() -> bool:
    """Turn glibc's mmap for large blocks off and raise its trim threshold; returns whether it
    did (False off Linux/glibc, with `MTLAQA_MALLOC=system` or the user's own malloc settings)."""
    if not sys.platform.startswith("linux") or os.environ.get("MTLAQA_MALLOC") == "system":
        return False
    if any(k in os.environ for k in _USER_SETTINGS):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt parameters to set)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, _TRIM))
