"""Training and evaluation: fit() runs the honest protocol (design §5), evaluate() scores a split."""

from __future__ import annotations

import json
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
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from mtlaqa import metrics as M
from mtlaqa.config import Config, config_from_dict, save_config
from mtlaqa.data.dataset import DiveDataset, ScoreNorm, collate
from mtlaqa.data.manifest import Sample, read_manifest
from mtlaqa.data.vocab import Vocab
from mtlaqa.device import amp_dtype, select_device
from mtlaqa.errors import MtlaqaError
from mtlaqa.losses import total_loss
from mtlaqa.models.archs import build_arch
from mtlaqa.models.finetune import apply_freeze, param_groups
from mtlaqa.models.mtl import MTLModel
from mtlaqa.models.weights import load_backbone_weights
from mtlaqa.protocols import check_protocol, protocol_samples, to_final_units
from mtlaqa.schema import ATTRIBUTE_CLASSES

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


def split_samples(samples: list[Sample], val_fraction: float, seed: int) -> dict[str, list[Sample]]:
    """Train/val/test by the manifest's split; val carved (seeded) from train when absent."""
    out: dict[str, list[Sample]] = {
        k: [s for s in samples if s.split == k] for k in ("train", "val", "test")
    }
    if not out["val"] and val_fraction > 0 and len(out["train"]) >= 10:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(out["train"]))
        n_val = max(1, round(val_fraction * len(order)))
        val_idx = set(order[:n_val].tolist())
        out["val"] = [s for i, s in enumerate(out["train"]) if i in val_idx]
        out["train"] = [s for i, s in enumerate(out["train"]) if i not in val_idx]
    if not out["train"]:
        raise MtlaqaError("the dataset has no training samples (split 'train')")
    return out


def build_model(cfg: Config, vocab: Vocab | None) -> MTLModel:
    """The network of `cfg.model` (arch by name) for clips of `cfg.data`, weights loaded, frozen as set."""
    model = build_arch(
        cfg.model,
        frames=cfg.data.clip_len,
        size=cfg.data.crop,
        vocab_size=len(vocab) if vocab else 0,
    )
    if cfg.model.backbone_weights:
        report = load_backbone_weights(model, cfg.model.backbone_weights)
        log.info("backbone weights %s: %s", cfg.model.backbone_weights, report.summary())
    apply_freeze(model, cfg.model)
    return model


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomic save: temporary file, fsync, rename — never a half-written checkpoint."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by `fit` (weights_only: plain tensors and containers)."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise MtlaqaError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        raise MtlaqaError(
            f"{path}: not a readable mtlaqa checkpoint ({str(e).splitlines()[0][:160]})"
        ) from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "config" not in ckpt:
        raise MtlaqaError(f"{path}: not an mtlaqa checkpoint (no model/config)")
    return ckpt


def model_from_checkpoint(ckpt: dict[str, Any]) -> tuple[MTLModel, Config, Vocab | None, ScoreNorm]:
    """Rebuild model, config, vocabulary and score normalization from a checkpoint."""
    cfg = config_from_dict(ckpt["config"])
    cfg.model.backbone_weights = None  # the weights are in the checkpoint
    vocab = Vocab.from_list(ckpt["vocab"]) if ckpt.get("vocab") else None
    model = build_model(cfg, vocab)
    model.load_state_dict(ckpt["model"])
    model.eval()
    norm = ScoreNorm(*ckpt.get("score_norm", (0.0, 1.0)))
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
    ds: DiveDataset, batch_size: int, shuffle: bool, seed: int, workers: int
) -> DataLoader:
    """DataLoader with a seeded shuffle; pinned memory only when a GPU is present."""
    g = torch.Generator()
    g.manual_seed(seed)
    return DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=collate,
        num_workers=workers,
        generator=g,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=workers > 0,
    )


@torch.inference_mode()  # no autograd bookkeeping at all; outputs leave as numpy
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
    score_pred, score_true = [], []
    attr_pred: dict[str, list[np.ndarray]] = {k: [] for k in ATTRIBUTE_CLASSES}
    attr_prob: dict[str, list[np.ndarray]] = {k: [] for k in ATTRIBUTE_CLASSES}
    attr_true: dict[str, list[np.ndarray]] = {k: [] for k in ATTRIBUTE_CLASSES}
    hyps: list[str] = []
    n_clips, t0 = 0, time.perf_counter()
    bar = tqdm(loader, desc=desc, leave=False, disable=not progress)
    for batch in bar:
        video = batch["video"].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            out = model(video)
        ids += batch["id"]
        if "score" in out:
            score_pred.append(norm.inverse(out["score"].float().cpu().numpy()))
            score_true.append(norm.inverse(batch["score"].numpy()))
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
                toks = model.caption.generate(out["features"], max_len=model.cfg.caption_max_len)
            hyps += [vocab.decode(t) for t in toks]
        n_clips += video.shape[0] * video.shape[1]
        bar.set_postfix(clips_s=f"{n_clips / (time.perf_counter() - t0):.1f}")
    res: dict[str, Any] = {"ids": ids}
    if score_pred:
        res["score_pred"] = np.concatenate(score_pred)
        res["score_true"] = np.concatenate(score_true)
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
    if "captions" in pred:
        refs = {i: [by_id[i].caption] for i in pred["ids"] if by_id[i].caption}
        hyps = {i: h for i, h in zip(pred["ids"], pred["captions"], strict=True) if i in refs}
        if hyps:
            out.update(M.caption_metrics(hyps, refs, meteor=meteor))
    return out


def _finite(x: float) -> bool:
    return isinstance(x, float) and math.isfinite(x)


def fit(
    cfg: Config,
    out_dir: str | os.PathLike[str],
    progress: bool = True,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    verbose: bool = True,
) -> dict[str, Any]:
    """Train `cfg` on its dataset, select on validation ρ, evaluate last and best on test."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.train.seed)
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    device = select_device(cfg.train.device)
    dtype = amp_dtype(device, cfg.train.amp)
    if not cfg.data.root:
        raise MtlaqaError("no dataset: set data.root (e.g. --data DIR)")
    splits = split_samples(read_manifest(cfg.data.root), cfg.data.val_fraction, cfg.train.seed)
    tasks = list(cfg.model.tasks)
    protocol = check_protocol(cfg.model.score_protocol)
    # the datasets carry the protocol's target (execution for with_dd); metrics use `splits`
    targets = {
        k: protocol_samples(v, protocol) if "score" in tasks else v for k, v in splits.items()
    }
    train = splits["train"]
    if "score" in tasks and not any(s.score is not None for s in train):
        raise MtlaqaError(f"{cfg.data.root}: no training sample has a score")
    vocab = None
    if "caption" in tasks:
        caps = [s.caption for s in train if s.caption]
        if not caps:
            raise MtlaqaError(
                f"{cfg.data.root}: the caption task needs captions in the training split"
            )
        vocab = Vocab.build(caps, cfg.data.caption_min_count)
    norm = ScoreNorm.fit([s.score for s in targets["train"] if s.score is not None])
    model = build_model(cfg, vocab).to(device)
    model.channels_last = cfg.train.channels_last
    spec = model.input_spec

    def dataset(name: str, is_train: bool) -> DiveDataset:
        return DiveDataset(targets[name], cfg.data, spec, is_train, vocab, norm, cfg.train.seed)

    train_ds = dataset("train", True)
    loader = make_loader(train_ds, cfg.train.batch_size, True, cfg.train.seed, cfg.data.num_workers)
    eval_bs = max(cfg.train.batch_size, 8)
    val_loader = (
        make_loader(dataset("val", False), eval_bs, False, 0, cfg.data.num_workers)
        if splits["val"]
        else None
    )
    test_loader = (
        make_loader(dataset("test", False), eval_bs, False, 0, cfg.data.num_workers)
        if splits["test"]
        else None
    )
    opt = make_optimizer(param_groups(model, cfg.train), cfg)
    save_config(cfg, out / "config.yaml")
    meta = {
        "config_hash": cfg.hash(),
        "code_version": code_version(),
        "seed": cfg.train.seed,
        "protocol": protocol,
    }

    def state(epoch: int, best: float, history: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "config": cfg.to_dict(),
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "vocab": vocab.to_list() if vocab else None,
            "score_norm": (norm.mean, norm.std),
            "epoch": epoch,
            "best_val": best,
            "history": history,
            "meta": meta,
        }

    history: list[dict[str, Any]] = []
    best_val = -math.inf
    best_epoch = 0
    clips_per_sample = cfg.data.num_clips
    log_path = out / "history.jsonl"
    log_path.write_text("")
    for epoch in range(1, cfg.train.epochs + 1):
        model.train()
        train_ds.set_epoch(epoch)
        sums: dict[str, float] = {}
        n_batches, n_clips, t0 = 0, 0, time.perf_counter()
        bar = tqdm(
            loader, desc=f"epoch {epoch}/{cfg.train.epochs}", leave=False, disable=not progress
        )
        for batch in bar:
            video = batch["video"].to(device, non_blocking=True)
            cap = batch.get("caption_in")
            cap = cap.to(device) if cap is not None and "caption" in tasks else None
            tgt = {
                "score": batch["score"].to(device),
                "attributes": {k: v.to(device) for k, v in batch["attributes"].items()},
            }
            if "caption_out" in batch:
                tgt["caption_out"] = batch["caption_out"].to(device)
            with torch.autocast(
                device.type, dtype=dtype or torch.float32, enabled=dtype is not None
            ):
                outputs = model(video, cap)
            loss, parts = total_loss(outputs, tgt, cfg.loss)
            if not torch.isfinite(loss):
                raise MtlaqaError(
                    f"loss became {float(loss)} at epoch {epoch}; last good checkpoint: {out / 'last.pt'}"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.train.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
            opt.step()
            n_batches += 1
            n_clips += video.shape[0] * clips_per_sample
            sums["loss"] = sums.get("loss", 0.0) + float(loss.detach())
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            rate = n_clips / (time.perf_counter() - t0)
            bar.set_postfix(loss=f"{sums['loss'] / n_batches:.3f}", clips_s=f"{rate:.1f}")
        row: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": sums.get("loss", 0.0) / max(1, n_batches),
        }
        for k in tasks:
            if k in sums:
                row[f"train_{k}_loss"] = sums[k] / max(1, n_batches)
        row["train_clips_per_s"] = n_clips / (time.perf_counter() - t0)
        if val_loader is not None:
            vp = predict_loader(
                model, val_loader, device, norm, vocab, False, dtype, "val", progress
            )
            vp = to_final_units(vp, splits["val"], protocol)
            vm = compute_metrics(vp, splits["val"])
            row.update({f"val_{k}": v for k, v in vm.items() if k != "n"})
        history.append(row)
        with log_path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        val_rho = row.get("val_spearman", float("nan"))
        improved = val_loader is None or (_finite(val_rho) and val_rho > best_val)
        if improved:
            best_val = val_rho if _finite(val_rho) else best_val
            best_epoch = epoch
        save_checkpoint(out / "last.pt", state(epoch, best_val, history))
        if improved:
            save_checkpoint(out / "checkpoint.pt", state(epoch, best_val, history))
            row["best"] = True
        if verbose:
            msg = f"epoch {epoch}: loss {row['train_loss']:.3f}, {row['train_clips_per_s']:.1f} clips/s"
            if "val_spearman" in row:
                msg += f", val ρ {row['val_spearman']:.3f}"
            tqdm.write(msg)
        if on_epoch:
            on_epoch(row)
    result: dict[str, Any] = {"meta": meta, "history": history}
    if test_loader is not None:
        result["test"], result["predictions"] = {}, {}
        runs = [("last", out / "last.pt")]
        if best_epoch not in (
            0,
            cfg.train.epochs,
        ):  # else the best checkpoint is the last one (0: val ρ never finite)
            runs.append(("best", out / "checkpoint.pt"))
        for which, path in runs:
            model.load_state_dict(torch.load(path, map_location=device, weights_only=True)["model"])
            tp = predict_loader(
                model, test_loader, device, norm, vocab, True, dtype, f"test ({which})", progress
            )
            tp = to_final_units(tp, splits["test"], protocol)
            result["test"][which] = compute_metrics(
                tp, splits["test"], splits["train"], meteor=cfg.train.meteor
            )
            result["predictions"][which] = tp
        if "best" not in result["test"]:
            result["test"]["best"] = result["test"]["last"]
            result["predictions"]["best"] = result["predictions"]["last"]
        result["best_epoch"] = best_epoch
    return result
