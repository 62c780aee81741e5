"""Issue 19, Ctrl+C: "interrupted" and exit status 130 at start-up and mid-command, resumable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from mtlaqa.cli import main

# Ctrl+C arrives while the CLI imports its commands (torch: seconds of start-up): the script sends
# SIGINT to itself when mtlaqa.commands.model is imported, then runs `python -m mtlaqa.cli --help`
STARTUP = """
import builtins, os, runpy, signal, sys
real = builtins.__import__
def hook(name, *a, **k):
    if name == "mtlaqa.commands.model":
        os.kill(os.getpid(), signal.SIGINT)
    return real(name, *a, **k)
builtins.__import__ = hook
sys.argv = ["mtlaqa", "--help"]
runpy.run_module("mtlaqa.cli", run_name="__main__")
"""


def test_ctrl_c_during_start_up_is_one_line_and_status_130():
    import mtlaqa

    env = {**os.environ, "PYTHONPATH": str(Path(mtlaqa.__file__).parents[1])}
    r = subprocess.run(
        [sys.executable, "-c", STARTUP],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        # as from a terminal: a shell's background job (CI runners, `cmd &`) ignores SIGINT, and
        # a child would inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert (r.returncode, r.stderr) == (130, "interrupted\n")


def test_ctrl_c_during_prepare_leaves_no_part_file_and_resumes(tmp_path: Path, monkeypatch):
    from mtlaqa.data import prepare
    from mtlaqa.data.synth.release_layout import generate_release_synth

    rel = generate_release_synth(tmp_path / "src", 8, 0, 32, 4, 1)
    args = ["data", "prepare-mtl-aqa", "--release", str(rel), "--videos"]
    args += [str(tmp_path / "src" / "videos"), "--out", str(tmp_path / "out"), "--quiet"]
    real_add, calls = prepare._ClipWriter.add, []

    def add_then_ctrl_c(self, img):  # noqa: ANN001
        calls.append(1)
        if len(calls) == 150:  # mid-way through the event videos, with clips open
            raise KeyboardInterrupt
        real_add(self, img)

    monkeypatch.setattr(prepare._ClipWriter, "add", add_then_ctrl_c)
    r = CliRunner().invoke(main, args)
    assert (r.exit_code, r.output.strip().splitlines()[-1]) == (130, "interrupted")
    videos = tmp_path / "out" / "videos"
    assert not list(videos.glob("*.part.mp4"))
    done = len(list(videos.glob("*.mp4")))
    assert 0 < done < 8
    monkeypatch.setattr(prepare._ClipWriter, "add", real_add)
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert f"skipped {done} already prepared" in r.output
