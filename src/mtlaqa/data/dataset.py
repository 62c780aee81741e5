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
from mtlaqa.models.registry import InputSpec
from mtlaqa.schema import ATTRIBUTE_CLASSES

log = logging.getLogger(__name__)


def sample_seed(seed: int, epoch: int, sample_id: str) -> int:
    """Deterministic per-sample seed from the run seed, the epoch and the sample id."""
    return zlib.crc32(f"{seed}:{epoch}:{sample_id}".encode())


class ScoreNorm:
    """Invertible score normalization (z-score with the training statistics)."""

    def __init__(self, mean: float = 0.0, std: float = 1.0) -> None:
        self.mean, self.std = float(mean), float(std) if std > 0 else 1.0

    @classmethod
    def fit(cls, scores: list[float]) -> ScoreNorm:
        """From the training scores."""
        a = np.asarray(scores, dtype=np.float64)
        return cls(a.mean(), a.std()) if len(a) else cls()

    def __call__(self, s: float) -> float:
        return (s - self.mean) / self.std

    def inverse(self, z: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """Back to original units."""
        return z * self.std + self.mean


class DiveDataset(Dataset):
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
    ) -> None:
        self.samples, self.cfg, self.spec, self.train = samples, cfg, spec, train
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
                    f"{s.media}: only {cfg.window - core} of the {cfg.window} window frames exist"
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
            window, offsets, self.spec, cfg.crop, crop_rng, flip, cfg.subtract_mean_frame
        )
        item: dict[str, Any] = {"id": s.id, "index": i, "video": video}
        item["score"] = float(self.score_norm(s.score)) if s.score is not None else float("nan")
        item["attributes"] = torch.tensor(
            [-1 if getattr(s, k) is None else getattr(s, k) for k in ATTRIBUTE_CLASSES]
        )
        if self.vocab is not None:
            text = s.caption or ""
            item["caption"] = torch.tensor(self.vocab.encode(text, cfg.caption_max_len))
            item["has_caption"] = s.caption is not None
        return item


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack a batch; captions are padded with 0 (<pad>) into decoder input/target pairs."""
    batch: dict[str, Any] = {
        "id": [it["id"] for it in items],
        "index": torch.tensor([it["index"] for it in items]),
        "video": torch.stack([it["video"] for it in items]),  # (B, K, 3, T, S, S)
        "score": torch.tensor([it["score"] for it in items], dtype=torch.float32),  # (B,)
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
