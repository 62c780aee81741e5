"""`mtlaqa predict` on real-world files: odd containers/rates predicted, bad files skipped, exit 1."""

from __future__ import annotations

from pathlib import Path

import torch
from click.testing import CliRunner

from mtlaqa.cli import main
from mtlaqa.config import load_config
from mtlaqa.models.build import build_model
from videofiles import write_video


def _checkpoint(path: Path) -> Path:
    """An untrained narrow score-only model saved in the checkpoint format `fit` writes."""
    cfg = load_config(
        "demo",
        [
            "model.tasks=[score]",
            "model.width=0.125",
            "model.fc_dim=32",
            "data.resize=[32,32]",
            "data.crop_size=32",
        ],
    )
    torch.manual_seed(0)
    model = build_model(cfg, None)
    torch.save(
        {"config": cfg.to_dict(), "model": model.state_dict(), "score_norm": (50.0, 10.0)}, path
    )
    return path


def test_predict_batch_goes_on(tmp_path: Path) -> None:
    ckpt = _checkpoint(tmp_path / "ckpt.pt")
    good = write_video(
        tmp_path / "rot30.mov", n=130, fps=30, codec="mpeg4", size=(48, 32), rotation=90, audio=True
    )
    gray = write_video(tmp_path / "gray.mkv", n=110, codec="ffv1", pix_fmt="gray")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 3000)
    short = write_video(tmp_path / "short.webm", n=8, codec="libvpx-vp9")
    r = CliRunner().invoke(
        main,
        [
            "predict",
            str(ckpt),
            str(good),
            str(bad),
            str(gray),
            str(short),
            "--json",
            "--device",
            "cpu",
        ],
    )
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.startswith("{")]
    assert len(lines) == 2 and "rot30.mov" in lines[0] and "gray.mkv" in lines[1]
    assert f"error: {bad}: cannot read video" in r.output
    assert f"error: {short}: only 8 of the 103 window frames" in r.output
    assert "2 of 4 videos failed" in r.output
