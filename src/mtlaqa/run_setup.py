"""A training run, built: data and splits, vocabulary and score units, model, loaders, optimizer,
scheduler, scaler, DDP/compile wrapping and provenance, in one fixed order (same seed: same run)."""

from __future__ import annotations

import dataclasses
import math
import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from mtlaqa.checkpoint import load_checkpoint, save_checkpoint, training_checkpoint
from mtlaqa.config import Config
from mtlaqa.data.dataset import DiveDataset, ScoreNorm
from mtlaqa.data.exemplars import BankDataset, ExemplarDataset, ExemplarPairing, bank_indices
from mtlaqa.data.loader import make_loader
from mtlaqa.data.manifest import Sample, read_manifest
from mtlaqa.data.prefill import prefill_memory_cache
from mtlaqa.data.preflight import check_media
from mtlaqa.data.sampler import EpochSampler
from mtlaqa.data.splits import split_samples, val_source
from mtlaqa.data.support import supported_tasks
from mtlaqa.data.vocab import Vocab
from mtlaqa.device import amp_dtype
from mtlaqa.distributed import DistInfo, gather_objects
from mtlaqa.errors import MtlaqaError
from mtlaqa.evaluate import merge_shards, predict_loader
from mtlaqa.models.build import build_model
from mtlaqa.models.exemplar import bank_summary, fill_bank
from mtlaqa.models.mtl import MTLModel
from mtlaqa.models.network import Network
from mtlaqa.optim import build_optimizer, build_scheduler
from mtlaqa.protocols import check_protocol, protocol_samples, to_final_units
from mtlaqa.trainstate import TrainState


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def code_version() -> str:
    """Git commit of the code when run from a checkout, else the package version."""
    from mtlaqa import __version__

    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        if out.returncode == 0:
            return f"{__version__}+{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    return __version__


@dataclass
class RunData:
    """The run's samples: manifest, splits (for metrics), targets (what the datasets train on)."""

    cfg: Config  # model.tasks narrowed to the labels the training split has
    samples: list[Sample]
    splits: dict[str, list[Sample]]
    targets: dict[str, list[Sample]]  # the protocol's target (execution for with_dd)
    tasks: list[str]
    tasks_note: str | None
    protocol: str


@dataclass
class RunLoaders:
    """The training loader (resumable sampler), val/test loaders and the exemplar bank's."""

    train_ds: DiveDataset | ExemplarDataset
    sampler: EpochSampler
    train: DataLoader[dict[str, Any]]
    val: DataLoader[dict[str, Any]] | None
    test: DataLoader[dict[str, Any]] | None
    bank: DataLoader[dict[str, Any]] | None
    batches_per_epoch: int
    steps_per_epoch: int


@dataclass
class TrainingRun:
    """Everything `fit` trains with; `resume_from` is the last.pt being resumed (or None)."""

    cfg: Config
    out: Path
    device: torch.device
    dtype: torch.dtype | None
    dist: DistInfo
    progress: bool
    verbose: bool
    data: RunData
    vocab: Vocab | None
    norm: ScoreNorm
    model: Network
    loaders: RunLoaders
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    net: torch.nn.Module  # the model as trained: DDP-wrapped and/or compiled
    ddp: torch.nn.parallel.DistributedDataParallel | None
    resume_from: dict[str, Any] | None
    meta: dict[str, Any] = field(default_factory=dict)
    bank_step: int | None = None  # the optimizer step the exemplar bank was filled at

    @property
    def last_path(self) -> Path:
        return self.out / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.out / "checkpoint.pt"

    def refresh_bank(self, step: int) -> None:
        """Refill the exemplar bank when the weights changed since the last fill."""
        if self.loaders.bank is not None and self.bank_step != step:
            model = self.exemplar_model()
            fill_bank(model, self.loaders.bank, self.device, self.dtype)
            self.bank_step = step
            self.meta["exemplar_bank"] = bank_summary(model)

    def exemplar_model(self) -> MTLModel:
        """The model as the owner of an exemplar head and bank (only MTLModel has them)."""
        if not isinstance(self.model, MTLModel):  # other archs refuse score_head=exemplar
            raise TypeError(f"{type(self.model).__name__} has no exemplar bank")
        return self.model

    def predict(self, name: str, captions: bool, step: int) -> dict[str, Any]:
        """The model over split `name` (every rank's shard joined), in final score units."""
        self.refresh_bank(step)
        loader = self.loaders.val if name == "val" else self.loaders.test
        if loader is None:  # callers predict only on a split that has samples
            raise ValueError(f"the run has no {name} split to predict")
        p = predict_loader(
            self.model,
            loader,
            self.device,
            self.norm,
            self.vocab,
            captions,
            self.dtype,
            name,
            self.progress,
        )
        split = self.data.splits[name]
        p = merge_shards(gather_objects(p, self.dist), [s.id for s in split])
        return to_final_units(p, split, self.data.protocol)

    def save(self, state: TrainState, paths: list[Path]) -> None:
        """Write the training checkpoint to `paths` (collective: every rank calls it; rank 0 writes)."""
        train_state = state.state_dict(self.dist)
        if not self.dist.main:
            return
        self.refresh_bank(state.progress.step)
        optim = {
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "scaler": self.scaler.state_dict(),
        }
        bank = self.exemplar_model().bank.to_dict() if self.loaders.bank is not None else None
        ck = training_checkpoint(
            self.cfg, self.model, optim, self.vocab, self.norm, train_state, self.meta, bank
        )
        for p in paths:
            save_checkpoint(p, ck)


def build_run(
    cfg: Config,
    out: Path,
    device: torch.device,
    dist: DistInfo,
    resume: bool,
    progress: bool,
    verbose: bool,
) -> TrainingRun:
    """Build the run of `cfg` in `out` (a resumed run keeps its saved vocabulary and score units)."""
    t = cfg.train
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
    seed_everything(t.seed)  # same seed on every rank: same initial weights
    if t.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    if t.accum_steps < 1:
        raise MtlaqaError("train.accum_steps must be >= 1")
    dtype = amp_dtype(device, t.amp)
    data = prepare_data(cfg, verbose)
    cfg = data.cfg
    last_path = out / "last.pt"
    ck = load_checkpoint(last_path) if resume and last_path.is_file() else None
    vocab = _vocab(data, ck)
    norm = _score_norm(data, ck)
    model = build_model(cfg, vocab).to(device)
    model.channels_last = t.channels_last
    loaders = _loaders(data, model, vocab, norm, dist)
    opt = build_optimizer(cfg, model)
    sched = build_scheduler(cfg, opt, loaders.steps_per_epoch)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    net, ddp = _wrap(model, device, dist, t.compile)
    run = TrainingRun(
        cfg=cfg,
        out=out,
        device=device,
        dtype=dtype,
        dist=dist,
        progress=progress,
        verbose=verbose,
        data=data,
        vocab=vocab,
        norm=norm,
        model=model,
        loaders=loaders,
        opt=opt,
        sched=sched,
        scaler=scaler,
        net=net,
        ddp=ddp,
        resume_from=ck,
    )
    run.meta = run_meta(run)
    return run


def prepare_data(cfg: Config, verbose: bool) -> RunData:
    """Read and check the manifest, split it, narrow the tasks to its labels, apply the protocol."""
    if not cfg.data.root:
        raise MtlaqaError("no dataset: set data.root (e.g. --data DIR)")
    samples = read_manifest(cfg.data.root)
    check_media(samples, cfg.data.root)  # every split, before epoch 1
    splits = split_samples(samples, cfg.data.val_fraction, cfg.train.seed)
    tasks, tasks_note = supported_tasks(list(cfg.model.tasks), splits["train"])
    if tasks != list(cfg.model.tasks):  # the heads follow the labels the manifest has
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, tasks=tasks))
        if verbose:
            tqdm.write(tasks_note or "")
    protocol = check_protocol(cfg.model.score_protocol)
    # the datasets carry the protocol's target (execution for with_dd); metrics use `splits`
    targets = {
        k: protocol_samples(v, protocol) if "score" in tasks else v for k, v in splits.items()
    }
    if "score" in tasks and not any(s.score is not None for s in splits["train"]):
        raise MtlaqaError(f"{cfg.data.root}: no training sample has a score")
    return RunData(cfg, samples, splits, targets, tasks, tasks_note, protocol)


def _vocab(data: RunData, ck: dict[str, Any] | None) -> Vocab | None:
    if "caption" not in data.tasks:
        return None
    if ck is not None and ck.get("vocab"):
        return Vocab.from_list(ck["vocab"])
    caps = [s.caption for s in data.splits["train"] if s.caption]
    if not caps:
        raise MtlaqaError(
            f"{data.cfg.data.root}: the caption task needs captions in the training split"
        )
    return Vocab.build(caps, data.cfg.data.caption_min_count)


def _score_norm(data: RunData, ck: dict[str, Any] | None) -> ScoreNorm:
    if ck is not None and ck.get("score_norm"):  # resume keeps the saved score units
        mean, std = ck["score_norm"]
        return ScoreNorm(mean, std, ck.get("score_norm_classes"))
    scored = [(s.score, s.sport) for s in data.targets["train"] if s.score is not None]
    return ScoreNorm.fit([x for x, _ in scored], [c for _, c in scored])


def _loaders(
    data: RunData, model: Network, vocab: Vocab | None, norm: ScoreNorm, dist: DistInfo
) -> RunLoaders:
    """Datasets and loaders of every split; the training order is sharded over ranks."""
    cfg, t, workers = data.cfg, data.cfg.train, data.cfg.data.num_workers
    rank, world = dist.rank, dist.world

    def dataset(name: str, is_train: bool) -> DiveDataset:
        return DiveDataset(
            data.targets[name],
            cfg.data,
            model.input_spec,
            is_train,
            vocab,
            norm,
            t.seed,
            cfg.model.caption_max_len,
        )

    def eval_loader(name: str) -> DataLoader[dict[str, Any]] | None:
        if not data.splits[name]:
            return None
        ds = dataset(name, False)
        sampler = EpochSampler(len(ds), 0, False, rank, world)
        return make_loader(ds, max(t.batch_size, 8), False, 0, workers, sampler)

    base = dataset("train", True)
    train_ds: DiveDataset | ExemplarDataset = base
    bank_loader = None
    if "score" in data.tasks and cfg.model.score_head == "exemplar":  # pairs, and the bank
        bank = BankDataset(base, bank_indices(data.targets["train"], cfg.model.exemplars, t.seed))
        bank_loader = make_loader(bank, max(t.batch_size, 8), False, 0, workers)
        train_ds = ExemplarDataset(base, ExemplarPairing(data.targets["train"], t.seed))
    sampler = EpochSampler(len(train_ds), t.seed, True, rank, world)
    loader = make_loader(train_ds, t.batch_size, True, t.seed, workers, sampler)
    batches = math.ceil(math.ceil(len(train_ds) / world) / t.batch_size)
    val_loader, test_loader = eval_loader("val"), eval_loader("test")
    if world == 1 and workers == 0:  # epoch 1's (and the test's) decoding on all cores at once
        for ld in (loader, val_loader, test_loader):
            if ld is not None:
                prefill_memory_cache(ld.dataset)
    steps = math.ceil(batches / t.accum_steps)
    return RunLoaders(
        train_ds, sampler, loader, val_loader, test_loader, bank_loader, batches, steps
    )


def _wrap(
    model: Network, device: torch.device, dist: DistInfo, compile_: bool
) -> tuple[torch.nn.Module, torch.nn.parallel.DistributedDataParallel | None]:
    """The model as trained: DDP across ranks, compiled when asked; and the DDP wrapper."""
    ddp = None
    net: torch.nn.Module = model
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel

        ddp = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
        net = ddp
    if compile_:
        net = torch.compile(net)  # type: ignore[assignment]
    return net, ddp


def run_meta(run: TrainingRun) -> dict[str, Any]:
    """Provenance and protocol of the run (metrics.json `meta`)."""
    cfg, t, data, world = run.cfg, run.cfg.train, run.data, run.dist.world
    if data.splits["val"]:
        by = "Fisher-z mean of per-class score_spearman" if run.norm.classes else "score_spearman"
        selection = f"best val {by}"
    elif cfg.data.val_fraction == 0:
        selection = (
            "last epoch (data.val_fraction=0: no val, every training dive trains; the paper's)"
        )
    else:
        selection = "last epoch (no val split)"
    meta = {
        "protocol": data.protocol,
        "selection": selection,
        "val_source": val_source(data.samples, data.splits),
        "split_sizes": {k: len(v) for k, v in data.splits.items()},
        "seed": t.seed,
        "config_hash": cfg.hash(),
        "code_version": code_version(),
        "torch": str(torch.__version__),
        "device": str(run.device),
        "amp": str(run.dtype).replace("torch.", "") if run.dtype else "fp32",
        "world_size": world,
        "global_batch": t.batch_size * world * t.accum_steps,
        "resumed": 0,
        "tasks": data.tasks,
    }
    if data.tasks_note:
        meta["tasks_note"] = data.tasks_note
    return meta
