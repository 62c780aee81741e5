"""One epoch of training (the batch loop: AMP, gradient accumulation, NaN guard, mid-epoch
checkpoints) and validation, as timm's train_one_epoch / validate."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import torch
from tqdm.auto import tqdm

from mtlaqa.distributed import all_finite, mean_over_ranks
from mtlaqa.errors import MtlaqaError
from mtlaqa.evaluate import compute_metrics
from mtlaqa.losses import total_loss
from mtlaqa.run_setup import TrainingRun
from mtlaqa.trainstate import TrainState


def train_one_epoch(run: TrainingRun, state: TrainState, epoch: int) -> dict[str, Any]:
    """Train `epoch` from where `state` stands (mid-epoch after a resume); the epoch's history row:
    mean losses (averaged over ranks), learning rate and clips per second."""
    t, pos, bpe = run.cfg.train, state.progress, run.loaders.batches_per_epoch
    pos.start_epoch(epoch)
    run.net.train()
    run.loaders.train_ds.set_epoch(epoch)
    run.loaders.sampler.set_epoch(epoch, skip=pos.batch * t.batch_size)
    n_clips, t0 = 0, time.perf_counter()
    bar = tqdm(
        run.loaders.train,
        desc=f"epoch {epoch}/{t.epochs}",
        leave=False,
        disable=not run.progress,
        initial=pos.batch,
        total=bpe,
    )
    for batch in bar:
        g0 = (pos.batch // t.accum_steps) * t.accum_steps
        group = min(t.accum_steps, bpe - g0)  # the epoch's last group may be short
        last_in_group = pos.batch + 1 - g0 == group
        value, parts = _forward_backward(run, batch, group, last_in_group, epoch, pos.batch)
        pos.batch += 1
        pos.n_batches += 1
        n_clips += batch["video"].shape[0] * run.cfg.data.num_clips
        pos.sums["loss"] = pos.sums.get("loss", 0.0) + value
        for k, v in parts.items():
            pos.sums[k] = pos.sums.get(k, 0.0) + v
        if last_in_group:
            _optimizer_step(run)
            pos.step += 1
            every = t.checkpoint_every_steps
            if every > 0 and pos.step % every == 0 and pos.batch < bpe:
                run.save(state, [run.last_path])
        rate = n_clips / max(1e-9, time.perf_counter() - t0)
        bar.set_postfix(loss=f"{pos.sums['loss'] / pos.n_batches:.3f}", clips_s=f"{rate:.0f}")
    return _train_row(
        run, state, epoch, n_clips * run.dist.world / max(1e-9, time.perf_counter() - t0)
    )


def _forward_backward(
    run: TrainingRun,
    batch: dict[str, Any],
    group: int,
    last_in_group: bool,
    epoch: int,
    index: int,
) -> tuple[float, dict[str, float]]:
    """Forward (autocast), loss, NaN guard (all ranks stop together), backward scaled by 1/group;
    DDP syncs gradients only on the group's last batch. Returns the loss and its parts."""
    device, dtype, tasks = run.device, run.dtype, run.data.tasks
    video = batch["video"].to(device, non_blocking=True)
    cap = batch.get("caption_in")
    cap = cap.to(device) if cap is not None and "caption" in tasks else None
    tgt = {
        "score": batch["score"].to(device),
        "attributes": {k: v.to(device) for k, v in batch["attributes"].items()},
    }
    if "caption_out" in batch:
        tgt["caption_out"] = batch["caption_out"].to(device)
    ex = batch.get("exemplar_video")  # score_head=exemplar: the exemplars' clips and scores
    kw = {"exemplar": (ex.to(device), batch["exemplar_score"].to(device))} if ex is not None else {}
    ddp = run.ddp
    sync = ddp.no_sync() if ddp is not None and not last_in_group else contextlib.nullcontext()
    with sync:
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            outputs = run.net(video, cap, tgt if cap is not None else None, **kw)
        loss, parts = total_loss(outputs, tgt, run.cfg.loss)
        value = float(loss.detach())
        if not all_finite(value, run.dist, device):
            good = run.last_path if run.last_path.is_file() else None
            raise MtlaqaError(
                f"loss became non-finite ({value}) at epoch {epoch}, batch {index + 1}; stopped. "
                + (f"last good checkpoint: {good}" if good else "no checkpoint was written yet")
                + " (try a lower train.lr, train.grad_clip or train.amp=off)"
            )
        torch.autograd.backward(run.scaler.scale(loss / group))
    return value, parts


def _optimizer_step(run: TrainingRun) -> None:
    """Clip (when set), step the optimizer through the scaler, then the LR schedule."""
    t, opt, scaler = run.cfg.train, run.opt, run.scaler
    if t.grad_clip > 0:
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), t.grad_clip)
    scaler.step(opt)
    scaler.update()
    opt.zero_grad(set_to_none=True)
    run.sched.step()


def _train_row(
    run: TrainingRun, state: TrainState, epoch: int, clips_per_s: float
) -> dict[str, Any]:
    pos = state.progress
    means = {k: v / max(1, pos.n_batches) for k, v in pos.sums.items()}
    means = mean_over_ranks(means, run.dist, run.device)
    row: dict[str, Any] = {"epoch": epoch, "train_loss": means.get("loss", 0.0)}
    # score_mse_l1: MSE + L1 reported beside a gaussian/distribution head's own loss
    for k in [*run.data.tasks, "score_mse_l1"]:
        if k in means:
            row[f"train_{k}_loss"] = means[k]
    row["lr"] = run.opt.param_groups[0]["lr"]
    row["train_clips_per_s"] = clips_per_s
    return row


def validate(
    run: TrainingRun, epoch: int, step: int
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Val metrics (`val_*`, captions every `train.eval_captions_every` epochs) and the val
    predictions; ({}, None) without a val split."""
    if run.loaders.val is None:
        return {}, None
    every = run.cfg.train.eval_captions_every
    pred = run.predict("val", every > 0 and epoch % every == 0, step)
    metrics = compute_metrics(pred, run.data.splits["val"], meteor=False)
    return {f"val_{k}": v for k, v in metrics.items() if k != "n"}, pred
