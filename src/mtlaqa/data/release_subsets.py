"""Manifests of the release's own smaller training sets (the paper's Table 8) from a prepared dataset.

`data prepare-mtl-aqa --subset main` cuts every one of the 1412 dives; the smaller sets
(`size_140`, `size_280`, `size_450`) only choose which of them train. Their lists share dives with
the main test split (36 / 80 / 115): as released, such a dive is a test row and a training row
(id `<id>_tr`, same clip); `leak_free` drops the training row.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from mtlaqa.data.manifest import Sample, read_manifest, write_manifest
from mtlaqa.data.release import read_release, release_rows
from mtlaqa.errors import DataError

RELEASE_SETS = ("main", "size_450", "size_280", "size_140")


def release_manifests(
    data_root: str | os.PathLike[str],
    release: str | os.PathLike[str],
    out: Path,
    leak_free: bool = False,
    sets: tuple[str, ...] = RELEASE_SETS,
) -> dict[int, Path]:
    """{training-set size: manifest} for each release set, from the prepared main dataset."""
    by_key: dict[tuple[int, int], Sample] = {}
    for s in read_manifest(data_root):
        if s.key is not None and not s.id.endswith("_tr"):
            by_key[(int(s.key[0]), int(s.key[1]))] = s
    result: dict[int, Path] = {}
    for name in sets:
        data = read_release(release, name, leak_free)
        chosen: list[Sample] = []
        for key, split, row_id in release_rows(data):
            if key not in by_key:
                raise DataError(
                    f"{data_root}: dive {key} of the release's {name} has no row (prepare the "
                    "dataset with `mtlaqa data prepare-mtl-aqa --subset main`)"
                )
            chosen.append(dataclasses.replace(by_key[key], id=row_id, split=split))
        n = len(data.train)
        result[n] = write_manifest(chosen, out / f"release_{name}")
    return result
