"""Optimization: Adam over the parameter groups, and the LR schedule (warm-up, constant or cosine)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from mtlaqa.config import Config
from mtlaqa.errors import MtlaqaError
from mtlaqa.models.finetune import param_groups
from mtlaqa.models.network import Network


def make_optimizer(params: Any, cfg: Config) -> torch.optim.Optimizer:
    """Adam with the fused kernel (one pass over each tensor instead of ~8 elementwise ops):
    measured ~4x faster optimizer steps on CPU (benchmarks/README.md); plain Adam on older torch."""
    params = list(params)
    lr, wd = cfg.train.lr, cfg.train.weight_decay
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=wd, fused=True)
    except (RuntimeError, TypeError):  # fused CPU Adam needs torch >= 2.4
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)


def build_optimizer(cfg: Config, model: Network) -> torch.optim.Optimizer:
    """Adam as the paper (fused kernel), over the parameter groups of models/finetune.py."""
    return make_optimizer(param_groups(model, cfg.train), cfg)


def build_scheduler(
    cfg: Config, opt: torch.optim.Optimizer, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """The LR schedule of `cfg.train` over all the run's optimizer steps."""
    t = cfg.train
    total = steps_per_epoch * t.epochs
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lr_lambda(t.schedule, t.warmup_steps, total, t.min_lr_ratio)
    )


def lr_lambda(
    schedule: str, warmup: int, total: int, min_ratio: float = 0.0
) -> Callable[[int], float]:
    """Multiplier of the base LR at optimizer step s: linear warm-up, then constant or cosine."""
    if schedule not in ("constant", "cosine"):
        raise MtlaqaError(f"unknown train.schedule {schedule!r} (constant or cosine)")

    def f(step: int) -> float:
        if warmup > 0 and step < warmup:
            return (step + 1) / warmup
        if schedule == "constant":
            return 1.0
        t = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t))

    return f
