"""SynthDive in the official MTL-AQA release layout: event videos + release-format pickles.

Writes `videos/NN.mp4` (several dives back to back, 25 fps, like the 15 YouTube event videos) and
`MTL-AQA_dataset_release/Ready_2_Use/MTL-AQA_split_0_data/` with the same file names and Python
types as the real release (protocol-3 pickles, `(video_id, dive_id)` tuple keys, numpy-int keys
in the captions dict, `<sos>`/`<eos>` token lists, `vocab.json` with `<eos>`=0 and `<sos>`=1), so
the release reader and `prepare-mtl-aqa` can be tested end to end without YouTube.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import pickle
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from tqdm import tqdm

from mtlaqa.data.release import MAIN
from mtlaqa.data.synth.generate import CRF, FPS, sample_labels, x264_determinism
from mtlaqa.data.synth.render import render_dive


def _render(job: tuple[dict[str, Any], int]) -> np.ndarray:
    d, size = job
    return render_dive(d, size)


def _dump(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        pickle.dump(obj, f, protocol=3)
    os.replace(tmp, path)


@dataclass
class _ReleaseLabels:
    """The release's annotation, caption and split tables as they fill, one dive at a time."""

    annotations: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    captions: dict[tuple[Any, int], list[str]] = field(default_factory=dict)
    train: list[tuple[int, int]] = field(default_factory=list)
    test: list[tuple[int, int]] = field(default_factory=list)

    def add(self, key: tuple[int, int], d: dict[str, Any], offset: int) -> None:
        """Dive `d` as dive `key` of its event video, starting `offset` frames into it."""
        self.annotations[key] = {
            "primary_view": 0,
            "start_frame": offset + int(d["start_frame"]),
            "end_frame": offset + int(d["end_frame"]),
            "position": int(d["position"]),
            "difficulty": float(d["difficulty"]),
            "armstand": int(d["armstand"]),
            **{k: int(d[k]) for k in ("rotation_type", "ss_no", "tw_no")},
            "final_score": float(d["score"]),
        }
        # the real captions dict has numpy-int video ids in its keys
        self.captions[(np.int64(key[0]), key[1])] = ["<sos>", *d["caption"].split(), "<eos>"]
        (self.test if d["split"] == "test" else self.train).append(key)

    def write(self, rdir: Path) -> None:
        """The release's pickles and vocab.json in `rdir`."""
        # like the real file: a caption whose dive has no annotation (readers must ignore it)
        self.captions[(np.int64(99), 1)] = ["<sos>", "an", "unannotated", "dive", "<eos>"]
        words = sorted({w for toks in self.captions.values() for w in toks[1:-1]})
        word_to_ix = {"<eos>": 0, "<sos>": 1, **{w: i + 2 for i, w in enumerate(words)}}
        vocab = {"ix_to_word": {str(i): w for w, i in word_to_ix.items()}, "word_to_ix": word_to_ix}
        _dump(self.annotations, rdir / "final_annotations_dict.pkl")
        _dump(self.captions, rdir / "final_captions_dict.pkl")
        _dump(self.train, rdir / "train_split_0.pkl")
        _dump(self.test, rdir / "test_split_0.pkl")
        (rdir / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")


def _write_event_video(
    path: Path,
    vid: int,
    group: list[dict[str, Any]],
    frames_iter: Iterable[np.ndarray],
    size: int,
    labels: _ReleaseLabels,
    bar: tqdm[Any],
) -> None:
    """Encode the dives of `group` back to back into event video `vid`, labelling each."""
    tmp = path.with_name(f"{vid:02d}.tmp.mp4")
    offset = 0
    with av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(CRF), "preset": "veryfast", **x264_determinism()}
        for j, (d, frames) in enumerate(zip(group, frames_iter, strict=True), 1):
            for img in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
            labels.add((vid, j), d, offset)
            offset += len(frames)
            bar.update(1)
        container.mux(stream.encode(None))
    os.replace(tmp, path)


def generate_release_synth(
    out: Path,
    num: int,
    seed: int = 0,
    size: int = 112,
    per_video: int = 4,
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Render `num` dives into event videos of `per_video` dives each; return the release folder.

    Dive j of video v (both 1-based) gets the key (v, j); its annotation frames are the event
    video's 0-based frame numbers. About a quarter of the dives are test, the rest train.
    """
    if size % 2:
        raise ValueError(f"size must be even for yuv420p video, got {size}")
    out = Path(out)
    vdir = out / "videos"
    rdir = out / "MTL-AQA_dataset_release" / "Ready_2_Use" / MAIN
    vdir.mkdir(parents=True, exist_ok=True)
    rdir.mkdir(parents=True, exist_ok=True)
    dives = sample_labels(num, seed, splits=(0.75, 0.0, 0.25))
    labels = _ReleaseLabels()
    bar = tqdm(total=num, desc="synth release", unit="dive", disable=not progress)
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    pool = ctx.Pool(workers) if workers > 1 else None
    try:
        for v0 in range(0, num, per_video):
            vid = v0 // per_video + 1
            group = dives[v0 : v0 + per_video]
            jobs = [(d, size) for d in group]
            frames_iter = pool.imap(_render, jobs) if pool else map(_render, jobs)
            _write_event_video(vdir / f"{vid:02d}.mp4", vid, group, frames_iter, size, labels, bar)
    finally:
        if pool:
            pool.close()
            pool.join()
        bar.close()
    labels.write(rdir)
    return out / "MTL-AQA_dataset_release"
