"""SynthDive labels: a competition-like dive catalogue, a FINA-like difficulty table, the hidden
execution quality, its visible flaws and the seven judges. No rendering here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# (FINA-like number, position, armstand, rotation_type, ss_no, tw_no, weight inside its group)
# position 0 free, 1 pike, 2 tuck; rotation_type 0 back, 1 forward, 2 inward, 3 reverse
_PLAIN = [
    ("107B", 1, 0, 1, 7, 0, 8),
    ("107C", 2, 0, 1, 7, 0, 6),
    ("109C", 2, 0, 1, 9, 0, 3),
    ("105B", 1, 0, 1, 5, 0, 4),
    ("105C", 2, 0, 1, 5, 0, 2),
    ("103B", 1, 0, 1, 3, 0, 2),
    ("207B", 1, 0, 0, 7, 0, 4),
    ("207C", 2, 0, 0, 7, 0, 5),
    ("205B", 1, 0, 0, 5, 0, 3),
    ("205C", 2, 0, 0, 5, 0, 2),
    ("203B", 1, 0, 0, 3, 0, 2),
    ("307C", 2, 0, 3, 7, 0, 5),
    ("307B", 1, 0, 3, 7, 0, 1),
    ("305C", 2, 0, 3, 5, 0, 3),
    ("305B", 1, 0, 3, 5, 0, 1),
    ("303C", 2, 0, 3, 3, 0, 1),
    ("407C", 2, 0, 2, 7, 0, 6),
    ("407B", 1, 0, 2, 7, 0, 3),
    ("405B", 1, 0, 2, 5, 0, 3),
    ("405C", 2, 0, 2, 5, 0, 2),
    ("403B", 1, 0, 2, 3, 0, 2),
]
_TWIST = [
    ("5253B", 1, 0, 0, 5, 3, 5),
    ("5255B", 1, 0, 0, 5, 5, 2),
    ("5353B", 1, 0, 3, 5, 3, 3),
    ("5355B", 1, 0, 3, 5, 5, 1),
    ("5152B", 1, 0, 1, 5, 2, 3),
    ("5156B", 1, 0, 1, 5, 6, 1),
    ("5172B", 1, 0, 1, 7, 2, 2),
    ("5154B", 1, 0, 1, 4, 4, 1),
    ("5337D", 0, 0, 3, 3, 7, 2),
    ("5335D", 0, 0, 3, 3, 5, 2),
    ("5235D", 0, 0, 0, 3, 5, 2),
    ("5136D", 0, 0, 1, 3, 6, 2),
    ("5233D", 0, 0, 0, 3, 3, 1),
    ("5433D", 0, 0, 2, 3, 3, 1),
]
_ARMSTAND = [
    ("626C", 2, 1, 0, 6, 0, 4),
    ("626B", 1, 1, 0, 6, 0, 3),
    ("636C", 2, 1, 3, 6, 0, 3),
    ("612B", 1, 1, 1, 2, 0, 1),
    ("614B", 1, 1, 1, 4, 0, 1),
    ("6243D", 0, 1, 0, 4, 3, 1),
    ("6245D", 0, 1, 0, 4, 5, 1),
]
# group probabilities: about an eighth armstand, about a third twisting overall
_GROUPS = [(_PLAIN, 0.575), (_TWIST, 0.30), (_ARMSTAND, 0.125)]

ATTRS = ("position", "armstand", "rotation_type", "ss_no", "tw_no")
NUM_JUDGES = 7

_A = {1: 0.8, 2: 1.1, 3: 1.5, 4: 1.9, 5: 2.2, 6: 2.5, 7: 2.8, 8: 3.1, 9: 3.4}
_C = {0: 0.0, 1: 0.35, 2: 0.55, 3: 0.85, 4: 1.05, 5: 1.3, 6: 1.45, 7: 1.7}
_D = {0: 0.15, 1: 0.0, 2: 0.1, 3: 0.25}


@dataclass(frozen=True)
class DiveType:
    """One entry of the catalogue."""

    number: str
    position: int
    armstand: int
    rotation_type: int
    ss_no: int
    tw_no: int

    def attributes(self) -> dict[str, int]:
        """The five MTL-AQA attributes."""
        return {name: int(getattr(self, name)) for name in ATTRS}


def catalogue() -> list[tuple[DiveType, float]]:
    """All dive types with their probability of being drawn."""
    out: list[tuple[DiveType, float]] = []
    for group, p in _GROUPS:
        total = sum(e[-1] for e in group)
        out += [(DiveType(*e[:-1]), p * e[-1] / total) for e in group]
    return out


_CATALOGUE = catalogue()
_PROBS = np.array([p for _, p in _CATALOGUE])
_PROBS = _PROBS / _PROBS.sum()


def difficulty(
    position: int, armstand: int, rotation_type: int, ss_no: int, tw_no: int, height: int = 10
) -> float:
    """FINA-like degree of difficulty: somersaults + position + twists + group + height."""
    twist = tw_no > 0
    a = _A.get(int(ss_no), 0.8 + 0.3 * (int(ss_no) - 1))
    if twist:
        b = {0: 0.0, 1: 0.15, 2: 0.1}[int(position)]
    else:
        b = {0: 0.35, 1: 0.25 + 0.03 * max(0, ss_no - 4), 2: 0.0}[int(position)]
    c = _C[int(tw_no)]
    d = _D[int(rotation_type)] + (0.4 if armstand else 0.0)
    e = 0.0 if height == 10 else (0.1 if ss_no >= 5 else -0.05)
    return float(np.clip(round(a + b + c + d + e, 1), 1.2, 4.1))


def type_skill(dd: float, height: int) -> float:
    """Mean execution quality of a dive type: hard dives are done by the better divers."""
    return 0.66 + 0.02 * (dd - 2.9)


def draw_type(rng: np.random.Generator) -> tuple[DiveType, int]:
    """A dive type from the catalogue and its height (10 m platform or 3 m springboard)."""
    dt = _CATALOGUE[int(rng.choice(len(_CATALOGUE), p=_PROBS))][0]
    height = 10 if dt.armstand or rng.random() < 0.55 else 3
    return dt, height


def draw_quality(rng: np.random.Generator, mean: float) -> float:
    """Hidden execution quality in [0.05, 0.95]; a few dives fail badly."""
    if rng.random() < 0.06:
        return float(rng.uniform(0.12, 0.42))
    return float(np.clip(mean + 0.11 * rng.standard_normal(), 0.05, 0.95))


def flaws_from_quality(q: float, rng: np.random.Generator) -> dict[str, float]:
    """Visible flaws: a deterministic function of the badness 1-q plus small noise.

    entry_angle: degrees off vertical at entry, + over-rotated, - under-rotated;
    splash: 0 (rip entry) .. 1 (huge); legs_apart: scissor angle in degrees; knees_bent: degrees;
    takeoff: metres of clearance from the platform off the ideal, - too close, + too far.
    """
    b = 1.0 - q

    def jit(x: float) -> float:
        return max(0.0, x * (1.0 + 0.08 * rng.standard_normal()))

    sign_angle = 1.0 if rng.random() < 0.5 else -1.0
    sign_take = 1.0 if rng.random() < 0.5 else -1.0
    return {
        "entry_angle": sign_angle * jit(75.0 * max(0.0, b - 0.04)),
        "splash": float(
            np.clip(0.04 + 1.25 * max(0.0, b - 0.05) + 0.02 * rng.standard_normal(), 0.02, 1.0)
        ),
        "legs_apart": jit(60.0 * max(0.0, b - 0.15)),
        "knees_bent": jit(80.0 * max(0.0, b - 0.2)),
        "takeoff": sign_take * jit(1.6 * max(0.0, b - 0.1)),
    }


def judge(q: float, rng: np.random.Generator) -> list[float]:
    """Seven judges: 10·q plus a little noise, clipped to 0..10, in steps of 0.5."""
    raw = 10.0 * q + 0.35 * rng.standard_normal(NUM_JUDGES)
    return [float(v) for v in np.clip(np.round(raw * 2.0) / 2.0, 0.0, 10.0)]


def final_score(judges: list[float], dd: float) -> float:
    """difficulty × the sum of the middle three of seven judges (MTL-AQA)."""
    mid = sorted(judges)[2:5]
    return round(dd * sum(mid), 2)


def draw_dive(rng: np.random.Generator) -> dict[str, Any]:
    """Labels plus hidden quality and flaws of one dive (no rendering, no caption)."""
    dt, height = draw_type(rng)
    dd = difficulty(**dt.attributes(), height=height)
    q = draw_quality(rng, type_skill(dd, height))
    flaws = flaws_from_quality(q, rng)
    judges = judge(q, rng)
    return {
        "number": dt.number,
        **dt.attributes(),
        "height": height,
        "difficulty": dd,
        "quality": q,
        "flaws": flaws,
        "judges": judges,
        "score": final_score(judges, dd),
    }
