"""`python -m mtlaqa` runs the command line; the repo's `configs/` folder holds the presets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mtlaqa.config import PRESET_DIR, load_config

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "mtlaqa", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_python_dash_m_mtlaqa_runs_the_cli() -> None:
    out = _run("--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Usage: mtlaqa ")
    for command in ("train", "evaluate", "predict", "demo"):
        assert f"\n  {command} " in out.stdout
    bad = _run("train", "configs/no_such_preset.yaml", "--data", "x")
    assert bad.returncode == 2 and bad.stderr.startswith("error: configs/no_such_preset.yaml")


def test_repo_configs_folder_is_the_presets() -> None:
    shipped = sorted(p.name for p in PRESET_DIR.glob("*.yaml"))
    assert shipped and sorted(p.name for p in (ROOT / "configs").glob("*.yaml")) == shipped
    by_path = load_config(str(ROOT / "configs" / "demo.yaml"))
    assert by_path.to_dict() == load_config("demo").to_dict()
