"""A manifest from a user's spreadsheet: a CSV of video file names and any subset of label columns.

Every row is validated and all bad rows are reported together (nothing is written then), so a
user fixes the spreadsheet once instead of once per error.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from mtlaqa.data.manifest import SPLITS, write_manifest
from mtlaqa.data.score_rules import DEFAULT_SPORT, check_labels, sport_rule
from mtlaqa.data.video import video_info
from mtlaqa.errors import DataError, MtlaqaError
from mtlaqa.schema import ATTRIBUTES

VIDEO_COLUMNS = ("video", "file", "filename", "path")
ALIASES = {"final_score": "score"}
LABELS = (
    "id",
    "split",
    "score",
    "difficulty",
    "judges",
    "caption",
    "start_frame",
    "end_frame",
    *ATTRIBUTES,
)
_MAX_SHOWN = 50


def _number(v: str, name: str) -> float:
    try:
        x = float(v)
    except ValueError:
        raise ValueError(f"'{name}' is not a number: {v!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"'{name}' must be finite, got {v!r}")
    return x


def _int(v: str, name: str) -> int:
    x = _number(v, name)
    if not x.is_integer() or x < 0:
        raise ValueError(f"'{name}' must be a non-negative integer, got {v!r}")
    return int(x)


def _attribute(v: str, name: str) -> int:
    names = [n.lower() for n in ATTRIBUTES[name]]
    if v.strip().lower() in names:  # class names are accepted too: "pike", "forward", "yes"
        return names.index(v.strip().lower())
    try:
        i = _int(v, name)
    except ValueError:
        i = -1
    if not 0 <= i < len(names):
        raise ValueError(
            f"'{name}' must be 0..{len(names) - 1} or one of {', '.join(ATTRIBUTES[name][:4])}…, got {v!r}"
        )
    return i


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (line number, row) pairs, parsed by the csv module's own quoting rules.

    A quoted newline becomes a space; a row with more fields than the header (an unquoted
    delimiter inside a caption, or judges written with the file's own delimiter) is refused here,
    naming its line, instead of losing the extra fields.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel writes a byte-order mark
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text; save the CSV as UTF-8") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read CSV ({e.strerror})") from None
    if not text.strip():
        raise DataError(f"{path}: empty CSV")
    try:
        dialect: Any = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect=dialect, strict=True)
    try:
        header = [h.strip().lower() for h in next(reader)]
        rows: list[tuple[int, dict[str, str]]] = []
        start = reader.line_num + 1
        for fields in reader:
            if not any(f.strip() for f in fields):
                start = reader.line_num + 1
                continue
            if len(fields) > len(header):
                d = dialect.delimiter
                raise DataError(
                    f"{path}:{start}: {len(fields)} fields but the header has {len(header)} "
                    f'(an unquoted {d!r} inside a value? quote it, e.g. "a{d} b"; '
                    "judges are separated by spaces, or by ';' in a quoted cell)"
                )
            cells = [" ".join(f.split()) for f in fields]  # a quoted newline becomes a space
            rows.append((start, dict(zip(header, cells, strict=False))))
            start = reader.line_num + 1
    except csv.Error as e:
        raise DataError(f"{path}:{reader.line_num}: not valid CSV ({e})") from None
    return header, rows


def _video_column(csv_path: Path, header: list[str]) -> str:
    """The video file column of `header`; unknown columns are an error."""
    vcol = next((c for c in VIDEO_COLUMNS if c in header), None)
    if vcol is None:
        raise DataError(
            f"{csv_path}: needs a video file column (one of {', '.join(VIDEO_COLUMNS)}); has {', '.join(header)}"
        )
    unknown = [h for h in header if h not in LABELS and h != vcol]
    if unknown:
        raise DataError(
            f"{csv_path}: unknown columns {', '.join(unknown)} (known: {', '.join(LABELS)})"
        )
    return vcol


def _label(col: str, v: str, e: dict[str, Any]) -> None:
    """Parse cell `v` of label column `col` into entry `e`; a bad value raises ValueError."""
    if col == "split":
        if v.lower() not in SPLITS:
            raise ValueError(f"'split' must be one of {', '.join(SPLITS)}, got {v!r}")
        e["split"] = v.lower()
    elif col in ("score", "difficulty"):
        e[col] = _number(v, col)
    elif col in ("start_frame", "end_frame"):
        e[col] = _int(v, col)
    elif col in ATTRIBUTES:
        e[col] = _attribute(v, col)
    elif col == "judges":
        e[col] = [_number(x, col) for x in v.replace(";", " ").split()]
    elif col == "caption":
        e[col] = v


def _video_problems(media: Path, name: str, vcol: str, check_videos: bool) -> list[str]:
    """What is wrong with a row's video file (missing, or not decodable when checked)."""
    if not name:
        return [f"empty '{vcol}'"]
    if not media.is_file():
        return [f"video {media} not found"]
    if check_videos:
        try:
            video_info(media)
        except MtlaqaError as err:
            return [str(err)]
    return []


def _entry(
    row: dict[str, str], vcol: str, video_dir: Path, out: Path, check_videos: bool, sport: str
) -> tuple[dict[str, Any], list[str]]:
    """A row's manifest entry and its problems (empty when the row is valid)."""
    name = row.get(vcol, "")
    media = video_dir / name
    problems = _video_problems(media, name, vcol, check_videos)
    e: dict[str, Any] = {"id": row.get("id") or Path(name).stem}
    e["video"] = os.path.relpath(media.resolve(), out.resolve())
    for col, v in row.items():
        if col in (vcol, "id") or v == "":
            continue
        try:
            _label(col, v, e)
        except ValueError as err:
            problems.append(str(err))
    try:
        check_labels(sport, e.get("score"), e.get("difficulty"), e.get("judges"))
    except ValueError as err:
        problems.append(str(err))
    if sport != DEFAULT_SPORT:
        e["sport"] = sport
    return e, problems


def _raise_if_invalid(csv_path: Path, errors: list[str], n_rows: int) -> None:
    """One DataError listing the first `_MAX_SHOWN` invalid rows, when there are any."""
    if not errors:
        return
    shown = errors[:_MAX_SHOWN] + (
        [f"  … and {len(errors) - _MAX_SHOWN} more"] if len(errors) > _MAX_SHOWN else []
    )
    raise DataError(
        f"{csv_path}: {len(errors)} of {n_rows} rows are invalid (nothing written):\n"
        + "\n".join(shown)
    )


def import_csv(
    csv_path: str | os.PathLike[str],
    video_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    test_fraction: float = 0.2,
    seed: int = 0,
    check_videos: bool = True,
    sport: str = DEFAULT_SPORT,
) -> Path:
    """Validate the CSV and write `out/manifest.jsonl`; returns its path.

    Columns (case-insensitive): one of video/file/filename/path (required), and any of id, split,
    score (or final_score), difficulty, judges (numbers separated by spaces or ';'), caption,
    start_frame, end_frame, position, armstand, rotation_type, ss_no, tw_no. Attributes take a
    class number or a class name. Without a split column, `test_fraction` of the rows (seeded)
    become test and the rest train. `sport` picks the label rule (data/score_rules.py: diving
    scores and judges are never negative).
    """
    csv_path, video_dir, out = Path(csv_path), Path(video_dir), Path(out)
    if not 0.0 <= test_fraction < 1.0:
        raise DataError(f"--test-fraction must be in 0..1 (below 1), got {test_fraction:g}")
    try:
        sport_rule(sport)
    except ValueError as err:
        raise DataError(f"--sport: {err}") from None
    if not video_dir.is_dir():
        raise DataError(f"{video_dir}: video folder not found")
    header, rows = _read_rows(csv_path)
    header = [ALIASES.get(h, h) for h in header]
    vcol = _video_column(csv_path, header)
    if not rows:
        raise DataError(f"{csv_path}: no data rows")
    errors: list[str] = []
    entries: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for n, row in rows:  # n: the row's first line in the file
        row = {ALIASES.get(k, k): v for k, v in row.items()}
        e, problems = _entry(row, vcol, video_dir, out, check_videos, sport)
        if e["id"] in seen:
            problems.append(f"duplicate id {e['id']!r} (also row {seen[e['id']]})")
        seen.setdefault(e["id"], n)
        if problems:
            errors.append(f"  row {n}: {'; '.join(problems)}")
        entries.append(e)
    _raise_if_invalid(csv_path, errors, len(rows))
    if "split" not in header:
        order = np.random.default_rng(seed).permutation(len(entries))
        n_test = int(round(test_fraction * len(entries)))
        for rank, i in enumerate(order):
            entries[i]["split"] = "test" if rank < n_test else "train"
    return write_manifest(entries, out / "manifest.jsonl")
