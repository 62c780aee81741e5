"""`mtlaqa data …`: bring real datasets in (the official MTL-AQA release, CSV spreadsheets)."""

from __future__ import annotations

import sys

import click

from mtlaqa.data.release import SUBSETS
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
    type=click.Choice(SUBSETS),
    help="Release split: main, the smaller training sets, UNLV-Dive split_0 (unlv) or its "
    "standard 370_4 split (unlv_dive).",
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
    type=click.Choice(SUBSETS),
    help="Release split: main, the smaller training sets, UNLV-Dive split_0 (unlv) or its "
    "standard 370_4 split (unlv_dive).",
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
@click.option(
    "--annotations",
    type=click.Path(dir_okay=False),
    help="Richer annotation pickle with judge_scores and dive_number (e.g. CoRe's).",
)
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
    annotations: str | None,
) -> None:
    """Cut every dive out of the event videos into its own clip, with a manifest (resumable)."""
    from mtlaqa.data.prepare import prepare_mtl_aqa as run

    s = run(
        release, videos, out, subset, leak_free, window, margin, _size(size), crf, not quiet, preset,
        annotations,
    )  # fmt: skip
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


@data.command("import-finediving")
@click.option(
    "--annotations",
    required=True,
    type=click.Path(file_okay=False),
    help="FineDiving Annotations folder (the five .pkl files).",
)
@click.option(
    "--frames",
    required=True,
    type=click.Path(file_okay=False),
    help="Trimmed_Video_Frames root: <event>/<idx>/<frame:05d>.jpg.",
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Dataset folder.")
def import_finediving(annotations: str, frames: str, out: str) -> None:
    """FineDiving: scores, DD, judges, FINA code + attributes, per-frame steps, official split."""
    from mtlaqa.data.import_finediving import import_finediving as run

    click.echo(run(annotations, frames, out)[1])


@data.command("import-aqa7")
@click.option(
    "--root",
    required=True,
    type=click.Path(file_okay=False),
    help="AQA-7 folder (Split_4/ and <class>-out/ frame folders).",
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Dataset folder.")
@click.option(
    "--classes",
    default=",".join(
        (
            "diving",
            "gym_vault",
            "ski_big_air",
            "snowboard_big_air",
            "sync_diving_3m",
            "sync_diving_10m",
        )
    ),
    show_default=True,
    help="Comma-separated classes to keep.",
)
def import_aqa7(root: str, out: str, classes: str) -> None:
    """AQA-7: Split_4 train/test lists over six sports (the class is kept as `sport`)."""
    from mtlaqa.data.import_aqa7 import import_aqa7 as run

    names = [c.strip() for c in classes.split(",") if c.strip()]
    click.echo(run(root, out, names)[1])


@data.command("import-jigsaws")
@click.option(
    "--root",
    required=True,
    type=click.Path(file_okay=False),
    help="JIGSAWS folder holding <Task>/meta_file_<Task>.txt and <Task>/video/.",
)
@click.option(
    "--task", required=True, type=click.Choice(["Suturing", "Needle_Passing", "Knot_Tying"])
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Dataset folder.")
@click.option(
    "--score",
    default="grs",
    show_default=True,
    type=click.Choice(
        [
            "grs",
            "respect_for_tissue",
            "suture_needle_handling",
            "time_and_motion",
            "flow_of_operation",
            "overall_performance",
            "quality_of_final_product",
        ]
    ),
    help="The GRS total or one OSATS item.",
)
@click.option(
    "--split",
    default="louo",
    show_default=True,
    type=click.Choice(["louo", "loso", "folds"]),
    help="Leave one user out, leave one supertrial out, or the folds of --folds-file.",
)
@click.option("--fold", default=0, show_default=True, help="Which fold is the test split.")
@click.option(
    "--folds-file",
    type=click.Path(dir_okay=False),
    help="JSON list of folds (lists of trial names), e.g. MUSDL's four.",
)
@click.option("--no-check-videos", is_flag=True, help="Only check that the videos exist.")
def import_jigsaws(
    root: str,
    task: str,
    out: str,
    score: str,
    split: str,
    fold: int,
    folds_file: str | None,
    no_check_videos: bool,
) -> None:
    """JIGSAWS: one task's trials, GRS (or an OSATS item) as the score, a chosen fold as test."""
    from mtlaqa.data.import_jigsaws import import_jigsaws as run

    click.echo(run(root, task, out, score, split, fold, folds_file, not no_check_videos)[1])
