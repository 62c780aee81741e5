"""What exact resume needs beyond weights: RNG states, the epoch's data order, LR schedules."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from mtlaqa.errors import MtlaqaError


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) generator states."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": _np_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put back the generator states `rng_state` captured."""
    random.setstate(_tuples(state["python"]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _np_state() -> list[Any]:
    # plain Python values: checkpoints are read with weights_only=True, which refuses ndarrays
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]


def _tuples(x: Any) -> Any:
    # torch.load(weights_only=True) gives lists where the generators want tuples
    if isinstance(x, list):
        return tuple(_tuples(v) for v in x)
    return x


class EpochSampler(Sampler[int]):
    """Shuffled order fixed by (seed, epoch), sharded over ranks, resumable mid-epoch.

    Rank r takes positions r, r+W, r+2W … of the epoch's permutation, so with per-rank batch B the
    ranks' k-th batches together are exactly the k-th global batch (B·W) of a single process. With
    several ranks the permutation is padded by repetition to a multiple of W (as
    DistributedSampler). `skip` drops the first indices of this rank's share (resume mid-epoch).
    """

    def __init__(
        self, n: int, seed: int, shuffle: bool = True, rank: int = 0, world: int = 1
    ) -> None:
        self.n, self.seed, self.shuffle, self.rank, self.world = n, seed, shuffle, rank, world
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Select the epoch's order and how many of this rank's indices are already done."""
        self.epoch, self.skip = epoch, skip

    def order(self) -> list[int]:
        """This rank's indices for the epoch, before skipping."""
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            perm = torch.randperm(self.n, generator=g).tolist()
        else:
            perm = list(range(self.n))
        if self.world > 1 and self.n % self.world:
            perm += perm[: self.world - self.n % self.world]
        return perm[self.rank :: self.world]

    def __iter__(self) -> Iterator[int]:
        return iter(self.order()[self.skip :])

    def __len__(self) -> int:
        return max(0, math.ceil(self.n / self.world) - self.skip)


def lr_lambda(schedule: str, warmup: int, total: int, min_ratio: float = 0.0):  # noqa: ANN201
    """Multiplier of the base LR at optimizer step s: linear warm-up, then constant or cosine."""
    if schedule not in ("constant", "cosine"):
        raise MtlaqaError(f"unknown train.schedule {schedule!r} (constant or cosine)")

    def f(step: int) -> float:
        if warmup > 0 and step < warmup:
            return (step + 1) / warmup
        if schedule == "constant":
            return 1.0
        t = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t))

    return f
