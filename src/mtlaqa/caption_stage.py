"""Caption stage (`train.caption_epochs`): the decoder alone, on the trained body's frozen features.

After the joint epochs the body, the score and the attribute heads are fixed; the clip features
(and, with `caption_condition: heads`, the condition vector the decoder reads in training) of
every training dive are computed once, without augmentation, and only the caption head trains on
them for `caption_epochs` epochs (Adam at `caption_lr`, constant or cosine-decayed by
`caption_schedule`, the paper's Σ token NLL / B). On SynthDive's demo preset a frozen-body probe
(benchmarks/caption_probe.py) measured that the decoder needs about 1 000 updates on fixed
features to leave the one-sentence mode, which the joint epochs under a decaying learning rate and
moving features do not give it. Beyond the paper: off (0) by default.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from mtlaqa.checkpoint import load_checkpoint
from mtlaqa.data.dataset import DiveDataset, collate
from mtlaqa.data.exemplars import ExemplarDataset
from mtlaqa.evaluate import compute_metrics
from mtlaqa.losses import caption_loss
from mtlaqa.meteor import prestart_meteor
from mtlaqa.models.grounding import condition_vector
from mtlaqa.models.network import Network
from mtlaqa.optim import lr_lambda
from mtlaqa.run_setup import TrainingRun
from mtlaqa.trainstate import TrainState

# features (N, K, D), condition vectors (N, C) or None, caption tokens per dive
FrozenInputs = tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]


class _Plain(Dataset[dict[str, Any]]):
    """The training samples without augmentation (sharing the dataset's decoded-frame cache)."""

    def __init__(self, ds: DiveDataset) -> None:
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.ds.item(i, False)


@torch.no_grad()
def frozen_inputs(
    model: Network,
    ds: DiveDataset,
    device: torch.device,
    dtype: torch.dtype | None,
    batch_size: int,
    progress: bool = False,
) -> FrozenInputs:
    """Clip features (N, K, D), condition vectors (N, C) or None, caption tokens per dive.

    The condition is what the decoder reads in training (`condition_vector` with the batch's
    targets: the true dive under `caption_condition_source: teacher`, the heads' output under
    `soft`). Dives without a caption get an empty token list.
    """
    model.eval()
    loader = DataLoader(_Plain(ds), batch_size=batch_size, shuffle=False, collate_fn=collate)
    feats, conds = [], []
    for batch in tqdm(loader, desc="caption stage: features", leave=False, disable=not progress):
        video = batch["video"].to(device)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            out = model(video)  # features (B, K, D), the heads' outputs
        truth = {
            "score": batch["score"].to(device),
            "attributes": {k: v.to(device) for k, v in batch["attributes"].items()},
        }
        cond = condition_vector(out, model.cfg, truth)  # (B, C) or None
        feats.append(out["features"].float().cpu())
        if cond is not None:
            conds.append(cond.float().cpu())
    vocab, empty = ds.vocab, torch.zeros(0, dtype=torch.long)
    tokens = [  # <sos> … <eos>, as the dataset encodes them
        torch.tensor(vocab.encode(s.caption, ds.caption_max_len)) if s.caption and vocab else empty
        for s in ds.samples
    ]
    return torch.cat(feats), (torch.cat(conds) if conds else None), tokens


def pad_tokens(seqs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token sequences (<sos> … <eos>) -> decoder inputs and targets (B, L), 0-padded."""
    length = max(len(s) for s in seqs) - 1
    cin = torch.zeros(len(seqs), length, dtype=torch.long)
    cout = torch.zeros(len(seqs), length, dtype=torch.long)
    for r, s in enumerate(seqs):
        cin[r, : len(s) - 1], cout[r, : len(s) - 1] = s[:-1], s[1:]
    return cin, cout


def fit_caption_head(
    head: nn.Module,
    inputs: FrozenInputs,
    device: torch.device,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    progress: bool = False,
    schedule: str = "constant",
) -> dict[str, Any]:
    """Train the caption head alone on `frozen_inputs`' (features, condition, tokens); its log.

    `schedule`: the LR over the stage's updates, constant or cosine (from `lr` down to 0).
    The rest of the model is untouched (its parameters get no gradient and no update). Runs the
    same on every rank of a distributed run (same data, same seed), so no communication is needed.
    """
    feats, cond, tokens = inputs
    keep = [i for i, t in enumerate(tokens) if len(t) > 1]
    if not keep:
        return {"epochs": 0, "note": "no training dive has a caption"}
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    updates = epochs * math.ceil(len(keep) / batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(schedule, 0, updates))
    gen = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    head.train()
    bar = tqdm(range(epochs), desc="caption stage", leave=False, disable=not progress)
    for _ in bar:
        total, n = 0.0, 0
        order = torch.tensor(keep)[torch.randperm(len(keep), generator=gen)]
        for idx in torch.split(order, batch_size):
            cin, cout = pad_tokens([tokens[i] for i in idx])
            c = cond[idx].to(device) if cond is not None else None
            logits = head(feats[idx].to(device), cin.to(device), c)  # (B, L, V)
            loss = caption_loss(logits, cout.to(device))
            opt.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            opt.step()
            sched.step()
            total, n = total + float(loss.detach()), n + 1
        losses.append(total / max(1, n))
        bar.set_postfix(loss=f"{losses[-1]:.2f}")
    head.eval()
    return {
        "epochs": epochs,
        "lr": lr,
        "schedule": schedule,
        "dives": len(keep),
        "updates": updates,
        "train_caption_loss": losses,
    }


def run_caption_stage(run: TrainingRun, state: TrainState) -> None:
    """The stage inside `fit`: the caption head of the best weights and, when the last epoch is
    not the best (and `train.test_last`), of the last weights, each saved; a resumed run skips
    what its checkpoints say was done. Leaves the last weights in the model (the staged best
    without `test_last`) and the staged best in `state.best_weights`."""
    t = run.cfg.train
    if t.caption_epochs <= 0 or "caption" not in run.data.tasks:
        return
    if t.meteor and run.dist.main:
        prestart_meteor()  # the JVM loads while the stage trains; its val report and the test use it
    train = run.loaders.train_ds
    base = train.base if isinstance(train, ExemplarDataset) else train
    done = _done(run)
    stage = run.meta.setdefault("caption_stage", {})
    state.progress.epoch_done = True  # the stage's saves resume after the last epoch
    hist = state.history
    best = state.best_weights
    separate = best is not None and bool(hist) and state.best_epoch != hist[-1]["epoch"]
    last = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
    for which in ("best", "last") if separate and t.test_last else ("best",):
        weights = best if which == "best" and separate and best is not None else last
        run.model.load_state_dict(weights)
        run.bank_step = None
        if which in done:
            stage[which] = done[which]
        else:
            lr, batch = t.caption_lr or t.lr, t.caption_batch_size or t.batch_size
            inputs = frozen_inputs(
                run.model, base, run.device, run.dtype, max(batch, 8), run.progress
            )
            stage[which] = fit_caption_head(
                run.model.caption, inputs, run.device, t.caption_epochs, lr, batch, t.seed,
                run.progress, t.caption_schedule,
            )  # fmt: skip
            if which == "best" and run.loaders.val is not None:
                _val_report(run, state, stage["best"])
            both = [run.best_path] if separate else [run.best_path, run.last_path]
            run.save(state, both if which == "best" else [run.last_path])
        if which == "best":
            state.best_weights = {
                k: v.detach().to("cpu", copy=True) for k, v in run.model.state_dict().items()
            }


def _done(run: TrainingRun) -> dict[str, Any]:
    """What a resumed run's checkpoints say the stage already did ({'best': log, 'last': log})."""
    if run.resume_from is None:
        return {}
    done = dict(run.resume_from["meta"].get("caption_stage", {}))
    if run.best_path.is_file():
        done.update(load_checkpoint(run.best_path)["meta"].get("caption_stage", {}))
    return done


def _val_report(run: TrainingRun, state: TrainState, log: dict[str, Any]) -> None:
    """The staged best weights' caption metrics on val, into the stage's log."""
    pred = run.predict("val", True, state.progress.step)
    vm = compute_metrics(pred, run.data.splits["val"], meteor=run.cfg.train.meteor)
    log["val"] = {k: v for k, v in vm.items() if k.startswith("caption_")}
    if run.verbose:
        tqdm.write(f"caption stage: val CIDEr {vm.get('caption_cider', float('nan')):.3f}")
