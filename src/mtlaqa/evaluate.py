"""Evaluation: a model over a loader (predict_loader), the metrics of predictions (compute_metrics),
per-rank shards joined (merge_shards), and a checkpoint scored on a split (`mtlaqa evaluate`)."""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from mtlaqa import conformal
from mtlaqa import metrics as M
from mtlaqa.caption_baselines import caption_report
from mtlaqa.checkpoint import load_checkpoint, model_from_checkpoint
from mtlaqa.class_metrics import per_class_metrics
from mtlaqa.data.dataset import DiveDataset, ScoreNorm
from mtlaqa.data.loader import make_loader
from mtlaqa.data.manifest import Sample, read_manifest
from mtlaqa.data.vocab import Vocab
from mtlaqa.device import amp_dtype, inference_context, select_device
from mtlaqa.errors import MtlaqaError
from mtlaqa.models.frozen import frozen_backbone
from mtlaqa.models.grounding import generate_commentary
from mtlaqa.models.network import Network
from mtlaqa.protocols import protocol_samples, to_final_units
from mtlaqa.schema import ATTRIBUTE_CLASSES


def _exemplar_kw(batch: dict[str, Any], device: torch.device, annotated: bool) -> dict[str, Any]:
    """score_head=exemplar with exemplar_pick=annotated: each dive's annotated type (B, 5)."""
    if not annotated:
        return {}
    types = torch.stack([batch["attributes"][k] for k in ATTRIBUTE_CLASSES], 1)
    return {"exemplar_types": types.to(device)}


def predict_loader(
    model: Network,
    loader: DataLoader[dict[str, Any]],
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
    annotated = hasattr(model, "bank") and model.cfg.exemplar_pick == "annotated"
    with inference_context(dtype):  # outputs leave as numpy
        bar = tqdm(loader, desc=desc, leave=False, disable=not progress)
        for batch in bar:
            video = batch["video"].to(device, non_blocking=True)
            with torch.autocast(
                device.type, dtype=dtype or torch.float32, enabled=dtype is not None
            ):
                out = model(video, **_exemplar_kw(batch, device, annotated))
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
        res["attributes_pred"] = {k: np.concatenate(v) for k, v in attr_pred.items() if v}
        res["attributes_prob"] = {k: np.concatenate(v) for k, v in attr_prob.items() if v}
        res["attributes_true"] = {k: np.concatenate(v) for k, v in attr_true.items() if v}
    if hyps:
        res["caption_pred"] = hyps
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
            out["score_uncertainty_kendall"] = conformal.kendall_uncertainty(
                pred["score_sigma"][ok], pred["score_pred"][ok], pred["score_true"][ok]
            )
        if "score_spread" in pred:  # does the exemplars' spread rank the errors?
            err = np.abs(pred["score_pred"][ok] - pred["score_true"][ok])
            out["score_spread_error_kendall"] = M.kendall_tau(pred["score_spread"][ok], err)
        if train_samples:
            tr = [
                (t, s.score)
                for s in train_samples
                if s.score is not None and (t := s.dive_type()) is not None
            ]
            te = [by_id[i].dive_type() for i, good in zip(pred["ids"], ok, strict=True) if good]
            te_types = [t for t in te if t is not None]
            if tr and len(te_types) == len(te):
                base = M.class_only_baseline(
                    [t for t, _ in tr], np.array([x for _, x in tr]), te_types
                )
                out["score_baseline_spearman"] = M.score_metrics(base, pred["score_true"][ok])[
                    "score_spearman"
                ]
        te_cls = [by_id[i].sport for i, good in zip(pred["ids"], ok, strict=True) if good]
        classes = [c for c in te_cls if c]
        if len(set(classes)) >= 2 and len(classes) == len(te_cls):  # mixed sports (AQA-7)
            tr_cls = [
                (s.score, c) for s in train_samples or [] if s.score is not None and (c := s.sport)
            ]
            per = per_class_metrics(
                pred["score_pred"][ok],
                pred["score_true"][ok],
                classes,
                np.array([x for x, _ in tr_cls]) if tr_cls else None,
                [c for _, c in tr_cls],
            )
            if "score_baseline_spearman" in out:
                per.pop("score_baseline_spearman", None)
            out.update(per)
    if "attributes_pred" in pred:
        majority = None
        if train_samples:
            majority = {
                k: np.array([getattr(s, k) for s in train_samples if getattr(s, k) is not None])
                for k in ATTRIBUTE_CLASSES
            }
            majority = {k: v for k, v in majority.items() if len(v)}
        out.update(
            M.attribute_metrics(
                pred["attributes_pred"], pred["attributes_true"], majority_from=majority
            )
        )
    if "caption_pred" in pred:  # beside the best constant and retrieval baselines, diagnostics
        out.update(caption_report(pred, samples, train_samples, meteor=meteor))
    return out


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
    for key in ("attributes_pred", "attributes_prob", "attributes_true"):
        if key in parts[0]:
            out[key] = {k: np.stack([parts[r][key][k][j] for r, j in pos]) for k in parts[0][key]}
    if "caption_pred" in parts[0]:
        out["caption_pred"] = [parts[r]["caption_pred"][j] for r, j in pos]
    return out


def evaluate_checkpoint(
    checkpoint: str | os.PathLike[str],
    data_root: str | os.PathLike[str],
    split: str = "test",
    device: str = "auto",
    meteor: bool = True,
    progress: bool = True,
    level: float = conformal.DEFAULT_LEVEL,
    exemplar_pick: str | None = None,
) -> dict[str, Any]:
    """Metrics of a checkpoint on `split`, with the class-only baseline from the train split, and
    the coverage of its conformal score intervals at `level` (and at 0.5 … 0.95). `exemplar_pick`
    overrides the checkpoint's `model.exemplar_pick` (score_head=exemplar)."""
    conformal.check_level(level)
    ckpt = load_checkpoint(checkpoint)
    model, cfg, vocab, norm = model_from_checkpoint(ckpt, str(checkpoint))
    if exemplar_pick is not None:
        model.cfg = cfg.model = dataclasses.replace(cfg.model, exemplar_pick=exemplar_pick)
    dev = select_device(device)
    model.to(dev)
    model.channels_last = cfg.train.channels_last
    samples = read_manifest(data_root)
    chosen = [s for s in samples if s.split == split]
    if not chosen:
        raise MtlaqaError(f"{data_root}: no samples in split {split!r}")
    train = [s for s in samples if s.split == "train"] if split != "train" else None
    protocol = cfg.model.score_protocol
    targets = protocol_samples(chosen, protocol) if "score" in model.tasks else chosen
    ds = DiveDataset(
        targets,
        cfg.data,
        model.input_spec,
        False,
        vocab,
        norm,
        cfg.train.seed,
        cfg.model.caption_max_len,
    )
    loader = make_loader(ds, max(8, cfg.train.batch_size), False, 0, cfg.data.num_workers)
    dtype = amp_dtype(dev, cfg.train.amp)
    model.eval()
    with frozen_backbone(model, dev, dtype):  # fp32 CPU: a frozen TorchScript backbone
        pred = predict_loader(model, loader, dev, norm, vocab, True, dtype, split, progress)
    pred = to_final_units(pred, chosen, protocol)
    metrics: dict[str, Any] = compute_metrics(pred, chosen, train, meteor=meteor)
    metrics["protocol"] = protocol  # never mix protocols in one table: say which one this is
    if hasattr(model, "bank"):
        metrics["exemplar_pick"] = cfg.model.exemplar_pick
    if "score_pred" in pred:
        metrics.update(interval_part(ckpt.get("conformal"), pred, level))
    return metrics


def interval_part(cal: dict[str, Any] | None, pred: dict[str, Any], level: float) -> dict[str, Any]:
    """Interval metrics (flat: coverage at each curve level as coverage@L), or why there are none."""
    if not cal:
        return {"interval_note": conformal.NO_VAL_NOTE}
    iv = conformal.interval_metrics(
        cal, pred["score_pred"], pred["score_true"], pred.get("score_sigma"), level
    )
    curve = iv.pop("curve")
    iv.update(
        {f"coverage@{lv:.2f}": c for lv, c in zip(curve["levels"], curve["coverage"], strict=True)}
    )
    return iv
