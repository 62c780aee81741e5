"""Grounded commentary (`model.caption_condition`): the caption decoder reads the other heads.

`none` is the paper's S2VT head: the decoder sees only the clip features. `heads` also gives it
the attribute heads' class probabilities and the score head's (normalised) output, either as an
extra decoder input at every step (`caption_condition_at: step`) or added to its initial state
(`state`); with `caption_condition_detach` the caption loss does not flow back into the heads.
"""

from __future__ import annotations

from typing import Any

import torch

from mtlaqa.config import ModelConfig
from mtlaqa.errors import MtlaqaError
from mtlaqa.schema import ATTRIBUTE_CLASSES

CONDITIONS = ("none", "heads")
CONDITION_AT = ("step", "state")
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
    if cfg.caption_condition == "none" or "caption" not in cfg.tasks:
        return 0
    if "score" not in cfg.tasks and "attributes" not in cfg.tasks:
        raise MtlaqaError(
            "config: model.caption_condition=heads needs the score or attributes task in model.tasks"
        )
    return HEADS_DIM


def condition_vector(out: dict[str, Any], cfg: ModelConfig) -> torch.Tensor | None:
    """(B, HEADS_DIM) from the heads' outputs in `out` (absent heads give zeros); None for `none`."""
    if cfg.caption_condition != "heads":
        return None
    feats = out["features"]
    b, dev = feats.shape[0], feats.device
    parts = []
    for name, n in ATTRIBUTE_CLASSES.items():
        lg = out.get("attributes", {}).get(name)
        parts.append(lg.float().softmax(-1) if lg is not None else torch.zeros(b, n, device=dev))
    score = out.get("score")
    parts.append(
        score.float().unsqueeze(-1) if score is not None else torch.zeros(b, 1, device=dev)
    )
    cond = torch.cat(parts, dim=-1)  # (B, HEADS_DIM)
    return cond.detach() if cfg.caption_condition_detach else cond


def generate_commentary(model: Any, out: dict[str, Any]) -> list[list[int]]:
    """Token ids per sample from a model's forward/heads output `out` (holding `features`)."""
    cond = condition_vector(out, model.cfg)
    return model.caption.generate(out["features"], max_len=model.cfg.caption_max_len, cond=cond)
