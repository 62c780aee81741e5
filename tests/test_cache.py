"""Disk cache of decoded windows, and DataLoader workers giving the same samples as no workers."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from mtlaqa.config import DataConfig
from mtlaqa.data.cache import DiskCache
from mtlaqa.data.dataset import DiveDataset
from mtlaqa.data.loader import make_loader
from mtlaqa.data.manifest import read_manifest
from mtlaqa.data.synth.generate import generate_synthdive
from mtlaqa.errors import MtlaqaError
from mtlaqa.inputspec import InputSpec


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sd")
    generate_synthdive(out, num=4, seed=5, size=32, workers=1, progress=False)
    return out


def _cfg(**kw) -> DataConfig:
    base = dict(num_clips=2, clip_len=8, stride=3, resize=[40, 32], crop_size=32, cache="none")
    base.update(kw)
    return DataConfig(**base)


def _entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.rglob("*.npy"))


def test_disk_cache_roundtrip_and_keys(synth: Path, tmp_path: Path) -> None:
    samples = read_manifest(synth)
    cdir = tmp_path / "cache"
    plain = DiveDataset(samples, _cfg(), InputSpec())
    disk = DiveDataset(samples, _cfg(cache="disk", cache_dir=str(cdir)), InputSpec())
    w0 = disk.load_window(0)
    assert len(_entries(cdir)) == 1 and isinstance(w0, np.memmap) and w0.dtype == np.uint8
    assert np.array_equal(np.asarray(w0), plain.load_window(0))
    again = DiveDataset(samples, _cfg(cache="disk", cache_dir=str(cdir)), InputSpec())
    hit = again.load_window(0)
    assert isinstance(hit, np.memmap) and np.array_equal(hit, w0) and len(_entries(cdir)) == 1
    assert torch.equal(again[0]["video"], plain[0]["video"])
    hit[:] = 0  # copy-on-write: the file keeps the decoded frames
    assert np.array_equal(DiveDataset(samples, disk.cfg, InputSpec()).load_window(0), w0)
    # other preprocessing -> another entry
    DiveDataset(
        samples, _cfg(cache="disk", cache_dir=str(cdir), resize=[48, 32]), InputSpec()
    ).load_window(0)
    assert len(_entries(cdir)) == 2


def test_changed_video_is_not_stale(synth: Path, tmp_path: Path) -> None:
    videos = tmp_path / "v"
    shutil.copytree(synth / "videos", videos)
    s = read_manifest(synth)[:1]
    s[0].video = str(videos / Path(s[0].video).name)
    cfg = _cfg(cache="disk", cache_dir=str(tmp_path / "c"))
    a = np.asarray(DiveDataset(s, cfg, InputSpec()).load_window(0)).copy()
    other = read_manifest(synth)[1].video
    shutil.copy(other, s[0].video)  # same name, other content
    b = DiveDataset(s, cfg, InputSpec()).load_window(0)
    assert not np.array_equal(a, b) and len(_entries(tmp_path / "c")) == 2


def test_damaged_entry_is_rebuilt(synth: Path, tmp_path: Path) -> None:
    samples = read_manifest(synth)[:1]
    cfg = _cfg(cache="disk", cache_dir=str(tmp_path / "c"))
    good = np.asarray(DiveDataset(samples, cfg, InputSpec()).load_window(0)).copy()
    (entry,) = _entries(tmp_path / "c")
    entry.write_bytes(b"not numpy")
    assert np.array_equal(DiveDataset(samples, cfg, InputSpec()).load_window(0), good)


def test_unknown_cache_mode() -> None:
    with pytest.raises(MtlaqaError, match="data.cache"):
        DiveDataset([], _cfg(cache="ssd"), InputSpec())


def test_cache_key_needs_existing_file(tmp_path: Path) -> None:
    assert DiskCache(tmp_path).key(tmp_path / "nope.mp4", {}) is None


@pytest.mark.parametrize("cache", ["none", "disk"])
def test_workers_give_the_same_samples(synth: Path, tmp_path: Path, cache: str) -> None:
    """Training randomness (jitter, crop, flip) comes from (seed, epoch, id), not the worker."""
    samples = read_manifest(synth)
    cfg = _cfg(cache=cache, cache_dir=str(tmp_path / "c"))
    out = {}
    for workers in (0, 2):
        ds = DiveDataset(samples, cfg, InputSpec(), train=True, seed=7)
        ds.set_epoch(3)
        loader = make_loader(ds, batch_size=2, shuffle=False, seed=0, workers=workers)
        out[workers] = torch.cat([b["video"] for b in loader])
    assert out[0].shape == (4, 2, 3, 8, 32, 32)
    assert torch.equal(out[0], out[2])
    # and the draws do depend on the epoch (the test could fail if randomness were ignored)
    ds = DiveDataset(samples, cfg, InputSpec(), train=True, seed=7)
    ds.set_epoch(4)
    assert not torch.equal(torch.stack([ds[i]["video"] for i in range(4)]), out[0])
    if cache == "disk":
        assert len(_entries(tmp_path / "c")) == 4
        assert not list((tmp_path / "c").rglob("*.tmp.npy"))
