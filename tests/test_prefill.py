"""data/prefill.py: the memory cache filled by worker processes holds what decoding gives."""

from __future__ import annotations

import copy

import numpy as np

from mtlaqa.data.dataset import DiveDataset
from mtlaqa.data.manifest import read_manifest
from mtlaqa.data.prefill import prefill_memory_cache
from mtlaqa.models.mtl import MTLModel


def _dataset(cfg, samples) -> DiveDataset:
    spec = MTLModel(cfg.model, cfg.data.clip_len, cfg.data.crop_size, 10, cfg.data.num_clips)
    return DiveDataset(samples, cfg.data, spec.input_spec, train=True)


def test_prefill_matches_decoding(synth_dir, tiny_cfg):
    samples = read_manifest(synth_dir)
    ds = _dataset(tiny_cfg, samples)
    assert prefill_memory_cache(ds, workers=2) == len(samples)
    plain = _dataset(tiny_cfg, samples)
    for i in range(len(samples)):
        assert np.array_equal(ds._cache[i], plain.load_window(i))
    assert prefill_memory_cache(ds, workers=2) == 0  # all cached already


def test_prefill_only_for_the_memory_cache(synth_dir, tiny_cfg):
    cfg = copy.deepcopy(tiny_cfg)
    cfg.data.cache = "none"
    ds = _dataset(cfg, read_manifest(synth_dir))
    assert prefill_memory_cache(ds, workers=2) == 0 and not ds._cache
    mem = _dataset(tiny_cfg, read_manifest(synth_dir))
    assert prefill_memory_cache(mem, workers=1) == 0  # one core: nothing to gain
