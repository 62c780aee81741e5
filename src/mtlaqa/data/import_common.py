"""What the public-dataset importers share: a restricted unpickler that also rebuilds numpy
arrays, checks of numbers and frame folders, and writing the manifest with a one-line summary."""

from __future__ import annotations

import math
import os
import pickle
import re
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mtlaqa.data.manifest import write_manifest
from mtlaqa.data.safe_pickle import _RestrictedUnpickler
from mtlaqa.data.video import IMAGE_EXTS
from mtlaqa.errors import DataError

_NUMBER_AT_END = re.compile(r"(\d+)$")


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    """numpy's array reconstructor, for plain ndarrays only (no subclasses, no object dtype)."""
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError(f"array subclass {subtype!r} is not allowed")
    empty: np.ndarray = np.ndarray.__new__(np.ndarray, shape, dtype)
    return empty


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    """How protocol 5 pickles arrays; plain dtypes only."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError(f"array of dtype {dtype!r} is not allowed")
    if not isinstance(buf, (bytes, bytearray)) or order not in ("C", "F"):
        raise pickle.UnpicklingError("array data must be in-band bytes")
    layout: Literal["C", "F"] = "C" if order == "C" else "F"
    arr: np.ndarray = np.frombuffer(bytes(buf), dtype).reshape(shape, order=layout).copy()
    return arr


class _ArrayUnpickler(_RestrictedUnpickler):
    """The release's restricted unpickler plus plain numpy arrays (FineDiving's step labels)."""

    def find_class(self, module: str, name: str) -> Any:
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "_reconstruct":
            return _reconstruct
        if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
            return _frombuffer
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        return super().find_class(module, name)


def load_pickle(path: str | os.PathLike[str]) -> Any:
    """Unpickle builtins, numpy scalars and numpy arrays only; problems are one-line DataErrors."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with path.open("rb") as f:
            obj = _ArrayUnpickler(f).load()
    except pickle.UnpicklingError as e:
        raise DataError(f"{path}: unsafe or invalid pickle ({e})") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, OSError) as e:
        raise DataError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from None
    _no_object_arrays(obj, path)
    return obj


def _no_object_arrays(obj: Any, path: Path, depth: int = 0) -> None:
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        raise DataError(f"{path}: arrays of Python objects are not allowed")
    if depth < 4 and isinstance(obj, dict):
        for v in obj.values():
            _no_object_arrays(v, path, depth + 1)
    elif depth < 4 and isinstance(obj, (list, tuple)):
        for v in obj:
            _no_object_arrays(v, path, depth + 1)


def number(v: Any, where: str) -> float:
    """A finite float from an int/float/numpy number, else a DataError naming `where`."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise DataError(f"{where} must be a number, got {type(v).__name__} {v!r}")
    x = float(v)
    if not math.isfinite(x):
        raise DataError(f"{where} must be finite, got {v!r}")
    return x


def integer(v: Any, where: str) -> int:
    """A non-negative int (Python or numpy integer), else a DataError naming `where`."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 0:
        raise DataError(f"{where} must be a non-negative integer, got {v!r}")
    return int(v)


def int_list(v: Any, where: str) -> list[int]:
    """A list/tuple/1-D integer array as a list of Python ints."""
    if isinstance(v, np.ndarray):
        if v.ndim != 1 or not np.issubdtype(v.dtype, np.integer):
            raise DataError(f"{where} must be a 1-D integer array, got {v.dtype} {v.shape}")
        return [int(x) for x in v]
    if not isinstance(v, (list, tuple)):
        raise DataError(f"{where} must be a list of integers, got {type(v).__name__}")
    return [integer(x, where) for x in v]


def frame_folder(folder: Path, expect: int | None = None, where: str = "") -> int:
    """Number of frames in an image folder whose files are numbered without gaps.

    The frame reader takes files in sorted order, so a missing number would silently shift
    every later frame: a gap, a file without a number, or a count other than `expect` is a
    one-line DataError naming the folder (and `where`, the annotation it belongs to).
    """
    tag = f" ({where})" if where else ""
    if not folder.is_dir():
        raise DataError(f"{folder}: frame folder not found{tag}")
    nums: list[int] = []
    for p in folder.iterdir():
        if p.suffix.lower() not in IMAGE_EXTS:
            continue
        m = _NUMBER_AT_END.search(p.stem)
        if m is None:
            raise DataError(f"{p}: frame file name has no frame number{tag}")
        nums.append(int(m.group(1)))
    if not nums:
        raise DataError(f"{folder}: no image frames{tag}")
    nums.sort()
    for a, b in zip(nums, nums[1:], strict=False):
        if b != a + 1:
            what = f"frame {a} is repeated" if a == b else f"frames {a + 1}..{b - 1} are missing"
            raise DataError(f"{folder}: {what} (a gap in the numbering){tag}")
    if expect is not None and len(nums) != expect:
        raise DataError(f"{folder}: {len(nums)} frames, the annotation says {expect}{tag}")
    return len(nums)


def relpath(path: Path, out: Path) -> str:
    """`path` relative to the dataset folder (the manifest stores relative media paths)."""
    return os.path.relpath(path.resolve(), out.resolve())


_ORDER = ("id", "split", "video", "frames", "start_frame", "end_frame", "score", "difficulty",
          "judges", "sport", "code", "position", "armstand", "rotation_type", "ss_no", "tw_no", "step_labels")  # fmt: skip


def write_dataset(entries: list[dict[str, Any]], out: str | os.PathLike[str]) -> tuple[Path, str]:
    """Write `out/manifest.jsonl`; returns its path and a one-line summary of the splits."""
    if not entries:
        raise DataError(f"{out}: nothing to import (no samples)")
    rank = {k: i for i, k in enumerate(_ORDER)}

    def position(item: tuple[str, Any]) -> int:
        return rank.get(item[0], len(rank))

    rows = [dict(sorted(e.items(), key=position)) for e in entries]
    path = write_manifest(rows, Path(out) / "manifest.jsonl")
    splits = Counter(e["split"] for e in entries)
    parts = [f"{k} {splits[k]}" for k in ("train", "val", "test") if splits[k]]
    return path, f"wrote {len(entries)} samples to {path} ({', '.join(parts)})"
