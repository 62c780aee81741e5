"""Decode a dataset's windows into its memory cache on all cores before training starts.

With `data.cache: memory` and no DataLoader workers, epoch 1 decodes every video in the training
process, one at a time, between the training steps; later epochs read the cache. Decoding them
first in a pool of processes puts the other core(s) to work on it (Linux `fork` only: the child
processes share the dataset without pickling it). The cached arrays are the same either way.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from mtlaqa.data.dataset import DiveDataset
from mtlaqa.data.video import set_decoder_threads

_DS: DiveDataset | None = None  # the dataset the forked workers decode from


def _init_worker() -> None:
    set_decoder_threads(False)  # the pool already has a process per core


def _load(i: int) -> np.ndarray:
    assert _DS is not None
    frames = _DS.load_window(i)
    _DS._cache.pop(i, None)  # the parent keeps the copy
    return frames


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def prefill_memory_cache(ds: Dataset[Any], workers: int | None = None) -> int:
    """Fill ds's memory cache with `workers` processes (default: the usable cores); returns
    how many windows were decoded (0 where it does not apply: other cache modes, one core, no
    fork, a tiny dataset)."""
    global _DS
    ds = getattr(ds, "base", ds)  # a wrapper (e.g. the exemplar pairs) caches in its base dataset
    if not isinstance(ds, DiveDataset):
        return 0
    workers = usable_cores() if workers is None else workers
    todo = [i for i in range(len(ds)) if i not in ds._cache]
    if ds.cfg.cache != "memory" or workers < 2 or len(todo) < 2 * workers:
        return 0
    if "fork" not in mp.get_all_start_methods():
        return 0
    _DS = ds
    try:
        with mp.get_context("fork").Pool(workers, _init_worker) as pool:
            for i, frames in zip(todo, pool.imap(_load, todo, chunksize=4), strict=True):
                ds._cache[i] = frames
    finally:
        _DS = None
    return len(todo)
