"""`mtlaqa data …`: bring real datasets in (the official MTL-AQA release, CSV spreadsheets)."""

from __future__ import annotations

import sys

import click

from mtlaqa.errors import MtlaqaError


def _size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise MtlaqaError(f"--size expects WxH (e.g. 320x240), got {text!r}") from None
    return w, h


@click.group()
def data() -> None:
    """Prepare and import datasets."""


@data.command("release-info")
@click.argument("release", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--subset",
    default="main",
    show_default=True,
    type=click.Choice(["main", "size_140", "size_280", "size_450", "unlv"]),
)
@click.option("--leak-free", is_flag=True, help="Drop training dives that are in the test split.")
def release_info(release: str, subset: str, leak_free: bool) -> None:
    """Read and validate an MTL-AQA release folder; print its counts."""
    from mtlaqa.data.release import describe, read_release

    click.echo(describe(read_release(release, subset, leak_free)))


@data.command("prepare-mtl-aqa")
@click.option(
    "--release",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="MTL-AQA_dataset_release folder.",
)
@click.option(
    "--videos",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder of event videos NN.mp4 (or frames/NN/000001.jpg …).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Dataset folder to write (videos/ + manifest.jsonl).",
)
@click.option(
    "--subset",
    default="main",
    show_default=True,
    type=click.Choice(["main", "size_140", "size_280", "size_450", "unlv"]),
)
@click.option("--leak-free", is_flag=True, help="Drop training dives that are in the test split.")
@click.option("--window", default=103, show_default=True, help="Frames before end_frame per dive.")
@click.option(
    "--margin", default=3, show_default=True, help="Extra frames each side (training jitter)."
)
@click.option("--size", default=None, help="Resize clips to WxH (default: keep the event size).")
@click.option(
    "--crf", default=18, show_default=True, help="H.264 quality of the clips (lower: better)."
)
@click.option(
    "--preset",
    default="veryfast",
    show_default=True,
    help="x264 speed preset (ultrafast … veryslow).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def prepare_mtl_aqa(
    release: str,
    videos: str,
    out: str,
    subset: str,
    leak_free: bool,
    window: int,
    margin: int,
    size: str | None,
    crf: int,
    preset: str,
    quiet: bool,
) -> None:
    """Cut every dive out of the event videos into its own clip, with a manifest (resumable)."""
    from mtlaqa.data.prepare import prepare_mtl_aqa as run

    s = run(
        release, videos, out, subset, leak_free, window, margin, _size(size), crf, not quiet, preset
    )
    click.echo(s.format())
    if not s.ok:
        sys.exit(1)


@data.command("import-csv")
@click.argument("csv_file", type=click.Path(dir_okay=False))
@click.option(
    "--video-dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder the CSV's file names are relative to.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Dataset folder for manifest.jsonl.",
)
@click.option(
    "--test-fraction",
    default=0.2,
    show_default=True,
    type=click.FloatRange(0, 1, max_open=True),
    help="Share of rows made test when the CSV has no split column.",
)
@click.option(
    "--sport",
    default="diving",
    show_default=True,
    type=click.Choice(["diving", "any"]),
    help="Label rule: diving scores, difficulties and judges' marks are never negative.",
)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--no-check-videos", is_flag=True, help="Only check that the files exist (do not open them)."
)
def import_csv(
    csv_file: str,
    video_dir: str,
    out: str,
    test_fraction: float,
    sport: str,
    seed: int,
    no_check_videos: bool,
) -> None:
    """Build a manifest from a CSV of video file names and any label columns (score only is fine)."""
    from mtlaqa.data.import_csv import import_csv as run
    from mtlaqa.data.manifest import read_manifest

    path = run(csv_file, video_dir, out, test_fraction, seed, not no_check_videos, sport)
    samples = read_manifest(path)
    splits = {s: sum(1 for x in samples if x.split == s) for s in ("train", "val", "test")}
    click.echo(
        f"wrote {len(samples)} samples to {path} ({', '.join(f'{k} {v}' for k, v in splits.items() if v)})"
    )
