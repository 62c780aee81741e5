"""Training: fit() runs the honest protocol (design §5) — build the run, restore or start the
train state, then per epoch train, validate, keep the best, save, log, maybe stop; then test the
last and the best weights.

The pieces: run_setup.py (the run, built: data, model, loaders, optimizer, DDP, provenance),
train_epoch.py (train_one_epoch, validate), trainstate.py (TrainState: progress, best, early stop,
RNG), checkpoint.py (the format), evaluate.py (predictions and metrics), optim.py (Adam, LR
schedule), data/splits.py (the val carve), data/sampler.py (the resumable training order).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from mtlaqa import conformal
from mtlaqa.caption_stage import run_caption_stage
from mtlaqa.checkpoint import load_checkpoint
from mtlaqa.checkpoint_checks import check_weights_fit
from mtlaqa.config import Config, save_config
from mtlaqa.device import select_device
from mtlaqa.distributed import DistInfo, cleanup, init_from_env
from mtlaqa.evaluate import compute_metrics
from mtlaqa.run_setup import TrainingRun, build_run
from mtlaqa.runlog import RunLog
from mtlaqa.train_epoch import train_one_epoch, validate
from mtlaqa.trainstate import TrainState, check_same_run

OnEpoch = Callable[[dict[str, Any]], None]


def fit(
    cfg: Config,
    out_dir: str | os.PathLike[str],
    progress: bool = True,
    on_epoch: OnEpoch | None = None,
    resume: bool = False,
    verbose: bool = True,
) -> dict[str, Any]:
    """Train `cfg` on its dataset, select on validation ρ, evaluate last and best on test.

    Alone or under torchrun (DDP: `train.batch_size` is per process). Writes last.pt (every epoch
    and every `train.checkpoint_every_steps`), checkpoint.pt (best val ρ), config.yaml and the
    history files; only rank 0 writes. `resume=True` continues from `out_dir/last.pt` exactly.
    """
    device, dist = _join(cfg)
    clock = PhaseClock()
    try:
        run = build_run(
            cfg, Path(out_dir), device, dist, resume, progress and dist.main, verbose and dist.main
        )
        run.meta["seconds"] = clock.seconds
        state = restore_or_start(run, resume)
        runlog = _open_log(run, state)
        clock.lap("setup")
        for epoch in range(state.progress.epoch, run.cfg.train.epochs + 1):
            row = train_one_epoch(run, state, epoch)
            clock.lap("train")
            val_row, val_pred = validate(run, epoch, state.progress.step)
            row.update(val_row)
            improved = _update_best(run, state, epoch, row, val_pred)
            clock.lap("validate")
            _save_and_log(run, state, row, improved, runlog, on_epoch)
            clock.lap("save")
            if _stop_early(run, state):
                break
        if runlog is not None:
            runlog.close()
        run_caption_stage(run, state)  # train.caption_epochs: the decoder alone, then test
        clock.lap("caption_stage")
        result = test_last_and_best(run, state)
        clock.lap("test")
        return result
    finally:
        cleanup(dist)


class PhaseClock:
    """Wall seconds per phase of `fit` (setup, train, validate, save, caption_stage, test),
    summed over epochs, of this process (a resumed run counts from its resume); they land in
    `run.meta["seconds"]`, hence in metrics.json, and the demo prints them."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = round(self.seconds.get(phase, 0.0) + now - self._t, 2)
        self._t = now


def _join(cfg: Config) -> tuple[torch.device, DistInfo]:
    """This process's threads and device, and its place in a torchrun job (alone: rank 0 of 1)."""
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    device = select_device(cfg.train.device)
    dist = init_from_env(device.type)
    if device.type == "cuda" and dist.enabled:
        device = torch.device("cuda", dist.local_rank)
        torch.cuda.set_device(device)
    return device, dist


def restore_or_start(run: TrainingRun, resume: bool) -> TrainState:
    """A fresh TrainState, or (resuming) weights, optimizer, scheduler, scaler and train state
    from last.pt and the best weights from checkpoint.pt; writes the run's config.yaml."""
    state, ck = TrainState(), run.resume_from
    if ck is not None:
        check_same_run(ck["config"], run.cfg.to_dict(), run.last_path)
        check_weights_fit(run.model.state_dict(), ck["model"], str(run.last_path))
        run.model.load_state_dict(ck["model"])
        run.opt.load_state_dict(ck["optimizer"])
        run.sched.load_state_dict(ck["scheduler"])
        run.scaler.load_state_dict(ck["scaler"])
        state.load_state_dict(ck, run.dist.rank, run.dist.world)
        run.meta["resumed"] = ck["meta"].get("resumed", 0) + 1
        if run.best_path.is_file():
            state.load_best(load_checkpoint(run.best_path))
        if run.verbose:
            pos = state.progress
            tqdm.write(
                f"resuming {run.out} at epoch {pos.epoch}, batch {pos.batch} (step {pos.step})"
            )
    elif resume and run.verbose:
        tqdm.write(f"no last.pt in {run.out}: starting from scratch")
    if run.dist.main:
        save_config(run.cfg, run.out / "config.yaml")
    return state


def _open_log(run: TrainingRun, state: TrainState) -> RunLog | None:
    if not run.dist.main:
        return None
    runlog = RunLog(run.out, run.cfg.train.tensorboard)
    runlog.write(state.history)
    return runlog


def _update_best(
    run: TrainingRun,
    state: TrainState,
    epoch: int,
    row: dict[str, Any],
    val_pred: dict[str, Any] | None,
) -> bool:
    """Select on val ρ (mixed sports: the Fisher-z mean of the per-class ρ, AQA-7's average);
    the best weights get their split-conformal calibration on val."""
    val_rho = row.get("val_score_spearman_fisher_z", row.get("val_score_spearman", float("nan")))
    improved = state.update_best(epoch, val_rho, run.loaders.val is not None, run.model)
    if improved:
        if val_pred is not None and "score_pred" in val_pred:
            state.best_calibration = conformal.calibrate(
                val_pred["score_pred"], val_pred["score_true"], val_pred.get("score_sigma")
            )
        row["best"] = True
    return improved


def _save_and_log(
    run: TrainingRun,
    state: TrainState,
    row: dict[str, Any],
    improved: bool,
    runlog: RunLog | None,
    on_epoch: OnEpoch | None,
) -> None:
    """End of an epoch: the row into the history, checkpoints, history files, the console line."""
    row = {k: float(v) if isinstance(v, (float, np.floating)) else v for k, v in row.items()}
    state.history.append(row)
    state.progress.epoch_done = True
    # best first, then last: a kill between the two resumes from the older last.pt and redoes
    # this epoch, so the newest last.pt never points past a best that was not written
    run.save(state, [run.best_path, run.last_path] if improved else [run.last_path])
    state.progress.epoch_done = False
    if runlog is not None:
        runlog.write(state.history, row)
    if run.verbose:
        msg = f"epoch {row['epoch']}: loss {row['train_loss']:.3f}, {row['train_clips_per_s']:.1f} clips/s"
        if "val_score_spearman" in row:
            msg += f", val ρ {row['val_score_spearman']:.3f}"
        tqdm.write(msg)
    if on_epoch and run.dist.main:
        on_epoch(row)


def _stop_early(run: TrainingRun, state: TrainState) -> bool:
    """True after `train.early_stop_patience` epochs without a val ρ gain."""
    if not state.should_stop(run.cfg.train.early_stop_patience, run.loaders.val is not None):
        return False
    if run.verbose:
        tqdm.write(
            f"early stop: no val ρ gain for {state.bad_epochs} epochs (best epoch {state.best_epoch})"
        )
    return True


def test_last_and_best(run: TrainingRun, state: TrainState) -> dict[str, Any]:
    """The fit result: meta, history, best epoch, early stop, and (with a test split) the test
    metrics and predictions of the last (unless `train.test_last` is off and the last is not the
    best) and the best weights, with the best's interval coverage."""
    result: dict[str, Any] = {
        "meta": run.meta,
        "history": state.history,
        "best_epoch": state.best_epoch,
        "stopped_early": state.stopped_early,
    }
    if run.loaders.test is not None:
        result.update(_test(run, state))
    cal = state.best_calibration
    if "score" in run.data.tasks:
        run.meta["interval"] = (
            f"split-conformal ({cal['kind']}) on val, n={cal['n']}"
            if cal
            else conformal.NO_VAL_NOTE
        )
    return result


def _test(run: TrainingRun, state: TrainState) -> dict[str, Any]:
    splits, step = run.data.splits, state.progress.step
    test: dict[str, Any] = {}
    preds: dict[str, Any] = {}
    last_epoch = state.history[-1]["epoch"] if state.history else 0
    runs: list[tuple[str, dict[str, torch.Tensor] | None]] = [("last", None)]
    if state.best_weights is not None and state.best_epoch != last_epoch:  # else best is last
        runs.append(("best", state.best_weights))
        if not run.cfg.train.test_last:  # the demo: only the weights it shows
            runs = runs[1:]
    for which, weights in runs:
        if weights is not None:
            run.model.load_state_dict(weights)
            run.bank_step = None  # new weights: a new bank
        preds[which] = run.predict("test", True, step)
        test[which] = compute_metrics(
            preds[which], splits["test"], splits["train"], meteor=run.cfg.train.meteor
        )
    if "best" not in test:
        test["best"], preds["best"] = test["last"], preds["last"]
    out: dict[str, Any] = {"test": test, "predictions": preds}
    bp, cal = preds["best"], state.best_calibration
    if cal is not None and "score_pred" in bp:  # the calibration is the best weights'
        iv = conformal.interval_metrics(
            cal, bp["score_pred"], bp["score_true"], bp.get("score_sigma")
        )
        out["calibration"] = iv.pop("curve")
        test["best"] = {**test["best"], **iv}
    return out
