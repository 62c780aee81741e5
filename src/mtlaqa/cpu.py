"""CPU feature flags (no torch import: the SynthDive workers use them too)."""

from __future__ import annotations

import functools
from pathlib import Path


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of /proc/cpuinfo (empty where it cannot be read)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_kind(flags: frozenset[str] | None = None) -> str:
    """The CPU's matrix-relevant class from its flags: AMX, AVX512-BF16, AVX-512, AVX2 or other.

    AMX and AVX512-BF16 run bf16 in hardware (the fast path picks bf16 there); on AVX-512 and
    AVX2 bf16 is emulated and the fast path runs fp32."""
    f = cpu_flags() if flags is None else flags
    for flag, kind in (
        ("amx_bf16", "AMX"),
        ("avx512_bf16", "AVX512-BF16"),
        ("avx512f", "AVX-512"),
        ("avx2", "AVX2"),
    ):
        if flag in f:
            return kind
    return "other"
