"""SynthDive commentary: a lowercase caption built from what happens in the dive."""

from __future__ import annotations

from typing import Any

import numpy as np

_NUM = ["zero", "one", "two", "three", "four", "five"]
_ROT = {0: "back", 1: "forward", 2: "inward", 3: "reverse"}
_POS = {
    0: ["in the free position", "free position", "layout with the twists"],
    1: ["in the pike position", "piked", "in pike"],
    2: ["in the tuck position", "tucked", "in tuck"],
}


def halves(n: int, unit: str) -> str:
    """7, 'somersault' -> 'three and a half somersaults'."""
    whole, half = divmod(int(n), 2)
    if whole == 0:
        return f"a half {unit}"
    plural = unit if (whole == 1 and not half) else unit + "s"
    return f"{_NUM[whole]}{' and a half' if half else ''} {plural}"


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def make_caption(d: dict[str, Any], rng: np.random.Generator) -> str:
    """Commentary for one dive (labels + flaws in `d`), with varied phrasing."""
    fl = d["flaws"]
    height = (
        _pick(rng, ["from the ten metre platform", "off the ten metre tower", "from ten metres"])
        if d["height"] >= 5
        else _pick(
            rng, ["from the three metre springboard", "off the springboard", "from three metres"]
        )
    )
    name = f"{_ROT[d['rotation_type']]} {halves(d['ss_no'], 'somersault')}"
    if d["armstand"]:
        name = "armstand " + name
    if d["tw_no"]:
        name += f" with {halves(d['tw_no'], 'twist')}"
    pos = _pick(rng, _POS[d["position"]])
    opener = _pick(rng, ["here is", "now", "next up", "this is", "she goes for", "he tries"])
    first = f"{opener} the {name} {pos} {height}"

    angle = fl["entry_angle"]
    a = abs(angle)
    if a < 6:
        entry = _pick(
            rng,
            ["a perfectly vertical entry", "right on line at the entry", "a clean vertical entry"],
        )
    else:
        way = "over" if angle > 0 else "short"
        if a < 20:
            entry = _pick(
                rng, [f"just a little {way} on the entry", f"slightly {way} at the entry"]
            )
        else:
            entry = _pick(
                rng,
                [f"well {way} on the entry", f"went a long way {way}", f"badly {way} at the entry"],
            )
    s = fl["splash"]
    if s < 0.15:
        splash = _pick(rng, ["barely a ripple", "a rip entry with no splash", "hardly any splash"])
    elif s < 0.45:
        splash = _pick(rng, ["a small splash", "a little bit of splash", "some splash"])
    else:
        splash = _pick(rng, ["a big splash", "lots of water", "a huge splash"])
    extras = []
    if fl["legs_apart"] > 12:
        extras.append(_pick(rng, ["legs came apart", "the legs split"]))
    if fl["knees_bent"] > 15:
        extras.append(_pick(rng, ["knees were bent", "bent knees"]))
    if abs(fl["takeoff"]) > 0.35:
        extras.append("too close to the platform" if fl["takeoff"] < 0 else "too far out")
    q = d["quality"]
    if q > 0.8:
        verdict = _pick(rng, ["a superb dive", "excellent", "that is outstanding", "big scores"])
    elif q > 0.65:
        verdict = _pick(rng, ["a good dive", "solid dive", "nicely done"])
    elif q > 0.5:
        verdict = _pick(rng, ["an average dive", "not the best", "that will cost points"])
    else:
        verdict = _pick(rng, ["a poor dive", "that is a failed dive", "very disappointing"])
    parts = [first, entry, splash, *extras, verdict]
    return " ".join(" , ".join(parts).split()).lower()
