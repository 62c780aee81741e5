"""Caption tokenization as coco-caption does it: Stanford PTBTokenizer (the jar bundled with
pycocoevalcap, run by its `PTBTokenizer` wrapper: lower-cased, one caption per line) with the
wrapper's punctuation tokens removed, so "isn't it?" becomes "is n't it".

It needs Java. When Java or the jar cannot be used, captions fall back to the light regex of
`metrics.tokenize_caption` (lowercase, punctuation stripped: "isnt it") with a one-time warning,
since the numbers are then not exactly coco-caption's.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator, Sequence

_SPECIAL = {"<sos>", "<eos>", "<pad>"}
_warned = False


def plain_caption(text: str | Sequence[str]) -> str:
    """A caption (text or token list) without <sos>/<eos>/<pad>, words joined by single spaces."""
    words = text.split() if isinstance(text, str) else [str(w) for w in text]
    return " ".join(w for w in words if w.lower() not in _SPECIAL)


def warn_fallback(reason: str) -> None:
    """One warning per process that captions use the light regex instead of PTB."""
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(
            f"PTB tokenization unavailable ({reason}); caption metrics use the light regex "
            "tokenization instead (lowercase, punctuation stripped), not exactly coco-caption's",
            RuntimeWarning,
            stacklevel=3,
        )


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 to /dev/null (the wrapper's Java child inherits it)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def ptb_tokenize(texts: Sequence[str]) -> list[str] | None:
    """PTB-tokenized captions in input order; None (after a warning) when PTB cannot run."""
    todo = {str(i): [{"caption": t}] for i, t in enumerate(texts) if t.strip()}
    out = [""] * len(texts)
    if not todo:
        return out
    try:
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        with _quiet_stderr():  # the jar reports "PTBTokenizer tokenized N tokens …" on stderr
            got = PTBTokenizer().tokenize(todo)
    except ImportError:
        warn_fallback("pycocoevalcap is not installed")
        return None
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError) as e:
        warn_fallback(f"could not run Java: {e}")
        return None
    if set(got) != set(todo) or any(len(v) != 1 for v in got.values()):
        warn_fallback("the PTBTokenizer jar returned no or misaligned lines")
        return None
    for k, v in got.items():
        out[int(k)] = v[0]
    return out
