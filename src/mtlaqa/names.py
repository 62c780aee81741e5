"""One name per concept: the task names and the keys built from them, and the old names still read.

Tasks: ``score``, ``attributes``, ``caption`` — the same word in config (``model.tasks``,
``loss.<task>``), batch keys, model outputs, losses (``train_<task>_loss``), prediction fields
and metric keys.

Prediction fields (what `evaluate.predict_loader` returns, `mtlaqa predict` and the web API
show): ``score_pred``, ``score_true``, ``score_sigma``, ``score_spread``, ``attributes_pred``,
``attributes_prob``, ``attributes_true``, ``caption_pred``.

Metric keys: ``<task>_<metric>`` in every metrics dict (metrics.json, history rows as
``val_<key>``, `mtlaqa evaluate`, reports):

- score: ``score_spearman``, ``score_pearson``, ``score_mae``, ``score_r_l2``,
  ``score_baseline_spearman`` (class-only baseline), ``score_uncertainty_kendall``,
  ``score_spread_error_kendall``; mixed sports: ``score_spearman/<class>``,
  ``score_spearman_fisher_z``. (Interval keys keep their own ``interval_*`` / ``coverage@L``.)
- attributes: ``attributes_acc_<attribute>``, ``attributes_majority_<attribute>`` and
  ``attributes_acc_whole_dive`` / ``attributes_majority_whole_dive``.
- caption: ``caption_bleu_1`` … ``caption_bleu_4``, ``caption_meteor``, ``caption_rouge_l``,
  ``caption_cider``; baselines ``caption_baseline_constant_<m>`` / ``caption_baseline_retrieval_<m>``
  (``<m>`` = bleu_4, cider, …); diagnostics ``caption_distinct``, ``caption_dive_named``,
  ``caption_dive_agree_pred`` / ``_true``.

Clip length is ``clip_len`` and the square crop side is ``crop_size`` (config ``data.clip_len``,
``data.crop_size``; `InputSpec.clip_len`, `InputSpec.crop_size`; backbone factory arguments).
The architecture "a backbone per clip, an aggregator over clips, the task heads" is
``model.arch: multiclip`` (``mscadc`` is the other).

Files written before these names (metrics.json with ``spearman``, ``acc_position``, ``cider``…,
predictions with ``attr_pred``/``captions``, configs with ``arch: c3d_avg`` or ``data.crop``)
are read through `metric_key` / `read_metrics` / `OLD_PREDICTION_FIELDS` / config's
deprecated-key upgrade.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TASKS = ("score", "attributes", "caption")

# old prediction field -> new
OLD_PREDICTION_FIELDS = {
    "attr_pred": "attributes_pred",
    "attr_prob": "attributes_prob",
    "attr_true": "attributes_true",
    "captions": "caption_pred",
}

# old config values / keys -> new (config.py applies them with a one-line deprecation warning)
OLD_ARCHS = {"c3d_avg": "multiclip"}
OLD_DATA_KEYS = {"crop": "crop_size"}

_SCORE = {
    "spearman",
    "pearson",
    "mae",
    "r_l2",
    "baseline_spearman",
    "uncertainty_kendall",
    "spread_error_kendall",
    "spearman_fisher_z",
}
_CAPTION = {"bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider"}
_HISTORY_PREFIXES = ("val_", "test_")


def _renamed(key: str) -> str | None:
    """The new name of an old bare metric key, or None when `key` is not an old one."""
    if key in _SCORE or key.startswith("spearman/"):
        return f"score_{key}"
    if key in _CAPTION or key.startswith(("baseline_constant_", "baseline_retrieval_")):
        return f"caption_{key}"
    if key.startswith(("acc_", "majority_")):
        return f"attributes_{key}"
    return None


def metric_key(key: str) -> str:
    """The current name of a metric key, old (``spearman``, ``val_acc_position``) or new.

    History rows carry ``val_``/``test_`` before the metric; keys already current are returned
    unchanged, so applying this twice is harmless.
    """
    new = _renamed(key)
    if new is not None:
        return new
    for prefix in _HISTORY_PREFIXES:
        if key.startswith(prefix) and (new := _renamed(key[len(prefix) :])) is not None:
            return prefix + new
    return key


def read_metrics(values: Any) -> Any:
    """A metrics dict (or metrics.json, nested: test/last, history rows…) with every key current.

    Readers of files written by earlier versions go through this, so old and new run folders
    summarise alike. Where both an old and a new key are present the new one wins.
    """
    if isinstance(values, Mapping):
        out: dict[Any, Any] = {}
        for k, v in values.items():
            new = metric_key(k) if isinstance(k, str) else k
            if new != k and new in values:
                continue  # the file has both: keep the current one
            out[new] = read_metrics(v)
        return out
    if isinstance(values, list):
        return [read_metrics(v) for v in values]
    return values


def read_prediction(pred: Mapping[str, Any]) -> dict[str, Any]:
    """A prediction dict with the current field names (``attr_pred`` -> ``attributes_pred``…)."""
    return {OLD_PREDICTION_FIELDS.get(k, k): v for k, v in pred.items()}
