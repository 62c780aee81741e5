"""Which dive a commentary names: the five attributes read back from the caption's words.

Recognises SynthDive's phrasing (data/synth/caption.py): "[armstand] <back|forward|inward|reverse>
<n [and a half] | a half> somersault(s) [with <n [and a half] | a half> twist(s)]", followed
within a few words by the position ("in the pike position", "piked", "in pike", "tucked",
"free position", "layout ..."). Real MTL-AQA commentary rarely words a dive this way (it says
"back two and a half pike" or gives the dive number), so there most captions name no dive and the
agreement diagnostics cover only the few that do (`caption_dive_named` says how many).
"""

from __future__ import annotations

import re

from mtlaqa.metrics import tokenize_caption

_NUM = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_ROT = {"back": 0, "forward": 1, "inward": 2, "reverse": 3}
_COUNT = r"(a half|(?:zero|one|two|three|four|five)(?: and a half)?)"
_DIVE = re.compile(
    rf"\b(armstand )?(back|forward|inward|reverse) {_COUNT} somersaults?"
    rf"(?: with {_COUNT} twists?)?\b"
)
_POSITION = {"free": 0, "layout": 0, "pike": 1, "piked": 1, "tuck": 2, "tucked": 2}
_POSITION_WINDOW = 4  # words after the somersaults/twists where the position must appear


def _halves(text: str) -> int:
    """'a half' -> 1, 'two' -> 4, 'two and a half' -> 5."""
    if text == "a half":
        return 1
    word, *rest = text.split()
    return 2 * _NUM[word] + (1 if rest else 0)


def named_dive(caption: str) -> dict[str, int] | None:
    """The five attributes of the first dive the caption names, or None when it names none."""
    text = tokenize_caption(caption)
    m = _DIVE.search(text)
    if m is None:
        return None
    after = text[m.end() :].split()[:_POSITION_WINDOW]
    position = next((_POSITION[w] for w in after if w in _POSITION), None)
    if position is None:
        return None
    return {
        "position": position,
        "armstand": int(m.group(1) is not None),
        "rotation_type": _ROT[m.group(2)],
        "ss_no": _halves(m.group(3)),
        "tw_no": _halves(m.group(4)) if m.group(4) else 0,
    }
