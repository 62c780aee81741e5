"""Evaluate a checkpoint on a split of a dataset (the `mtlaqa evaluate` command)."""

from __future__ import annotations

import os
from typing import Any

from mtlaqa import conformal
from mtlaqa.data.dataset import DiveDataset
from mtlaqa.data.manifest import read_manifest
from mtlaqa.device import amp_dtype, select_device
from mtlaqa.engine import (
    compute_metrics,
    load_checkpoint,
    make_loader,
    model_from_checkpoint,
    predict_loader,
)
from mtlaqa.errors import MtlaqaError
from mtlaqa.models.frozen import frozen_backbone
from mtlaqa.protocols import protocol_samples, to_final_units


def evaluate_checkpoint(
    checkpoint: str | os.PathLike[str],
    data_root: str | os.PathLike[str],
    split: str = "test",
    device: str = "auto",
    meteor: bool = True,
    progress: bool = True,
    level: float = conformal.DEFAULT_LEVEL,
) -> dict[str, Any]:
    """Metrics of a checkpoint on `split`, with the class-only baseline from the train split, and
    the coverage of its conformal score intervals at `level` (and at 0.5 … 0.95)."""
    conformal.check_level(level)
    ckpt = load_checkpoint(checkpoint)
    model, cfg, vocab, norm = model_from_checkpoint(ckpt, str(checkpoint))
    dev = select_device(device)
    model.to(dev)
    model.channels_last = cfg.train.channels_last
    samples = read_manifest(data_root)
    chosen = [s for s in samples if s.split == split]
    if not chosen:
        raise MtlaqaError(f"{data_root}: no samples in split {split!r}")
    train = [s for s in samples if s.split == "train"] if split != "train" else None
    protocol = cfg.model.score_protocol
    targets = protocol_samples(chosen, protocol) if "score" in model.tasks else chosen
    ds = DiveDataset(
        targets,
        cfg.data,
        model.input_spec,
        False,
        vocab,
        norm,
        cfg.train.seed,
        cfg.model.caption_max_len,
    )
    loader = make_loader(ds, max(8, cfg.train.batch_size), False, 0, cfg.data.num_workers)
    dtype = amp_dtype(dev, cfg.train.amp)
    model.eval()
    with frozen_backbone(model, dev, dtype):  # fp32 CPU: a frozen TorchScript backbone
        pred = predict_loader(model, loader, dev, norm, vocab, True, dtype, split, progress)
    pred = to_final_units(pred, chosen, protocol)
    metrics: dict[str, Any] = compute_metrics(pred, chosen, train, meteor=meteor)
    metrics["protocol"] = protocol  # never mix protocols in one table: say which one this is
    if "score_pred" in pred:
        metrics.update(interval_part(ckpt.get("conformal"), pred, level))
    return metrics


def interval_part(cal: dict[str, Any] | None, pred: dict[str, Any], level: float) -> dict[str, Any]:
    """Interval metrics (flat: coverage at each curve level as coverage@L), or why there are none."""
    if not cal:
        return {"interval_note": conformal.NO_VAL_NOTE}
    iv = conformal.interval_metrics(
        cal, pred["score_pred"], pred["score_true"], pred.get("score_sigma"), level
    )
    curve = iv.pop("curve")
    iv.update(
        {f"coverage@{lv:.2f}": c for lv, c in zip(curve["levels"], curve["coverage"], strict=True)}
    )
    return iv
