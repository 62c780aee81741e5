"""Before training starts: every file the run will read exists, so a missing test video is found
before the first epoch rather than after the last."""

from __future__ import annotations

from pathlib import Path

from mtlaqa.data.manifest import Sample
from mtlaqa.errors import DataError


def check_media(samples: list[Sample], where: str) -> None:
    """DataError naming the first missing or empty video file / frame folder and how many are."""
    bad: list[tuple[Sample, str]] = []
    for s in samples:
        p = Path(s.media)
        if s.video is not None:
            if not p.is_file():
                bad.append((s, "not found"))
            elif p.stat().st_size == 0:
                bad.append((s, "empty file"))
        elif not p.is_dir():
            bad.append((s, "frame folder not found"))
    if bad:
        s, why = bad[0]
        more = (
            f" ({len(bad)} of {len(samples)} samples have no readable media)"
            if len(bad) > 1
            else ""
        )
        raise DataError(f"{where}: sample {s.id!r} ({s.split}): {s.media}: {why}{more}")
