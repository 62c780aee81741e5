"""Exemplars for relative scoring (CoRe-style, `model.score_head=exemplar`).

Training pairs each query with a scored training dive of the same dive type (the five attributes),
falling back to the nearest dive types by attributes when the query's type has no other sample.
The pick is deterministic per (seed, epoch, query id). Inference compares a video with a bank of
exemplars drawn deterministically from the training split (up to K per dive type).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from mtlaqa.data.dataset import DiveDataset, sample_seed
from mtlaqa.data.manifest import Sample
from mtlaqa.errors import MtlaqaError

DiveType = tuple[int, ...]


def attribute_distance(a: Sequence[int], b: Sequence[int]) -> int:
    """How many of the five attributes differ between two dive types."""
    return sum(int(x != y) for x, y in zip(a, b, strict=True))


def nearest_types(target: Sequence[int], types: Sequence[DiveType]) -> list[DiveType]:
    """The dive types of `types` at the smallest attribute distance from `target` (sorted)."""
    if not types:
        return []
    dist = {t: attribute_distance(target, t) for t in types}
    best = min(dist.values())
    return sorted(t for t, d in dist.items() if d == best)


class ExemplarPairing:
    """Which training sample is the exemplar of query i in a given epoch.

    Candidates of a query: the other scored samples of its dive type; when there is none, the
    scored samples of the nearest other dive types; a query without attributes draws from all
    scored samples.
    """

    def __init__(self, samples: list[Sample], seed: int) -> None:
        self.samples, self.seed = samples, seed
        scored = [i for i, s in enumerate(samples) if s.score is not None]
        if len(scored) < 2:
            raise MtlaqaError("score_head=exemplar needs at least two scored training samples")
        by_type: dict[DiveType, list[int]] = {}
        for i in scored:
            t = samples[i].dive_type()
            if t is not None:
                by_type.setdefault(t, []).append(i)
        self.candidates: list[np.ndarray] = []
        self.same_type: list[bool] = []
        for i, s in enumerate(samples):
            t = s.dive_type()
            same = [j for j in by_type.get(t, []) if j != i] if t is not None else []
            if same:
                cand = same
            elif t is not None and len(by_type) > (1 if t in by_type else 0):
                near = nearest_types(t, [u for u in by_type if u != t])
                cand = [j for u in near for j in by_type[u]]
            else:
                cand = [j for j in scored if j != i]
            self.candidates.append(np.asarray(cand, dtype=np.int64))
            self.same_type.append(bool(same))

    def exemplar(self, i: int, epoch: int) -> int:
        """Index of the exemplar of sample i in this epoch (deterministic)."""
        cand = self.candidates[i]
        rng = np.random.default_rng(sample_seed(self.seed, epoch, "exemplar:" + self.samples[i].id))
        return int(cand[rng.integers(len(cand))])


class ExemplarDataset(Dataset[dict[str, Any]]):
    """A training DiveDataset whose items also carry their exemplar's clips and score."""

    def __init__(self, base: DiveDataset, pairing: ExemplarPairing) -> None:
        self.base, self.pairing = base, pairing

    @property
    def train(self) -> bool:
        return self.base.train

    def set_epoch(self, epoch: int) -> None:
        """Change the random draws and the exemplar pairs (call once per epoch)."""
        self.base.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = self.base[i]
        ex = self.base[self.pairing.exemplar(i, self.base.epoch)]
        item["exemplar_video"] = ex["video"]  # (K, 3, T, S, S)
        item["exemplar_score"] = ex["score"]  # normalised, the protocol's target
        return item


def bank_indices(samples: list[Sample], per_type: int, seed: int) -> list[int]:
    """Up to `per_type` scored samples of each dive type, drawn deterministically from `seed`.

    Types in sorted order (samples without attributes form one last group); inside a type the
    first `per_type` of a seeded permutation of its samples in manifest order.
    """
    if per_type < 1:
        raise MtlaqaError(f"model.exemplars must be >= 1, got {per_type}")
    groups: dict[DiveType | None, list[int]] = {}
    for i, s in enumerate(samples):
        if s.score is not None:
            groups.setdefault(s.dive_type(), []).append(i)
    keys: list[DiveType | None] = [*sorted(k for k in groups if k is not None)]
    keys += [None] if None in groups else []
    out: list[int] = []
    for k in keys:
        g = groups[k]
        rng = np.random.default_rng(zlib.crc32(f"{seed}:bank:{k}".encode()))
        out += [g[j] for j in rng.permutation(len(g))[:per_type]]
    return out


class BankDataset(Dataset[dict[str, Any]]):
    """The bank's samples read through the training dataset (sharing its decoded windows),
    without augmentation."""

    train = False

    def __init__(self, base: DiveDataset, indices: list[int]) -> None:
        self.base, self.indices = base, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, j: int) -> dict[str, Any]:
        return self.base.item(self.indices[j], augment=False)
