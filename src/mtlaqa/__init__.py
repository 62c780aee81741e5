"""mtlaqa: multitask action quality assessment (score, attributes, commentary) from video."""

__version__ = "0.1.0"
