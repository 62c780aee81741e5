"""Grounded commentary (`model.caption_condition`): the caption decoder reads the other heads.

`none` is the paper's S2VT head: the decoder sees only the clip features. `heads` also gives it
the attribute heads' class probabilities and the score head's (normalised) output, either as an
extra decoder input at every step (`caption_condition_at: step`) or added to its initial state
(`state`); with `caption_condition_detach` the caption loss does not flow back into the heads.

`caption_condition_source` says what the condition holds: `soft` — the heads' softmax
probabilities, in training and at inference; `teacher` — in training the TRUE attributes (one-hot)
and the true normalised score (where a sample has them; the heads' own prediction elsewhere), at
inference the heads' predicted class (one-hot of the argmax) and score. With `teacher` the decoder
learns the mapping from a dive to its words on clean inputs from the first step, and at inference
it is handed exactly the dive the attribute table shows.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from mtlaqa.config import ModelConfig
from mtlaqa.errors import MtlaqaError
from mtlaqa.models.network import Network
from mtlaqa.schema import ATTRIBUTE_CLASSES

CONDITIONS = ("none", "heads")
CONDITION_AT = ("step", "state")
SOURCES = ("soft", "teacher")
# attribute probabilities in schema order, then the score
HEADS_DIM = sum(ATTRIBUTE_CLASSES.values()) + 1


def condition_dim(cfg: ModelConfig) -> int:
    """Width of the decoder's condition vector (0: none); bad settings are a one-line error."""
    if cfg.caption_condition not in CONDITIONS:
        raise MtlaqaError(
            f"config: model.caption_condition must be one of {', '.join(CONDITIONS)},"
            f" got {cfg.caption_condition!r}"
        )
    if cfg.caption_condition_at not in CONDITION_AT:
        raise MtlaqaError(
            f"config: model.caption_condition_at must be one of {', '.join(CONDITION_AT)},"
            f" got {cfg.caption_condition_at!r}"
        )
    if cfg.caption_condition_source not in SOURCES:
        raise MtlaqaError(
            f"config: model.caption_condition_source must be one of {', '.join(SOURCES)},"
            f" got {cfg.caption_condition_source!r}"
        )
    if cfg.caption_condition == "none" or "caption" not in cfg.tasks:
        return 0
    if "score" not in cfg.tasks and "attributes" not in cfg.tasks:
        raise MtlaqaError(
            "config: model.caption_condition=heads needs the score or attributes task in model.tasks"
        )
    return HEADS_DIM


def _onehot_or_soft(
    lg: torch.Tensor, n: int, hard: bool, truth: torch.Tensor | None
) -> torch.Tensor:
    """(B, n): softmax of `lg`, or one-hot of its argmax (`hard`), true labels where known."""
    if not hard:
        return lg.float().softmax(-1)
    label = lg.argmax(-1)
    if truth is not None:
        t = truth.to(label.device)
        label = torch.where(t >= 0, t, label)
    return F.one_hot(label, n).float()


def condition_vector(
    out: dict[str, Any], cfg: ModelConfig, truth: dict[str, Any] | None = None
) -> torch.Tensor | None:
    """(B, HEADS_DIM) from the heads' outputs in `out` (absent heads give zeros); None for `none`.

    `truth` (training only, `caption_condition_source: teacher`): the batch's targets, `score`
    (B,) normalised (NaN = unknown) and `attributes` {name: (B,) long, -1 = unknown}.
    """
    if cfg.caption_condition != "heads":
        return None
    hard = cfg.caption_condition_source == "teacher"
    truth = truth if hard else None
    feats = out["features"]
    b, dev = feats.shape[0], feats.device
    parts = []
    for name, n in ATTRIBUTE_CLASSES.items():
        lg = out.get("attributes", {}).get(name)
        t = truth["attributes"].get(name) if truth and "attributes" in truth else None
        if lg is not None:
            parts.append(_onehot_or_soft(lg, n, hard, t))
        elif t is not None:  # no attribute head: the truth in training, zeros at inference
            parts.append(F.one_hot(t.clamp_min(0), n).float() * (t >= 0).unsqueeze(-1))
        else:
            parts.append(torch.zeros(b, n, device=dev))
    score = out.get("score")
    score = score.float() if score is not None else torch.zeros(b, device=dev)
    if truth is not None and "score" in truth:
        t = truth["score"].to(dev).float()
        score = torch.where(torch.isfinite(t), t, score)
    parts.append(score.unsqueeze(-1))
    cond = torch.cat(parts, dim=-1)  # (B, HEADS_DIM)
    return cond.detach() if cfg.caption_condition_detach else cond


def generate_commentary(model: Network, out: dict[str, Any]) -> list[list[int]]:
    """Token ids per sample from a model's forward/heads output `out` (holding `features`)."""
    cond = condition_vector(out, model.cfg)
    tokens: list[list[int]] = model.caption.generate(
        out["features"], max_len=model.cfg.caption_max_len, cond=cond
    )
    return tokens
