"""What a dataset supports: the tasks its training labels allow and the classes it mixes."""

from __future__ import annotations

from mtlaqa.data.manifest import Sample
from mtlaqa.schema import ATTRIBUTE_CLASSES


def supported_tasks(requested: list[str], train: list[Sample]) -> tuple[list[str], str | None]:
    """The requested tasks the training split has labels for, and a one-line note when some are
    dropped (e.g. AQA-7 and JIGSAWS have scores only: 'heads built: score (the training split has
    no attributes, no captions)'). `score` is never dropped here: without scores training stops
    with its own error."""
    has = {
        "score": True,
        "attributes": any(getattr(s, k) is not None for s in train for k in ATTRIBUTE_CLASSES),
        "caption": any(s.caption for s in train),
    }
    kept = [t for t in requested if has.get(t, True)]
    dropped = [t for t in requested if t not in kept]
    if not dropped:
        return kept, None
    what = ", ".join("no attributes" if t == "attributes" else "no captions" for t in dropped)
    return kept, f"heads built: {', '.join(kept) or 'none'} (the training split has {what})"


def classes_of(samples: list[Sample]) -> list[str]:
    """The sorted distinct classes (`sport`) of the samples; [] when they don't name any."""
    return sorted({s.sport for s in samples if s.sport})
