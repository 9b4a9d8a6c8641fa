#!/usr/bin/env bash
# openblas_core.sh — sourced by the bench scripts: gives OpenBLAS (the PyTorch/libtorch peers' BLAS) its best kernels.
#
# OpenBLAS picks its kernels from the CPU model; on a CPU it does not know (new
# models, many VMs) it falls back to its SSE3 "Prescott" kernels, about 5x
# slower. Give it the best kernels the CPU flags allow so the PyTorch peers are
# not handicapped. An explicit OPENBLAS_CORETYPE is kept.
# Usage: source bench/openblas_core.sh; set_openblas_core PYTHON
set_openblas_core() {
  local python=$1 blas_core
  [[ -z "${OPENBLAS_CORETYPE:-}" ]] || return 0
  blas_core=$(OPENBLAS_VERBOSE=2 "$python" -c 'import ctypes; ctypes.CDLL("libopenblas.so.0")' 2>&1 >/dev/null |
    awk '/^Core:/ {print $2; exit}' || true)
  if [[ "$blas_core" == Prescott || "$blas_core" == Core2 || "$blas_core" == Nehalem ]]; then
    if grep -qw avx512f /proc/cpuinfo; then
      export OPENBLAS_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo; then
      export OPENBLAS_CORETYPE=Haswell
    fi
    [[ -z "${OPENBLAS_CORETYPE:-}" ]] || printf 'bench: OpenBLAS detected %s; using OPENBLAS_CORETYPE=%s\n' "$blas_core" "$OPENBLAS_CORETYPE" >&2
  fi
  return 0
}
