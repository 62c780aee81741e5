"""Task names, the MTL-AQA label schema and FINA dive numbers (design §2)."""

from __future__ import annotations

TASKS: tuple[str, ...] = ("score", "attributes", "caption")

# attribute name -> class names, in label order (the length is the number of classes)
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "position": ("free", "pike", "tuck"),
    "armstand": ("no", "yes"),
    "rotation_type": ("back", "forward", "inward", "reverse"),
    "ss_no": tuple(f"{n / 2:g} somersaults" for n in range(10)),
    "tw_no": tuple(f"{n / 2:g} twists" for n in range(8)),
}
ATTRIBUTE_CLASSES: dict[str, int] = {name: len(v) for name, v in ATTRIBUTES.items()}

_POSITION_LETTER = {0: "D", 1: "B", 2: "C"}
# FINA group digit by rotation_type (0 back, 1 forward, 2 inward, 3 reverse)
_GROUP = {0: 2, 1: 1, 2: 4, 3: 3}


def half_str(n: int) -> str:
    """Half-unit count as a human number: 5 -> '2½'."""
    whole, half = divmod(int(n), 2)
    if half and whole == 0:
        return "½"
    return f"{whole}½" if half else f"{whole}"


def dive_number(position: int, armstand: int, rotation_type: int, ss_no: int, tw_no: int) -> str:
    """FINA dive number from the five attributes, e.g. 407C, 5253B, 626C."""
    letter = _POSITION_LETTER[int(position)]
    group = _GROUP[int(rotation_type)]
    if int(armstand):
        # armstand groups: forward 1, back 2, reverse 3 (inward does not exist from armstand)
        arm_group = {1: 1, 0: 2, 3: 3}.get(int(rotation_type), group)
        twist = str(int(tw_no)) if int(tw_no) else ""
        return f"6{arm_group}{int(ss_no)}{twist}{letter}"
    if int(tw_no) > 0:
        return f"5{group}{int(ss_no)}{int(tw_no)}{letter}"
    return f"{group}0{int(ss_no)}{letter}"


def dive_name(position: int, armstand: int, rotation_type: int, ss_no: int, tw_no: int) -> str:
    """Readable dive name, e.g. 'armstand back 3 somersaults 1½ twists tuck'."""
    parts = []
    if int(armstand):
        parts.append("armstand")
    parts.append(ATTRIBUTES["rotation_type"][int(rotation_type)])
    parts.append(f"{half_str(ss_no)} somersaults")
    if int(tw_no):
        parts.append(f"{half_str(tw_no)} twists")
    parts.append(ATTRIBUTES["position"][int(position)])
    return " ".join(parts)


_LETTER_POSITION = {"D": 0, "B": 1, "C": 2}  # A (straight) has no class in this schema
_GROUP_ROTATION = {1: 1, 2: 0, 3: 3, 4: 2}  # FINA group digit -> rotation_type
_ARMSTAND_ROTATION = {1: 1, 2: 0, 3: 3}  # armstand groups: forward, back, reverse


def parse_dive_number(code: str) -> dict[str, int]:
    """The five attributes of a FINA dive number (inverse of `dive_number`), e.g. '207c'.

    Group digit 1-4 (forward, back, reverse, inward) + 0 + half somersaults; twisting dives are
    5 + group + half somersaults + half twists; armstand dives 6 + group (1 forward, 2 back,
    3 reverse) + half somersaults [+ half twists]; then the position letter (B pike, C tuck,
    D free; case ignored). Raises ValueError naming the problem (also for A, straight, which has
    no class here).
    """
    text = str(code).strip().upper()
    digits, letter = text[:-1], text[-1:]
    if len(text) < 4 or not digits.isdigit() or not letter.isalpha():
        raise ValueError(f"{code!r} is not a FINA dive number (digits + position letter)")
    if letter not in _LETTER_POSITION:
        raise ValueError(f"{code!r}: position {letter!r} has no class (B pike, C tuck, D free)")
    first, group = int(digits[0]), int(digits[1])
    tw = 0
    if first == 6:
        if group not in _ARMSTAND_ROTATION or len(digits) not in (3, 4):
            raise ValueError(f"{code!r}: armstand dives are 6 + group 1-3 + half somersaults")
        rot, armstand, ss = _ARMSTAND_ROTATION[group], 1, int(digits[2])
        tw = int(digits[3]) if len(digits) == 4 else 0
    elif first == 5:
        if group not in _GROUP_ROTATION or len(digits) != 4:
            raise ValueError(f"{code!r}: twisting dives are 5 + group 1-4 + somersaults + twists")
        rot, armstand, ss, tw = _GROUP_ROTATION[group], 0, int(digits[2]), int(digits[3])
    elif first in _GROUP_ROTATION and len(digits) == 3 and digits[1] in "01":
        # 1xx-4xx; a 1 as second digit is a flying dive (e.g. 112B): same attributes
        rot, armstand, ss = _GROUP_ROTATION[first], 0, int(digits[2])
    else:
        raise ValueError(f"{code!r}: unknown dive group {digits[:2]!r}")
    attrs = {"position": _LETTER_POSITION[letter], "armstand": armstand,
             "rotation_type": rot, "ss_no": ss, "tw_no": tw}  # fmt: skip
    for name, v in attrs.items():
        if not 0 <= v < ATTRIBUTE_CLASSES[name]:
            raise ValueError(f"{code!r}: {name} = {v} is outside 0..{ATTRIBUTE_CLASSES[name] - 1}")
    return attrs
