#!/usr/bin/env bash
# The GPU check (BENCHMARKS.md, "GPU"): on a machine with one NVIDIA GPU and the package index in reach,
#   bash bench/gpu_check.sh                 # installs, then measures at 1M rows (about 6 minutes)
#   bash bench/gpu_check.sh --rows 5000 --no-install --no-stack     # the CI smoke: no GPU, the CPU rows only
# Installs with dev.py from constraints.txt, with torch from PyPI (its default Linux wheel is the CUDA
# build; the pinned XGBoost wheel has CUDA built in), then runs bench/gpu_check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=1000000 install=1 stack=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --no-install) install=0; shift ;;
    --no-stack) stack="--no-stack"; shift ;;
    *) echo "usage: bash bench/gpu_check.sh [--rows N] [--no-install] [--no-stack]" >&2; exit 2 ;;
  esac
done
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || echo "nvidia-smi: not found (no GPU: the CUDA rows will say so)"
if [ "$install" = 1 ]; then
  TRAINYARD_TORCH_SPEC="${TRAINYARD_TORCH_SPEC:-torch==2.13.0}" python3 dev.py install
fi
PYTHONUNBUFFERED=1 timeout 480 .venv/bin/python bench/gpu_check.py --rows "$rows" $stack
