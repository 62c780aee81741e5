"""Restricted unpickler for the release's pickles: plain builtins and numpy scalars/dtypes only.

A pickle can run arbitrary code on load; anything beyond data (e.g. a pickle that reduces to
`os.system`) is refused with a one-line DataError.
"""

from __future__ import annotations

import builtins
import codecs
import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from mtlaqa.errors import DataError

# builtins that only build data; eval/exec/getattr/__import__/open etc. are never allowed
_SAFE_BUILTINS = frozenset(
    {"dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "bool", "str",
     "bytes", "bytearray", "slice", "range"}
)  # fmt: skip


def _numpy_scalar() -> Any:
    try:
        from numpy._core.multiarray import scalar  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import scalar  # type: ignore[no-redef]
    return scalar


def _safe_scalar(dtype: Any, data: Any = None) -> Any:
    """numpy's scalar reconstructor, refusing object dtypes (they would carry arbitrary objects)."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError(f"numpy scalar of dtype {dtype!r} is not allowed")
    if data is None:
        return _numpy_scalar()(dtype)
    if not isinstance(data, bytes):
        raise pickle.UnpicklingError("numpy scalar data must be bytes")
    return _numpy_scalar()(dtype, data)


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """`_codecs.encode` as protocol 2 uses it for bytes; other codecs are not needed, so refused."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"codec {encoding!r} is not allowed")
    return codecs.encode(text, "latin1")


class _RestrictedUnpickler(pickle.Unpickler):
    """Allows builtins that build data and numpy scalar/dtype reconstruction; nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _SAFE_BUILTINS:
            return getattr(builtins, name)
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "scalar":
            return _safe_scalar
        if module == "numpy" and name == "dtype":
            return np.dtype
        if module == "_codecs" and name == "encode":  # how protocol 2 spells bytes (py2-era files)
            return _latin1_encode
        raise pickle.UnpicklingError(f"refused to load global '{module}.{name}'")


def safe_load_pickle(path: str | os.PathLike[str]) -> Any:
    """Unpickle a file with the restricted unpickler; any problem is a one-line DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        data = path.read_bytes()
        return _RestrictedUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as e:
        raise DataError(f"{path}: unsafe or invalid pickle ({e})") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, OSError) as e:
        raise DataError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from None
