"""`mtlaqa serve CHECKPOINT`: the local web page for scoring dive videos."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import click

from mtlaqa.errors import MtlaqaError


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_host_names(host: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Host names the server answers to: the loopback names on loopback, else the bound address
    (any name when bound to every interface and no --allow-host is given), plus --allow-host."""
    if _is_loopback(host):
        names = ["localhost", "127.0.0.1", "::1"]
    elif host in ("0.0.0.0", "::", ""):
        names = [] if extra else ["*"]
    else:
        names = [host]
    return [*names, *extra]


@click.command()
@click.argument("checkpoint", type=click.Path())
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind (loopback: this machine only).",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--max-upload-mb",
    default=200.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Largest accepted video.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    help="Also answer to this host name (the page's address); '*' answers to any.",
)
def serve(
    checkpoint: str,
    host: str,
    port: int,
    max_upload_mb: float,
    device: str,
    allow_hosts: tuple[str, ...],
) -> None:
    """Serve a page to score dive videos with CHECKPOINT (a checkpoint file or run folder)."""
    try:
        import uvicorn

        from mtlaqa.web.app import create_app
    except ImportError as e:
        raise MtlaqaError(
            f"the web page needs the 'web' extra: pip install 'mtlaqa[web]' ({e.name} missing)"
        ) from None
    from mtlaqa.predict import load_model

    predictor = load_model(checkpoint, device)
    app = create_app(
        predictor,
        max_upload_mb=max_upload_mb,
        checkpoint_name=Path(checkpoint).name,
        allowed_hosts=allowed_host_names(host, allow_hosts),
    )
    if not _is_loopback(host):
        click.echo(
            f"warning: binding {host}: anyone who can reach this address can upload videos",
            err=True,
        )
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"mtlaqa: scoring page at http://{shown}:{port}/  (Ctrl+C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
