#!/usr/bin/env bash
# demo.sh — the README's demo command: installs deps, builds the release preset, runs `prism info`, the device tour
# and the main job: training an MLP and a CNN on Fashion-MNIST, then a C-only training example.
#
# Usage: bash scripts/demo.sh [--no-deps] [-- train_fashion_mnist options, e.g. --device opencl:0 --model mlp]
# Environment: PRISM_JOBS (parallel build jobs, default: number of cores).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
JOBS=${PRISM_JOBS:-$(nproc 2>/dev/null || echo 2)}
BUILD=build/release

deps=1
train_args=()
while (($#)); do
  arg=$1
  shift
  case "$arg" in
    --) train_args=("$@"); break ;;
    --no-deps) deps=0 ;;
    -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) printf 'demo.sh: unknown option %s (try --help)\n' "$arg" >&2; exit 2 ;;
  esac
done

step() { printf '\n==== %s ====\n' "$*"; }

if ((deps)); then
  step "dependencies"
  bash scripts/install-deps.sh
fi

# The demo needs the library, the plugins, the CLI and the examples: tests and
# benchmarks stay off here (scripts/test.sh builds them).
step "build (release preset)"
cmake --preset release -DPRISM_BUILD_TESTS=OFF -DPRISM_BUILD_BENCH=OFF -DPRISM_BUILD_EXAMPLES=ON
cmake --build --preset release -j "$JOBS"

# No PRISM_PLUGIN_PATH needed: the plugins sit in $BUILD/lib next to libprism.
step "prism info"
"$BUILD/bin/prism" info

step "device tour"
"$BUILD/bin/examples/c/device_tour"

# The main job: both models on the best loaded device (or --device), two
# epochs each, checkpoint written and reloaded; exits non-zero below target.
step "training on Fashion-MNIST"
mkdir -p "$BUILD/demo"
"$BUILD/bin/examples/cpp/train_fashion_mnist" --checkpoint "$BUILD/demo" "${train_args[@]}"

step "training from C (prism.h only)"
(cd "$BUILD/demo" && "../bin/examples/c/train_mlp")

# ---- Python: the same MLP trained from the prism package (examples/python), ----
# ---- 2 epochs on the best device with a progress bar; exits non-zero below 0.85. ----
step "training from Python (prism package)"
if [[ -x .venv/bin/python ]]; then
  # The package is built against the release build above (find_package(Prism), no second core build).
  CMAKE_PREFIX_PATH=$PWD/$BUILD CMAKE_BUILD_PARALLEL_LEVEL=$JOBS \
    .venv/bin/python -m pip install --no-build-isolation --no-deps --disable-pip-version-check -q ./python
  .venv/bin/python examples/python/train_fashion_mnist.py --checkpoint "$BUILD/demo"
else
  echo "skipped: .venv/bin/python not found (scripts/install-deps.sh creates it)"
fi
