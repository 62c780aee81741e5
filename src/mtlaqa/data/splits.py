"""Train/val/test splits of a manifest: the seeded, stratified val carve (design §5)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mtlaqa.data.manifest import Sample
from mtlaqa.errors import MtlaqaError


def carve_val(
    train: list[Sample], val_fraction: float, seed: int
) -> tuple[list[Sample], list[Sample], str]:
    """Seeded val carve, stratified by dive type when every sample has one.

    Samples are shuffled inside each dive type, the types are laid end to end in a seeded order,
    and every (1/val_fraction)-th position goes to val: each type gets its share (rounded) and the
    val size is exact, even when many types have a single sample (as in MTL-AQA).
    """
    rng = np.random.default_rng(seed)
    types = [s.dive_type() for s in train]
    stratified = all(t is not None for t in types)
    groups: dict[Any, list[int]] = {}
    for i, t in enumerate(types):
        groups.setdefault(t if stratified else 0, []).append(i)
    keys = list(groups)
    order = [i for k in rng.permutation(len(keys)) for i in rng.permutation(groups[keys[k]])]
    n = len(order)
    pick = {
        order[j]
        for j in range(n)
        if math.floor((j + 1) * val_fraction) > math.floor(j * val_fraction)
    }
    if not pick:
        pick = {order[0]}
    val = [s for i, s in enumerate(train) if i in pick]
    rest = [s for i, s in enumerate(train) if i not in pick]
    return rest, val, "carved-stratified" if stratified else "carved"


def split_samples(samples: list[Sample], val_fraction: float, seed: int) -> dict[str, list[Sample]]:
    """Train/val/test by the manifest's split; val carved from train (seeded, stratified) when absent."""
    out: dict[str, list[Sample]] = {
        k: [s for s in samples if s.split == k] for k in ("train", "val", "test")
    }
    if not out["val"] and val_fraction > 0 and len(out["train"]) >= 10:
        out["train"], out["val"], _ = carve_val(out["train"], val_fraction, seed)
    if not out["train"]:
        raise MtlaqaError("the dataset has no training samples (split 'train')")
    return out


def val_source(samples: list[Sample], splits: dict[str, list[Sample]]) -> str:
    """Where the val split came from: manifest, carved(-stratified) or none."""
    if not splits["val"]:
        return "none"
    if any(s.split == "val" for s in samples):
        return "manifest"
    both = splits["train"] + splits["val"]
    return "carved-stratified" if all(s.dive_type() is not None for s in both) else "carved"
