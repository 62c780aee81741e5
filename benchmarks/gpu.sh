#!/usr/bin/env bash
# The speed benchmark on a CUDA machine: mtlaqa's fast path (bf16 autocast, channels_last_3d,
# cuDNN autotuning) vs the plain fp32 eager reference, plus one training epoch of MTL-AQA's
# 1059 training samples x 6 clips on synthetic tensors (no data loading in that timing).
#   benchmarks/gpu.sh [OUT.json] [extra benchmarks.run options, e.g. --compile]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONPATH="src:.${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
OUT=${1:-benchmarks/results/cuda.json}
shift || true
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU visible'; print(torch.__version__, torch.cuda.get_device_name())"
"$PY" -m benchmarks.run --device cuda --batch 3 --repeats 5 --epoch 1059 --out "$OUT" "$@"
