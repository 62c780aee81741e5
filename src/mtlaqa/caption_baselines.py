"""Caption references: the best constant caption, retrieval, and what the generated captions say.

A caption metric means little alone (a fixed sentence can score well when all commentaries share
their phrasing), so every caption metric stands beside two baselines built from the training split:

- best constant: the training caption with the highest CIDEr-D against all the other training
  captions, said for every test dive;
- retrieval: for each test dive, the caption of the training dive that is closest to the model's
  prediction: fewest attributes differing from the predicted dive, then nearest true score to the
  predicted score (training dives by their labels).

Diagnostics: the fraction of distinct generated captions, and where a caption names a dive
(dive_mention.py), how often it is the predicted dive and the true dive.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mtlaqa.dive_mention import named_dive
from mtlaqa.metrics import tokenize_caption
from mtlaqa.schema import ATTRIBUTES

if TYPE_CHECKING:
    from mtlaqa.data.manifest import Sample

_N, _SIGMA = 4, 6.0  # CIDEr-D as pycocoevalcap computes it


def _ngrams(words: list[str]) -> list[Counter[tuple[str, ...]]]:
    return [
        Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1)) for n in range(1, 5)
    ]


def cider_d_each(captions: Sequence[str]) -> np.ndarray:
    """Each caption's corpus CIDEr-D when said for every other caption (one reference each).

    Same formula as pycocoevalcap's Cider (tf-idf n-grams 1-4, clipped, Gaussian length penalty,
    ×10), with the document frequencies of all the captions: sparse, so 1 000 captions take
    seconds where pycocoevalcap would need one full scoring per candidate.
    """
    grams = [_ngrams(tokenize_caption(c).split()) for c in captions]
    n_docs = len(captions)
    if n_docs < 2:
        return np.zeros(n_docs)
    ref_len = math.log(float(n_docs))
    lengths = np.array([sum(g[1].values()) for g in grams], dtype=np.float64)  # as pycocoevalcap
    total = np.zeros(n_docs)
    for n in range(_N):
        df = Counter(k for g in grams for k in g[n])
        index = {k: j for j, k in enumerate(df)}
        vec = np.zeros((n_docs, len(index)))
        for i, g in enumerate(grams):
            for k, tf in g[n].items():
                vec[i, index[k]] = tf * (ref_len - math.log(max(1.0, df[k])))
        norm = np.linalg.norm(vec, axis=1)
        for c in range(n_docs):
            cols = np.flatnonzero(vec[c])
            if cols.size == 0 or norm[c] == 0:
                continue
            ref = vec[:, cols]  # (N, nz)
            val = (np.minimum(ref, vec[c, cols]) * ref).sum(1)
            val = np.where(norm > 0, val / (norm[c] * np.where(norm > 0, norm, 1.0)), 0.0)
            val *= np.exp(-((lengths[c] - lengths) ** 2) / (2 * _SIGMA**2))
            val[c] = 0.0  # not against itself
            total[c] += val.sum()
    return total / _N / (n_docs - 1) * 10.0


@functools.lru_cache(maxsize=8)
def _best_constant(captions: tuple[str, ...]) -> str:
    unique = sorted(set(captions))
    counts = Counter(captions)
    # a caption said k times scores against the k-1 other copies as well: score every dive
    scores = cider_d_each(list(captions))
    best: dict[str, float] = {}
    for c, s in zip(captions, scores, strict=True):
        best[c] = max(best.get(c, -1.0), float(s))
    return max(unique, key=lambda c: (best[c], counts[c]))


def best_constant_caption(captions: Sequence[str]) -> str:
    """The training caption that scores best (CIDEr-D) against the other training captions."""
    if not captions:
        raise ValueError("best_constant_caption: no training captions")
    return _best_constant(tuple(captions))


def retrieval_captions(
    train_attrs: Mapping[str, np.ndarray],
    train_scores: np.ndarray | None,
    train_captions: Sequence[str],
    pred_attrs: Mapping[str, np.ndarray],
    pred_scores: np.ndarray | None,
) -> list[str]:
    """Per test dive: the caption of the training dive closest to its prediction.

    Distance = number of attributes that differ (the attributes both sides have), ties broken by
    the absolute score difference; `train_*` are the training labels (-1: unknown, never equal).
    """
    names = [k for k in ATTRIBUTES if k in pred_attrs and k in train_attrs]
    n_test = (
        len(next(iter(pred_attrs.values())))
        if names
        else len(pred_scores if pred_scores is not None else ())
    )
    if not names and (pred_scores is None or train_scores is None):
        raise ValueError("retrieval_captions: neither attributes nor scores to match on")
    out = []
    for i in range(n_test):
        cost = np.zeros(len(train_captions))
        for k in names:
            cost += np.asarray(train_attrs[k]) != pred_attrs[k][i]
        if pred_scores is not None and train_scores is not None:
            gap = np.abs(np.asarray(train_scores, dtype=np.float64) - pred_scores[i])
            span = np.nanmax(gap) + 1.0
            cost = cost + np.nan_to_num(gap, nan=span) / (2 * span)  # < 1: only breaks ties
        out.append(train_captions[int(np.argmin(cost))])
    return out


def caption_diagnostics(
    hyps: Sequence[str],
    pred_attrs: Mapping[str, np.ndarray] | None = None,
    true_attrs: Mapping[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """Distinct fraction; share naming a dive; share naming the predicted / the true dive.

    The agreement shares are over all captions (one that names no dive does not agree).
    """
    n = len(hyps)
    if n == 0:
        return {}
    named = [named_dive(h) for h in hyps]
    out = {
        "caption_distinct": len(set(hyps)) / n,
        "caption_dive_named": sum(d is not None for d in named) / n,
    }
    for key, attrs in (("pred", pred_attrs), ("true", true_attrs)):
        if not attrs or not all(k in attrs for k in ATTRIBUTES):
            continue
        same = [
            d is not None and all(int(attrs[k][i]) == d[k] for k in ATTRIBUTES)
            for i, d in enumerate(named)
        ]
        out[f"caption_dive_agree_{key}"] = sum(same) / n
    return out


def _baseline_key(which: str, key: str) -> str:
    """caption_cider of a baseline -> caption_baseline_<which>_cider."""
    return f"caption_baseline_{which}_{key.removeprefix('caption_')}"


def caption_report(
    pred: Mapping[str, Any],
    samples: Sequence[Sample],
    train_samples: Sequence[Sample] | None,
    meteor: bool = True,
) -> dict[str, float]:
    """Caption metrics of `pred["caption_pred"]`, the two baselines' (``caption_baseline_constant_<m>``,
    ``caption_baseline_retrieval_<m>``) and the diagnostics; `samples` are Samples of the evaluated split.
    """
    from mtlaqa.metrics import caption_metrics

    by_id = {s.id: s for s in samples}
    ids = list(pred["ids"])
    reference = {i: c for i in ids if (c := by_id[i].caption)}
    keep = [j for j, i in enumerate(ids) if i in reference]
    if not keep:
        return {}
    refs = {ids[j]: [reference[ids[j]]] for j in keep}
    hyps = {ids[j]: pred["caption_pred"][j] for j in keep}
    out = caption_metrics(hyps, refs, meteor=meteor)
    attr_pred = {k: np.asarray(v)[keep] for k, v in (pred.get("attributes_pred") or {}).items()}
    truth = {k: np.array([getattr(by_id[ids[j]], k) for j in keep]) for k in ATTRIBUTES}
    truth = {k: v for k, v in truth.items() if all(x is not None for x in v)}
    out.update(caption_diagnostics(list(hyps.values()), attr_pred or None, truth or None))
    train = [s for s in train_samples or [] if s.caption]
    train_captions = [s.caption for s in train if s.caption]  # every one (filtered above)
    if not train:
        return out
    const = best_constant_caption(train_captions)
    base = caption_metrics(dict.fromkeys(hyps, const), refs, meteor=meteor)
    out.update({_baseline_key("constant", k): v for k, v in base.items()})
    score_pred = pred.get("score_pred")
    scores = np.asarray(score_pred)[keep] if score_pred is not None else None
    if attr_pred or scores is not None:
        t_attrs = {
            k: np.array([-1 if getattr(s, k) is None else getattr(s, k) for s in train])
            for k in attr_pred
        }
        t_scores = np.array([np.nan if s.score is None else s.score for s in train])
        got = retrieval_captions(t_attrs, t_scores, train_captions, attr_pred, scores)
        base = caption_metrics(dict(zip(hyps, got, strict=True)), refs, meteor=meteor)
        out.update({_baseline_key("retrieval", k): v for k, v in base.items()})
    return out
