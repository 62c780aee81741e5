"""Score protocols (design §5): `direct` regresses the final score; `with_dd` regresses the
execution part (final score / difficulty) and multiplies by the ground-truth difficulty.

The two are never mixed in one table: the protocol is recorded in every metrics file.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from mtlaqa.data.manifest import Sample
from mtlaqa.errors import DataError, MtlaqaError

PROTOCOLS = ("direct", "with_dd")


def check_protocol(name: str) -> str:
    """The protocol name, or a one-line error."""
    if name not in PROTOCOLS:
        raise MtlaqaError(
            f"model.score_protocol must be one of {', '.join(PROTOCOLS)}, got {name!r}"
        )
    return name


def protocol_samples(samples: list[Sample], protocol: str) -> list[Sample]:
    """Samples whose `score` is the protocol's regression target (execution for with_dd)."""
    if check_protocol(protocol) == "direct":
        return samples
    lacking = [
        s.id for s in samples if s.score is not None and not (s.difficulty and s.difficulty > 0)
    ]
    if lacking:
        raise DataError(
            f"score_protocol with_dd needs each scored sample's difficulty; {len(lacking)} lack it "
            f"(e.g. {', '.join(lacking[:3])})"
        )
    return [
        dataclasses.replace(s, score=s.score / s.difficulty)
        if s.score is not None and s.difficulty  # every scored sample has one (checked above)
        else s
        for s in samples
    ]


def to_final_units(pred: dict[str, Any], samples: list[Sample], protocol: str) -> dict[str, Any]:
    """Predictions of `predict_loader` back in final-score units (with_dd: × true difficulty)."""
    if check_protocol(protocol) == "direct" or "score_pred" not in pred:
        return pred
    by_id = {s.id: s for s in samples}
    dd = np.array(
        [by_id[i].difficulty if i in by_id and by_id[i].difficulty else np.nan for i in pred["ids"]]
    )
    missing = [
        i
        for i, d, t in zip(pred["ids"], dd, pred["score_true"], strict=True)
        if np.isnan(d) and np.isfinite(t)
    ]
    if missing:
        raise DataError(
            f"score_protocol with_dd: no difficulty for {len(missing)} samples (e.g. {missing[0]})"
        )
    out = dict(pred)
    out["execution_pred"] = pred["score_pred"]
    out["score_pred"] = pred["score_pred"] * dd
    out["score_true"] = pred["score_true"] * dd
    if "score_sigma" in pred:
        out["score_sigma"] = pred["score_sigma"] * dd
    if "score_spread" in pred:
        out["score_spread"] = pred["score_spread"] * dd
    return out
