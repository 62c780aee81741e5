"""What exact resume needs beyond the weights and optimizer: the train state (progress, history,
best so far, early stop), every rank's RNG states, and the checks that a resume is the same run."""

from __future__ import annotations

import math
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mtlaqa.config import Config, config_from_dict
from mtlaqa.distributed import DistInfo, gather_objects
from mtlaqa.errors import MtlaqaError


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) generator states."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": _np_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put back the generator states `rng_state` captured."""
    random.setstate(_tuples(state["python"]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _np_state() -> list[Any]:
    # plain Python values: checkpoints are read with weights_only=True, which refuses ndarrays
    state = np.random.get_state(legacy=True)
    if not isinstance(state, tuple):  # only a non-MT19937 global generator gives a dict
        raise RuntimeError("numpy's global generator is not MT19937; cannot save its state")
    name, keys, pos, has_gauss, cached = state
    return [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]


def _tuples(x: Any) -> Any:
    # torch.load(weights_only=True) gives lists where the generators want tuples
    if isinstance(x, list):
        return tuple(_tuples(v) for v in x)
    return x


class Progress:
    """Where training stands: epoch (1-based), batches done in it, optimizer steps, partial sums."""

    def __init__(self) -> None:
        self.epoch, self.batch, self.step, self.epoch_done = 1, 0, 0, False
        self.sums: dict[str, float] = {}
        self.n_batches = 0

    def start_epoch(self, epoch: int) -> None:
        """Enter `epoch`: a fresh one starts at batch 0 with empty sums; the current one goes on."""
        if self.epoch != epoch:
            self.epoch, self.batch, self.sums, self.n_batches = epoch, 0, {}, 0

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Progress:
        p = cls()
        p.__dict__.update(d)
        return p


class TrainState:
    """A run's state beyond the weights and optimizer: progress, history, the best epoch so far
    (its weights and interval calibration), the early-stop count and every rank's RNG."""

    def __init__(self) -> None:
        self.progress = Progress()
        self.history: list[dict[str, Any]] = []
        self.best_val, self.best_epoch, self.bad_epochs = -math.inf, 0, 0
        self.best_weights: dict[str, torch.Tensor] | None = None
        # split-conformal calibration of the best weights on val
        self.best_calibration: dict[str, Any] | None = None
        self.stopped_early = False

    def state_dict(self, dist: DistInfo) -> dict[str, Any]:
        """The checkpoint's train-state entries. Collective: every rank calls it (RNG, sums)."""
        rngs = gather_objects(rng_state(), dist)
        ranks = gather_objects(self.progress.to_dict(), dist)
        return {
            "epoch": self.progress.epoch,
            "progress": self.progress.to_dict(),
            "best_val": self.best_val,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "history": self.history,
            "rng": rngs,
            "rank_progress": ranks,
            "conformal": self.best_calibration,
        }

    def load_state_dict(self, d: dict[str, Any], rank: int = 0, world: int = 1) -> None:
        """Continue from a checkpoint: this rank's RNG and partial sums, the next batch to do."""
        self.history, self.best_val, self.best_epoch = d["history"], d["best_val"], d["best_epoch"]
        self.bad_epochs = d.get("bad_epochs", 0)
        pos = Progress.from_dict(d["progress"])
        rngs = d["rng"]
        restore_rng(rngs[rank] if len(rngs) == world else rngs[0])
        if len(d["rank_progress"]) == world:  # each rank's own partial loss sums
            pos.sums = d["rank_progress"][rank]["sums"]
        if pos.epoch_done:  # written at an epoch's end: go on with the next epoch
            pos.epoch, pos.batch, pos.epoch_done, pos.sums, pos.n_batches = (
                pos.epoch + 1,
                0,
                False,
                {},
                0,
            )
        self.progress = pos

    def load_best(self, best: dict[str, Any]) -> None:
        """The best checkpoint's weights and calibration (tested at the end as `best`)."""
        self.best_weights, self.best_calibration = best["model"], best.get("conformal")

    def update_best(self, epoch: int, val_rho: float, has_val: bool, model: nn.Module) -> bool:
        """Keep `model`'s weights when val ρ improved (always without val, and at the first epoch,
        even when its ρ is undefined: a later finite ρ replaces it); else count a bad epoch."""
        improved = (
            not has_val or self.best_epoch == 0 or (_finite(val_rho) and val_rho > self.best_val)
        )
        if improved:
            self.best_val = val_rho if _finite(val_rho) else self.best_val
            self.best_epoch, self.bad_epochs = epoch, 0
            self.best_weights = {
                k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()
            }
        else:
            self.bad_epochs += 1
        return improved

    def should_stop(self, patience: int, has_val: bool) -> bool:
        """Early stop: `patience` epochs without a val ρ gain (never without val or patience 0)."""
        self.stopped_early = patience > 0 and has_val and self.bad_epochs >= patience
        return self.stopped_early


def _finite(x: float) -> bool:
    return isinstance(x, float) and math.isfinite(x)


# keys of a run's config that may change when resuming (they do not change the result)
RESUME_MUTABLE = {
    ("train", "epochs"),
    ("train", "device"),
    ("train", "threads"),
    ("data", "num_workers"),
    ("data", "root"),
}


def resume_config(
    run_dir: str | os.PathLike[str], overrides: list[str] | tuple[str, ...] = ()
) -> Config:
    """The config of a run folder, with only harmless overrides (epochs, device, threads, workers, root)."""
    from mtlaqa.config import load_config

    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise MtlaqaError(f"{run_dir}: not a run folder (no config.yaml)")
    base = load_config(str(path))
    cfg = load_config(str(path), list(overrides))
    a, b = base.to_dict(), cfg.to_dict()
    for sec in a:
        for k in a[sec]:
            if a[sec][k] != b[sec][k] and (sec, k) not in RESUME_MUTABLE:
                raise MtlaqaError(
                    f"--resume: {sec}.{k} cannot change in a resumed run (it changes the result)"
                )
    return cfg


def check_same_run(saved: dict[str, Any], now: dict[str, Any], path: Path) -> None:
    """A checkpoint resumes only the run that wrote it (up to the RESUME_MUTABLE keys)."""
    saved = config_from_dict(saved).to_dict()  # keys renamed since (data.caption_max_len)
    for sec in saved:
        for k in saved[sec]:
            if saved[sec][k] != now.get(sec, {}).get(k) and (sec, k) not in RESUME_MUTABLE:
                raise MtlaqaError(
                    f"{path}: written with a different {sec}.{k}; resume with the run's own config"
                )
