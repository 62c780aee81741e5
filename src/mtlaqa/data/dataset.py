"""Dataset of dive samples -> clip tensors and labels, and the batch collate."""

from __future__ import annotations

import logging
import zlib
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from mtlaqa.config import DataConfig
from mtlaqa.data.cache import DiskCache, default_cache_dir
from mtlaqa.data.manifest import Sample
from mtlaqa.data.sampling import clip_indices, pad_edges, span, window_range
from mtlaqa.data.transforms import to_clips
from mtlaqa.data.video import MODEL_FPS, read_frames
from mtlaqa.data.vocab import Vocab
from mtlaqa.errors import MtlaqaError, VideoError
from mtlaqa.inputspec import InputSpec
from mtlaqa.schema import ATTRIBUTE_CLASSES

log = logging.getLogger(__name__)


def sample_seed(seed: int, epoch: int, sample_id: str) -> int:
    """Deterministic per-sample seed from the run seed, the epoch and the sample id."""
    return zlib.crc32(f"{seed}:{epoch}:{sample_id}".encode())


class ScoreNorm:
    """Invertible score normalization (z-score with the training statistics).

    When the training samples span two or more classes (`Sample.sport`, e.g. AQA-7's sports,
    whose score ranges differ), each class gets its own mean/std in `classes`; samples of an
    unknown or missing class use the global statistics.
    """

    def __init__(
        self,
        mean: float = 0.0,
        std: float = 1.0,
        classes: dict[str, tuple[float, float]] | None = None,
    ) -> None:
        self.mean, self.std = float(mean), float(std) if std > 0 else 1.0
        self.classes = {
            k: (float(m), float(sd) if sd > 0 else 1.0) for k, (m, sd) in (classes or {}).items()
        }

    @classmethod
    def fit(cls, scores: list[float], sports: list[str | None] | None = None) -> ScoreNorm:
        """From the training scores (and their classes: per-class statistics when ≥ 2)."""
        a = np.asarray(scores, dtype=np.float64)
        if not len(a):
            return cls()
        per: dict[str, tuple[float, float]] = {}
        if sports is not None and len({c for c in sports if c is not None}) >= 2:
            for c in sorted({c for c in sports if c is not None}):
                v = a[[s == c for s in sports]]
                per[c] = (float(v.mean()), float(v.std()))
        return cls(a.mean(), a.std(), per)

    def _stats(self, sport: str | None) -> tuple[float, float]:
        return self.classes.get(sport, (self.mean, self.std)) if sport else (self.mean, self.std)

    def __call__(self, s: float, sport: str | None = None) -> float:
        mean, std = self._stats(sport)
        return (s - mean) / std

    def inverse(
        self, z: torch.Tensor | np.ndarray, sports: list[str | None] | None = None
    ) -> torch.Tensor | np.ndarray:
        """Back to original units (`sports`: each element's class, for per-class statistics)."""
        if not self.classes or sports is None:
            return z * self.std + self.mean
        mean, std = (np.array(v) for v in zip(*(self._stats(c) for c in sports), strict=True))
        if isinstance(z, torch.Tensor):
            return z * torch.as_tensor(std, dtype=z.dtype) + torch.as_tensor(mean, dtype=z.dtype)
        out: np.ndarray = z * std + mean
        return out

    def scale(self, sports: list[str | None] | None, n: int) -> np.ndarray:
        """(n,) the std that maps each element back to original units (σ, interval widths)."""
        if not self.classes or sports is None:
            return np.full(n, self.std)
        return np.array([self._stats(c)[1] for c in sports])


class DiveDataset(Dataset[dict[str, Any]]):
    """Samples -> {'video': (K, 3, T, S, S), 'score', 'attributes', 'caption', 'id'}.

    Training mode draws the end-frame jitter, crop and flip from (seed, epoch, sample id), so runs
    are reproducible and independent of worker count. Decoded windows are kept in memory when
    `cfg.cache == "memory"`.
    """

    def __init__(
        self,
        samples: list[Sample],
        cfg: DataConfig,
        spec: InputSpec,
        train: bool = False,
        vocab: Vocab | None = None,
        score_norm: ScoreNorm | None = None,
        seed: int = 0,
        caption_max_len: int = 100,
    ) -> None:
        self.samples, self.cfg, self.spec, self.train = samples, cfg, spec, train
        self.caption_max_len = caption_max_len  # model.caption_max_len: words kept per caption
        self.vocab, self.score_norm, self.seed = vocab, score_norm or ScoreNorm(), seed
        self.epoch = 0
        try:
            self.offsets = clip_indices(cfg.num_clips, cfg.clip_len, cfg.stride, cfg.clip_starts)
        except ValueError as e:
            raise MtlaqaError(f"config: data.{e}") from None
        need = span(cfg.num_clips, cfg.clip_len, cfg.stride, cfg.clip_starts)
        if need > cfg.window or int(self.offsets.min()) < 0:
            raise MtlaqaError(
                f"config: the clips reach window frames {int(self.offsets.min())}..{need - 1}"
                f" but the window has frames 0..{cfg.window - 1}"
            )
        self._cache: dict[int, np.ndarray] = {}
        if cfg.cache not in ("memory", "disk", "none"):
            raise MtlaqaError(f"config: data.cache must be memory, disk or none, got {cfg.cache!r}")
        self._disk = (
            DiskCache(cfg.cache_dir or default_cache_dir(cfg.root)) if cfg.cache == "disk" else None
        )

    def set_epoch(self, epoch: int) -> None:
        """Change the random draws (call once per epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def load_window(self, i: int) -> np.ndarray:
        """uint8 (window + 2·jitter, H, W, 3): the dive window with the jitter margin each side."""
        if i in self._cache:
            return self._cache[i]
        s, cfg = self.samples[i], self.cfg
        j = cfg.jitter
        size = (cfg.resize[0], cfg.resize[1])
        key = None
        if self._disk is not None:
            settings = {
                "end": s.end_frame, "window": cfg.window, "jitter": j, "size": size,
                "fps": MODEL_FPS, "short": cfg.short_video, "min": cfg.min_frames,
            }  # fmt: skip
            key = self._disk.key(s.media, settings)
            hit = self._disk.get(key) if key is not None else None
            if hit is not None:
                return hit
        if s.end_frame is None:  # a plain video: the dive is taken to end with the video
            frames = read_frames(s.media, 0, 1 << 30, size)
            end = len(frames)
            start, stop = window_range(end, cfg.window)
            lo, hi = start - j, stop + j
            frames = frames[max(0, lo) : hi]
        else:
            start, stop = window_range(s.end_frame, cfg.window)
            lo, hi = start - j, stop + j
            frames = read_frames(s.media, lo, hi, size)
        want = hi - lo
        if len(frames) < want:
            before = max(0, -lo)
            missing = want - len(frames)
            # frames missing from the window itself; a missing jitter margin alone (a dive that
            # ends with its video) is padded silently: eval never reads it
            core = max(0, before - j) + max(0, missing - before - j)
            if len(frames) < cfg.min_frames or (core and cfg.short_video == "error"):
                raise VideoError(
                    window_message(s.media, start, stop, max(0, lo), len(frames))
                    + ("" if cfg.short_video == "error" else f" (at least {cfg.min_frames} to pad)")
                )
            frames = pad_edges(frames, before, missing - before)
            if core:
                log.warning("%s: window padded with %d repeated edge frames", s.media, core)
        if cfg.cache == "memory":
            self._cache[i] = frames
        elif key is not None and self._disk is not None:
            frames = self._disk.put(key, frames)
        return frames

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.item(i, self.train)

    def item(self, i: int, augment: bool) -> dict[str, Any]:
        """Sample i, with the training draws of this epoch when `augment`."""
        s, cfg = self.samples[i], self.cfg
        window = self.load_window(i)
        rng = np.random.default_rng(sample_seed(self.seed, self.epoch, s.id)) if augment else None
        shift = int(rng.integers(-cfg.jitter, cfg.jitter + 1)) if rng is not None else 0
        offsets = self.offsets + cfg.jitter + shift
        flip = bool(rng is not None and cfg.flip and rng.random() < 0.5)
        crop_rng = rng if (rng is not None and cfg.random_crop) else None
        video = to_clips(
            window, offsets, self.spec, cfg.crop_size, crop_rng, flip, cfg.subtract_mean_frame
        )
        item: dict[str, Any] = {"id": s.id, "index": i, "video": video}
        item["score"] = (
            float(self.score_norm(s.score, s.sport)) if s.score is not None else float("nan")
        )
        item["sport"] = s.sport
        item["attributes"] = torch.tensor(
            [-1 if getattr(s, k) is None else getattr(s, k) for k in ATTRIBUTE_CLASSES]
        )
        if self.vocab is not None:
            text = s.caption or ""
            item["caption"] = torch.tensor(self.vocab.encode(text, self.caption_max_len))
            item["has_caption"] = s.caption is not None
        return item


def window_message(media: str, start: int, stop: int, first: int, n: int) -> str:
    """How many frames of the window start..stop-1 exist, given `n` frames read from `first`."""
    present = max(0, min(first + n, stop) - max(first, start))
    have = f"only {present}" if present else "none"
    hint = "; is end_frame past the video's end?" if not present and start > 0 else ""
    return (
        f"{media}: {have} of the {stop - start} window frames exist "
        f"(window: frames {start}..{stop - 1}{hint})"
    )


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack a batch; captions are padded with 0 (<pad>) into decoder input/target pairs."""
    batch: dict[str, Any] = {
        "id": [it["id"] for it in items],
        "index": torch.tensor([it["index"] for it in items]),
        "video": torch.stack([it["video"] for it in items]),  # (B, K, 3, T, S, S)
        "score": torch.tensor([it["score"] for it in items], dtype=torch.float32),  # (B,)
        "sport": [it.get("sport") for it in items],
    }
    if "exemplar_video" in items[0]:  # score_head=exemplar training (data/exemplars.py)
        batch["exemplar_video"] = torch.stack([it["exemplar_video"] for it in items])
        batch["exemplar_score"] = torch.tensor(
            [it["exemplar_score"] for it in items], dtype=torch.float32
        )  # (B,)
    attrs = torch.stack([it["attributes"] for it in items])  # (B, 5)
    batch["attributes"] = {k: attrs[:, j] for j, k in enumerate(ATTRIBUTE_CLASSES)}
    if "caption" in items[0]:
        length = max(len(it["caption"]) for it in items) - 1
        cin = torch.zeros(len(items), length, dtype=torch.long)
        cout = torch.zeros(len(items), length, dtype=torch.long)
        for r, it in enumerate(items):
            c = it["caption"]
            if it["has_caption"]:
                cin[r, : len(c) - 1] = c[:-1]
                cout[r, : len(c) - 1] = c[1:]
        batch["caption_in"], batch["caption_out"] = cin, cout  # (B, L): <sos> w…, w… <eos>
    return batch
