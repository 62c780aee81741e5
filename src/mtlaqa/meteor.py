"""Corpus METEOR 1.5 through the jar bundled with pycocoevalcap, one JVM per process.

Starting the JVM and loading METEOR's paraphrase tables takes ≈ 7 s; scoring 160 captions then
takes ≈ 1 s. A training run scores several caption sets (the caption stage's val report, the
model on test, the constant and retrieval baselines), so the process is started once, on first
use (or ahead of it with `prestart_meteor()`), and kept: later calls pay only their scoring. It is closed at interpreter exit or by
`close_meteor()`; a call that fails or overruns its timeout kills it (the next call starts a new
one) and reports nan with one warning.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import shutil
import subprocess
import threading
import warnings
from pathlib import Path

NAN = math.nan
_warned = False
_lock = threading.Lock()
_proc: subprocess.Popen[bytes] | None = None


def _warn(reason: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(
            f"METEOR skipped: {reason}; reporting meteor = nan", RuntimeWarning, stacklevel=4
        )


def _start() -> subprocess.Popen[bytes] | None:
    """The METEOR jar in `-stdio` mode, stderr discarded (an unread pipe can block the JVM)."""
    java = shutil.which("java")
    if java is None:
        _warn("Java not found on PATH (METEOR 1.5 is a Java program)")
        return None
    from pycocoevalcap.meteor import meteor as meteor_module

    jar = Path(meteor_module.__file__).with_name(meteor_module.METEOR_JAR)
    cmd = [java, "-jar", "-Xmx2G", str(jar), "-", "-", "-stdio", "-l", "en", "-norm"]
    try:
        return subprocess.Popen(
            cmd,
            cwd=jar.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError as err:
        _warn(f"could not start Java ({err})")
        return None


def _ask_all(
    proc: subprocess.Popen[bytes], gts: dict[str, list[str]], res: dict[str, list[str]]
) -> float:
    """One corpus score: a SCORE line per segment, then EVAL of their statistics."""
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout

    def ask(line: str) -> str:
        stdin.write((line + "\n").encode())
        stdin.flush()
        answer = stdout.readline().decode().strip()
        if not answer:
            raise RuntimeError("the METEOR process stopped answering")
        return answer

    stat_lines = [ask(" ||| ".join(["SCORE", *gts[k], res[k][0]]).replace("\n", " ")) for k in gts]
    ask(" ||| ".join(["EVAL", *stat_lines]))  # first answer: the first segment's score
    for _ in range(len(stat_lines) - 1):
        stdout.readline()
    return float(stdout.readline().strip())  # last answer: the corpus score


def meteor_score(gts: dict[str, list[str]], res: dict[str, list[str]], timeout: float) -> float:
    """Corpus METEOR of `res` ({id: [hypothesis]}) against `gts` ({id: references}); nan (with
    one warning per process) when Java is missing or the jar fails or overruns `timeout` s."""
    with _lock:
        proc = _ensure_started_locked()
        if proc is None:
            return NAN
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        try:
            return _ask_all(proc, gts, res)
        except (OSError, ValueError, RuntimeError) as err:
            _warn(f"the METEOR jar failed ({err})")
            _close_locked()
            return NAN
        finally:
            watchdog.cancel()


def prestart_meteor() -> None:
    """Start the METEOR process now, without waiting for it: the JVM loads its tables (≈ 7 s)
    while the caller goes on, and the first `meteor_score` finds it ready or nearly so."""
    with _lock:
        _ensure_started_locked()


def _ensure_started_locked() -> subprocess.Popen[bytes] | None:
    """The running METEOR process, started (again) when there is none; None without Java."""
    global _proc
    if _proc is None or _proc.poll() is not None:
        _proc = _start()
    return _proc


def _close_locked() -> None:
    global _proc
    proc, _proc = _proc, None
    if proc is None:
        return
    with contextlib.suppress(OSError):
        assert proc.stdin is not None
        proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def close_meteor() -> None:
    """Close the METEOR process if one is running (it also closes at interpreter exit)."""
    with _lock:
        _close_locked()


atexit.register(close_meteor)
