"""Pretrained backbone weights from local files (never downloaded), with a clear load report.

Reads current (zip) `torch.save` files and the old non-zip pickles of PyTorch 0.2–0.4 (the format of
`c3d.pickle`, `model_rgb.pth` and torchvision's video weights), always with `weights_only=True`.
Files saved before PyTorch 0.4.1 have no BatchNorm `num_batches_tracked` counters: those are left at
their initial value and counted as `defaulted`, not as missing (the counter only matters when
BatchNorm momentum is None, which no backbone here uses).
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from mtlaqa.errors import MtlaqaError


@dataclass
class LoadReport:
    """What a weight file filled in a module."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    defaulted: list[str] = field(default_factory=list)  # num_batches_tracked absent from old files

    def summary(self) -> str:
        """One line: counts of loaded, missing and unexpected tensors."""
        text = (
            f"{len(self.loaded)} tensors loaded, {len(self.missing)} missing, "
            f"{len(self.unexpected)} unexpected"
        )
        if self.defaulted:
            text += (
                f" ({len(self.defaulted)} BatchNorm step counters absent from the file, left at 0)"
            )
        return text


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """A state dict from a local file, read with `weights_only=True` (no arbitrary code)."""
    path = Path(path)
    if not path.is_file():
        raise MtlaqaError(f"{path}: weights file not found")
    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except UnicodeDecodeError:  # a Python 2 pickle (early PyTorch): byte strings need latin1
            obj = torch.load(path, map_location="cpu", weights_only=True, encoding="latin1")
    except (
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        OSError,
        ValueError,
        AttributeError,
        TypeError,
    ) as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise MtlaqaError(f"{path}: not a loadable weights file ({first})") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if (
        isinstance(obj, dict)
        and "model" in obj
        and "config" in obj
        and isinstance(obj["model"], dict)
    ):
        # an mtlaqa checkpoint: start a new run from another run's backbone
        obj = {
            k.removeprefix("backbone."): v
            for k, v in obj["model"].items()
            if k.startswith("backbone.")
        }
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise MtlaqaError(f"{path}: expected a dict of tensors (a state dict)")
    # checkpoints saved from nn.DataParallel prefix every key with 'module.'
    return {k.removeprefix("module."): v for k, v in obj.items()}


def load_into(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> LoadReport:
    """Copy matching tensors into `module`; a shape mismatch is refused naming the tensor."""
    own = module.state_dict()
    report = LoadReport()
    for k, v in state.items():
        if k not in own:
            report.unexpected.append(k)
            continue
        if tuple(own[k].shape) != tuple(v.shape):
            raise MtlaqaError(
                f"{source}: tensor '{k}' has shape {tuple(v.shape)}, "
                f"the model expects {tuple(own[k].shape)}"
            )
        report.loaded.append(k)
    absent = [k for k in own if k not in state]
    report.defaulted = [k for k in absent if k.endswith("num_batches_tracked")]
    report.missing = [k for k in absent if not k.endswith("num_batches_tracked")]
    with torch.no_grad():
        for k in report.loaded:
            own[k].copy_(state[k])
    return report


def load_backbone_weights(model: nn.Module, path: str | os.PathLike[str]) -> LoadReport:
    """Fill `model.backbone` from a file; fc6 (8192→4096 in c3d.pickle) fills the shared fc6 too.

    Classifier tensors of the public files (`fc7/fc8` of C3D, `logits.*` of I3D, `fc.*` of the
    torchvision video resnets) have no place in a backbone and are reported as unexpected.
    """
    state = read_state_dict(path)
    backbone = model.get_submodule("backbone")
    adapt = getattr(backbone, "adapt_weights", None)  # another port's names (I3D)
    if adapt is not None:
        state = adapt(state)
    backbone_state = {k: v for k, v in state.items() if not k.startswith(("fc6.", "fc7.", "fc8."))}
    report = load_into(backbone, backbone_state, str(path))
    flags = getattr(backbone, "flag_keys", ())  # settings kept as buffers, not weights
    report.loaded = [k for k in report.loaded if k not in flags]
    if not report.loaded:
        raise MtlaqaError(f"{path}: no tensor matches the backbone (is it the right file?)")
    shared = getattr(model, "shared", None)
    fc6 = {k: v for k, v in state.items() if k.startswith("fc6.")}
    if (
        fc6
        and shared is not None
        and tuple(shared.fc6.weight.shape) == tuple(fc6["fc6.weight"].shape)
    ):
        report.loaded += load_into(shared, fc6, str(path)).loaded
    else:
        report.unexpected += list(fc6)
    report.unexpected += [k for k in state if k.startswith(("fc7.", "fc8."))]
    return report
