"""Checks behind one-line checkpoint errors: weights that do not fit, and a full disk on save."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import Any

from mtlaqa.errors import MtlaqaError


def check_weights_fit(want: dict[str, Any], got: Any, where: str) -> None:
    """One line naming the first missing, unexpected or wrongly shaped tensor of a checkpoint."""
    if not isinstance(got, dict):
        raise MtlaqaError(f"{where}: 'model' is not a set of named tensors")
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    shape = [
        k for k in want if k in got and tuple(getattr(got[k], "shape", ())) != tuple(want[k].shape)
    ]
    if shape:
        k = shape[0]
        raise MtlaqaError(
            f"{where}: weights do not fit the stored config: {k} is "
            f"{tuple(got[k].shape)}, the config builds {tuple(want[k].shape)}"
            + (f" (and {len(shape) - 1} more)" if len(shape) > 1 else "")
        )
    if missing or extra:
        what = f"tensor {missing[0]} is missing" if missing else f"unexpected tensor {extra[0]}"
        n = len(missing) + len(extra) - 1
        raise MtlaqaError(
            f"{where}: weights do not fit the stored config: {what}"
            + (f" (and {n} more)" if n else "")
        )


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none)."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:160]


def disk_full(e: BaseException, folder: Path) -> bool:
    """ENOSPC anywhere in the chain, or (torch's writer hides the errno) almost no space left."""
    x: BaseException | None = e
    while x is not None:
        if isinstance(x, OSError) and x.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        x = x.__cause__ or x.__context__
    try:
        return shutil.disk_usage(folder).free < (16 << 20)
    except OSError:
        return False
