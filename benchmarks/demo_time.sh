#!/usr/bin/env bash
# `make demo` from a fresh clone, timed, on an idle machine (run from the repository root):
#   benchmarks/demo_time.sh [GIT_REF]      (default: HEAD)
# Writes benchmarks/results/demo-<kind>.log: the commit, CPU flags and load, the demo's output
# (progress bars dropped) and the wall time of `make demo` (venv + install + SynthDive + training +
# caption stage + test + one prediction). issue17_check.sh also runs synth and the speed benchmark.
set -euo pipefail
REF=${1:-HEAD}
ROOT=$(git rev-parse --show-toplevel)
KIND=$(PYTHONPATH=$ROOT/src ${PYTHON:-python3} -c "from mtlaqa.cpu import kind_slug; print(kind_slug())" 2>/dev/null || echo cpu)
LOG=$ROOT/benchmarks/results/demo-$KIND.log
TMP=$(mktemp -d /tmp/demo_time.XXXXXX)
git clone -q "$ROOT" "$TMP/mtlaqa"
git -C "$TMP/mtlaqa" checkout -q "$REF"
cd "$TMP/mtlaqa"
RAW=$TMP/raw.log
{
    echo "commit $(git rev-parse --short HEAD)"
    grep -m1 "model name" /proc/cpuinfo || true
    echo "flags: $(grep -o -w -E 'avx2|fma|avx512f|avx512_bf16|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
    echo "cores: $(nproc)  $(uptime)"
    echo "ONEDNN_MAX_CPU_ISA=${ONEDNN_MAX_CPU_ISA:-}  MKL_ENABLE_INSTRUCTIONS=${MKL_ENABLE_INSTRUCTIONS:-}"
} > "$RAW"
t0=$(date +%s.%N)
make demo >> "$RAW" 2>&1
t1=$(date +%s.%N)
echo "make demo: $(echo "$t1 - $t0" | bc) s" >> "$RAW"
tr '\r' '\n' < "$RAW" | grep -a -v -E "it/s\]|it/s, |dive/s\]" > "$LOG"
grep -a -E "800/800|^epoch [0-9]+:" <(tr '\r' '\n' < "$RAW") >> "$LOG" || true
tail -n 3 "$LOG"
