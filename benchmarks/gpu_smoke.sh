#!/usr/bin/env bash
# One command on a GPU machine: step benchmark + one epoch of C3D-AVG-MTL (6x16x112x112) on
# release-shaped SynthDive. Usage: benchmarks/gpu_smoke.sh [OUT] [extra gpu_smoke.py options]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PYTHONPATH="$here/../src${PYTHONPATH:+:$PYTHONPATH}"
out=${1:-runs/gpu_smoke}
shift || true
exec "${PYTHON:-python3}" "$here/gpu_smoke.py" --out "$out" --device "${DEVICE:-cuda}" "$@"
