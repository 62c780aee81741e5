"""The allowed range of every numeric or enumerated config setting, checked when a config is built.

One declarative table: a setting not listed here is only type-checked (names such as backbones and
aggregators are checked by their registries when the model is built).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mtlaqa.errors import MtlaqaError
from mtlaqa.schema import TASKS


@dataclass(frozen=True)
class Range:
    """lo <= value <= hi (either side open when `lo_open`/`hi_open`); None = unbounded."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def problem(self, v: float) -> str | None:
        """Why `v` is outside the range, or None."""
        if not math.isfinite(v):
            return f"must be a finite number, got {v}"
        low = self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo)
        high = self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi)
        if low or high:
            return f"must be {self.text()}, got {v:g}"
        return None

    def text(self) -> str:
        lo = "" if self.lo is None else f"{'>' if self.lo_open else '>='} {self.lo:g}"
        hi = "" if self.hi is None else f"{'<' if self.hi_open else '<='} {self.hi:g}"
        return " and ".join(p for p in (lo, hi) if p)


@dataclass(frozen=True)
class OneOf:
    """The value (or, for a list, every item) is one of `choices`."""

    choices: tuple[str, ...]
    nonempty: bool = False  # for lists: at least one item

    def problem(self, v: Any) -> str | None:
        """Why `v` is not allowed, or None."""
        items = v if isinstance(v, list) else [v]
        if self.nonempty and not items:
            return f"needs at least one of {', '.join(self.choices)}"
        bad = [x for x in items if x not in self.choices]
        if bad:
            return f"unknown value {bad[0]!r} (one of {', '.join(self.choices)})"
        return None


POSITIVE = Range(0, lo_open=True)
AT_LEAST_1 = Range(1)
NON_NEGATIVE = Range(0)
FRACTION = Range(0, 1)

RULES: dict[str, Range | OneOf] = {
    "data.window": AT_LEAST_1,
    "data.jitter": NON_NEGATIVE,
    "data.num_clips": AT_LEAST_1,
    "data.clip_len": AT_LEAST_1,
    "data.stride": AT_LEAST_1,
    "data.clip_starts": NON_NEGATIVE,
    "data.resize": AT_LEAST_1,
    "data.crop_size": AT_LEAST_1,
    "data.short_video": OneOf(("pad", "error")),
    "data.min_frames": AT_LEAST_1,
    "data.cache": OneOf(("memory", "disk", "none")),
    "data.num_workers": NON_NEGATIVE,
    "data.val_fraction": Range(0, 1, hi_open=True),
    "data.caption_min_count": AT_LEAST_1,
    "model.width": POSITIVE,
    "model.backbone_norm": OneOf(("none", "batch")),
    "model.freeze": OneOf(("none", "all", "last_n")),
    "model.finetune_blocks": NON_NEGATIVE,
    "model.score_protocol": OneOf(("direct", "with_dd")),
    "model.score_head": OneOf(("direct", "gaussian", "distribution", "exemplar")),
    "model.exemplars": AT_LEAST_1,
    "model.exemplar_pick": OneOf(("annotated", "predicted")),
    "model.tasks": OneOf(TASKS, nonempty=True),
    "model.fc_dim": AT_LEAST_1,
    "model.dropout": Range(0, 1, hi_open=True),
    "model.caption_hidden": AT_LEAST_1,
    "model.caption_embed": AT_LEAST_1,
    "model.caption_layers": AT_LEAST_1,
    "model.caption_max_len": AT_LEAST_1,
    "model.caption_beam": AT_LEAST_1,
    "model.caption_length_alpha": NON_NEGATIVE,
    "model.caption_condition": OneOf(("none", "heads")),
    "model.caption_condition_at": OneOf(("step", "state")),
    "model.caption_condition_source": OneOf(("soft", "teacher")),
    "loss.score": NON_NEGATIVE,
    "loss.attributes": NON_NEGATIVE,
    "loss.caption": NON_NEGATIVE,
    "train.epochs": AT_LEAST_1,
    "train.batch_size": AT_LEAST_1,
    "train.lr": POSITIVE,
    "train.backbone_lr": NON_NEGATIVE,
    "train.weight_decay": NON_NEGATIVE,
    "train.amp": OneOf(("auto", "bf16", "fp16", "off")),
    "train.grad_clip": NON_NEGATIVE,
    "train.eval_captions_every": NON_NEGATIVE,
    "train.caption_epochs": NON_NEGATIVE,
    "train.caption_lr": NON_NEGATIVE,
    "train.caption_batch_size": NON_NEGATIVE,
    "train.threads": NON_NEGATIVE,
    "train.accum_steps": AT_LEAST_1,
    "train.schedule": OneOf(("constant", "cosine")),
    "train.caption_schedule": OneOf(("constant", "cosine")),
    "train.warmup_steps": NON_NEGATIVE,
    "train.min_lr_ratio": FRACTION,
    "train.early_stop_patience": NON_NEGATIVE,
    "train.checkpoint_every_steps": NON_NEGATIVE,
}


def check_value(key: str, value: Any) -> None:
    """MtlaqaError naming the setting when `value` breaks the rule of `key` (None: unset, fine)."""
    rule = RULES.get(key)
    if rule is None or value is None:
        return
    if isinstance(rule, OneOf):
        why = rule.problem(value)
    else:
        items = value if isinstance(value, list) else [value]
        why = next((w for x in items if (w := rule.problem(float(x))) is not None), None)
    if why:
        raise MtlaqaError(f"config: '{key}' {why}")
