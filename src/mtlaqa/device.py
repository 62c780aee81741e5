"""Device and mixed-precision choice: no hard-coded device anywhere else."""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from mtlaqa.errors import MtlaqaError


def select_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda when available, else cpu; 'cuda' without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise MtlaqaError("device 'cuda' requested but no CUDA GPU is available")
    if name.split(":")[0] not in ("cpu", "cuda"):
        raise MtlaqaError(f"unknown device {name!r} (auto, cpu or cuda)")
    return torch.device(name)


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has bf16 matrix units (AMX) or AVX-512 BF16; elsewhere bf16 is emulated."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    return bool({"amx_bf16", "avx512_bf16"} & flags)


def amp_dtype(device: torch.device, amp: str = "auto") -> torch.dtype | None:
    """The autocast dtype to use, or None for fp32."""
    if amp == "off":
        return None
    if amp == "bf16":
        return torch.bfloat16
    if amp == "fp16":
        if device.type != "cuda":
            raise MtlaqaError("amp 'fp16' needs a CUDA device; use bf16 or off on CPU")
        return torch.float16
    if amp != "auto":
        raise MtlaqaError(f"unknown amp {amp!r} (auto, bf16, fp16 or off)")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_fast_bf16() else None
