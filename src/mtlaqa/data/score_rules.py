"""Which label values a dataset kind allows: diving scores are never negative, other sports may be.

A manifest line names its kind in an optional `sport` field (default `diving`); `import-csv --sport`
writes it. Booleans are never numbers (JSON `true` is not a score of 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

DEFAULT_SPORT = "diving"


@dataclass(frozen=True)
class ScoreRule:
    """Allowed ranges (None: unbounded) of score, difficulty and each judge's mark."""

    score_min: float | None = None
    difficulty_min: float | None = None
    difficulty_open: bool = False  # difficulty must be strictly above difficulty_min
    judge_range: tuple[float, float] | None = None


_DIVING = ScoreRule(
    score_min=0.0, difficulty_min=0.0, difficulty_open=True, judge_range=(0.0, 10.0)
)
_NON_NEGATIVE = ScoreRule(score_min=0.0)

SPORTS: dict[str, ScoreRule] = {
    # FINA: judges award 0–10, difficulty is a positive tariff, score = difficulty × marks >= 0
    "diving": _DIVING,
    # AQA-7's classes (data/import_aqa7.py): judged scores, never negative
    "sync_diving_3m": _DIVING,
    "sync_diving_10m": _DIVING,
    "gym_vault": _NON_NEGATIVE,
    "ski_big_air": _NON_NEGATIVE,
    "snowboard_big_air": _NON_NEGATIVE,
    "trampoline": _NON_NEGATIVE,
    # JIGSAWS tasks (data/import_jigsaws.py): GRS 6–30 and OSATS items 1–5
    "Suturing": _NON_NEGATIVE,
    "Needle_Passing": _NON_NEGATIVE,
    "Knot_Tying": _NON_NEGATIVE,
    # a sport whose scores may be negative (e.g. penalties, deltas): only finiteness is checked
    "any": ScoreRule(),
}


def sport_rule(sport: Any) -> ScoreRule:
    """The rule of a dataset kind; ValueError naming the known kinds for any other value."""
    if not isinstance(sport, str) or sport not in SPORTS:
        raise ValueError(f"'sport' must be one of {', '.join(SPORTS)}, got {sport!r}")
    return SPORTS[sport]


def _number(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"'{name}' must be a finite number, got {v!r}")
    return float(v)


def check_labels(sport: str, score: Any = None, difficulty: Any = None, judges: Any = None) -> None:
    """ValueError with the first problem of these label values under `sport`'s rule."""
    rule = sport_rule(sport)
    if score is not None:
        x = _number(score, "score")
        if rule.score_min is not None and x < rule.score_min:
            raise ValueError(f"'score' must be >= {rule.score_min:g} for {sport}, got {score!r}")
    if difficulty is not None:
        x = _number(difficulty, "difficulty")
        lo = rule.difficulty_min
        if lo is not None and (x <= lo if rule.difficulty_open else x < lo):
            op = ">" if rule.difficulty_open else ">="
            raise ValueError(f"'difficulty' must be {op} {lo:g} for {sport}, got {difficulty!r}")
    if judges is not None:
        if not isinstance(judges, list):
            raise ValueError(f"'judges' must be a list of numbers, got {judges!r}")
        for j in judges:
            x = _number(j, "judges")
            if rule.judge_range and not rule.judge_range[0] <= x <= rule.judge_range[1]:
                lo, hi = rule.judge_range
                raise ValueError(f"'judges' marks must be {lo:g}..{hi:g} for {sport}, got {j!r}")
