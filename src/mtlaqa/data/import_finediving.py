"""FineDiving (Xu et al., CVPR 2022) -> manifest: scores, DD, judges, FINA code -> attributes,
per-frame step labels, the official 2251/749 split, over the released trimmed frame folders."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from mtlaqa.data.import_common import (
    frame_folder,
    int_list,
    integer,
    load_pickle,
    number,
    relpath,
    write_dataset,
)
from mtlaqa.errors import DataError
from mtlaqa.schema import parse_dive_number

COARSE = "FineDiving_coarse_annotation.pkl"
FINE = "FineDiving_fine-grained_annotation.pkl"
STEP_TABLE = "Sub_action_Types_Table.pkl"
SPLITS = {"train": "train_split.pkl", "test": "test_split.pkl"}
COARSE_FIELDS = ("action_type", "start_frame", "end_frame", "dive_score", "difficulty",
                 "judge_scores")  # fmt: skip
FINE_FIELDS = ("action_type", "dive_score", "difficulty", "frames_labels")
STEP_TYPES_FILE = "step_types.json"

Key = tuple[str, int]


def _key(k: Any, where: str) -> Key:
    if isinstance(k, (tuple, list)) and len(k) == 2 and isinstance(k[0], str):
        return (k[0], integer(k[1], f"{where}: key {k!r} index"))
    raise DataError(f"{where}: key {k!r} is not an (event_name, index) pair")


def _entries(path: Path, fields: tuple[str, ...]) -> dict[Key, dict[str, Any]]:
    raw = load_pickle(path)
    if not isinstance(raw, dict) or not raw:
        raise DataError(f"{path}: expected a non-empty dict keyed (event, index)")
    out: dict[Key, dict[str, Any]] = {}
    for k, v in raw.items():
        key = _key(k, str(path))
        if not isinstance(v, dict):
            raise DataError(f"{path}: entry {key} is not a dict")
        missing = [f for f in fields if f not in v]
        if missing:
            raise DataError(f"{path}: entry {key} lacks key {', '.join(missing)}")
        out[key] = v
    return out


def _split(path: Path, known: dict[Key, Any]) -> list[Key]:
    raw = load_pickle(path)
    if not isinstance(raw, (list, tuple)):
        raise DataError(f"{path}: expected a list of (event, index) keys")
    keys = [_key(k, str(path)) for k in raw]
    missing = [k for k in keys if k not in known]
    if missing:
        raise DataError(f"{path}: {len(missing)} keys have no annotation (first {missing[0]})")
    return keys


def _step_table(path: Path) -> dict[int, str]:
    raw = load_pickle(path)
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise DataError(f"{path}: expected a dict {{step id: name}}")
    return {integer(k, f"{path}: step id"): v for k, v in raw.items()}


def _entry(
    key: Key, c: dict[str, Any], f: dict[str, Any], ann: Path, frames: Path
) -> dict[str, Any]:
    where = f"{ann / COARSE}: entry {key}"
    code = c["action_type"]
    if not isinstance(code, str):
        raise DataError(f"{where} key 'action_type' must be a string, got {code!r}")
    judges = c["judge_scores"]
    if isinstance(judges, np.ndarray) and judges.ndim == 1:
        judges = judges.tolist()
    if not isinstance(judges, (list, tuple)) or len(judges) not in (3, 5, 7):
        raise DataError(f"{where} key 'judge_scores' must be a list of 3, 5 or 7 numbers")
    e: dict[str, Any] = {
        "id": f"{key[0]}_{key[1]}",
        "score": number(c["dive_score"], f"{where} key 'dive_score'"),
        "difficulty": number(c["difficulty"], f"{where} key 'difficulty'"),
        "judges": [number(j, f"{where} key 'judge_scores'") for j in judges],
        "code": code,
    }
    # the dive's frame numbers in the untrimmed event video (kept for reference)
    e["event_frames"] = [integer(c[k], f"{where} key '{k}'") for k in ("start_frame", "end_frame")]
    try:
        e.update(parse_dive_number(code))
    except ValueError as err:
        raise DataError(f"{where} key 'action_type': {err}") from None
    fwhere = f"{ann / FINE}: entry {key}"
    if str(f["action_type"]).upper() != code.upper():
        raise DataError(f"{fwhere} key 'action_type' {f['action_type']!r} differs from {code!r}")
    labels = int_list(f["frames_labels"], f"{fwhere} key 'frames_labels'")
    folder = frames / key[0] / str(key[1])
    n = frame_folder(folder, len(labels), f"{fwhere} key 'frames_labels' has {len(labels)}")
    e["frames"], e["start_frame"], e["end_frame"] = folder, 0, n
    e["step_labels"] = labels
    if "steps_transit_frames" in f:
        e["transits"] = int_list(f["steps_transit_frames"], f"{fwhere} key 'steps_transit_frames'")
    e["event"], e["event_index"] = key
    return e


def import_finediving(
    annotations: str | os.PathLike[str], frames: str | os.PathLike[str], out: str | os.PathLike[str]
) -> tuple[Path, str]:
    """Read the FineDiving annotation folder and frame root; write `out/manifest.jsonl`.

    Rows carry the dive score, DD, judges' marks, the FINA code and its five attributes, the
    per-frame step labels (`step_labels`, one per frame of `frames`) and the official split;
    `out/step_types.json` holds the step-id -> name table. Returns (manifest path, summary).
    """
    ann, frames, out = Path(annotations), Path(frames), Path(out)
    if not ann.is_dir():
        raise DataError(f"{ann}: annotation folder not found")
    if not frames.is_dir():
        raise DataError(f"{frames}: frame folder not found")
    coarse = _entries(ann / COARSE, COARSE_FIELDS)
    fine = _entries(ann / FINE, FINE_FIELDS)
    steps = _step_table(ann / STEP_TABLE)
    split_of: dict[Key, str] = {}
    for name, file in SPLITS.items():
        for k in _split(ann / file, coarse):
            if k in split_of:
                raise DataError(f"{ann / file}: key {k} is also in the {split_of[k]} split")
            split_of[k] = name
    entries = []
    for key in sorted(split_of):
        if key not in fine:
            raise DataError(f"{ann / FINE}: no entry {key} (it is in {SPLITS[split_of[key]]})")
        e = _entry(key, coarse[key], fine[key], ann, frames)
        bad = sorted({s for s in e["step_labels"] if s not in steps})
        if bad:
            raise DataError(f"{ann / FINE}: entry {key} has step ids {bad} not in {STEP_TABLE}")
        e["split"], e["frames"] = split_of[key], relpath(e["frames"], out)
        entries.append(e)
    out.mkdir(parents=True, exist_ok=True)
    (out / STEP_TYPES_FILE).write_text(
        json.dumps({str(k): v for k, v in sorted(steps.items())}, indent=1), encoding="utf-8"
    )
    path, summary = write_dataset(entries, out)
    n = sorted(e["end_frame"] for e in entries)
    return path, f"{summary}; {n[0]}–{n[len(n) // 2]}–{n[-1]} frames a dive (min–median–max)"
