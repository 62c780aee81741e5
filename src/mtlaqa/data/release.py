"""Reader for the official MTL-AQA release (`MTL-AQA_dataset_release/Ready_2_Use/…`, design §3).

The release is a set of Python pickles, read with the restricted unpickler of `safe_pickle`.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mtlaqa.data.safe_pickle import safe_load_pickle
from mtlaqa.errors import DataError
from mtlaqa.schema import ATTRIBUTE_CLASSES

log = logging.getLogger(__name__)

Key = tuple[int, int]  # (video_id, dive_id)

MAIN = "MTL-AQA_split_0_data"
SMALLER = "smaller_training_sets"
UNLV = "UNLV_Dive_split_4"
UNLV_370 = ("train_split_370_4", "test_split_370_4")  # UNLV-Dive's standard split, 300 / 70
# 'unlv' is the release's split_0 of UNLV-Dive (279 / 93), 'unlv_dive' the standard 370_4 split
SUBSETS = ("main", "size_140", "size_280", "size_450", "unlv", "unlv_dive")
TRAIN_COPY = "_tr"  # id suffix of the training row of a dive that is also a test dive
# what the official files hold (design §3); checked by the tests, reported by `describe`
OFFICIAL_COUNTS = {"annotations": 1412, "train": 1059, "test": 353}

ANNOTATION_FIELDS = (
    "primary_view",
    "start_frame",
    "end_frame",
    "position",
    "difficulty",
    "armstand",
    "rotation_type",
    "ss_no",
    "tw_no",
    "final_score",
)
SOS, EOS = "<sos>", "<eos>"

# ---------------------------------------------------------------------------------- validation


def _as_int(v: Any) -> int | None:
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (int, np.integer)):
        return int(v)
    return None


def _key(k: Any, where: str) -> Key:
    if isinstance(k, (tuple, list)) and len(k) == 2:
        a, b = _as_int(k[0]), _as_int(k[1])
        if a is not None and b is not None:
            return (a, b)
    raise DataError(f"{where}: key {k!r} is not a (video_id, dive_id) pair of integers")


def _check_annotation(k: Key, v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise DataError(f"{where}: entry {k} is not a dict")
    missing = [f for f in ANNOTATION_FIELDS if f not in v]
    if missing:
        raise DataError(f"{where}: entry {k} lacks {', '.join(missing)}")
    out: dict[str, Any] = {}
    for name in ("primary_view", "start_frame", "end_frame", *ATTRIBUTE_CLASSES):
        iv = _as_int(v[name])
        if iv is None or iv < 0:
            raise DataError(
                f"{where}: entry {k} field '{name}' must be a non-negative integer, got {v[name]!r}"
            )
        out[name] = iv
    for name, n in ATTRIBUTE_CLASSES.items():
        if out[name] >= n:
            raise DataError(
                f"{where}: entry {k} field '{name}' must be in 0..{n - 1}, got {out[name]}"
            )
    if out["end_frame"] < out["start_frame"]:
        raise DataError(
            f"{where}: entry {k} ends (frame {out['end_frame']}) before it starts ({out['start_frame']})"
        )
    for name, lo, hi in (("difficulty", 0.0, 10.0), ("final_score", 0.0, 200.0)):
        x = v[name]
        if isinstance(x, (bool, np.bool_)) or not isinstance(
            x, (int, float, np.integer, np.floating)
        ):
            raise DataError(f"{where}: entry {k} field '{name}' must be a number, got {x!r}")
        x = float(x)
        if not math.isfinite(x) or not lo <= x <= hi:
            raise DataError(f"{where}: entry {k} field '{name}' = {x} is outside {lo}..{hi}")
        out[name] = x
    return out


def read_annotations(path: str | os.PathLike[str]) -> dict[Key, dict[str, Any]]:
    """`final_annotations_dict.pkl` -> {(video, dive): validated labels (Python types)}."""
    raw = safe_load_pickle(path)
    if not isinstance(raw, dict) or not raw:
        raise DataError(
            f"{path}: expected a non-empty dict of annotations, got {type(raw).__name__}"
        )
    out: dict[Key, dict[str, Any]] = {}
    for k, v in raw.items():
        key = _key(k, str(path))
        if key in out:
            raise DataError(f"{path}: duplicate key {key}")
        out[key] = _check_annotation(key, v, str(path))
    return out


def read_key_list(path: str | os.PathLike[str]) -> list[Key]:
    """`train_split_0.pkl` & co. -> list of (video, dive) keys, no duplicates."""
    raw = safe_load_pickle(path)
    if not isinstance(raw, (list, tuple)):
        raise DataError(
            f"{path}: expected a list of (video_id, dive_id) keys, got {type(raw).__name__}"
        )
    keys = [_key(k, str(path)) for k in raw]
    if len(set(keys)) != len(keys):
        raise DataError(f"{path}: {len(keys) - len(set(keys))} duplicate keys")
    return keys


def tokens_to_text(tokens: list[str]) -> str:
    """Release caption tokens (`<sos> w … <eos>`) -> commentary text without the markers."""
    return " ".join(t for t in tokens if t not in (SOS, EOS))


def read_captions(path: str | os.PathLike[str]) -> dict[Key, str]:
    """`final_captions_dict.pkl` -> {key: commentary text} (tokens joined, <sos>/<eos> dropped)."""
    raw = safe_load_pickle(path)
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a dict of captions, got {type(raw).__name__}")
    out: dict[Key, str] = {}
    for k, v in raw.items():
        key = _key(k, str(path))
        if not isinstance(v, (list, tuple)) or not all(isinstance(t, str) for t in v):
            raise DataError(f"{path}: caption of {key} is not a list of word tokens")
        out[key] = tokens_to_text(list(v))
    return out


def read_vocab_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """`vocab.json` ({"ix_to_word": …, "word_to_ix": …}); checked for shape, used only for counts."""
    path = Path(path)
    try:
        v = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: not a readable vocab.json ({e})") from None
    if not (
        isinstance(v, dict)
        and isinstance(v.get("ix_to_word"), dict)
        and isinstance(v.get("word_to_ix"), dict)
    ):
        raise DataError(f"{path}: expected {{'ix_to_word': {{…}}, 'word_to_ix': {{…}}}}")
    return v


# ---------------------------------------------------------------------------------- the release


@dataclass
class ReleaseData:
    """One split of the release: annotations, train/test keys, captions (text)."""

    folder: Path
    annotations: dict[Key, dict[str, Any]]
    train: list[Key]
    test: list[Key]
    captions: dict[Key, str] = field(default_factory=dict)
    vocab_words: int | None = None
    extra_lists: dict[str, list[Key]] = field(default_factory=dict)  # e.g. UNLV's 370_4 lists
    dropped_captions: int = 0  # caption keys without annotation (ignored)
    overlap: list[Key] = field(default_factory=list)  # train keys that are also test keys

    def split_of(self, key: Key) -> str | None:
        """'train', 'test' or None."""
        if key in self._test_set:
            return "test"
        return "train" if key in self._train_set else None

    def __post_init__(self) -> None:
        self._train_set, self._test_set = set(self.train), set(self.test)


def find_ready_dir(root: str | os.PathLike[str]) -> Path:
    """`Ready_2_Use` from the release folder, `Ready_2_Use` itself, or its parent."""
    root = Path(root)
    for cand in (root / "Ready_2_Use", root, root / "MTL-AQA_dataset_release" / "Ready_2_Use"):
        if (cand / MAIN).is_dir():
            return cand
    raise DataError(f"{root}: not an MTL-AQA release (no Ready_2_Use/{MAIN} folder)")


def _read_folder(
    folder: Path, need_test: bool = True
) -> tuple[dict[Key, dict[str, Any]], list[Key], list[Key] | None, dict[Key, str], int | None]:
    if not folder.is_dir():
        raise DataError(f"{folder}: release folder not found")
    ann = read_annotations(folder / "final_annotations_dict.pkl")
    train = read_key_list(folder / "train_split_0.pkl")
    test_path = folder / "test_split_0.pkl"
    test = read_key_list(test_path) if (need_test or test_path.exists()) else None
    cap_path = folder / "final_captions_dict.pkl"
    caps = read_captions(cap_path) if cap_path.exists() else {}
    vpath = folder / "vocab.json"
    words = len(read_vocab_json(vpath)["ix_to_word"]) if vpath.exists() else None
    return ann, train, test, caps, words


def _missing(keys: list[Key], ann: dict[Key, dict[str, Any]], where: Path) -> None:
    miss = [k for k in keys if k not in ann]
    if miss:
        raise DataError(f"{where}: {len(miss)} keys have no annotation (first {miss[0]})")


def _read_subset(
    ready: Path, subset: str
) -> tuple[
    Path,
    dict[Key, dict[str, Any]],
    list[Key],
    list[Key],
    dict[Key, str],
    tuple[int | None, dict[str, list[Key]]],
]:
    """Annotations, train/test keys, captions and vocab size of one subset (not yet checked)."""
    main_dir = ready / MAIN
    extra: dict[str, list[Key]] = {}
    if subset == "main":
        folder = main_dir
        ann, train, test, caps, words = _read_folder(folder)
    elif subset in ("unlv", "unlv_dive"):
        folder = ready / UNLV
        ann, train, test, caps, words = _read_folder(folder)
        for name in UNLV_370:
            p = folder / f"{name}.pkl"
            if p.exists():
                extra[name] = read_key_list(p)
        if subset == "unlv_dive":
            train, test = _unlv_370(folder, ann, extra)
    else:
        folder = ready / SMALLER / subset
        ann, train, _, caps, words = _read_folder(folder, need_test=False)
        # "test list file remains same as main split" (the release's Readme)
        main_ann = read_annotations(main_dir / "final_annotations_dict.pkl")
        test = read_key_list(main_dir / "test_split_0.pkl")
        for k in test:
            if k in main_ann:
                ann.setdefault(k, main_ann[k])
        main_caps_path = main_dir / "final_captions_dict.pkl"
        if main_caps_path.exists():
            for k, c in read_captions(main_caps_path).items():
                caps.setdefault(k, c)
    assert test is not None
    return folder, ann, train, test, caps, (words, extra)


def _unlv_370(
    folder: Path, ann: dict[Key, dict[str, Any]], extra: dict[str, list[Key]]
) -> tuple[list[Key], list[Key]]:
    """UNLV-Dive's standard 300 / 70 split; keys without an annotation are dropped with a warning."""
    missing = [n for n in UNLV_370 if n not in extra]
    if missing:
        raise DataError(f"{folder}: {missing[0]}.pkl not found (needed by --subset unlv_dive)")
    train, test = extra[UNLV_370[0]], extra[UNLV_370[1]]
    for name, keys in zip(UNLV_370, (train, test), strict=True):
        lost = [k for k in keys if k not in ann]
        if lost:
            log.warning(
                "%s: %d of %d keys in %s.pkl have no annotation and are left out (%s)",
                folder, len(lost), len(keys), name, ", ".join(map(str, lost[:3])),
            )  # fmt: skip
    return [k for k in train if k in ann], [k for k in test if k in ann]


def read_release(
    root: str | os.PathLike[str], subset: str = "main", leak_free: bool = False
) -> ReleaseData:
    """Read one subset of the release: 'main' (1059/353), 'size_140|280|450' (the smaller training
    sets with the main test split), 'unlv' (UNLV_Dive_split_4's split_0, 279/93) or 'unlv_dive'
    (UNLV-Dive's standard train/test_split_370_4, 300/70 less one unannotated training key).

    The smaller training sets share dives with the main test split, as released (and as the
    paper's Table 8 used them): they stay in both splits with a warning, and `leak_free=True`
    drops them from train.
    """
    if subset not in SUBSETS:
        raise DataError(f"unknown release subset {subset!r} (choose from {', '.join(SUBSETS)})")
    folder, ann, train, test, caps, (words, extra) = _read_subset(find_ready_dir(root), subset)
    _missing(train, ann, folder / "train_split_0.pkl")
    _missing(test, ann, folder / "test_split_0.pkl")
    test_set = set(test)
    overlap = [k for k in train if k in test_set]
    if overlap and subset in ("main", "unlv", "unlv_dive"):
        raise DataError(
            f"{folder}: train and test splits share {len(overlap)} keys (first {overlap[0]})"
        )
    if overlap:
        if leak_free:
            train = [k for k in train if k not in test_set]
            log.warning(
                "%s: dropped %d training dives that are in the test split", folder, len(overlap)
            )
        else:
            log.warning(
                "%s: %d of %d training dives are also main-split test dives (as released, and as "
                "the paper's Table 8 used them); --leak-free drops them from train",
                folder, len(overlap), len(train),
            )  # fmt: skip
    if subset == "main" and set(train) | test_set != set(ann):
        raise DataError(f"{folder}: train + test splits do not cover the {len(ann)} annotations")
    # keep only dives in one of the splits; captions only for annotated dives
    used = set(train) | test_set
    ann = {k: v for k, v in ann.items() if k in used}
    dropped = sum(1 for k in caps if k not in ann)
    if dropped:
        log.info("%s: ignoring %d captions without annotation", folder, dropped)
    caps = {k: c for k, c in caps.items() if k in ann}
    return ReleaseData(
        folder, ann, train, test, caps, words, extra, dropped, overlap if not leak_free else []
    )


def release_rows(data: ReleaseData) -> list[tuple[Key, str, str]]:
    """(key, split, manifest id) of every manifest row, in key order; a training dive that is
    also a test dive gets a second row with id `<id>_tr` (same clip) after its test row."""
    train_set, test_set = set(data.train), set(data.test)
    rows: list[tuple[Key, str, str]] = []
    for k in sorted(train_set | test_set):
        if k in test_set:
            rows.append((k, "test", sample_id(k)))
        if k in train_set:
            rows.append((k, "train", sample_id(k) + (TRAIN_COPY if k in test_set else "")))
    return rows


def sample_id(key: Key) -> str:
    """Manifest id of a release dive: video 1, dive 7 -> '01_007'."""
    return f"{key[0]:02d}_{key[1]:03d}"


def release_entry(
    data: ReleaseData, key: Key, split: str | None = None, row_id: str | None = None
) -> dict[str, Any]:
    """Manifest fields (design §4) of one release dive, without media and frame numbers."""
    a = data.annotations[key]
    entry: dict[str, Any] = {
        "id": row_id or sample_id(key),
        "split": split or data.split_of(key) or "train",
        "key": [key[0], key[1]],
        "score": a["final_score"],
        "difficulty": a["difficulty"],
        **{k: a[k] for k in ATTRIBUTE_CLASSES},
    }
    if key in data.captions:
        entry["caption"] = data.captions[key]
    return entry


def describe(data: ReleaseData) -> str:
    """One line of counts for the CLI."""
    return (
        f"{data.folder.name}: {len(data.annotations)} dives, {len(data.train)} train / "
        f"{len(data.test)} test, {len(data.captions)} captions"
        + (f", {len(data.overlap)} train dives overlap test" if data.overlap else "")
    )
