"""The richer MTL-AQA annotation pickle researchers use (CoRe, MUSDL, TSA …:
`final_annotations_dict_with_dive_number.pkl`): keyed like the release, each value also holding
the seven judges' marks (`judge_scores`) and the FINA code (`dive_number`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from mtlaqa.data.import_common import load_pickle, number
from mtlaqa.data.release import Key, ReleaseData
from mtlaqa.errors import DataError
from mtlaqa.schema import ATTRIBUTE_CLASSES, parse_dive_number

log = logging.getLogger(__name__)
JUDGES = 7


def _key(k: Any, where: Path) -> Key:
    if (
        isinstance(k, (tuple, list))
        and len(k) == 2
        and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in k)
    ):
        return (int(k[0]), int(k[1]))
    raise DataError(f"{where}: key {k!r} is not a (video_id, dive_id) pair of integers")


def _code(v: Any, where: str) -> str:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return str(int(v))
    if not isinstance(v, str) or not v.strip():
        raise DataError(f"{where} key 'dive_number' must be a string like '207C', got {v!r}")
    return v.strip()


def read_judge_scores(path: str | os.PathLike[str], data: ReleaseData) -> dict[Key, dict[str, Any]]:
    """{key: {"judges": [7 marks], "code": dive number}} for the release's dives.

    Each entry needs `judge_scores` (7 numbers) and `dive_number`; wrong types are one-line
    DataErrors naming the file and key. Dives of the release missing from the file, codes whose
    attributes differ from the release's, and marks that do not give the final score by the
    rule (difficulty × the middle three of seven) are counted in one warning each.
    """
    path = Path(path)
    raw = load_pickle(path)
    if not isinstance(raw, dict) or not raw:
        raise DataError(f"{path}: expected a non-empty dict keyed (video_id, dive_id)")
    out: dict[Key, dict[str, Any]] = {}
    for k, v in raw.items():
        key = _key(k, path)
        where = f"{path}: entry {key}"
        if not isinstance(v, dict):
            raise DataError(f"{where} is not a dict")
        missing = [f for f in ("judge_scores", "dive_number") if f not in v]
        if missing:
            raise DataError(f"{where} lacks key {', '.join(missing)}")
        marks = v["judge_scores"]
        if isinstance(marks, np.ndarray):
            marks = marks.tolist()
        if not isinstance(marks, (list, tuple)) or len(marks) != JUDGES:
            raise DataError(f"{where} key 'judge_scores' must be a list of {JUDGES} numbers")
        if key in data.annotations:
            judges = [number(m, f"{where} key 'judge_scores'") for m in marks]
            out[key] = {"judges": judges, "code": _code(v["dive_number"], where)}
    _warn_inconsistent(path, data, out)
    return out


def _warn_inconsistent(path: Path, data: ReleaseData, rich: dict[Key, dict[str, Any]]) -> None:
    lacking = [k for k in data.annotations if k not in rich]
    if lacking:
        log.warning(
            "%s: %d release dives have no judges' marks (e.g. %s)", path, len(lacking), lacking[0]
        )
    other_code, other_score = [], []
    for k, r in rich.items():
        a = data.annotations[k]
        try:
            attrs = parse_dive_number(r["code"])
        except ValueError:
            attrs = None
        if attrs is not None and any(attrs[n] != a[n] for n in ATTRIBUTE_CLASSES):
            other_code.append(k)
        rule = a["difficulty"] * sum(sorted(r["judges"])[2:5])
        if abs(rule - a["final_score"]) > 0.051:
            other_score.append(k)
    if other_code:
        log.warning("%s: %d dive numbers disagree with the release's attributes (e.g. %s)",
                    path, len(other_code), other_code[0])  # fmt: skip
    if other_score:
        log.warning("%s: for %d dives DD × middle three marks is not the final score (e.g. %s)",
                    path, len(other_score), other_score[0])  # fmt: skip
