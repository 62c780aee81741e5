"""AQA-7 (Parmar & Morris, WACV 2019) -> manifest: six sports, Split_4's 803/303 lists, one
frame folder of 103 frames per sample; `sport` carries the class (per-class ρ, per-class norm)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from mtlaqa.data.import_common import frame_folder, relpath, write_dataset
from mtlaqa.errors import DataError

CLASSES = {1: "diving", 2: "gym_vault", 3: "ski_big_air", 4: "snowboard_big_air",
           5: "sync_diving_3m", 6: "sync_diving_10m", 7: "trampoline"}  # fmt: skip
DEFAULT_CLASSES = tuple(CLASSES[i] for i in range(1, 7))  # trampoline is left out by everyone
FRAMES_PER_SAMPLE = 103
LISTS = {
    "train": ("split_4_train_list.mat", "consolidated_train_list"),
    "test": ("split_4_test_list.mat", "consolidated_test_list"),
}


def read_list(path: Path, variable: str) -> np.ndarray:
    """A Split_4 list as an (N, 3) float array of [class_id, sample_idx, score] rows."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        mat = loadmat(str(path))
    except (MatReadError, ValueError, TypeError, OSError, NotImplementedError) as e:
        raise DataError(f"{path}: not a readable .mat file ({e})") from None
    if variable not in mat:
        found = ", ".join(k for k in mat if not k.startswith("__")) or "none"
        raise DataError(f"{path}: no variable '{variable}' (found {found})")
    a = mat[variable]
    if not isinstance(a, np.ndarray) or a.ndim != 2 or a.shape[1] != 3 or a.dtype.kind not in "iuf":
        raise DataError(
            f"{path}: '{variable}' must be an N×3 numeric array [class_id, sample_idx, score], "
            f"got {getattr(a, 'dtype', type(a).__name__)} {getattr(a, 'shape', '')}"
        )
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise DataError(f"{path}: '{variable}' has non-finite values")
    return a


def _frames_root(root: Path) -> Path:
    for cand in (root, root / "frames"):
        if any((cand / f"{c}-out").is_dir() for c in CLASSES.values()):
            return cand
    raise DataError(f"{root}: no <class>-out frame folders (e.g. diving-out/001/img_00001.jpg)")


def _row(row: np.ndarray, i: int, path: Path, variable: str) -> tuple[int, int, float]:
    cls, idx, score = row
    where = f"{path}: '{variable}' row {i + 1}"
    if not float(cls).is_integer() or int(cls) not in CLASSES:
        raise DataError(f"{where}: class_id must be 1..7, got {cls:g}")
    if not float(idx).is_integer() or idx < 1:
        raise DataError(f"{where}: sample_idx must be a positive integer, got {idx:g}")
    return int(cls), int(idx), float(score)


def import_aqa7(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    classes: tuple[str, ...] | list[str] = DEFAULT_CLASSES,
) -> tuple[Path, str]:
    """Read `root/Split_4/*.mat` and the frame folders; write `out/manifest.jsonl`.

    Each row: id `<class>_<idx:03d>`, the split, `frames` (103 images, checked for gaps), the
    score and `sport` (the class name). Only `classes` are kept. Returns (path, summary).
    """
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise DataError(f"{root}: AQA-7 folder not found")
    unknown = [c for c in classes if c not in CLASSES.values()]
    if unknown:
        raise DataError(
            f"unknown AQA-7 classes {', '.join(unknown)} (known: {', '.join(CLASSES.values())})"
        )
    frames = _frames_root(root)
    entries: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for split, (file, variable) in LISTS.items():
        path = root / "Split_4" / file
        for i, row in enumerate(read_list(path, variable)):
            cls, idx, score = _row(row, i, path, variable)
            name = CLASSES[cls]
            if name not in classes:
                continue
            sid = f"{name}_{idx:03d}"
            if sid in seen:
                raise DataError(f"{path}: sample {sid} is also in the {seen[sid]} list")
            seen[sid] = split
            folder = frames / f"{name}-out" / f"{idx:03d}"
            expect = None if name == "trampoline" else FRAMES_PER_SAMPLE
            n = frame_folder(folder, expect, f"{path.name} row {i + 1}")
            entries.append({"id": sid, "split": split, "frames": relpath(folder, out),
                            "start_frame": 0, "end_frame": n, "score": score, "sport": name})  # fmt: skip
    return write_dataset(entries, out)
