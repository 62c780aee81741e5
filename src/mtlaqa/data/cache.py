"""Disk cache of decoded, resized dive windows: uint8 `.npy` files read back memory-mapped.

Decoding and resizing happen once per sample; later epochs (and other runs with the same
preprocessing) map the cached array instead. Entries are keyed by the media's content and the
preprocessing settings, so an edited video or a changed `resize` never reads a stale window.
Writes go to a unique temp file renamed into place, so DataLoader workers can share the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

CACHE_VERSION = 1  # bump when what load_window returns changes meaning
_FULL_HASH_LIMIT = 64 << 20  # files up to this size are hashed whole
_EDGE = 1 << 20  # larger files: size + mtime + hash of the first and last MiB


def default_cache_dir(dataset_root: str | os.PathLike[str] | None) -> Path:
    """`<dataset>/.mtlaqa_cache` when the dataset folder is writable, else ~/.cache/mtlaqa."""
    if dataset_root:
        root = Path(dataset_root)
        if root.is_file():
            root = root.parent
        if os.access(root, os.W_OK):
            return root / ".mtlaqa_cache"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mtlaqa"


def media_fingerprint(path: str | os.PathLike[str]) -> str:
    """Content hash of a video file (or of a frame folder's file list, sizes and mtimes)."""
    p = Path(path)
    h = hashlib.blake2b(digest_size=16)
    if p.is_dir():
        for f in sorted(p.iterdir()):
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns};".encode())
        return h.hexdigest()
    st = p.stat()
    h.update(str(st.st_size).encode())
    with p.open("rb") as fh:
        if st.st_size <= _FULL_HASH_LIMIT:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        else:  # a long event video: hashing it whole per sample would cost seconds
            h.update(str(st.st_mtime_ns).encode())
            h.update(fh.read(_EDGE))
            fh.seek(st.st_size - _EDGE)
            h.update(fh.read(_EDGE))
    return h.hexdigest()


class DiskCache:
    """Maps (media content, settings) -> a memory-mapped uint8 array on disk."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        # fingerprints memoised by (path, size, mtime): hashing once per process and file
        self._prints: dict[tuple[str, int, int], str] = {}

    def key(self, media: str | os.PathLike[str], settings: dict[str, Any]) -> str | None:
        """Cache key of a media file under the given preprocessing settings (None: no such file;
        the reader then reports it)."""
        try:
            st = Path(media).stat()
        except OSError:
            return None
        memo = (str(media), st.st_size, st.st_mtime_ns)
        fp = self._prints.get(memo)
        if fp is None:
            try:
                fp = self._prints[memo] = media_fingerprint(media)
            except OSError:
                return None
        blob = json.dumps({"v": CACHE_VERSION, "media": fp, **settings}, sort_keys=True)
        return hashlib.blake2b(blob.encode(), digest_size=16).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        """The cached array or None; mapped copy-on-write, so writes never reach the file (and torch
        accepts the array without a read-only warning)."""
        p = self._path(key)
        if not p.is_file():
            return None
        try:
            arr: np.ndarray = np.load(p, mmap_mode="c")
        except (OSError, ValueError) as e:  # a damaged entry: drop it and decode again
            log.warning("%s: unreadable cache entry removed (%s)", p, e)
            p.unlink(missing_ok=True)
            return None
        return arr

    def put(self, key: str, frames: np.ndarray) -> np.ndarray:
        """Store uint8 frames atomically; returns the memory-mapped copy (or `frames` if the cache
        cannot be written: a full or read-only disk only costs speed)."""
        p = self._path(key)
        tmp = p.with_name(f".{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp.npy")
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            np.save(tmp, np.ascontiguousarray(frames, dtype=np.uint8))
            os.replace(tmp, p)
        except OSError as e:
            log.warning("%s: cannot write the decode cache (%s)", self.root, e)
            tmp.unlink(missing_ok=True)
            return frames
        mapped: np.ndarray = np.load(p, mmap_mode="c")
        return mapped
