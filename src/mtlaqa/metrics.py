"""Evaluation metrics (design §5): score, attributes, captions, class-only baseline, tables.

Score: Spearman ρ (primary), Pearson r, MAE, R-ℓ2 with the range of the evaluated split.
Attributes: per-attribute accuracy beside the majority-class rate, whole-dive accuracy.
Captions: BLEU-1…4, METEOR, ROUGE-L, CIDEr from pycocoevalcap on coco-caption's PTB tokenization
(`ptb.py`); without Java a light regex tokenization (lowercase, punctuation stripped) with a
one-time warning. METEOR needs Java too; without it the value is nan and a warning says why.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

from mtlaqa.meteor import meteor_score
from mtlaqa.ptb import plain_caption, ptb_tokenize
from mtlaqa.schema import ATTRIBUTES

NAN = float("nan")
# caption metric names (keys: caption_<name>; names.py)
CAPTION_METRICS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider")

# ---------------------------------------------------------------------------------------------
# score


def score_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Spearman ρ, Pearson r, MAE and R-ℓ2 of predicted vs true scores (same units): score_<metric>.

    R-ℓ2 = 100·mean(((ŷ−y)/(y_max−y_min))²) with the range of ``true`` (the evaluated split).
    Undefined values (fewer than two samples, constant inputs, zero range) are nan.
    """
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    t = np.asarray(true, dtype=np.float64).reshape(-1)
    if p.shape != t.shape:
        raise ValueError(f"score_metrics: {p.size} predictions for {t.size} targets")
    out = {"score_spearman": NAN, "score_pearson": NAN, "score_mae": NAN, "score_r_l2": NAN}
    if t.size == 0:
        return out
    out["score_mae"] = float(np.mean(np.abs(p - t)))
    span = float(t.max() - t.min())
    if span > 0:
        out["score_r_l2"] = float(100.0 * np.mean(((p - t) / span) ** 2))
    # correlations are undefined for n < 2 or a constant side; scipy would warn and return nan
    if t.size >= 2 and np.ptp(p) > 0 and span > 0:
        out["score_spearman"] = float(stats.spearmanr(p, t)[0])
        out["score_pearson"] = float(stats.pearsonr(p, t)[0])
    return out


def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall τ-b between two arrays (nan when fewer than two values or a side is constant)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return NAN
    return float(stats.kendalltau(a, b)[0])


# ---------------------------------------------------------------------------------------------
# attributes


def _majority_class(labels: np.ndarray) -> int | None:
    labels = labels[labels >= 0]
    if labels.size == 0:
        return None
    return int(np.bincount(labels.astype(np.int64)).argmax())  # ties: lowest class index


def attribute_metrics(
    pred: Mapping[str, np.ndarray],
    true: Mapping[str, np.ndarray],
    majority_from: Mapping[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """Per-attribute accuracy ``attributes_acc_<name>``, majority rate ``attributes_majority_<name>``, whole-dive.

    ``attributes_majority_<name>`` is the rate of the majority class on this split; with ``majority_from``
    (training labels) the majority class is taken from training and its rate measured here — the
    accuracy of a constant predictor. ``attributes_acc_whole_dive`` (all five right) and
    ``attributes_majority_whole_dive`` (most common 5-tuple) appear when all five attributes are given.
    True labels < 0 mean "unlabelled" and are ignored. Attributes missing on either side are
    skipped; no samples gives nan.
    """
    out: dict[str, float] = {}
    names = [n for n in ATTRIBUTES if n in pred and n in true]
    names += [n for n in true if n in pred and n not in ATTRIBUTES]
    for name in names:
        p = np.asarray(pred[name]).reshape(-1)
        t = np.asarray(true[name]).reshape(-1)
        if p.shape != t.shape:
            raise ValueError(f"attribute_metrics: {name}: {p.size} predictions, {t.size} labels")
        keep = t >= 0
        p, t = p[keep], t[keep]
        out[f"attributes_acc_{name}"] = float(np.mean(p == t)) if t.size else NAN
        source = t
        if majority_from is not None and name in majority_from:
            source = np.asarray(majority_from[name]).reshape(-1)
        major = _majority_class(source)
        out[f"attributes_majority_{name}"] = (
            float(np.mean(t == major)) if t.size and major is not None else NAN
        )

    if all(n in names for n in ATTRIBUTES):
        t_all = np.stack([np.asarray(true[n]).reshape(-1) for n in ATTRIBUTES], axis=1)
        p_all = np.stack([np.asarray(pred[n]).reshape(-1) for n in ATTRIBUTES], axis=1)
        labelled = (t_all >= 0).all(axis=1)
        t_all, p_all = t_all[labelled], p_all[labelled]
        out["attributes_acc_whole_dive"] = (
            float(np.mean((p_all == t_all).all(axis=1))) if len(t_all) else NAN
        )
        if majority_from is not None and all(n in majority_from for n in ATTRIBUTES):
            src = np.stack([np.asarray(majority_from[n]).reshape(-1) for n in ATTRIBUTES], axis=1)
            src = src[(src >= 0).all(axis=1)]
        else:
            src = t_all
        types = Counter(tuple(int(v) for v in row) for row in src)
        if types and len(t_all):
            top = np.asarray(max(types.items(), key=lambda kv: (kv[1], [-v for v in kv[0]]))[0])
            out["attributes_majority_whole_dive"] = float(np.mean((t_all == top).all(axis=1)))
        else:
            out["attributes_majority_whole_dive"] = NAN
    return out


# ---------------------------------------------------------------------------------------------
# class-only baseline


def class_only_baseline(
    train_types: Sequence[tuple[int, ...]],
    train_scores: np.ndarray,
    test_types: Sequence[tuple[int, ...]],
) -> np.ndarray:
    """Predict each test sample's score as the mean training score of its dive type.

    A dive type is the 5-tuple of attributes; unseen types get the global training mean. The ρ of
    this predictor shows how much of the score a model can get from recognising the dive alone.
    """
    scores = np.asarray(train_scores, dtype=np.float64).reshape(-1)
    if len(train_types) != scores.size:
        raise ValueError(f"class_only_baseline: {len(train_types)} types, {scores.size} scores")
    if scores.size == 0:
        raise ValueError("class_only_baseline: no training samples")
    sums: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for kind, s in zip(train_types, scores, strict=True):
        acc = sums[tuple(int(v) for v in kind)]
        acc[0] += float(s)
        acc[1] += 1.0
    means = {k: v[0] / v[1] for k, v in sums.items()}
    fallback = float(scores.mean())
    return np.array(
        [means.get(tuple(int(v) for v in kind), fallback) for kind in test_types], dtype=np.float64
    )


# ---------------------------------------------------------------------------------------------
# captions

_SPECIAL = {"<sos>", "<eos>", "<pad>"}
_APOSTROPHE = re.compile(r"['’`]")
_PUNCT = re.compile(r"[^\w\s]|_")


def tokenize_caption(text: str | Sequence[str]) -> str:
    """Lowercase, drop <sos>/<eos>/<pad>, strip punctuation; words joined by single spaces."""
    words = text.split() if isinstance(text, str) else [str(w) for w in text]
    words = [w for w in words if w.lower() not in _SPECIAL]
    clean = _PUNCT.sub(" ", _APOSTROPHE.sub("", " ".join(words).lower()))
    return " ".join(clean.split())


def _tokenized(
    hyps: Mapping[str, str | Sequence[str]], refs: Mapping[str, str | Sequence[str]], how: str
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """pycocoevalcap's {id: [caption]} inputs, tokenized once for hypotheses and references."""
    owners: list[tuple[str, bool]] = []  # (id, is the hypothesis) of each caption
    texts: list[str] = []
    for k, h in hyps.items():
        r = refs[k]
        ref_list = [r] if isinstance(r, str) else list(r)
        owners.append((k, True))
        texts.append(plain_caption(h))
        for x in ref_list:
            owners.append((k, False))
            texts.append(plain_caption(x))
    if how not in ("ptb", "light"):
        raise ValueError(f"caption_metrics: tokenizer must be 'ptb' or 'light', got {how!r}")
    tokens = ptb_tokenize(texts) if how == "ptb" else None
    if tokens is None:
        tokens = [tokenize_caption(t) for t in texts]
    res: dict[str, list[str]] = {}
    gts: dict[str, list[str]] = {k: [] for k in hyps}
    for (k, is_hyp), t in zip(owners, tokens, strict=True):
        (res.setdefault(k, []) if is_hyp else gts[k]).append(t)
    return res, {k: v or [""] for k, v in gts.items()}


def caption_metrics(
    hyps: Mapping[str, str | Sequence[str]],
    refs: Mapping[str, str | Sequence[str]],
    meteor: bool = True,
    meteor_timeout: float = 600.0,
    tokenizer: str = "ptb",
) -> dict[str, float]:
    """Corpus BLEU-1…4, METEOR, ROUGE-L and CIDEr of hypotheses against reference lists.

    ``hyps``: id -> generated caption; ``refs``: id -> list of reference captions (a single
    string is one reference; each caption may also be a token list, e.g. the release's
    ``["<sos>", ..., "<eos>"]``). Every hypothesis id needs
    references. ``meteor=False`` skips METEOR (≈ 7 s of JVM start-up, once per process: see
    mtlaqa.meteor) and reports nan.
    CIDEr's idf comes from the evaluated references, so it is 0 for a single sample.
    ``tokenizer``: "ptb" (coco-caption's; the light regex with a warning when Java is missing)
    or "light" (the regex only).
    """
    keys = [f"caption_{k}" for k in CAPTION_METRICS]
    missing = [k for k in hyps if k not in refs]
    if missing:
        raise ValueError(f"caption_metrics: no references for ids {missing[:5]}")
    if not hyps:
        return dict.fromkeys(keys, NAN)
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    res, gts = _tokenized(hyps, refs, tokenizer)
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, _ = Rouge().compute_score(gts, res)
    cider, _ = Cider().compute_score(gts, res)
    out = {f"caption_bleu_{i + 1}": float(b) for i, b in enumerate(bleu)}
    out["caption_meteor"] = meteor_score(gts, res, meteor_timeout) if meteor else NAN
    out["caption_rouge_l"] = float(rouge)
    out["caption_cider"] = float(cider)
    return out


# ---------------------------------------------------------------------------------------------
# terminal tables


def _cell(value: object, digits: int) -> str:
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value)
    if isinstance(value, (float, np.floating)):
        return "–" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def format_table(
    rows: Sequence[Sequence[object]] | Mapping[str, object],
    header: Sequence[str] | None = None,
    digits: int = 4,
) -> str:
    """Aligned plain-text table; numbers right-aligned with ``digits`` decimals, nan as '–'.

    ``rows`` is a list of rows, or a mapping (one ``name  value`` row per item; a mapping of
    mappings gives one column per inner mapping, e.g. ``{"last": {...}, "best": {...}}``).
    """
    if isinstance(rows, Mapping):
        values = list(rows.values())
        columns = {c: v for c, v in rows.items() if isinstance(v, Mapping)}
        if values and len(columns) == len(values):  # a mapping of mappings: one column each
            names = list(dict.fromkeys(k for v in columns.values() for k in v))
            rows = [[n, *(v.get(n) for v in columns.values())] for n in names]
            header = header or ["metric", *columns]
        else:
            rows = [[k, v] for k, v in rows.items()]
    table = [list(r) for r in rows]
    width = max([len(r) for r in table] + [len(header) if header else 0])
    numeric = [
        all(_is_number(r[i]) or r[i] is None for r in table if i < len(r)) and i > 0
        for i in range(width)
    ]
    text = [[_cell(r[i], digits) if i < len(r) else "" for i in range(width)] for r in table]
    head = [str(h) for h in header] + [""] * (width - len(header)) if header else None
    sizes = [max(len(line[i]) for line in text + ([head] if head else [])) for i in range(width)]

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(s) if num else c.ljust(s)
            for c, s, num in zip(cells, sizes, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = []
    if head:
        out += [line(head), "  ".join("-" * s for s in sizes)]
    out += [line(cells) for cells in text]
    return "\n".join(out)
