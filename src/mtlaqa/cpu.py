"""CPU feature flags (no torch import: the SynthDive workers use them too)."""

from __future__ import annotations

import functools
import os
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


# oneDNN's ISA caps (ONEDNN_MAX_CPU_ISA) by the most capable kind each leaves usable
_ISA_CAPS = (
    (("SSE41", "AVX"), "other"),
    (("AVX2", "AVX2_VNNI", "AVX2_VNNI_2"), "AVX2"),
    (("AVX512_CORE", "AVX512_CORE_VNNI"), "AVX-512"),
    (("AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX10_1_512"), "AVX512-BF16"),
)
_KIND_ORDER = ("other", "AVX2", "AVX-512", "AVX512-BF16", "AMX")


def onednn_isa_cap() -> str:
    """The ISA cap set by ONEDNN_MAX_CPU_ISA ('' when unset or 'ALL'/'DEFAULT')."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    return "" if cap in ("", "ALL", "DEFAULT") else cap


def cpu_kind(flags: frozenset[str] | None = None, cap: str | None = None) -> str:
    """The CPU's matrix-relevant class: AMX, AVX512-BF16, AVX-512, AVX2 or other.

    From the flags, lowered to what oneDNN may use when ONEDNN_MAX_CPU_ISA caps it (how an AMX or
    AVX512-BF16 machine stands in for one without bf16 units). AMX and AVX512-BF16 run bf16 in
    hardware; the fast path picks bf16 on AMX only (`device.cpu_has_fast_bf16` says why) and
    runs fp32 on the others."""
    f = cpu_flags() if flags is None else flags
    kind = "other"
    for flag, name in (
        ("amx_bf16", "AMX"),
        ("avx512_bf16", "AVX512-BF16"),
        ("avx512f", "AVX-512"),
        ("avx2", "AVX2"),
    ):
        if flag in f:
            kind = name
            break
    cap = onednn_isa_cap() if cap is None else cap
    for names, capped in _ISA_CAPS:
        if cap in names and _KIND_ORDER.index(capped) < _KIND_ORDER.index(kind):
            return capped
    return kind


def kind_slug() -> str:
    """File-name form of the kind: 'avx2', or 'avx2-on-avx512bf16' when ONEDNN_MAX_CPU_ISA caps
    an AVX512-BF16 machine to AVX2 (a stand-in is never filed as the real thing)."""
    kind, real = cpu_kind(), cpu_kind(cap="")

    def slug(k: str) -> str:
        return k.lower().replace("-", "")

    return slug(kind) if kind == real else f"{slug(kind)}-on-{slug(real)}"
