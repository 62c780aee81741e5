"""The training order: shuffled per (seed, epoch), sharded over ranks, resumable mid-epoch."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


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
