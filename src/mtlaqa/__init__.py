"""mtlaqa: multitask action quality assessment (score, attributes, commentary) from video."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from mtlaqa.predict import Predictor


def load_model(path: str, device: str = "auto") -> Predictor:
    """Load a trained checkpoint (file or run folder) for `predict(video)`."""
    from mtlaqa.predict import load_model as _load

    return _load(path, device)


__all__ = ["__version__", "load_model"]
