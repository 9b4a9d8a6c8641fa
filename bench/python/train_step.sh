#!/usr/bin/env bash
# train_step.sh — runs bench/python/train_step.py (prism vs PyTorch MLP training step from Python) with the
# package's virtual environment and OpenBLAS's best kernels for PyTorch.
#
# Usage: bash bench/python/train_step.sh [train_step.py options: --threads N --rounds R --steps S --device NAME]
# Needs .venv (scripts/install-deps.sh), python3-torch and libopenblas0 (PyTorch's BLAS; without it PyTorch
# runs on the reference BLAS and the ratio flatters prism).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=${PRISM_BENCH_PYTHON:-$root/.venv/bin/python}
"$python" -c "import torch, prism" 2>/dev/null || {
  echo "train_step.sh: $python cannot import torch and prism (bash scripts/install-deps.sh)" >&2
  exit 2
}
if ! "$python" -c 'import ctypes; ctypes.CDLL("libopenblas.so.0")' 2>/dev/null; then
  echo "train_step.sh: libopenblas0 is not installed: PyTorch would use the reference BLAS (apt-get install libopenblas0)" >&2
  exit 2
fi
# shellcheck source=bench/openblas_core.sh
source "$root/bench/openblas_core.sh"
set_openblas_core "$python"
exec "$python" "$root/bench/python/train_step.py" "$@"
