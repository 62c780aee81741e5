"""Caption vocabulary built from training captions, with <unk>."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

PAD, SOS, EOS, UNK = "<pad>", "<sos>", "<eos>", "<unk>"
_WORD = re.compile(r"[a-z0-9½']+")


def tokenize(text: str) -> list[str]:
    """Lowercase words; punctuation dropped; release-style <sos>/<eos> markers removed."""
    return [w for w in _WORD.findall(text.lower().replace("<sos>", " ").replace("<eos>", " "))]


class Vocab:
    """Word <-> id mapping; ids 0..3 are <pad>, <sos>, <eos>, <unk>."""

    def __init__(self, words: Iterable[str]) -> None:
        self.itos: list[str] = [PAD, SOS, EOS, UNK]
        self.itos += [w for w in words if w not in (PAD, SOS, EOS, UNK)]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    pad, sos, eos, unk = 0, 1, 2, 3

    @classmethod
    def build(cls, captions: Iterable[str], min_count: int = 1) -> Vocab:
        """From training captions: words seen at least `min_count` times, most frequent first."""
        counts = Counter(w for c in captions for w in tokenize(c))
        words = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls(words)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str, max_len: int) -> list[int]:
        """<sos> + up to max_len word ids + <eos>."""
        ids = [self.stoi.get(w, self.unk) for w in tokenize(text)[:max_len]]
        return [self.sos, *ids, self.eos]

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text, stopping at <eos>, skipping specials."""
        words = []
        for i in ids:
            if i == self.eos:
                break
            if i in (self.pad, self.sos):
                continue
            words.append(self.itos[i] if 0 <= i < len(self.itos) else UNK)
        return " ".join(words)

    def to_list(self) -> list[str]:
        """Serializable form (stored in checkpoints)."""
        return list(self.itos)

    @classmethod
    def from_list(cls, itos: list[str]) -> Vocab:
        """Inverse of to_list."""
        v = cls([])
        v.itos = list(itos)
        v.stoi = {w: i for i, w in enumerate(v.itos)}
        return v
