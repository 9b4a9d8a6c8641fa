#!/usr/bin/env bash
# demo.sh — the README's demo command: installs deps, builds the release preset, runs `prism info` and the device tour.
#
# Usage: bash scripts/demo.sh [--no-deps]
# Environment: PRISM_JOBS (parallel build jobs, default: number of cores).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
JOBS=${PRISM_JOBS:-$(nproc 2>/dev/null || echo 2)}
BUILD=build/release

deps=1
for arg in "$@"; do
  case "$arg" in
    --no-deps) deps=0 ;;
    -h | --help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
