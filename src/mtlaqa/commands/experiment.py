"""`mtlaqa experiment stl-vs-mtl | data-efficiency`: the paper's studies over several seeds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from mtlaqa.config import Config

_F = TypeVar("_F", bound=Callable[..., Any])

# --quick: SynthDive at 32x32 and a narrow demo-preset model (3 clips x 8 frames, C3D-S width 1/8).
# Measured here: each experiment ~9 min wall with both running at once on 2 shared, heavily loaded
# CPU cores (train.threads=1); full settings are for GPUs (see docs/training.md).
QUICK_NUM, QUICK_SIZE = 120, 32
QUICK_SET = [
    "data.resize=[32,32]",
    "data.crop_size=32",
    "model.width=0.125",
    "model.fc_dim=64",
    "model.caption_hidden=32",
    "model.caption_embed=32",
    "train.epochs=4",
]


def _seeds(text: str) -> list[int]:
    from mtlaqa.errors import MtlaqaError

    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise MtlaqaError(f"--seeds expects comma-separated integers, got {text!r}") from None
    if not seeds:
        raise MtlaqaError("--seeds: give at least one seed")
    return seeds


def _setup(
    config: str | None,
    data: str | None,
    out: Path,
    quick: bool,
    num: int | None,
    overrides: tuple[str, ...],
    device: str | None,
    progress: bool,
) -> Config:
    from mtlaqa.config import load_config

    extra = list(QUICK_SET) if quick else []
    extra += list(overrides)
    if device:
        extra.append(f"train.device={device}")
    if data is None:
        from mtlaqa.data.manifest import MANIFEST_NAME
        from mtlaqa.data.synth.generate import generate_synthdive

        data_dir = out / "data"
        if not (data_dir / MANIFEST_NAME).is_file():
            generate_synthdive(
                data_dir,
                num=num or QUICK_NUM,
                seed=0,
                size=QUICK_SIZE,
                workers=2,
                progress=progress,
            )
        data = str(data_dir)
    extra.append(f"data.root={data}")
    return load_config(config or ("demo" if quick or data is None else "c3d_avg_mtl"), extra)


_common = [
    click.option(
        "--config",
        default=None,
        help="Preset or YAML (default: demo with --quick, else c3d_avg_mtl).",
    ),
    click.option(
        "--data", default=None, help="Dataset folder (default: generate SynthDive in OUT/data)."
    ),
    click.option("--out", default=None, help="Output folder (default: runs/<experiment>)."),
    click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds."),
    click.option("--quick", is_flag=True, help="CPU-sized: demo model, SynthDive, few epochs."),
    click.option(
        "--num", default=None, type=int, help="SynthDive dives when generating (default 120)."
    ),
    click.option("--set", "overrides", multiple=True, help="Override a config key for every run."),
    click.option("--device", default=None, help="auto, cpu or cuda."),
    click.option("--meteor", is_flag=True, help="Also compute METEOR (starts Java per run)."),
    click.option("--quiet", is_flag=True, help="No progress bars."),
]


def _options(f: _F) -> _F:
    for opt in reversed(_common):
        f = opt(f)
    return f


@click.group()
def experiment() -> None:
    """The paper's studies over several seeds (honest protocol, mean ± std)."""


@experiment.command("stl-vs-mtl")
@_options
def stl_vs_mtl_cmd(
    config: str | None,
    data: str | None,
    out: str | None,
    seeds: str,
    quick: bool,
    num: int | None,
    overrides: tuple[str, ...],
    device: str | None,
    meteor: bool,
    quiet: bool,
) -> None:
    """Table 4: score alone vs + attributes vs + caption vs all three."""
    from mtlaqa.experiments import stl_vs_mtl

    out_dir = Path(out or "runs/stl_vs_mtl")
    cfg = _setup(config, data, out_dir, quick, num, overrides, device, not quiet)
    stl_vs_mtl(cfg, out_dir, _seeds(seeds), meteor=meteor, progress=not quiet, echo=click.echo)
    click.echo(f"saved {out_dir}/stl_vs_mtl.json, .md and .png")


@experiment.command("data-efficiency")
@_options
@click.option(
    "--sizes",
    default=None,
    help="Training-set sizes: counts, or fractions <= 1 (default: 1059,450,280,140; --quick 1,0.5,0.25).",
)
@click.option(
    "--subsets",
    default="random",
    show_default=True,
    type=click.Choice(["random", "release"]),
    help="random: seeded nested subsets (mtlaqa's own protocol); release: the release's "
    "size_140/280/450 lists and the full split (the paper's; needs --release and --data "
    "prepared with --subset main).",
)
@click.option(
    "--release",
    default=None,
    type=click.Path(exists=True, file_okay=False),
    help="MTL-AQA_dataset_release folder (with --subsets release).",
)
@click.option(
    "--leak-free", is_flag=True, help="With --subsets release: drop training dives that are test."
)
def data_efficiency_cmd(
    config: str | None,
    data: str | None,
    out: str | None,
    seeds: str,
    quick: bool,
    num: int | None,
    overrides: tuple[str, ...],
    device: str | None,
    meteor: bool,
    quiet: bool,
    sizes: str | None,
    subsets: str,
    release: str | None,
    leak_free: bool,
) -> None:
    """Table 8: STL and MTL on shrinking training sets."""
    from mtlaqa.errors import MtlaqaError
    from mtlaqa.experiments import PAPER_SIZES, QUICK_FRACTIONS, data_efficiency

    out_dir = Path(out or "runs/data_efficiency")
    if (subsets == "release") != (release is not None):
        raise MtlaqaError("--subsets release and --release DIR go together")
    if subsets == "release" and (data is None or sizes):
        raise MtlaqaError(
            "--subsets release needs --data (prepared with --subset main), no --sizes"
        )
    cfg = _setup(config, data, out_dir, quick, num, overrides, device, not quiet)
    size_list: Sequence[float]
    if sizes:
        try:
            size_list = [float(s) for s in sizes.split(",") if s.strip()]
        except ValueError:
            raise MtlaqaError(f"--sizes expects comma-separated numbers, got {sizes!r}") from None
    else:
        size_list = QUICK_FRACTIONS if quick else PAPER_SIZES
    data_efficiency(
        cfg,
        out_dir,
        size_list,
        _seeds(seeds),
        meteor=meteor,
        progress=not quiet,
        echo=click.echo,
        release=release,
        leak_free=leak_free,
    )
    click.echo(f"saved {out_dir}/data_efficiency.json, .md and .png")
