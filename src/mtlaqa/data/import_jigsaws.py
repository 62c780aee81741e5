"""JIGSAWS (Gao et al., 2014) -> manifest: one task's trials, the GRS (or one OSATS item) as the
score, and a leave-one-supertrial-out, leave-one-user-out or given 4-fold split."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from mtlaqa.data.import_common import relpath, write_dataset
from mtlaqa.data.video import video_info
from mtlaqa.errors import DataError

TASKS = ("Suturing", "Needle_Passing", "Knot_Tying")
OSATS = ("respect_for_tissue", "suture_needle_handling", "time_and_motion",
         "flow_of_operation", "overall_performance", "quality_of_final_product")  # fmt: skip
SCORES = ("grs", *OSATS)
SKILLS = {"N": "novice", "I": "intermediate", "E": "expert"}
SPLITS = ("loso", "louo", "folds")
_TRIAL = re.compile(r"^(?P<task>.+)_(?P<user>[A-Z])(?P<st>\d{3})$")


def read_meta(path: Path, task: str) -> list[dict[str, Any]]:
    """`meta_file_<Task>.txt` -> rows {trial, user, supertrial, skill, grs, osats}."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    rows: list[dict[str, Any]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        cells = line.split()
        if not cells:
            continue
        where = f"{path}:{n}"
        if len(cells) != 9:
            raise DataError(
                f"{where}: expected 9 tab-separated columns (trial, skill, GRS, six OSATS), got {len(cells)}"
            )
        m = _TRIAL.match(cells[0])
        if m is None or m["task"] != task:
            raise DataError(f"{where}: trial name {cells[0]!r} is not {task}_<user letter><NNN>")
        if cells[1] not in SKILLS:
            raise DataError(f"{where}: skill level must be N, I or E, got {cells[1]!r}")
        try:
            nums = [float(c) for c in cells[2:]]
        except ValueError:
            raise DataError(f"{where}: GRS and OSATS scores must be numbers: {cells[2:]}") from None
        rows.append({"trial": cells[0], "user": m["user"], "supertrial": int(m["st"]),
                     "skill": cells[1], "grs": nums[0], "osats": dict(zip(OSATS, nums[1:], strict=True))})  # fmt: skip
    if not rows:
        raise DataError(f"{path}: no trials")
    return rows


def read_folds(path: Path) -> list[list[str]]:
    """A folds file: JSON list of folds, each the list of that fold's trial names."""
    try:
        folds = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: not a readable JSON folds file ({e})") from None
    if not isinstance(folds, list) or not all(
        isinstance(f, list) and all(isinstance(t, str) for t in f) for f in folds
    ):
        raise DataError(f"{path}: expected a JSON list of folds, each a list of trial names")
    return folds


def _test_trials(
    rows: list[dict[str, Any]], split: str, fold: int, folds_file: Path | None
) -> set[str]:
    if split == "loso":
        groups = sorted({r["supertrial"] for r in rows})
        pick = [r["trial"] for r in rows if r["supertrial"] == groups[fold % len(groups)]]
    elif split == "louo":
        groups = sorted({r["user"] for r in rows})
        pick = [r["trial"] for r in rows if r["user"] == groups[fold % len(groups)]]
    else:
        if folds_file is None:
            raise DataError("--split folds needs --folds-file (a JSON list of trial-name lists)")
        folds = read_folds(folds_file)
        if not 0 <= fold < len(folds):
            raise DataError(f"{folds_file}: has {len(folds)} folds, --fold {fold} is not one")
        known = {r["trial"] for r in rows}
        unknown = [t for t in folds[fold] if t not in known]
        if unknown:
            raise DataError(f"{folds_file}: fold {fold} names unknown trials ({unknown[0]}, …)")
        pick = folds[fold]
    return set(pick)


def import_jigsaws(
    root: str | os.PathLike[str],
    task: str,
    out: str | os.PathLike[str],
    score: str = "grs",
    split: str = "louo",
    fold: int = 0,
    folds_file: str | os.PathLike[str] | None = None,
    check_videos: bool = True,
) -> tuple[Path, str]:
    """Read `root/<Task>/meta_file_<Task>.txt` and `<Task>/video/<trial>_capture1.avi`.

    `score` is 'grs' or an OSATS item; `split` 'loso' (test = supertrial number `fold`+1 of the
    sorted ones), 'louo' (test = the `fold`-th user letter) or 'folds' (test = fold `fold` of
    `folds_file`). Every row keeps the skill level, GRS and OSATS items, user and supertrial, so
    any other fold is one re-import away. Returns (manifest path, summary).
    """
    root, out = Path(root), Path(out)
    if task not in TASKS:
        raise DataError(f"unknown JIGSAWS task {task!r} (choose from {', '.join(TASKS)})")
    if score not in SCORES:
        raise DataError(f"unknown score {score!r} (choose from {', '.join(SCORES)})")
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r} (choose from {', '.join(SPLITS)})")
    rows = read_meta(root / task / f"meta_file_{task}.txt", task)
    test = _test_trials(rows, split, fold, Path(folds_file) if folds_file else None)
    entries = []
    for r in rows:
        video = root / task / "video" / f"{r['trial']}_capture1.avi"
        if not video.is_file():
            raise DataError(f"{video}: video of trial {r['trial']} not found")
        if check_videos:
            video_info(video)
        entries.append({
            "id": r["trial"], "split": "test" if r["trial"] in test else "train",
            "video": relpath(video, out), "sport": task,
            "score": r["grs"] if score == "grs" else r["osats"][score],
            "skill": r["skill"], "grs": r["grs"], "osats": r["osats"],
            "user": r["user"], "supertrial": r["supertrial"],
        })  # fmt: skip
    if not any(e["split"] == "train" for e in entries):
        raise DataError(f"{split} fold {fold}: every trial is in the test split")
    return write_dataset(entries, out)
