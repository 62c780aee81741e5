"""User-facing errors: one line that names the file and the problem."""

from __future__ import annotations


class MtlaqaError(Exception):
    """A user mistake or bad input; the CLI prints it as one line, without a traceback."""


class DataError(MtlaqaError):
    """A dataset, manifest or annotation file is missing or wrong."""


class VideoError(MtlaqaError):
    """A video file is missing, unreadable or too short."""
