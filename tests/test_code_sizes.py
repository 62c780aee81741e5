"""The size limits of the project's standards (a file <= 400 lines, a function <= 80), kept by
benchmarks/code_sizes.py: it passes on src/mtlaqa and fails on a tree that breaks either limit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "code_sizes.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60
    )


def test_src_mtlaqa_is_within_the_size_limits() -> None:
    r = _run(str(REPO / "src" / "mtlaqa"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "longest files (lines):" in r.stdout and "longest functions (lines):" in r.stdout
    assert r.stdout.rstrip().endswith(": ok")


def _function(name: str, body_lines: int, indent: str = "") -> str:
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(body_lines))
    return f"{indent}def {name}() -> None:\n{body}"


def test_an_overlong_function_or_file_fails(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    # a method of 81 lines (def + 80 body lines) is over; a function of exactly 80 is not
    (pkg / "a.py").write_text("class C:\n" + _function("m", 80, "    "))
    (pkg / "b.py").write_text(_function("f", 79))
    (pkg / "c.py").write_text(_function("outer", 1) + _function("inner", 1, "    "))
    r = _run(str(pkg))
    assert r.returncode == 1, r.stdout
    over = [line for line in r.stdout.splitlines() if line.startswith("over the limit")]
    assert len(over) == 1 and over[0].startswith("over the limit (80): 81 lines"), over
    assert over[0].endswith("a.py:2 C.m")
    assert "b.py:1 f" in r.stdout and "c.py:3 outer.inner" in r.stdout  # listed, not over

    (pkg / "a.py").write_text("x = 1\n" * 401)  # now a file of 401 lines
    r = _run(str(pkg), "--max-function", "200")
    assert r.returncode == 1
    assert any(
        line.startswith("over the limit (400): 401 lines") and line.endswith("a.py")
        for line in r.stdout.splitlines()
    )
    assert _run(str(pkg), "--max-file", "401", "--max-function", "200").returncode == 0
