"""The checkpoint format: what a training checkpoint holds, atomic save, load, model rebuild.

Read by predict, evaluate, calibrate, the web page and the weights tools without the trainer.
A checkpoint is a dict of plain tensors and containers (read with `weights_only=True`):
config, model, optimizer, scheduler, scaler, vocab, score_norm(_classes), the train state
(epoch, progress, best_val, best_epoch, bad_epochs, history, rng, rank_progress, conformal),
meta and exemplar_bank.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from mtlaqa.checkpoint_checks import check_weights_fit, disk_full, first_line
from mtlaqa.config import Config, config_from_dict
from mtlaqa.data.dataset import ScoreNorm
from mtlaqa.data.vocab import Vocab
from mtlaqa.errors import MtlaqaError
from mtlaqa.models.build import build_model
from mtlaqa.models.mtl import MTLModel
from mtlaqa.models.network import Network


def training_checkpoint(
    cfg: Config,
    model: Network,
    optim: dict[str, Any],
    vocab: Vocab | None,
    norm: ScoreNorm,
    train_state: dict[str, Any],
    meta: dict[str, Any],
    exemplar_bank: dict[str, Any] | None,
) -> dict[str, Any]:
    """Everything exact resume and inference need, in the checkpoint format.

    `optim` holds the optimizer, scheduler and scaler state dicts; `train_state` is
    `TrainState.state_dict()`.
    """
    return {
        "config": cfg.to_dict(),
        "model": model.state_dict(),
        "optimizer": optim["optimizer"],
        "scheduler": optim["scheduler"],
        "scaler": optim["scaler"],
        "vocab": vocab.to_list() if vocab else None,
        "score_norm": (norm.mean, norm.std),
        "score_norm_classes": norm.classes,
        **train_state,
        "meta": meta,
        "exemplar_bank": exemplar_bank,
    }


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomic save: temporary file, fsync, rename — never a half-written checkpoint.

    A failed write (a full disk) removes the temporary file, keeps the previous checkpoint and
    raises a one-line MtlaqaError.
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:
        full = disk_full(e, tmp.parent)
        tmp.unlink(missing_ok=True)
        kept = "the previous checkpoint is kept" if path.is_file() else "no checkpoint written"
        why = "disk full" if full else f"write failed: {first_line(e)}"
        raise MtlaqaError(f"{path}: cannot save the checkpoint ({why}); {kept}") from None
    except BaseException:  # Ctrl+C mid-write: leave no partial file behind
        tmp.unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by `fit` (weights_only: plain tensors and containers)."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise MtlaqaError(f"{path}: checkpoint not found")
    if path.stat().st_size == 0:
        raise MtlaqaError(f"{path}: empty file (0 bytes), not a checkpoint")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        raise MtlaqaError(f"{path}: not a readable mtlaqa checkpoint ({first_line(e)})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "config" not in ckpt:
        raise MtlaqaError(f"{path}: not an mtlaqa checkpoint (no model/config)")
    return ckpt


def model_from_checkpoint(
    ckpt: dict[str, Any], where: str = "checkpoint"
) -> tuple[Network, Config, Vocab | None, ScoreNorm]:
    """Rebuild model, config, vocabulary and score normalization from a checkpoint.

    `where` (the file) names the checkpoint in the one-line error when its parts do not fit.
    """
    try:
        cfg = config_from_dict(ckpt["config"])
    except MtlaqaError as e:
        raise MtlaqaError(f"{where}: stored config is invalid ({e})") from None
    cfg.model.backbone_weights = None  # the weights are in the checkpoint
    vocab = Vocab.from_list(ckpt["vocab"]) if ckpt.get("vocab") else None
    if "caption" in cfg.model.tasks and vocab is None:
        raise MtlaqaError(
            f"{where}: the model has a caption head but the checkpoint has no vocabulary"
        )
    model = build_model(cfg, vocab)
    check_weights_fit(model.state_dict(), ckpt["model"], where)
    model.load_state_dict(ckpt["model"])
    if ckpt.get("exemplar_bank") and isinstance(model, MTLModel) and hasattr(model, "bank"):
        model.bank.load_dict(ckpt["exemplar_bank"])
    model.eval()
    mean, std = ckpt.get("score_norm", (0.0, 1.0))
    norm = ScoreNorm(mean, std, ckpt.get("score_norm_classes"))
    return model, cfg, vocab, norm
