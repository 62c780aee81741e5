"""The DataLoader of a DiveDataset: seeded, owning its generator, pinned only with a GPU."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Sampler

from mtlaqa.data.dataset import DiveDataset, collate
from mtlaqa.data.exemplars import BankDataset, ExemplarDataset


def make_loader(
    ds: DiveDataset | ExemplarDataset | BankDataset,
    batch_size: int,
    shuffle: bool,
    seed: int,
    workers: int,
    sampler: Sampler[int] | None = None,
) -> DataLoader[dict[str, Any]]:
    """DataLoader with a seeded shuffle (or the given sampler); pinned memory only with a GPU.

    The loader owns its generator, so making an iterator never draws from torch's global RNG
    (which exact resume restores).
    """
    g = torch.Generator()
    g.manual_seed(seed)
    return DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=shuffle if sampler is None else False,
        sampler=sampler,
        collate_fn=collate,
        num_workers=workers,
        generator=g,
        pin_memory=torch.cuda.is_available(),
        # the training set changes its random draws per epoch (set_epoch), which persistent
        # workers would not see
        persistent_workers=workers > 0 and sampler is None and not ds.train,
    )
