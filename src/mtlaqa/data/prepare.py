"""Cut each MTL-AQA dive out of the full event videos into its own short clip + a manifest.

Each event video (`NN.mp4`, or the original frame folders `frames/NN/000001.jpg …`) is decoded once,
sequentially; every dive's window (design §1: the `window` frames before `end_frame`, plus `margin`
frames each side for the training jitter) is written as `videos/<id>.mp4` while decoding. Finished
clips are written atomically, so a re-run skips them; a missing or unreadable event video is
reported and the others proceed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from tqdm import tqdm

from mtlaqa.data.judge_scores import read_judge_scores
from mtlaqa.data.manifest import write_manifest
from mtlaqa.data.release import (
    Key,
    ReleaseData,
    read_release,
    release_entry,
    release_rows,
    sample_id,
)
from mtlaqa.data.video import IMAGE_EXTS, MODEL_FPS, iter_frames
from mtlaqa.errors import MtlaqaError

log = logging.getLogger(__name__)

VIDEO_EXTS = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".flv", ".ts")


@dataclass
class PrepareSummary:
    """What a prepare run did; `ok` is False when any dive could not be prepared."""

    prepared: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # clips already there from an earlier run
    missing: dict[str, str] = field(default_factory=dict)  # dive id -> why (no event video)
    failed: dict[str, str] = field(default_factory=dict)  # dive id -> why (unreadable, too short)
    seconds: float = 0.0
    manifest: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.missing and not self.failed

    def format(self) -> str:
        """Human summary: counts, throughput and the first problems."""
        rate = len(self.prepared) / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"prepared {len(self.prepared)} dives ({rate:.1f} dives/s), skipped {len(self.skipped)} "
            f"already prepared, missing {len(self.missing)}, failed {len(self.failed)}"
        ]
        reasons: dict[str, int] = {}
        for why in [*self.missing.values(), *self.failed.values()]:
            reasons[why] = reasons.get(why, 0) + 1
        lines += [f"  {n} dives: {why}" for why, n in reasons.items()]
        if self.manifest:
            lines.append(f"manifest: {self.manifest}")
        return "\n".join(lines)


def find_source(videos: Path, video_id: int) -> Path | None:
    """The event video `NN.<ext>` / `N.<ext>`, or a frame folder `NN/`, `frames/NN/`."""
    names = {f"{video_id:02d}", str(video_id)}
    for base in (videos, videos / "frames"):
        if not base.is_dir():
            continue
        for name in sorted(names):
            for ext in VIDEO_EXTS:
                p = base / f"{name}{ext}"
                if p.is_file():
                    return p
            d = base / name
            if d.is_dir() and any(q.suffix.lower() in IMAGE_EXTS for q in d.iterdir()):
                return d
    return None


class _ClipWriter:
    """One dive's clip, written to a temp file and renamed into place when complete."""

    def __init__(self, path: Path, crf: int, preset: str) -> None:
        self.path, self.crf, self.preset = path, crf, preset
        self.tmp = path.with_name(path.stem + ".part.mp4")
        self.container: Any = None
        self.stream: Any = None
        self.count = 0

    def add(self, img: np.ndarray) -> None:
        h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2  # yuv420p needs even sizes
        if self.container is None:
            self.container = av.open(str(self.tmp), "w", format="mp4")
            self.stream = self.container.add_stream("libx264", rate=int(MODEL_FPS))
            self.stream.width, self.stream.height, self.stream.pix_fmt = w, h, "yuv420p"
            self.stream.options = {"crf": str(self.crf), "preset": self.preset}
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[:h, :w]), format="rgb24")
        self.container.mux(self.stream.encode(frame))
        self.count += 1

    def close(self) -> None:
        self.container.mux(self.stream.encode(None))
        self.container.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.container is not None:
            with contextlib.suppress(av.error.FFmpegError, OSError):
                self.container.close()
        self.tmp.unlink(missing_ok=True)


def prepare_mtl_aqa(
    release: str | os.PathLike[str],
    videos: str | os.PathLike[str],
    out: str | os.PathLike[str],
    subset: str = "main",
    leak_free: bool = False,
    window: int = 103,
    margin: int = 3,
    size: tuple[int, int] | None = None,
    crf: int = 18,
    progress: bool = True,
    preset: str = "veryfast",
    annotations: str | os.PathLike[str] | None = None,
) -> PrepareSummary:
    """Prepare the release's dives as clips in `out/videos/` and write `out/manifest.jsonl`.

    A clip holds event frames `end_frame - window - margin … end_frame + margin - 1` (clamped at
    the video start); its manifest `end_frame` is the event `end_frame` counted from the clip's
    first frame, so the dataset's window and jitter land on the same frames as in the event video.
    """
    data = read_release(release, subset, leak_free)
    # the richer annotation pickle (judges' marks, dive numbers), when given
    judges = read_judge_scores(annotations, data) if annotations else {}
    videos, out = Path(videos), Path(out)
    if not videos.is_dir():
        raise MtlaqaError(f"{videos}: videos folder not found")
    (out / "videos").mkdir(parents=True, exist_ok=True)
    summary = PrepareSummary()
    by_video: dict[int, list[Key]] = {}
    for k in sorted(data.annotations, key=lambda k: data.annotations[k]["end_frame"]):
        by_video.setdefault(k[0], []).append(k)
    t0 = time.perf_counter()
    bar = tqdm(total=len(data.annotations), desc="prepare", unit="dive", disable=not progress)
    for vid in sorted(by_video):
        _prepare_video(
            data, vid, by_video[vid], videos, out, window, margin, size, (crf, preset), summary, bar
        )
    bar.close()
    summary.seconds = time.perf_counter() - t0
    entries = []
    for k, split, row_id in release_rows(data):  # a dive in both splits: two rows, one clip
        if (out / "videos" / f"{sample_id(k)}.mp4").is_file():
            entries.append(
                {**_manifest_entry(data, k, window, margin, split, row_id), **judges.get(k, {})}
            )
    if entries:
        summary.manifest = write_manifest(entries, out / "manifest.jsonl")
    return summary


def _window(data: ReleaseData, k: Key, window: int, margin: int) -> tuple[int, int, int]:
    end = data.annotations[k]["end_frame"]
    return max(0, end - window - margin), end + margin, end


def _manifest_entry(
    data: ReleaseData, k: Key, window: int, margin: int, split: str, row_id: str
) -> dict[str, Any]:
    lo, _, end = _window(data, k, window, margin)
    e = release_entry(data, k, split, row_id)
    start = data.annotations[k]["start_frame"]
    e.update(video=f"videos/{sample_id(k)}.mp4", start_frame=max(0, start - lo), end_frame=end - lo)
    e["event_first_frame"] = lo  # where the clip starts in the event video
    return e


def _prepare_video(
    data: ReleaseData,
    vid: int,
    keys: list[Key],
    videos: Path,
    out: Path,
    window: int,
    margin: int,
    size: tuple[int, int] | None,
    codec: tuple[int, str],
    summary: PrepareSummary,
    bar: tqdm,
) -> None:
    todo = []
    for k in keys:
        sid = sample_id(k)
        if (out / "videos" / f"{sid}.mp4").is_file():
            summary.skipped.append(sid)
            bar.update(1)
        else:
            todo.append(k)
    if not todo:
        return
    src = find_source(videos, vid)
    if src is None:
        why = f"event video {vid:02d} not found in {videos} ({vid:02d}.mp4 or frames/{vid:02d}/)"
        log.warning(why)
        for k in todo:
            summary.missing[sample_id(k)] = why
            bar.update(1)
        return
    wins = {k: _window(data, k, window, margin) for k in todo}
    pending = sorted(todo, key=lambda k: wins[k][0])
    active: dict[Key, _ClipWriter] = {}
    last = -1
    try:
        lo_min, hi_max = wins[pending[0]][0], max(w[1] for w in wins.values())
        for idx, img in iter_frames(src, lo_min, hi_max, size):
            last = idx
            while pending and wins[pending[0]][0] <= idx:
                k = pending.pop(0)
                active[k] = _ClipWriter(out / "videos" / f"{sample_id(k)}.mp4", *codec)
            for k in list(active):
                active[k].add(img)
                if idx == wins[k][1] - 1:
                    active.pop(k).close()
                    summary.prepared.append(sample_id(k))
                    bar.update(1)
    except MtlaqaError as e:
        for w in active.values():
            w.abort()
        for k in [*active, *pending]:
            summary.failed[sample_id(k)] = str(e)
            bar.update(1)
        log.warning("%s", e)
        return
    except BaseException:  # Ctrl+C: no half-written .part.mp4 left; finished clips are kept
        for w in active.values():
            w.abort()
        raise
    # the video ended before some windows closed: keep a clip that reaches end_frame (the dataset
    # pads the jitter margin), refuse one that doesn't
    for k, w in active.items():
        if last >= wins[k][2] - 1:
            w.close()
            summary.prepared.append(sample_id(k))
        else:
            w.abort()
            summary.failed[sample_id(k)] = (
                f"{src}: ends at frame {last + 1}, before the dive's end_frame"
            )
        bar.update(1)
    for k in pending:
        summary.failed[sample_id(k)] = (
            f"{src}: ends at frame {last + 1}, before the dive's end_frame"
        )
        bar.update(1)
