"""`python -m benchmarks.results_table`: one side-by-side table of the full-size CPU runs.

Reads every `benchmarks/results/cpu-<kind>.json` written by `python -m benchmarks.run` (quick runs
and variants such as cpu-fused-adam.json are skipped), prints a markdown table with one column
per CPU kind, and with --write replaces the block between the two marker lines in
benchmarks/README.md with it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KINDS = {"amx": "AMX", "avx512bf16": "AVX512-BF16", "avx512": "AVX-512", "avx2": "AVX2"}
START, END = "<!-- results-table:start -->", "<!-- results-table:end -->"


def load_runs(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """(column label, result) of the full-size runs, in the order AMX, AVX512-BF16, AVX-512,
    AVX2; a stand-in (`cpu-avx2-on-avx512bf16.json`: oneDNN capped on a bigger CPU) follows the
    real machine of its kind and says so in its label."""
    runs = []
    for slug, kind in KINDS.items():
        paths = [folder / f"cpu-{slug}.json", *sorted(folder.glob(f"cpu-{slug}-on-*.json"))]
        for path in paths:
            if not path.exists():
                continue
            res = json.loads(path.read_text())
            if res["setup"]["quick"]:
                continue
            label = res["machine"].get("cpu_kind", kind)
            real = res["machine"].get("cpu_kind_uncapped", label)
            if real != label:
                label = f"{label} (capped {real})"
            runs.append((label, res | {"_file": path.name}))
    return runs


def _ratio(res: dict[str, Any], phase: str) -> str:
    c = res[phase]
    return f"{c['fast']['clips_per_s'] / c['reference']['clips_per_s']:.2f}x"


ROWS: list[tuple[str, Any]] = [
    ("file", lambda r: f"`{r['_file']}`"),
    ("measured", lambda r: r["when"]),
    ("ONEDNN_MAX_CPU_ISA", lambda r: r["machine"].get("onednn_max_cpu_isa") or "–"),
    ("load average at start", lambda r: f"{r['machine']['load_avg'][0]:.1f}"),
    ("threads", lambda r: str(r["machine"]["threads"])),
    ("fast path precision", lambda r: r["setup"]["fast_amp"]),
    # runs before `--heap` existed ran with glibc's defaults
    ("heap (both paths)", lambda r: r["setup"].get("heap", "system")),
    (
        "clips per step",
        lambda r: f"{r['setup']['clips_per_step']} x {'x'.join(map(str, r['setup']['clip']))}",
    ),
    ("fp32 matmul peak GFLOP/s", lambda r: f"{r['peak']['fp32']['gflops']:.0f}"),
    ("infer reference clips/s", lambda r: f"{r['infer']['reference']['clips_per_s']:.2f}"),
    ("infer fast clips/s", lambda r: f"{r['infer']['fast']['clips_per_s']:.2f}"),
    ("**infer speed-up**", lambda r: f"**{_ratio(r, 'infer')}**"),
    ("infer fast GFLOP/s", lambda r: f"{r['infer']['fast']['gflops']:.0f}"),
    ("train reference clips/s", lambda r: f"{r['train']['reference']['clips_per_s']:.2f}"),
    ("train fast clips/s", lambda r: f"{r['train']['fast']['clips_per_s']:.2f}"),
    ("**train speed-up**", lambda r: f"**{_ratio(r, 'train')}**"),
    ("train fast GFLOP/s", lambda r: f"{r['train']['fast']['gflops']:.0f}"),
]


def table(runs: list[tuple[str, dict[str, Any]]]) -> str:
    """Markdown: one row per quantity, one column per CPU kind."""
    lines = ["| | " + " | ".join(k for k, _ in runs) + " |", "|---" * (len(runs) + 1) + "|"]
    for label, fmt in ROWS:
        lines.append(f"| {label} | " + " | ".join(fmt(r) for _, r in runs) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.results_table")
    p.add_argument("--results", default=str(HERE / "results"))
    p.add_argument("--write", action="store_true", help="update the table in benchmarks/README.md")
    a = p.parse_args(argv)
    text = table(load_runs(Path(a.results)))
    print(text, end="")
    if a.write:
        readme = HERE / "README.md"
        doc = readme.read_text()
        head, rest = doc.split(START, 1)
        _, tail = rest.split(END, 1)
        readme.write_text(f"{head}{START}\n{text}{END}{tail}")


if __name__ == "__main__":
    main()
