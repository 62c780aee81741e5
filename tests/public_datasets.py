"""Small generated copies of the public AQA datasets' file layouts (FineDiving, AQA-7, JIGSAWS),
exactly as their importers expect them (docs/data.md), with tiny JPEG frames."""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from tests.videofiles import write_video

# training through `mtlaqa train` on these tiny clips (20-frame folders, 32 px)
TRAIN_OVERRIDES = [
    "model.width=0.0625",
    "model.fc_dim=32",
    "model.caption_hidden=16",
    "model.caption_embed=16",
    "model.dropout=0.0",
    "data.resize=[32,32]",
    "data.crop_size=32",
    "data.window=16",
    "data.jitter=2",
    "data.num_clips=2",
    "data.clip_len=4",
    "data.stride=2",
    "train.epochs=1",
    "train.batch_size=4",
    "train.meteor=false",
    "train.amp=off",
    "train.threads=1",
]

_JPEG: dict[int, bytes] = {}


def jpeg(level: int) -> bytes:
    """A 24×24 gray JPEG (cached per gray level)."""
    if level not in _JPEG:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(np.full((24, 24, 3), level, np.uint8)).save(buf, format="JPEG")
        _JPEG[level] = buf.getvalue()
    return _JPEG[level]


def write_frames(folder: Path, numbers: range | list[int], pattern: str) -> None:
    """One JPEG per frame number, named `pattern.format(n)`."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        (folder / pattern.format(n)).write_bytes(jpeg(40 + 7 * (n % 25)))


def dump(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=4))


# ---------------------------------------------------------------------------------- FineDiving

FD_CODES = ["207C", "5253b", "626C", "107B", "405B", "6243d", "305C", "5154B"]
FD_STEPS = {i: f"step {i}" for i in range(42)}


def finediving_annotations(n: int = 12, frames: int = 20) -> dict[str, Any]:
    """The five FineDiving pickles' contents: coarse, fine, step table, train and test keys."""
    rng = np.random.default_rng(0)
    coarse, fine = {}, {}
    keys = [(f"Event{e}_final", i) for e in range(2) for i in range(n // 2)]
    for j, k in enumerate(keys):
        code = FD_CODES[j % len(FD_CODES)]
        dd = float(rng.choice([2.8, 3.0, 3.2, 3.4]))
        judges = [float(x) for x in rng.choice(np.arange(5, 10.5, 0.5), size=(3, 5, 7)[j % 3])]
        mid = sorted(judges)[1:-1][:3] if len(judges) > 3 else judges
        score = round(dd * sum(mid), 2)
        start = 100 + 50 * j
        coarse[k] = {"action_type": code, "start_frame": start, "end_frame": start + frames - 1,
                     "dive_score": score, "difficulty": dd, "judge_scores": judges}  # fmt: skip
        labels = np.repeat(np.array([1, 7, 22, 40], np.int64), frames // 4)
        fine[k] = {"action_type": code, "dive_score": score, "difficulty": dd,
                   "steps_transit_frames": np.array([frames // 4, 3 * frames // 4], np.int64),
                   "frames_labels": labels, "sub-action_types": {1: "a", 7: "b", 22: "c", 40: "d"}}  # fmt: skip
    split = (3 * len(keys)) // 4
    return {"coarse": coarse, "fine": fine, "steps": dict(FD_STEPS),
            "train": keys[:split], "test": keys[split:]}  # fmt: skip


def write_finediving(root: Path, ann: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Annotations/ and frames/ folders; returns (annotation dir, frame root)."""
    ann = ann or finediving_annotations()
    adir, fdir = root / "Annotations", root / "FINADiving_MTL_256s"
    dump(ann["coarse"], adir / "FineDiving_coarse_annotation.pkl")
    dump(ann["fine"], adir / "FineDiving_fine-grained_annotation.pkl")
    dump(ann["steps"], adir / "Sub_action_Types_Table.pkl")
    dump(ann["train"], adir / "train_split.pkl")
    dump(ann["test"], adir / "test_split.pkl")
    for (event, idx), c in ann["coarse"].items():
        n = len(ann["fine"].get((event, idx), {}).get("frames_labels", range(20)))
        write_frames(
            fdir / event / str(idx), range(c["start_frame"], c["start_frame"] + n), "{:05d}.jpg"
        )
    return adir, fdir


# ---------------------------------------------------------------------------------- AQA-7

AQA7_CLASSES = {1: "diving", 2: "gym_vault", 3: "ski_big_air", 4: "snowboard_big_air",
                5: "sync_diving_3m", 6: "sync_diving_10m", 7: "trampoline"}  # fmt: skip


def aqa7_lists(per_class: int = 4) -> dict[str, np.ndarray]:
    """`consolidated_train_list` / `_test_list`: rows [class_id, sample_idx, score]."""
    rng = np.random.default_rng(1)
    train, test = [], []
    for c in (1, 2, 5):
        offset = {1: 30.0, 2: 14.0, 5: 60.0}[c]  # different score ranges per sport
        for i in range(1, per_class + 3):
            row = [c, i, offset + float(rng.uniform(0, 10))]
            (train if i <= per_class else test).append(row)
    train.append([7, 1, 5.0])  # trampoline: left out by default
    return {"train": np.array(train, np.float64), "test": np.array(test, np.float64)}


def write_aqa7(root: Path, lists: dict[str, np.ndarray] | None = None, frames: int = 103) -> Path:
    """Split_4/*.mat and <class>-out/<idx:03d>/img_<n:05d>.jpg (103 frames, numbered from 1)."""
    from scipy.io import savemat

    lists = lists or aqa7_lists()
    (root / "Split_4").mkdir(parents=True, exist_ok=True)
    savemat(
        root / "Split_4" / "split_4_train_list.mat", {"consolidated_train_list": lists["train"]}
    )
    savemat(root / "Split_4" / "split_4_test_list.mat", {"consolidated_test_list": lists["test"]})
    for rows in lists.values():
        for c, i, _ in rows:
            folder = root / f"{AQA7_CLASSES[int(c)]}-out" / f"{int(i):03d}"
            write_frames(folder, range(1, frames + 1), "img_{:05d}.jpg")
    return root


# ---------------------------------------------------------------------------------- JIGSAWS


def jigsaws_meta(task: str = "Suturing") -> list[str]:
    """meta_file lines: trial, skill, GRS, six OSATS (tab-separated, doubled tabs as released)."""
    lines = []
    rng = np.random.default_rng(2)
    for u, skill in zip("BCDE", "NIEN", strict=True):
        for st in (1, 2, 3):
            osats = [int(x) for x in rng.integers(1, 6, size=6)]
            cells = [f"{task}_{u}{st:03d}", skill, str(sum(osats)), *map(str, osats)]
            lines.append("\t\t".join(cells))
    return lines


def write_jigsaws(root: Path, task: str = "Suturing", lines: list[str] | None = None) -> Path:
    """<Task>/meta_file_<Task>.txt and <Task>/video/<trial>_capture1.avi (30 fps, 40 frames)."""
    lines = lines if lines is not None else jigsaws_meta(task)
    (root / task / "video").mkdir(parents=True, exist_ok=True)
    (root / task / f"meta_file_{task}.txt").write_text("\n".join(lines) + "\n")
    for line in lines:
        trial = line.split()[0]
        write_video(root / task / "video" / f"{trial}_capture1.avi", n=40, fps=30,
                    codec="mpeg4", size=(32, 32))  # fmt: skip
    return root
