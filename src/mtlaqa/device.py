"""Device and mixed-precision choice: no hard-coded device anywhere else."""

from __future__ import annotations

import contextlib

import torch

from mtlaqa.cpu import cpu_kind
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


def cpu_has_fast_bf16() -> bool:
    """True when the CPU has AMX bf16 matrix units and ONEDNN_MAX_CPU_ISA leaves them to oneDNN.

    Not on AVX512-BF16 without AMX: there (an AMD EPYC Zen 5, 2026-12-02) bf16 autocast training
    of the demo model gave conv4 weight gradients of 1e33-1e36 in 1-5 of 10 steps, with or
    without channels_last and with oneDNN capped at AVX512_CORE, and the demo stopped on a NaN
    loss in its first epoch; fp32 gave none in 20 steps. Elsewhere bf16 is emulated."""
    return cpu_kind() == "AMX"


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


def inference_context(dtype: torch.dtype | None) -> contextlib.AbstractContextManager[None]:
    """No autograd for inference: `inference_mode` in fp32, `no_grad` under autocast.

    Autocast caches its weight casts only for tensors outside inference mode, so under
    `inference_mode` a greedy caption decode re-casts the GRU and vocabulary weights at every step
    (`python -m benchmarks.run`, CPU bf16: no_grad 1.23x the clips/s of inference_mode)."""
    return torch.no_grad() if dtype is not None else torch.inference_mode()
