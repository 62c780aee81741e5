"""Calibrate an existing checkpoint's score intervals on its run's validation split
(`mtlaqa calibrate`): for checkpoints written before calibration existed, or to redo it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mtlaqa import conformal
from mtlaqa.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from mtlaqa.data.dataset import DiveDataset
from mtlaqa.data.loader import make_loader
from mtlaqa.data.manifest import read_manifest
from mtlaqa.data.splits import split_samples
from mtlaqa.device import amp_dtype, select_device
from mtlaqa.errors import MtlaqaError
from mtlaqa.evaluate import predict_loader
from mtlaqa.protocols import protocol_samples, to_final_units


def calibrate_checkpoint(
    checkpoint: str | os.PathLike[str],
    data_root: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    device: str = "auto",
    progress: bool = True,
) -> dict[str, Any]:
    """Predict the val split the run used (the manifest's, or carved with the run's seed and
    data.val_fraction), store the split-conformal calibration in `out` (default: in place)."""
    path = Path(checkpoint)
    path = path / "checkpoint.pt" if path.is_dir() else path
    ckpt = load_checkpoint(path)
    model, cfg, vocab, norm = model_from_checkpoint(ckpt, str(path))
    if "score" not in model.tasks:
        raise MtlaqaError(f"{path}: the model has no score head to calibrate")
    samples = read_manifest(data_root)
    val = split_samples(samples, cfg.data.val_fraction, cfg.train.seed)["val"]
    if not val:
        raise MtlaqaError(
            f"{data_root}: no validation split to calibrate on ({conformal.NO_VAL_NOTE})"
        )
    dev = select_device(device)
    model.to(dev)
    protocol = cfg.model.score_protocol
    ds = DiveDataset(
        protocol_samples(val, protocol), cfg.data, model.input_spec, False, vocab, norm, 0
    )
    loader = make_loader(ds, max(8, cfg.train.batch_size), False, 0, cfg.data.num_workers)
    pred = predict_loader(
        model, loader, dev, norm, vocab, False, amp_dtype(dev, cfg.train.amp), "val", progress
    )
    pred = to_final_units(pred, val, protocol)
    cal = conformal.calibrate(pred["score_pred"], pred["score_true"], pred.get("score_sigma"))
    save_checkpoint(Path(out) if out else path, {**ckpt, "conformal": cal})
    return cal
