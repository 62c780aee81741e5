"""mtlaqa: multitask action quality assessment (score, attributes, commentary) from video."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

# PyTorch backs CPU tensors of >= 2 MB with transparent huge pages when this is set before its
# first allocation (it reads it once). glibc gives each such tensor fresh pages from the kernel,
# and at 4 KB per page the page faults cost more than the max-pool backward that fills them
# (issue 17: 79 of 420 ms of a demo training step). A value the user set is kept.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

__version__ = "0.1.0"

if TYPE_CHECKING:
    from mtlaqa.predict import Predictor


def load_model(path: str, device: str = "auto") -> Predictor:
    """Load a trained checkpoint (file or run folder) for `predict(video)`."""
    from mtlaqa.predict import load_model as _load

    return _load(path, device)


__all__ = ["__version__", "load_model"]
