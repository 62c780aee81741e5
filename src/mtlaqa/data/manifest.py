"""mtlaqa's dataset manifest: one JSON object per sample (design §4)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mtlaqa.data.score_rules import DEFAULT_SPORT, check_labels
from mtlaqa.errors import DataError
from mtlaqa.schema import ATTRIBUTE_CLASSES

MANIFEST_NAME = "manifest.jsonl"
SPLITS = ("train", "val", "test")


@dataclass
class Sample:
    """One sample of a dataset; `video`/`frames` are absolute paths once read."""

    id: str
    split: str = "train"
    video: str | None = None
    frames: str | None = None
    start_frame: int | None = None
    end_frame: int | None = None
    score: float | None = None
    difficulty: float | None = None
    judges: list[float] | None = None
    position: int | None = None
    armstand: int | None = None
    rotation_type: int | None = None
    ss_no: int | None = None
    tw_no: int | None = None
    caption: str | None = None
    key: list[int] | None = None
    # optional, from the dataset importers (docs/data.md): the sport or action class (scores are
    # normalised and ρ reported per class when a dataset mixes classes), the FINA dive number as
    # the source wrote it, and one step label per frame of `frames`/`video` (FineDiving)
    sport: str | None = None
    code: str | None = None
    step_labels: list[int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def media(self) -> str:
        """The video file or frame folder of this sample."""
        return self.video if self.video is not None else str(self.frames)

    def attributes(self) -> dict[str, int] | None:
        """The five attributes, or None when any is missing."""
        vals = {name: getattr(self, name) for name in ATTRIBUTE_CLASSES}
        if any(v is None for v in vals.values()):
            return None
        return vals

    def dive_type(self) -> tuple[int, ...] | None:
        """The five attributes as a tuple (the 'class' of the dive)."""
        a = self.attributes()
        return None if a is None else tuple(a.values())


_FIELDS = {f for f in Sample.__dataclass_fields__ if f != "extra"}


def _check(sample: dict[str, Any], where: str) -> None:
    def bad(msg: str) -> DataError:
        return DataError(f"{where}: {msg}")

    if not isinstance(sample.get("id"), str) or not sample["id"]:
        raise bad("field 'id' must be a non-empty string")
    if sample.get("video") is None and sample.get("frames") is None:
        raise bad("needs 'video' (a file) or 'frames' (a folder)")
    if sample.get("split", "train") not in SPLITS:
        raise bad(f"field 'split' must be one of {', '.join(SPLITS)}, got {sample['split']!r}")
    try:  # booleans and negative diving scores included (data/score_rules.py)
        check_labels(
            sample.get("sport", DEFAULT_SPORT),
            sample.get("score"),
            sample.get("difficulty"),
            sample.get("judges"),
        )
    except ValueError as e:
        raise bad(f"field {e}") from None
    for name, n in ATTRIBUTE_CLASSES.items():
        v = sample.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < n):
            raise bad(f"field '{name}' must be an integer in 0..{n - 1}, got {v!r}")
    for name in ("start_frame", "end_frame"):
        v = sample.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise bad(f"field '{name}' must be a non-negative integer, got {v!r}")
    for name in ("caption", "sport", "code"):
        if sample.get(name) is not None and not isinstance(sample[name], str):
            raise bad(f"field '{name}' must be a string")
    for name in ("judges", "step_labels"):
        v = sample.get(name)
        if v is not None and (
            not isinstance(v, list) or not all(isinstance(x, (int, float)) for x in v)
        ):
            raise bad(f"field '{name}' must be a list of numbers")


def read_manifest(path: str | os.PathLike[str]) -> list[Sample]:
    """Read and validate a manifest (a file, or a folder holding `manifest.jsonl`)."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise DataError(f"{path}: manifest not found")
    root = path.parent
    samples: list[Sample] = []
    seen: set[str] = set()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        bad = path.read_bytes()[: e.start].count(b"\n") + 1
        raise DataError(f"{path}:{bad}: not UTF-8 text; save the manifest as UTF-8") from None
    for lineno, line in enumerate(text.split("\n"), 1):  # not splitlines: U+2028 in captions
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{where}: not valid JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{where}: each line must be a JSON object")
        _check(obj, where)
        if obj["id"] in seen:
            raise DataError(f"{where}: duplicate id {obj['id']!r}")
        seen.add(obj["id"])
        known = {k: v for k, v in obj.items() if k in _FIELDS}
        extra = {k: v for k, v in obj.items() if k not in _FIELDS}
        for media in ("video", "frames"):
            if known.get(media) is not None:
                known[media] = str((root / known[media]).resolve())
        samples.append(Sample(**known, extra=extra))
    if not samples:
        raise DataError(f"{path}: manifest has no samples")
    return samples


def sample_to_json(sample: Sample, root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """A sample as a manifest object; media paths made relative to `root` when given."""
    d = {k: v for k, v in asdict(sample).items() if v is not None and k != "extra"}
    d.update(sample.extra)
    if root is not None:
        for media in ("video", "frames"):
            if media in d:
                d[media] = os.path.relpath(d[media], root)
    return d


def write_manifest(
    samples: Iterable[Sample | dict[str, Any]], path: str | os.PathLike[str]
) -> Path:
    """Write samples as `manifest.jsonl` atomically (temp file + rename)."""
    path = Path(path)
    if path.is_dir() or path.suffix != ".jsonl":
        path = path / MANIFEST_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for s in samples:
            obj = sample_to_json(s, path.parent) if isinstance(s, Sample) else s
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path
