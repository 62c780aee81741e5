"""`mtlaqa model …`: inspect backbones and check local weight files against them."""

from __future__ import annotations

import sys

import click


@click.group()
def model() -> None:
    """Registered architectures, backbones, aggregators and pretrained weight files."""


@model.command("list")
def list_registered() -> None:
    """Print every registered architecture, backbone (with the options it reads), aggregator and
    score head: the names `model.arch`, `model.backbone`, `model.aggregator` and
    `model.score_head` accept."""
    from mtlaqa.models.archs import arch_names
    from mtlaqa.models.registry import aggregator_names, backbone_names, backbone_options
    from mtlaqa.models.score_heads import score_head_names

    click.echo(f"arch        {', '.join(arch_names())}")
    for name in backbone_names():
        options = backbone_options(name)
        reads = "any" if options is None else ", ".join(sorted(options))
        click.echo(f"backbone    {name:<12} options: {reads}")
    click.echo(f"aggregator  {', '.join(aggregator_names())}")
    click.echo(f"score_head  {', '.join(score_head_names())}")


@model.command("check")
@click.option(
    "--backbone", required=True, help="Registered backbone name (see `mtlaqa model list`)."
)
@click.option(
    "--weights", "weights_path", required=True, type=click.Path(), help="Local weights file."
)
@click.option(
    "--width", default=1.0, show_default=True, help="Channel multiplier (1.0 = the public model)."
)
@click.option(
    "--clip-len",
    "--frames",  # the old name, still accepted
    "clip_len",
    default=16,
    show_default=True,
    help="Clip length the backbone is built for.",
)
@click.option(
    "--crop-size",
    "--size",  # the old name, still accepted
    "crop_size",
    default=None,
    type=int,
    help="Crop size (default: the backbone's own).",
)
def check(
    backbone: str, weights_path: str, width: float, clip_len: int, crop_size: int | None
) -> None:
    """Load a weights file into BACKBONE; print loaded/missing/unexpected counts and the input spec.

    Exits non-zero naming the tensor when the file does not fit (wrong shape or a backbone tensor
    the file lacks).
    """
    from torch import nn  # here, not at the top: `mtlaqa` starts without importing torch

    from mtlaqa.models.registry import build_backbone
    from mtlaqa.models.weights import load_backbone_weights

    kwargs: dict[str, object] = {"clip_len": clip_len, "width": width}
    if crop_size is not None:
        kwargs["crop_size"] = crop_size
    holder = nn.Module()
    holder.backbone = build_backbone(backbone, **kwargs)
    report = load_backbone_weights(holder, weights_path)  # raises (exit 2) on a shape mismatch
    spec = holder.backbone.input_spec
    click.echo(f"{weights_path} -> {backbone}: {report.summary()}")
    click.echo(f"  loaded      {len(report.loaded)}")
    click.echo(
        f"  missing     {len(report.missing)}"
        + (f"  (first: {', '.join(report.missing[:5])})" if report.missing else "")
    )
    click.echo(
        f"  unexpected  {len(report.unexpected)}"
        + (
            f"  ({', '.join(report.unexpected[:5])}{', …' if len(report.unexpected) > 5 else ''})"
            if report.unexpected
            else ""
        )
    )
    click.echo(
        f"  input spec  clip_len={spec.clip_len} crop_size={spec.crop_size} scale={spec.scale:.6g} "
        f"mean={tuple(round(m, 6) for m in spec.mean)} std={tuple(round(s, 6) for s in spec.std)}"
    )
    if hasattr(holder.backbone, "padding_style"):
        click.echo(f"  padding     {holder.backbone.padding_style}")
    if report.missing:
        click.echo(
            f"error: {weights_path}: backbone tensor '{report.missing[0]}' is not in the file",
            err=True,
        )
        sys.exit(1)
