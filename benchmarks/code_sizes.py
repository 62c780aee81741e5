"""The longest files and functions of a source tree, and the project's size limits.

    python benchmarks/code_sizes.py [ROOT] [--top N] [--max-file 400] [--max-function 80]

ROOT defaults to src/mtlaqa. A file's size is its line count; a function's is from its `def` line to
its last line (decorators not counted; a method is `Class.method`, a nested function
`outer.inner`, and its lines count in the outer function too). Prints the top N of each, then every
file or function over its limit; exits 1 when there is one (tests/test_code_sizes.py runs it).
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "mtlaqa"


@dataclass(frozen=True)
class Size:
    lines: int
    where: str  # file, or file:line name


def _functions(tree: ast.Module, path: str) -> list[Size]:
    """Every function and method of a module, with its qualified name."""
    found: list[Size] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + child.name
                end = child.end_lineno or child.lineno
                found.append(Size(end - child.lineno + 1, f"{path}:{child.lineno} {name}"))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def measure(root: Path) -> tuple[list[Size], list[Size]]:
    """(files, functions) under `root`, each longest first."""
    files: list[Size] = []
    functions: list[Size] = []
    for p in sorted(root.rglob("*.py")):
        text = p.read_text(encoding="utf-8")
        rel = os.path.relpath(p)
        files.append(Size(len(text.splitlines()), rel))
        functions += _functions(ast.parse(text, filename=str(p)), rel)
    return sorted(files, key=_longest_first), sorted(functions, key=_longest_first)


def _longest_first(s: Size) -> tuple[int, str]:
    return -s.lines, s.where


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", nargs="?", type=Path, default=ROOT)
    ap.add_argument("--top", type=int, default=10, help="how many of each to list (10)")
    ap.add_argument("--max-file", type=int, default=400, help="lines per file (400)")
    ap.add_argument("--max-function", type=int, default=80, help="lines per function (80)")
    a = ap.parse_args(argv)
    if not a.root.is_dir():
        print(f"error: {a.root}: not a folder", file=sys.stderr)
        return 2
    files, functions = measure(a.root)
    for title, sizes in (("files", files), ("functions", functions)):
        print(f"longest {title} (lines):")
        for s in sizes[: a.top]:
            print(f"  {s.lines:5d}  {s.where}")
    over = [(s, a.max_file) for s in files if s.lines > a.max_file]
    over += [(s, a.max_function) for s in functions if s.lines > a.max_function]
    for s, limit in over:
        print(f"over the limit ({limit}): {s.lines} lines  {s.where}")
    print(
        f"{len(files)} files, {len(functions)} functions; limits {a.max_file} lines per file, "
        f"{a.max_function} per function: {'FAILED' if over else 'ok'}"
    )
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
