"""Command line: thin wrappers that parse arguments and call the library."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

import mtlaqa.interrupt  # first of the package: Ctrl+C during the imports below is one line
from mtlaqa.commands.serve import serve
from mtlaqa.errors import MtlaqaError
from mtlaqa.heap import keep_freed_memory


class _Group(click.Group):
    """Turns user mistakes (MtlaqaError) into one line on stderr and exit status 2."""

    def invoke(self, ctx: click.Context) -> object:
        mtlaqa.interrupt.raise_from_now_on()
        try:
            return super().invoke(ctx)
        except MtlaqaError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(mtlaqa.interrupt.INTERRUPTED_STATUS)


@click.group(cls=_Group)
@click.version_option(package_name="mtlaqa")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
def main(verbose: bool) -> None:
    """mtlaqa: multitask action quality assessment (score, dive attributes, commentary)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    keep_freed_memory()  # training steps reuse their activation memory (mtlaqa/heap.py)


@main.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--num", default=200, show_default=True, help="Number of dives.")
@click.option("--seed", default=0, show_default=True)
@click.option("--size", default=112, show_default=True, help="Frame width and height in pixels.")
@click.option("--workers", default=2, show_default=True, help="Rendering processes.")
@click.option(
    "--layout",
    default="mtlaqa",
    show_default=True,
    type=click.Choice(["mtlaqa", "release"]),
    help="release: event videos + official MTL-AQA pickles.",
)
@click.option(
    "--per-video", default=4, show_default=True, help="Dives per event video (release layout)."
)
def synth(
    out: str, num: int, seed: int, size: int, workers: int, layout: str, per_video: int
) -> None:
    """Generate a SynthDive dataset in OUT (manifest.jsonl + videos/, or the release layout)."""
    from mtlaqa.data.synth.generate import generate_synthdive

    if layout == "release":
        from mtlaqa.data.synth.release_layout import generate_release_synth

        rel = generate_release_synth(Path(out), num, seed, size, per_video, workers)
        click.echo(
            f"wrote {num} dives as event videos in {Path(out) / 'videos'} and the release in {rel}"
        )
        return
    path = generate_synthdive(Path(out), num=num, seed=seed, size=size, workers=workers)
    click.echo(f"wrote {num} dives to {path}")


@main.command()
@click.argument("config", required=False)
@click.option("--data", "data_root", help="Dataset folder (sets data.root).")
@click.option("--out", default="runs/train", show_default=True, help="Run folder.")
@click.option(
    "--set", "overrides", multiple=True, help="Override a config key: --set train.lr=3e-4"
)
@click.option("--device", default=None, help="auto, cpu or cuda (sets train.device).")
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False),
    help="Continue the run in this folder from its last.pt (after a crash or kill).",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def train(
    config: str | None,
    data_root: str | None,
    out: str,
    overrides: tuple[str, ...],
    device: str | None,
    resume_dir: str | None,
    quiet: bool,
) -> None:
    """Train CONFIG (a YAML file or preset name: demo, c3d_avg_mtl) and evaluate on test.

    Runs alone or under torchrun (one process per GPU or CPU; train.batch_size is per process).
    """
    from mtlaqa.config import load_config
    from mtlaqa.data.manifest import read_manifest
    from mtlaqa.distributed import is_main_process
    from mtlaqa.engine import fit
    from mtlaqa.metrics import format_table
    from mtlaqa.runfiles import write_run_outputs
    from mtlaqa.trainstate import resume_config

    extra = list(overrides)
    if data_root:
        extra.append(f"data.root={data_root}")
    if device:
        extra.append(f"train.device={device}")
    if resume_dir:
        if config:
            raise MtlaqaError("--resume takes the run's own config; give no CONFIG")
        out = resume_dir
        cfg = resume_config(resume_dir, extra)
    else:
        cfg = load_config(config, extra)
    result = fit(cfg, out, progress=not quiet, resume=resume_dir is not None)
    if not is_main_process():  # under torchrun only rank 0 writes
        return
    test = [s for s in read_manifest(cfg.data.root) if s.split == "test"]
    path = write_run_outputs(out, result, test)
    if result.get("test"):
        click.echo(format_table(result["test"]))
    written = [n for n in ("checkpoint.pt", "last.pt") if (Path(out) / n).is_file()]
    click.echo(f"run saved in {out} ({', '.join([*written, path.name, 'report.md'])})")


@main.command()
@click.argument("checkpoint", type=click.Path())
@click.option("--data", "data_root", required=True, help="Dataset folder.")
@click.option(
    "--split", default="test", show_default=True, type=click.Choice(["train", "val", "test"])
)
@click.option(
    "--json", "json_out", type=click.Path(dir_okay=False), help="Also write metrics here."
)
@click.option("--device", default="auto", show_default=True)
@click.option("--no-meteor", is_flag=True, help="Skip METEOR (it starts Java).")
@click.option("--level", default=0.9, show_default=True, help="Score interval level (0-1).")
@click.option(
    "--exemplar-pick",
    type=click.Choice(["annotated", "predicted"]),
    help="score_head=exemplar: exemplars of the annotated dive or of the predicted one "
    "(default: the checkpoint's model.exemplar_pick).",
)
def evaluate(
    checkpoint: str,
    data_root: str,
    split: str,
    json_out: str | None,
    device: str,
    no_meteor: bool,
    level: float,
    exemplar_pick: str | None,
) -> None:
    """Evaluate CHECKPOINT on a split of a dataset; prints a table, optionally writes JSON."""
    from mtlaqa.evaluate import evaluate_checkpoint
    from mtlaqa.metrics import format_table
    from mtlaqa.runfiles import write_json

    metrics = evaluate_checkpoint(
        checkpoint,
        data_root,
        split,
        device,
        meteor=not no_meteor,
        level=level,
        exemplar_pick=exemplar_pick,
    )
    click.echo(format_table(metrics))
    if json_out:
        write_json(metrics, json_out)


@main.command()
@click.argument("checkpoint", type=click.Path())
@click.argument("videos", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option(
    "--end-frame",
    type=click.IntRange(min=1),
    default=None,
    help="Frame where the dive ends (default: last).",
)
@click.option("--device", default="auto", show_default=True)
@click.option("--level", default=0.9, show_default=True, help="Score interval level (0-1).")
@click.option(
    "--dive",
    default=None,
    help="FINA dive number announced for the videos (e.g. 5255B): an exemplar model compares "
    "them with exemplars of that dive instead of the predicted one.",
)
def predict(
    checkpoint: str,
    videos: tuple[str, ...],
    as_json: bool,
    end_frame: int | None,
    device: str,
    level: float,
    dive: str | None,
) -> None:
    """Score VIDEOS: score with its interval, attributes, FINA dive, commentary, clip contributions."""
    from mtlaqa.predict import load_model
    from mtlaqa.predict_inputs import expand_inputs

    model = load_model(checkpoint, device, level)
    model.check_dive(dive)  # a bad --dive is one error before any video
    failed = total = 0
    for arg in videos:
        try:  # a folder of video files: each file; a folder of frame images: one video
            items = expand_inputs(arg)
        except MtlaqaError as e:
            items = []
            failed, total = failed + 1, total + 1
            click.echo(f"error: {e}", err=True)
        for v in items:
            total += 1
            try:
                p = model.predict(v, end_frame=end_frame, dive=dive)
            except MtlaqaError as e:  # one bad video does not stop the batch
                failed += 1
                click.echo(f"error: {e}", err=True)
                continue
            out = json.dumps(p.to_dict(), ensure_ascii=False) if as_json else p.format() + "\n"
            click.echo(out)
    if failed:
        click.echo(f"{failed} of {total} videos failed", err=True)
        sys.exit(1)


@main.command()
@click.argument("checkpoint", type=click.Path())
@click.option("--data", "data_root", required=True, help="Dataset folder the run trained on.")
@click.option(
    "--out", default=None, type=click.Path(dir_okay=False), help="Write here (default: in place)."
)
@click.option("--device", default="auto", show_default=True)
def calibrate(checkpoint: str, data_root: str, out: str | None, device: str) -> None:
    """Calibrate CHECKPOINT's score intervals on its run's validation split (split-conformal)."""
    from mtlaqa.calibrate import calibrate_checkpoint

    cal = calibrate_checkpoint(checkpoint, data_root, out, device)
    click.echo(
        f"calibrated ({cal['kind']}) on {cal['n']} validation samples -> {out or checkpoint}"
    )


@main.command()
@click.option(
    "--out",
    default="runs/demo",
    show_default=True,
    help="Folder for data, checkpoint, metrics, report.",
)
@click.option("--num", default=None, type=int, help="Dives to generate (default: the preset's).")
@click.option("--seed", default=0, show_default=True)
@click.option("--set", "overrides", multiple=True, help="Override a key of the demo preset.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def demo(out: str, num: int | None, seed: int, overrides: tuple[str, ...], quiet: bool) -> None:
    """Generate SynthDive, train the demo preset, evaluate on test, predict one video."""
    from mtlaqa.demo import run_demo

    run_demo(
        Path(out),
        num=num,
        seed=seed,
        overrides=list(overrides),
        progress=not quiet,
        echo=click.echo,
    )


from mtlaqa.commands.model import model as model_commands  # noqa: E402

main.add_command(model_commands)
from mtlaqa.commands.data import data as data_commands  # noqa: E402

main.add_command(data_commands)
main.add_command(serve)
from mtlaqa.commands.experiment import experiment  # noqa: E402

main.add_command(experiment)

if __name__ == "__main__":  # pragma: no cover
    main()
