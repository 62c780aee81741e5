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


def dive_number(
    position: int, armstand: int, rotation_type: int, ss_no: int, tw_no: int
) -> str:
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


def dive_name(
    position: int, armstand: int, rotation_type: int, ss_no: int, tw_no: int
) -> str:
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
