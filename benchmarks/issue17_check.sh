#!/usr/bin/env bash
# Issue 17's done-when numbers in one go, on an idle machine (run from the repository root):
#   benchmarks/issue17_check.sh [GIT_REF]      (default: HEAD)
# 1. CPU flags and load; 2. fresh clone of GIT_REF into a temp dir -> `time make demo` (venv +
# install + SynthDive 800 @ 64 px + training + eval + predict); 3. SynthDive 800 dives @ 112 px
# (dives/s, 2 workers) in that clone; 4. `python -m benchmarks.run` full size in that clone.
# Writes benchmarks/results/issue17-<kind>.json (summary), issue17-<kind>-demo.log and the
# benchmark's cpu-<kind>.json into THIS checkout's benchmarks/results/. Takes ~25 min.
# Meant for a CPU without bf16 units (AVX2 / AVX-512). On an AMX or AVX512-BF16 machine,
# ONEDNN_MAX_CPU_ISA=AVX2 (or AVX512_CORE) with MKL_ENABLE_INSTRUCTIONS=AVX2 (AVX512) stands in
# for one: the fast path then runs fp32 (mtlaqa.cpu honours the cap) and the files are named
# <kind>-on-<real kind>, e.g. issue17-avx2-on-avx512bf16.json.
set -euo pipefail
REF=${1:-HEAD}
ROOT=$(git rev-parse --show-toplevel)
RESULTS=$ROOT/benchmarks/results
mkdir -p "$RESULTS"
PY3=${PYTHON:-python3}

echo "== CPU"
grep -m1 "model name" /proc/cpuinfo || true
grep -o -w -E 'avx2|fma|avx512f|avx512_bf16|amx_bf16' /proc/cpuinfo | sort | uniq -c
echo "cores: $(nproc)   $(uptime)"
KIND=$(PYTHONPATH=$ROOT/src $PY3 -c "from mtlaqa.cpu import kind_slug; print(kind_slug())")
echo "kind: $KIND   ONEDNN_MAX_CPU_ISA=${ONEDNN_MAX_CPU_ISA:-}"

TMP=$(mktemp -d /tmp/issue17.XXXXXX)
echo "== fresh clone of $REF in $TMP/mtlaqa"
git clone -q "$ROOT" "$TMP/mtlaqa"
git -C "$TMP/mtlaqa" checkout -q "$REF"
cd "$TMP/mtlaqa"

echo "== make demo"
LOG=$RESULTS/issue17-$KIND-demo.log
t0=$(date +%s.%N)
make demo 2>&1 | tee "$LOG"
t1=$(date +%s.%N)
DEMO_S=$(echo "$t1 - $t0" | bc)
echo "make demo: $DEMO_S s" | tee -a "$LOG"

echo "== SynthDive 800 @ 112 px"
t0=$(date +%s.%N)
.venv/bin/mtlaqa synth "$TMP/synth112" --num 800 --seed 0 --size 112 --workers 2
t1=$(date +%s.%N)
SYNTH_S=$(echo "$t1 - $t0" | bc)
echo "synth 800 @ 112: $SYNTH_S s"

echo "== benchmarks.run (full size)"
PYTHONPATH=src:. .venv/bin/python -m benchmarks.run --out "$RESULTS/cpu-$KIND.json"

DEMO_S=$DEMO_S SYNTH_S=$SYNTH_S KIND=$KIND REF=$REF RESULTS=$RESULTS RUN=runs/demo \
    .venv/bin/python - <<'EOF'
import json, os, subprocess
from pathlib import Path

res = Path(os.environ["RESULTS"])
bench = json.loads((res / f"cpu-{os.environ['KIND']}.json").read_text())
metrics = json.loads((Path(os.environ["RUN"]) / "metrics.json").read_text())
best = metrics.get("test", {}).get("best", metrics.get("best", {}))
ratio = {
    p: bench[p]["fast"]["clips_per_s"] / bench[p]["reference"]["clips_per_s"]
    for p in ("infer", "train")
}
out = {
    "ref": os.environ["REF"],
    "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
    "cpu_kind": bench["machine"].get("cpu_kind"),
    "cpu_flags": bench["machine"].get("cpu_flags"),
    "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
    "load_avg_at_benchmark": bench["machine"]["load_avg"],
    "make_demo_s": float(os.environ["DEMO_S"]),
    "synth_800_112px_s": float(os.environ["SYNTH_S"]),
    "synth_112px_dives_per_s": 800 / float(os.environ["SYNTH_S"]),
    "infer_speedup": ratio["infer"],
    "train_speedup": ratio["train"],
    "demo_test_metrics": best,
    "targets": {"make_demo_s": "<= 300", "infer_speedup": ">= 1.5", "train_speedup": ">= 1.8",
                "synth_112px_dives_per_s": ">= 15", "spearman": ">= 0.90"},
}
path = res / f"issue17-{os.environ['KIND']}.json"
path.write_text(json.dumps(out, indent=2, default=str))
for k in ("make_demo_s", "synth_112px_dives_per_s", "infer_speedup", "train_speedup"):
    print(f"{k:<26}{out[k]:8.2f}")
rho = best.get("score_spearman", best.get("spearman", float("nan")))
print(f"demo test spearman        {rho:8.3f}")
print(f"written {path}")
EOF
echo "then: python -m benchmarks.results_table --write   (README table); rm -rf $TMP when done"
