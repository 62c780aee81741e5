"""FINA dive number -> five attributes (`parse_dive_number`), the inverse of `dive_number`."""

from __future__ import annotations

import itertools
import re

import pytest

from mtlaqa.schema import ATTRIBUTE_CLASSES, dive_number, parse_dive_number


def test_round_trip_over_every_attribute_combination() -> None:
    n = 0
    for pos, arm, rot, ss, tw in itertools.product(*(range(k) for k in ATTRIBUTE_CLASSES.values())):
        if arm and rot == 2:  # there is no inward armstand group
            continue
        attrs = {"position": pos, "armstand": arm, "rotation_type": rot, "ss_no": ss, "tw_no": tw}
        assert parse_dive_number(dive_number(**attrs)) == attrs
        n += 1
    assert n == 3 * 4 * 10 * 8 + 3 * 3 * 10 * 8


@pytest.mark.parametrize(
    "code, attrs",
    [
        ("207c", (2, 0, 0, 7, 0)),
        ("407C", (2, 0, 2, 7, 0)),
        ("5253B", (1, 0, 0, 5, 3)),
        ("626C", (2, 1, 0, 6, 0)),
        ("6243D", (0, 1, 0, 4, 3)),
        ("112B", (1, 0, 1, 2, 0)),  # flying dive: same attributes as 102B
    ],
)
def test_known_codes(code: str, attrs: tuple[int, ...]) -> None:
    assert tuple(parse_dive_number(code).values()) == attrs


@pytest.mark.parametrize(
    "code, message",
    [
        ("101A", "position 'A' has no class"),
        ("7", "not a FINA dive number"),
        ("207", "not a FINA dive number"),
        ("6405C", "armstand dives are 6 + group 1-3"),
        ("925B", "unknown dive group"),
        ("1011B", "unknown dive group"),
        ("5259B", "tw_no = 9 is outside 0..7"),
    ],
)
def test_bad_codes(code: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_dive_number(code)
