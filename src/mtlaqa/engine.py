"""Training and evaluation: fit() runs the honest protocol (design §5), evaluate() scores a split."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler
from tqdm.auto import tqdm

from mtlaqa import conformal
from mtlaqa import metrics as M
from mtlaqa.caption_baselines import caption_report
from mtlaqa.caption_stage import train_caption_head
from mtlaqa.checkpoint_checks import check_weights_fit, disk_full, first_line
from mtlaqa.class_metrics import per_class_metrics
from mtlaqa.config import Config, config_from_dict, save_config
from mtlaqa.data.dataset import DiveDataset, ScoreNorm, collate
from mtlaqa.data.exemplars import BankDataset, ExemplarDataset, ExemplarPairing, bank_indices
from mtlaqa.data.manifest import Sample, read_manifest
from mtlaqa.data.prefill import prefill_memory_cache
from mtlaqa.data.preflight import check_media
from mtlaqa.data.support import supported_tasks
from mtlaqa.data.vocab import Vocab
from mtlaqa.device import amp_dtype, inference_context, select_device
from mtlaqa.distributed import (
    DistInfo,
    all_finite,
    cleanup,
    gather_objects,
    init_from_env,
    mean_over_ranks,
)
from mtlaqa.errors import MtlaqaError
from mtlaqa.losses import total_loss
from mtlaqa.models.archs import build_arch
from mtlaqa.models.exemplar import bank_summary, fill_bank
from mtlaqa.models.finetune import apply_freeze, param_groups
from mtlaqa.models.grounding import generate_commentary
from mtlaqa.models.mtl import MTLModel
from mtlaqa.models.weights import load_backbone_weights
from mtlaqa.protocols import check_protocol, protocol_samples, to_final_units
from mtlaqa.runlog import RunLog
from mtlaqa.schema import ATTRIBUTE_CLASSES
from mtlaqa.trainstate import EpochSampler, lr_lambda, restore_rng, rng_state

log = logging.getLogger(__name__)


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


def carve_val(
    train: list[Sample], val_fraction: float, seed: int
) -> tuple[list[Sample], list[Sample], str]:
    """Seeded val carve, stratified by dive type when every sample has one.

    Samples are shuffled inside each dive type, the types are laid end to end in a seeded order,
    and every (1/val_fraction)-th position goes to val: each type gets its share (rounded) and the
    val size is exact, even when many types have a single sample (as in MTL-AQA).
    """
    rng = np.random.default_rng(seed)
    types = [s.dive_type() for s in train]
    stratified = all(t is not None for t in types)
    groups: dict[Any, list[int]] = {}
    for i, t in enumerate(types):
        groups.setdefault(t if stratified else 0, []).append(i)
    keys = list(groups)
    order = [i for k in rng.permutation(len(keys)) for i in rng.permutation(groups[keys[k]])]
    n = len(order)
    pick = {
        order[j]
        for j in range(n)
        if math.floor((j + 1) * val_fraction) > math.floor(j * val_fraction)
    }
    if not pick:
        pick = {order[0]}
    val = [s for i, s in enumerate(train) if i in pick]
    rest = [s for i, s in enumerate(train) if i not in pick]
    return rest, val, "carved-stratified" if stratified else "carved"


def split_samples(samples: list[Sample], val_fraction: float, seed: int) -> dict[str, list[Sample]]:
    """Train/val/test by the manifest's split; val carved from train (seeded, stratified) when absent."""
    out: dict[str, list[Sample]] = {
        k: [s for s in samples if s.split == k] for k in ("train", "val", "test")
    }
    if not out["val"] and val_fraction > 0 and len(out["train"]) >= 10:
        out["train"], out["val"], _ = carve_val(out["train"], val_fraction, seed)
    if not out["train"]:
        raise MtlaqaError("the dataset has no training samples (split 'train')")
    return out


def val_source(samples: list[Sample], splits: dict[str, list[Sample]]) -> str:
    """Where the val split came from: manifest, carved(-stratified) or none."""
    if not splits["val"]:
        return "none"
    if any(s.split == "val" for s in samples):
        return "manifest"
    both = splits["train"] + splits["val"]
    return "carved-stratified" if all(s.dive_type() is not None for s in both) else "carved"


def build_model(cfg: Config, vocab: Vocab | None) -> MTLModel:
    """The network of `cfg.model` (arch by name) for clips of `cfg.data`, weights loaded, frozen as set."""
    model = build_arch(
        cfg.model,
        frames=cfg.data.clip_len,
        size=cfg.data.crop,
        vocab_size=len(vocab) if vocab else 0,
        num_clips=cfg.data.num_clips,
    )
    if cfg.model.backbone_weights:
        report = load_backbone_weights(model, cfg.model.backbone_weights)
        log.info("backbone weights %s: %s", cfg.model.backbone_weights, report.summary())
    apply_freeze(model, cfg.model)
    return model


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
) -> tuple[MTLModel, Config, Vocab | None, ScoreNorm]:
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
    if ckpt.get("exemplar_bank") and hasattr(model, "bank"):
        model.bank.load_dict(ckpt["exemplar_bank"])
    model.eval()
    norm = ScoreNorm(*ckpt.get("score_norm", (0.0, 1.0)), ckpt.get("score_norm_classes"))
    return model, cfg, vocab, norm


def make_optimizer(params: Any, cfg: Config) -> torch.optim.Optimizer:
    """Adam with the fused kernel (one pass over each tensor instead of ~8 elementwise ops):
    measured ~4x faster optimizer steps on CPU (benchmarks/README.md); plain Adam on older torch."""
    params = list(params)
    kw = {"lr": cfg.train.lr, "weight_decay": cfg.train.weight_decay}
    try:
        return torch.optim.Adam(params, fused=True, **kw)
    except (RuntimeError, TypeError):  # fused CPU Adam needs torch >= 2.4
        return torch.optim.Adam(params, **kw)


def make_loader(
    ds: DiveDataset,
    batch_size: int,
    shuffle: bool,
    seed: int,
    workers: int,
    sampler: Sampler[int] | None = None,
) -> DataLoader:
    """DataLoader with a seeded shuffle (or the given sampler); pinned memory only with a GPU.

    The loader owns its generator, so making an iterator never draws from torch's global RNG
    (which exact resume restores).
    """
    g = torch.Generator()
    g.manual_seed(seed)
    return DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=shuffle if sampler is None else False,
        sampler=sampler,
        collate_fn=collate,
        num_workers=workers,
        generator=g,
        pin_memory=torch.cuda.is_available(),
        # the training set changes its random draws per epoch (set_epoch), which persistent
        # workers would not see
        persistent_workers=workers > 0 and sampler is None and not ds.train,
    )


def build_optimizer(cfg: Config, model: torch.nn.Module) -> torch.optim.Optimizer:
    """Adam as the paper (fused kernel), over the parameter groups of models/finetune.py."""
    return make_optimizer(param_groups(model, cfg.train), cfg)


def predict_loader(
    model: MTLModel,
    loader: DataLoader,
    device: torch.device,
    norm: ScoreNorm,
    vocab: Vocab | None,
    captions: bool,
    dtype: torch.dtype | None,
    desc: str = "eval",
    progress: bool = True,
) -> dict[str, Any]:
    """Run a model over a loader; predictions in original units plus the labels."""
    model.eval()
    ids: list[str] = []
    score_pred, score_true, score_sigma, score_spread = [], [], [], []
    attr_pred: dict[str, list[np.ndarray]] = {k: [] for k in ATTRIBUTE_CLASSES}
    attr_prob: dict[str, list[np.ndarray]] = {k: [] for k in ATTRIBUTE_CLASSES}
    attr_true: dict[str, list[np.ndarray]] = {k: [] for k in ATTRIBUTE_CLASSES}
    hyps: list[str] = []
    n_clips, t0 = 0, time.perf_counter()
    with inference_context(dtype):  # outputs leave as numpy
        bar = tqdm(loader, desc=desc, leave=False, disable=not progress)
        for batch in bar:
            video = batch["video"].to(device, non_blocking=True)
            with torch.autocast(
                device.type, dtype=dtype or torch.float32, enabled=dtype is not None
            ):
                out = model(video)
            ids += batch["id"]
            if "score" in out:
                sports = batch.get("sport")
                score_pred.append(norm.inverse(out["score"].float().cpu().numpy(), sports))
                score_true.append(norm.inverse(batch["score"].numpy(), sports))
                if "score_sigma" in out:  # original units: σ scales with the normalisation's std
                    sigma = out["score_sigma"].float().cpu().numpy()
                    score_sigma.append(sigma * norm.scale(sports, len(sigma)))
            if "score_spread" in out:  # score_head=exemplar: spread over the exemplars
                spread = out["score_spread"].float().cpu().numpy()
                score_spread.append(spread * norm.scale(batch.get("sport"), len(spread)))
            if "attributes" in out:
                for k, lg in out["attributes"].items():
                    p = lg.float().softmax(-1).cpu().numpy()
                    attr_prob[k].append(p)
                    attr_pred[k].append(p.argmax(-1))
                    attr_true[k].append(batch["attributes"][k].numpy())
            if captions and vocab is not None and "caption" in model.tasks:
                with torch.autocast(
                    device.type, dtype=dtype or torch.float32, enabled=dtype is not None
                ):
                    toks = generate_commentary(model, out)
                hyps += [vocab.decode(t) for t in toks]
            n_clips += video.shape[0] * video.shape[1]
            bar.set_postfix(clips_s=f"{n_clips / (time.perf_counter() - t0):.1f}")
    res: dict[str, Any] = {"ids": ids}
    if score_pred:
        res["score_pred"] = np.concatenate(score_pred)
        res["score_true"] = np.concatenate(score_true)
    if score_sigma:
        res["score_sigma"] = np.concatenate(score_sigma)
    if score_spread:
        res["score_spread"] = np.concatenate(score_spread)
    if any(attr_pred.values()):
        res["attr_pred"] = {k: np.concatenate(v) for k, v in attr_pred.items() if v}
        res["attr_prob"] = {k: np.concatenate(v) for k, v in attr_prob.items() if v}
        res["attr_true"] = {k: np.concatenate(v) for k, v in attr_true.items() if v}
    if hyps:
        res["captions"] = hyps
    return res


def compute_metrics(
    pred: dict[str, Any],
    samples: list[Sample],
    train_samples: list[Sample] | None = None,
    meteor: bool = True,
) -> dict[str, float]:
    """Score, attribute and caption metrics, plus the class-only baseline's ρ when possible."""
    out: dict[str, float] = {"n": float(len(pred["ids"]))}
    by_id = {s.id: s for s in samples}
    if "score_pred" in pred:
        ok = np.isfinite(pred["score_true"])
        out.update(M.score_metrics(pred["score_pred"][ok], pred["score_true"][ok]))
        if "score_sigma" in pred:  # heads that predict σ: does σ rank the errors? (val and test)
            out["uncertainty_kendall"] = conformal.kendall_uncertainty(
                pred["score_sigma"][ok], pred["score_pred"][ok], pred["score_true"][ok]
            )
        if "score_spread" in pred:  # does the exemplars' spread rank the errors?
            err = np.abs(pred["score_pred"][ok] - pred["score_true"][ok])
            out["spread_error_kendall"] = M.kendall_tau(pred["score_spread"][ok], err)
        if train_samples:
            tr = [s for s in train_samples if s.score is not None and s.dive_type() is not None]
            te = [by_id[i] for i, good in zip(pred["ids"], ok, strict=True) if good]
            if tr and all(s.dive_type() is not None for s in te):
                base = M.class_only_baseline(
                    [s.dive_type() for s in tr],
                    np.array([s.score for s in tr]),
                    [s.dive_type() for s in te],
                )
                out["baseline_spearman"] = M.score_metrics(base, pred["score_true"][ok])["spearman"]
        te_cls = [by_id[i].sport for i, good in zip(pred["ids"], ok, strict=True) if good]
        if len(set(te_cls)) >= 2 and all(te_cls):  # a dataset mixing sports (AQA-7)
            tr = [s for s in train_samples or [] if s.score is not None and s.sport]
            per = per_class_metrics(
                pred["score_pred"][ok],
                pred["score_true"][ok],
                te_cls,
                np.array([s.score for s in tr]) if tr else None,
                [s.sport for s in tr],
            )
            if "baseline_spearman" in out:
                per.pop("baseline_spearman", None)
            out.update(per)
    if "attr_pred" in pred:
        majority = None
        if train_samples:
            majority = {
                k: np.array([getattr(s, k) for s in train_samples if getattr(s, k) is not None])
                for k in ATTRIBUTE_CLASSES
            }
            majority = {k: v for k, v in majority.items() if len(v)}
        out.update(
            M.attribute_metrics(pred["attr_pred"], pred["attr_true"], majority_from=majority)
        )
    if "captions" in pred:  # beside the best constant and retrieval baselines, diagnostics
        out.update(caption_report(pred, samples, train_samples, meteor=meteor))
    return out


def _finite(x: float) -> bool:
    return isinstance(x, float) and math.isfinite(x)


def merge_shards(parts: list[dict[str, Any]], ids: list[str]) -> dict[str, Any]:
    """Join per-rank predictions into one in the order of `ids` (padding duplicates dropped)."""
    if len(parts) == 1:
        return parts[0]
    where: dict[str, tuple[int, int]] = {}
    for r, p in enumerate(parts):
        for j, i in enumerate(p["ids"]):
            where.setdefault(i, (r, j))
    pos = [where[i] for i in ids]
    out: dict[str, Any] = {"ids": list(ids)}
    for key in ("score_pred", "score_true", "score_sigma", "score_spread"):
        if key in parts[0]:
            out[key] = np.array([parts[r][key][j] for r, j in pos])
    for key in ("attr_pred", "attr_prob", "attr_true"):
        if key in parts[0]:
            out[key] = {k: np.stack([parts[r][key][k][j] for r, j in pos]) for k in parts[0][key]}
    if "captions" in parts[0]:
        out["captions"] = [parts[r]["captions"][j] for r, j in pos]
    return out


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


class _Progress:
    """Where training stands: epoch (1-based), batches done in it, optimizer steps, partial sums."""

    def __init__(self) -> None:
        self.epoch, self.batch, self.step, self.epoch_done = 1, 0, 0, False
        self.sums: dict[str, float] = {}
        self.n_batches = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Progress:
        p = cls()
        p.__dict__.update(d)
        return p


def fit(
    cfg: Config,
    out_dir: str | os.PathLike[str],
    progress: bool = True,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    resume: bool = False,
    verbose: bool = True,
) -> dict[str, Any]:
    """Train `cfg` on its dataset, select on validation ρ, evaluate last and best on test.

    Alone or under torchrun (DDP: `train.batch_size` is per process). Writes last.pt (every epoch
    and every `train.checkpoint_every_steps`), checkpoint.pt (best val ρ), config.yaml and the
    history files; only rank 0 writes. `resume=True` continues from `out_dir/last.pt` exactly.
    """
    out = Path(out_dir)
    t = cfg.train
    if t.threads > 0:
        torch.set_num_threads(t.threads)
    device = select_device(t.device)
    dist_info = init_from_env(device.type)
    if device.type == "cuda" and dist_info.enabled:
        device = torch.device("cuda", dist_info.local_rank)
        torch.cuda.set_device(device)
    main = dist_info.main
    progress = progress and main
    try:
        return _fit(cfg, out, progress, on_epoch, resume, device, dist_info, verbose and main)
    finally:
        cleanup(dist_info)


def _fit(
    cfg: Config,
    out: Path,
    progress: bool,
    on_epoch: Callable[[dict[str, Any]], None] | None,
    resume: bool,
    device: torch.device,
    dist_info: DistInfo,
    verbose: bool = True,
) -> dict[str, Any]:
    t = cfg.train
    main = dist_info.main
    if main:
        out.mkdir(parents=True, exist_ok=True)
    seed_everything(t.seed)  # same seed on every rank: same initial weights
    if t.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    if t.accum_steps < 1:
        raise MtlaqaError("train.accum_steps must be >= 1")
    dtype = amp_dtype(device, t.amp)
    if not cfg.data.root:
        raise MtlaqaError("no dataset: set data.root (e.g. --data DIR)")
    samples = read_manifest(cfg.data.root)
    check_media(samples, cfg.data.root)  # every split, before epoch 1
    splits = split_samples(samples, cfg.data.val_fraction, t.seed)
    tasks, tasks_note = supported_tasks(list(cfg.model.tasks), splits["train"])
    if tasks != list(cfg.model.tasks):  # the heads follow the labels the manifest has
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, tasks=tasks))
        if verbose and main:
            tqdm.write(tasks_note or "")
    protocol = check_protocol(cfg.model.score_protocol)
    # the datasets carry the protocol's target (execution for with_dd); metrics use `splits`
    targets = {
        k: protocol_samples(v, protocol) if "score" in tasks else v for k, v in splits.items()
    }
    train = splits["train"]
    if "score" in tasks and not any(s.score is not None for s in train):
        raise MtlaqaError(f"{cfg.data.root}: no training sample has a score")
    last_path, best_path = out / "last.pt", out / "checkpoint.pt"
    # a resumed run keeps its saved vocabulary and score units (data.root may point elsewhere)
    ck = load_checkpoint(last_path) if resume and last_path.is_file() else None
    vocab = None
    if "caption" in tasks and ck is not None and ck.get("vocab"):
        vocab = Vocab.from_list(ck["vocab"])
    elif "caption" in tasks:
        caps = [s.caption for s in train if s.caption]
        if not caps:
            raise MtlaqaError(
                f"{cfg.data.root}: the caption task needs captions in the training split"
            )
        vocab = Vocab.build(caps, cfg.data.caption_min_count)
    if ck is not None and ck.get("score_norm"):  # resume keeps the saved score units
        norm = ScoreNorm(*ck["score_norm"], ck.get("score_norm_classes"))
    else:
        scored = [s for s in targets["train"] if s.score is not None]
        norm = ScoreNorm.fit([s.score for s in scored], [s.sport for s in scored])
    model = build_model(cfg, vocab).to(device)
    model.channels_last = t.channels_last
    spec = model.input_spec

    def dataset(name: str, is_train: bool) -> DiveDataset:
        return DiveDataset(
            targets[name], cfg.data, spec, is_train, vocab, norm, t.seed, cfg.model.caption_max_len
        )

    rank, world = dist_info.rank, dist_info.world
    train_ds: DiveDataset | ExemplarDataset = dataset("train", True)
    bank_loader = None
    if "score" in tasks and cfg.model.score_head == "exemplar":  # pairs, and the inference bank
        bank = BankDataset(train_ds, bank_indices(targets["train"], cfg.model.exemplars, t.seed))
        bank_loader = make_loader(bank, max(t.batch_size, 8), False, 0, cfg.data.num_workers)
        train_ds = ExemplarDataset(train_ds, ExemplarPairing(targets["train"], t.seed))
    sampler = EpochSampler(len(train_ds), t.seed, True, rank, world)
    loader = make_loader(train_ds, t.batch_size, True, t.seed, cfg.data.num_workers, sampler)
    per_rank = math.ceil(len(train_ds) / world)
    batches_per_epoch = math.ceil(per_rank / t.batch_size)
    steps_per_epoch = math.ceil(batches_per_epoch / t.accum_steps)
    eval_bs = max(t.batch_size, 8)

    def eval_loader(name: str) -> DataLoader | None:
        if not splits[name]:
            return None
        ds = dataset(name, False)
        return make_loader(
            ds,
            eval_bs,
            False,
            0,
            cfg.data.num_workers,
            EpochSampler(len(ds), 0, False, rank, world),
        )

    val_loader, test_loader = eval_loader("val"), eval_loader("test")
    if world == 1 and cfg.data.num_workers == 0:  # epoch 1's decoding on all cores at once
        for ld in (loader, val_loader):
            if ld is not None:
                prefill_memory_cache(ld.dataset)
    opt = build_optimizer(cfg, model)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lr_lambda(t.schedule, t.warmup_steps, steps_per_epoch * t.epochs, t.min_lr_ratio)
    )
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    ddp = None
    net: torch.nn.Module = model
    if dist_info.enabled:
        from torch.nn.parallel import DistributedDataParallel

        ddp = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
        net = ddp
    if t.compile:
        net = torch.compile(net)  # type: ignore[assignment]
    meta = {
        "protocol": protocol,
        "selection": (
            (
                "best val Fisher-z mean of per-class spearman"
                if norm.classes
                else "best val spearman"
            )
            if splits["val"]
            else "last epoch (data.val_fraction=0: no val, every training dive trains; the paper's)"
            if cfg.data.val_fraction == 0
            else "last epoch (no val split)"
        ),
        "val_source": val_source(samples, splits),
        "split_sizes": {k: len(v) for k, v in splits.items()},
        "seed": t.seed,
        "config_hash": cfg.hash(),
        "code_version": code_version(),
        "torch": str(torch.__version__),
        "device": str(device),
        "amp": str(dtype).replace("torch.", "") if dtype else "fp32",
        "world_size": world,
        "global_batch": t.batch_size * world * t.accum_steps,
        "resumed": 0,
        "tasks": tasks,
    }
    if tasks_note:
        meta["tasks_note"] = tasks_note

    history: list[dict[str, Any]] = []
    best_val, best_epoch, bad_epochs = -math.inf, 0, 0
    best_state: dict[str, torch.Tensor] | None = None
    best_cal: dict[str, Any] | None = None  # split-conformal calibration of the best weights on val
    pos = _Progress()
    if ck is not None:
        _check_same_run(ck["config"], cfg.to_dict(), last_path)
        check_weights_fit(model.state_dict(), ck["model"], str(last_path))
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        scaler.load_state_dict(ck["scaler"])
        history, best_val, best_epoch = ck["history"], ck["best_val"], ck["best_epoch"]
        bad_epochs = ck.get("bad_epochs", 0)
        pos = _Progress.from_dict(ck["progress"])
        rngs = ck["rng"]
        restore_rng(rngs[rank] if len(rngs) == world else rngs[0])
        if len(ck["rank_progress"]) == world:  # each rank's own partial loss sums
            pos.sums = ck["rank_progress"][rank]["sums"]
        meta["resumed"] = ck["meta"].get("resumed", 0) + 1
        if best_path.is_file():
            best_ck = load_checkpoint(best_path)
            best_state, best_cal = best_ck["model"], best_ck.get("conformal")
        if pos.epoch_done:
            pos = _Progress.from_dict(
                {
                    **pos.to_dict(),
                    "epoch": pos.epoch + 1,
                    "batch": 0,
                    "epoch_done": False,
                    "sums": {},
                    "n_batches": 0,
                }
            )
        if verbose:
            tqdm.write(f"resuming {out} at epoch {pos.epoch}, batch {pos.batch} (step {pos.step})")
    elif resume and verbose:
        tqdm.write(f"no last.pt in {out}: starting from scratch")
    if main:
        save_config(cfg, out / "config.yaml")
    runlog = RunLog(out, t.tensorboard) if main else None
    if runlog is not None:
        runlog.write(history)

    bank_step: list[int | None] = [None]  # the optimizer step the exemplar bank was filled at

    def refresh_bank() -> None:
        # the exemplar bank follows the weights: refilled when they changed since the last fill
        if bank_loader is not None and bank_step[0] != pos.step:
            fill_bank(model, bank_loader, device, dtype)
            bank_step[0] = pos.step
            meta["exemplar_bank"] = bank_summary(model)

    def state(rngs: list[Any], ranks: list[Any]) -> dict[str, Any]:
        refresh_bank()
        return {
            "config": cfg.to_dict(),
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "scaler": scaler.state_dict(),
            "vocab": vocab.to_list() if vocab else None,
            "score_norm": (norm.mean, norm.std),
            "score_norm_classes": norm.classes,
            "epoch": pos.epoch,
            "progress": pos.to_dict(),
            "best_val": best_val,
            "best_epoch": best_epoch,
            "bad_epochs": bad_epochs,
            "history": history,
            "rng": rngs,
            "rank_progress": ranks,
            "meta": meta,
            "conformal": best_cal,
            "exemplar_bank": model.bank.to_dict() if bank_loader is not None else None,
        }

    def checkpoint(paths: list[Path]) -> None:
        # collective: every rank calls it
        rngs = gather_objects(rng_state(), dist_info)
        ranks = gather_objects(pos.to_dict(), dist_info)
        if main:
            st = state(rngs, ranks)
            for p in paths:
                save_checkpoint(p, st)

    def predict(ld: DataLoader, name: str, captions: bool) -> dict[str, Any]:
        refresh_bank()
        p = predict_loader(model, ld, device, norm, vocab, captions, dtype, name, progress)
        p = merge_shards(gather_objects(p, dist_info), [s.id for s in splits[name]])
        return to_final_units(p, splits[name], protocol)

    def caption_stage(
        ck: dict[str, Any] | None,
        best: dict[str, torch.Tensor] | None,
        best_ep: int,
        hist: list[dict[str, Any]],
    ) -> dict[str, torch.Tensor] | None:
        # trains the caption head of the best weights and, when they differ, of the last ones;
        # saves each; a resumed run skips what its checkpoints say was done. Returns the best.
        base = train_ds.base if isinstance(train_ds, ExemplarDataset) else train_ds
        done = dict(ck["meta"].get("caption_stage", {})) if ck is not None else {}
        if ck is not None and best_path.is_file():
            done.update(load_checkpoint(best_path)["meta"].get("caption_stage", {}))
        stage = meta.setdefault("caption_stage", {})
        pos.epoch_done = True  # the stage's saves resume after the last epoch
        separate = best is not None and hist and best_ep != hist[-1]["epoch"]
        last_w = {k: v.detach().clone() for k, v in model.state_dict().items()}
        for which in ("best", "last") if separate else ("best",):
            model.load_state_dict(best if which == "best" and separate else last_w)
            bank_step[0] = None
            if which in done:
                stage[which] = done[which]
            else:
                lr = t.caption_lr or t.lr
                stage[which] = train_caption_head(
                    model, base, device, dtype, t.caption_epochs, lr, t.batch_size, t.seed, progress
                )
                if which == "best" and val_loader is not None:  # what the stage gives, on val
                    vm = compute_metrics(predict(val_loader, "val", True), splits["val"])
                    stage["best"]["val"] = {k: v for k, v in vm.items() if _is_caption_key(k)}
                    if verbose:
                        tqdm.write(f"caption stage: val CIDEr {vm.get('cider', float('nan')):.3f}")
                paths = [best_path] if separate and which == "best" else [best_path, last_path]
                checkpoint(paths if which == "best" else [last_path])
            if which == "best":
                best = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        return best

    stopped_early = False
    clips_per_sample = cfg.data.num_clips
    for epoch in range(pos.epoch, t.epochs + 1):
        if pos.epoch != epoch:  # a fresh epoch
            pos.epoch, pos.batch, pos.sums, pos.n_batches = epoch, 0, {}, 0
        net.train()
        train_ds.set_epoch(epoch)
        sampler.set_epoch(epoch, skip=pos.batch * t.batch_size)
        n_clips, t0 = 0, time.perf_counter()
        bar = tqdm(
            loader,
            desc=f"epoch {epoch}/{t.epochs}",
            leave=False,
            disable=not progress,
            initial=pos.batch,
            total=batches_per_epoch,
        )
        for batch in bar:
            bi = pos.batch
            g0 = (bi // t.accum_steps) * t.accum_steps
            group = min(
                t.accum_steps, batches_per_epoch - g0
            )  # the epoch's last group may be short
            last_in_group = bi + 1 - g0 == group
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
            kw = (
                {"exemplar": (ex.to(device), batch["exemplar_score"].to(device))}
                if ex is not None
                else {}
            )
            sync = (
                ddp.no_sync() if ddp is not None and not last_in_group else contextlib.nullcontext()
            )
            with sync:
                with torch.autocast(
                    device.type, dtype=dtype or torch.float32, enabled=dtype is not None
                ):
                    outputs = net(video, cap, tgt if cap is not None else None, **kw)
                loss, parts = total_loss(outputs, tgt, cfg.loss)
                value = float(loss.detach())
                if not all_finite(value, dist_info, device):
                    good = last_path if last_path.is_file() else None
                    raise MtlaqaError(
                        f"loss became non-finite ({value}) at epoch {epoch}, batch {bi + 1}; stopped. "
                        + (
                            f"last good checkpoint: {good}"
                            if good
                            else "no checkpoint was written yet"
                        )
                        + " (try a lower train.lr, train.grad_clip or train.amp=off)"
                    )
                scaler.scale(loss / group).backward()
            pos.batch += 1
            pos.n_batches += 1
            n_clips += video.shape[0] * clips_per_sample
            pos.sums["loss"] = pos.sums.get("loss", 0.0) + value
            for k, v in parts.items():
                pos.sums[k] = pos.sums.get(k, 0.0) + v
            if last_in_group:
                if t.grad_clip > 0:
                    scaler.unscale_(opt)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
                scaler.step(opt)
                scaler.update()
                opt.zero_grad(set_to_none=True)
                sched.step()
                pos.step += 1
                every = t.checkpoint_every_steps
                if every > 0 and pos.step % every == 0 and pos.batch < batches_per_epoch:
                    checkpoint([last_path])
            rate = n_clips / max(1e-9, time.perf_counter() - t0)
            bar.set_postfix(loss=f"{pos.sums['loss'] / pos.n_batches:.3f}", clips_s=f"{rate:.0f}")
        means = {k: v / max(1, pos.n_batches) for k, v in pos.sums.items()}
        means = mean_over_ranks(means, dist_info, device)
        row: dict[str, Any] = {"epoch": epoch, "train_loss": means.get("loss", 0.0)}
        # score_mse_l1: MSE + L1 reported beside a gaussian/distribution head's own loss
        for k in [*tasks, "score_mse_l1"]:
            if k in means:
                row[f"train_{k}_loss"] = means[k]
        row["lr"] = opt.param_groups[0]["lr"]
        row["train_clips_per_s"] = n_clips * world / max(1e-9, time.perf_counter() - t0)
        if val_loader is not None:
            caps = t.eval_captions_every > 0 and epoch % t.eval_captions_every == 0
            vp = predict(val_loader, "val", caps)
            vm = compute_metrics(vp, splits["val"], meteor=False)
            row.update({f"val_{k}": v for k, v in vm.items() if k != "n"})
        # mixed sports: select on the Fisher-z mean of the per-class ρ (AQA-7's average)
        val_rho = row.get("val_spearman_fisher_z", row.get("val_spearman", float("nan")))
        # the first epoch always gives a checkpoint.pt, even when its val ρ is undefined (NaN: e.g.
        # constant predictions); a later finite ρ replaces it
        improved = (
            val_loader is None or best_epoch == 0 or (_finite(val_rho) and val_rho > best_val)
        )
        if improved:
            best_val = val_rho if _finite(val_rho) else best_val
            best_epoch, bad_epochs = epoch, 0
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            if val_loader is not None and "score_pred" in vp:
                best_cal = conformal.calibrate(
                    vp["score_pred"], vp["score_true"], vp.get("score_sigma")
                )
            row["best"] = True
        else:
            bad_epochs += 1
        row = {k: float(v) if isinstance(v, (float, np.floating)) else v for k, v in row.items()}
        history.append(row)
        pos.epoch_done = True
        # best first, then last: a kill between the two resumes from the older last.pt and redoes
        # this epoch, so the newest last.pt never points past a best that was not written
        checkpoint([best_path, last_path] if improved else [last_path])
        pos.epoch_done = False
        if runlog is not None:
            runlog.write(history, row)
        if verbose:
            msg = f"epoch {epoch}: loss {row['train_loss']:.3f}, {row['train_clips_per_s']:.1f} clips/s"
            if "val_spearman" in row:
                msg += f", val ρ {row['val_spearman']:.3f}"
            tqdm.write(msg)
        if on_epoch and main:
            on_epoch(row)
        if (
            t.early_stop_patience > 0
            and val_loader is not None
            and bad_epochs >= t.early_stop_patience
        ):
            stopped_early = True
            if verbose:
                tqdm.write(
                    f"early stop: no val ρ gain for {bad_epochs} epochs (best epoch {best_epoch})"
                )
            break
    if t.caption_epochs > 0 and "caption" in tasks:  # the decoder alone (caption_stage.py)
        best_state = caption_stage(ck, best_state, best_epoch, history)
    if runlog is not None:
        runlog.close()
    result: dict[str, Any] = {
        "meta": meta,
        "history": history,
        "best_epoch": best_epoch,
        "stopped_early": stopped_early,
    }
    if test_loader is not None:
        result["test"], result["predictions"] = {}, {}
        last_epoch = history[-1]["epoch"] if history else 0
        runs = [("last", None)]
        if best_state is not None and best_epoch != last_epoch:  # else the best is the last
            runs.append(("best", best_state))
        for which, weights in runs:
            if weights is not None:
                model.load_state_dict(weights)
                bank_step[0] = None  # new weights: a new bank
            tp = predict(test_loader, "test", True)
            result["test"][which] = compute_metrics(
                tp, splits["test"], splits["train"], meteor=t.meteor
            )
            result["predictions"][which] = tp
        if "best" not in result["test"]:
            result["test"]["best"] = result["test"]["last"]
            result["predictions"]["best"] = result["predictions"]["last"]
        bp = result["predictions"]["best"]
        if best_cal is not None and "score_pred" in bp:  # the calibration is the best weights'
            iv = conformal.interval_metrics(
                best_cal, bp["score_pred"], bp["score_true"], bp.get("score_sigma")
            )
            result["calibration"] = iv.pop("curve")
            result["test"]["best"] = {**result["test"]["best"], **iv}
    if "score" in tasks:
        meta["interval"] = (
            f"split-conformal ({best_cal['kind']}) on val, n={best_cal['n']}"
            if best_cal
            else conformal.NO_VAL_NOTE
        )
    return result


def _is_caption_key(k: str) -> bool:
    return k.startswith(("bleu", "meteor", "rouge", "cider", "caption_", "baseline_constant_c"))


def _check_same_run(saved: dict[str, Any], now: dict[str, Any], path: Path) -> None:
    saved = config_from_dict(saved).to_dict()  # keys renamed since (data.caption_max_len)
    for sec in saved:
        for k in saved[sec]:
            if saved[sec][k] != now.get(sec, {}).get(k) and (sec, k) not in RESUME_MUTABLE:
                raise MtlaqaError(
                    f"{path}: written with a different {sec}.{k}; resume with the run's own config"
                )
