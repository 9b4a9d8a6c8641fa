#!/usr/bin/env bash
# run.sh — installs the benchmark peers, builds Prism Release with benchmarks, runs every suite in one go and prints the ratio table.
#
# Usage: bash bench/run.sh [--no-install] [--quick] [--threads N] [--build-dir DIR] [--out DIR]
#   --no-install   do not apt-get the peers (libtorch-dev, python3-torch, libopenblas0);
#                  suites whose peer is missing are skipped
#   --quick        one short repetition per case (a smoke run, not for figures)
#   --threads N    OpenMP/BLAS/torch threads for every suite (default 2)
#   --build-dir D  build directory (default <repo>/build-bench)
#   --out D        where the JSON results go (default <build-dir>/bench-results)
#
# Runs on Debian 12 as root (or with sudo) after scripts/install-deps.sh.
# Every suite uses the same thread count: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS
# and MKL_NUM_THREADS are all set to N, bench_libtorch and bench_pytorch.py call
# set_num_threads(N). Figures and what each case measures: docs/benchmarks.md.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build-bench"
out=""
install=1
quick=0
threads=2
jobs=${PRISM_BENCH_JOBS:-2}
# Debian's python3-torch lives in the system interpreter, not in a pyenv/venv one.
python=${PRISM_BENCH_PYTHON:-/usr/bin/python3}

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

while (($#)); do
  case "$1" in
    --no-install) install=0 ;;
    --quick) quick=1 ;;
    --threads) threads=${2:?--threads needs a number}; shift ;;
    --build-dir) build=${2:?--build-dir needs a directory}; shift ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (try --help)" ;;
  esac
  shift
done
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || die "--threads must be a positive integer, not '$threads'"
[[ -x "$python" ]] || python=$(command -v python3) || die "python3 not found"
out=${out:-$build/bench-results}

# --- peers ---------------------------------------------------------------------
# libtorch-dev: bench_libtorch; python3-torch: bench_pytorch.py; libopenblas0:
# an optimised BLAS behind libtorch's at::mm (without it libblas.so.3 may be
# the reference BLAS, and the matmul peer would be needlessly slow).
PEERS=(libtorch-dev python3-torch libopenblas0)

is_installed() {
  dpkg-query -W -f='${db:Status-Status}\n' "$1" 2>/dev/null | grep -qx installed
}

has_candidate() {
  local candidate
  candidate=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')
  [[ -n "$candidate" && "$candidate" != "(none)" ]]
}

install_peers() {
  local missing=() pkg as_root=()
  for pkg in "${PEERS[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
  done
  ((${#missing[@]})) || { log "peers installed: ${PEERS[*]}"; return 0; }
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { log "warning: not root and no sudo; not installing ${missing[*]}"; return 0; }
    as_root=(sudo env DEBIAN_FRONTEND=noninteractive)
  fi
  for pkg in "${missing[@]}"; do
    if ! has_candidate "$pkg"; then
      log "apt-get update ($pkg unknown to apt)"
      "${as_root[@]}" apt-get update -q
      break
    fi
  done
  for pkg in "${missing[@]}"; do
    has_candidate "$pkg" || die "no installable version of $pkg (check the apt sources; it is in bookworm main)"
  done
  log "apt-get install ${missing[*]}"
  "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

if ((install)); then
  install_peers
fi

# --- build ---------------------------------------------------------------------
mkdir -p "$build"
log "configuring $build (Release, benchmarks on, tests and examples off)"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPRISM_BUILD_BENCH=ON \
  -DPRISM_BUILD_TESTS=OFF -DPRISM_BUILD_EXAMPLES=OFF -DPRISM_BACKEND_CPU=ON >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log" >&2; die "cmake configure failed"; }
targets=(prism prism-cpu bench_prism)
if ninja -C "$build" -t query bench_libtorch >/dev/null 2>&1; then
  targets+=(bench_libtorch)
else
  log "libtorch not found: bench_libtorch skipped"
fi
log "building ${targets[*]} (-j$jobs)"
ninja -C "$build" -j"$jobs" "${targets[@]}" >&2

# --- run -------------------------------------------------------------------------
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
# OpenBLAS kernels for the PyTorch peers (bench/openblas_core.sh).
# shellcheck source=bench/openblas_core.sh
source "$root/bench/openblas_core.sh"
set_openblas_core "$python"
mkdir -p "$out"
if ((quick)); then
  gbench=(--benchmark_min_time=0.05 --benchmark_repetitions=1)
  pyargs=(--min-time 0.05 --repetitions 1)
else
  # Repetitions run in a random interleaved order, so load that comes and goes
  # hits Prism and its peer alike; the table uses the medians.
  gbench=(--benchmark_min_time=0.3 --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
    --benchmark_report_aggregates_only=true)
  pyargs=(--min-time 0.3 --repetitions 5)
fi
log "threads $threads; load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cpus"
log "running bench_prism"
"$build/bin/bench_prism" "${gbench[@]}" --benchmark_out="$out/prism.json" --benchmark_out_format=json >&2
cmp_args=(--prism "$out/prism.json")
if [[ -x "$build/bin/bench_libtorch" ]]; then
  log "running bench_libtorch"
  "$build/bin/bench_libtorch" "${gbench[@]}" --benchmark_out="$out/libtorch.json" --benchmark_out_format=json >&2
  cmp_args+=(--libtorch "$out/libtorch.json")
fi
if "$python" -c 'import torch' >/dev/null 2>&1; then
  log "running bench_pytorch.py ($python)"
  "$python" "$root/bench/bench_pytorch.py" "${pyargs[@]}" >"$out/pytorch.json"
  cmp_args+=(--pytorch "$out/pytorch.json")
else
  log "python3-torch not importable by $python: bench_pytorch.py skipped"
fi
log "load after: $(cut -d' ' -f1-3 /proc/loadavg); results in $out"
echo
"$python" "$root/bench/compare.py" "${cmp_args[@]}"
