#!/usr/bin/env bash
# tidy.sh — runs clang-tidy (rules in .clang-tidy) over core/ and backends/ with a build dir's compile_commands.json.
#
# Usage: bash scripts/tidy.sh [BUILD_DIR] [-- extra clang-tidy args]
#   BUILD_DIR  a configured build directory (default: build/ci; configured with
#              the ci preset when it does not exist yet)
# Environment: PRISM_JOBS (parallel clang-tidy processes, default: number of cores).
# Exit status: non-zero when clang-tidy reports any warning or error.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
JOBS=${PRISM_JOBS:-$(nproc 2>/dev/null || echo 2)}
BUILD=build/ci
if (($# > 0)) && [[ "$1" != "--" ]]; then
  BUILD=$1
  shift
fi
[[ "${1:-}" == "--" ]] && shift

if [[ ! -f "$BUILD/compile_commands.json" ]]; then
  if [[ "$BUILD" == build/ci ]]; then
    cmake --preset ci >/dev/null
  else
    echo "tidy.sh: $BUILD/compile_commands.json not found: configure that build first" >&2
    exit 2
  fi
fi

TIDY=$(command -v clang-tidy || command -v clang-tidy-14 || true)
[[ -n "$TIDY" ]] || { echo "tidy.sh: clang-tidy not found (bash scripts/install-deps.sh)" >&2; exit 2; }

# Translation units of core/ and backends/ that the build compiles (C and C++,
# not CUDA/HIP: clang-tidy 14 reads them poorly).
mapfile -t files < <(python3 - "$BUILD/compile_commands.json" "$ROOT" <<'PY'
import json, os, sys
db, root = sys.argv[1], os.path.realpath(sys.argv[2])
seen = set()
for entry in json.load(open(db)):
    path = os.path.realpath(os.path.join(entry["directory"], entry["file"]))
    rel = os.path.relpath(path, root)
    if rel.split(os.sep)[0] in ("core", "backends") and rel.endswith((".c", ".cc", ".cpp")) and path not in seen:
        seen.add(path)
        print(path)
PY
)
if ((${#files[@]} == 0)); then
  echo "tidy.sh: no core/ or backends/ sources in $BUILD/compile_commands.json" >&2
  exit 2
fi
echo "clang-tidy ($("$TIDY" --version | grep -oE 'version [0-9.]+' | head -n 1)) on ${#files[@]} files, $JOBS jobs"

# Generated headers (embedded kernels, ...) exist only after a build: tidy a built tree.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
printf '%s\0' "${files[@]}" |
  xargs -0 -n 1 -P "$JOBS" "$TIDY" -p "$BUILD" --quiet "$@" >"$log" 2>&1 || true
# Keep only diagnostics (clang-tidy prints "N warnings generated." noise to stderr).
grep -vE '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^Use -system-headers' "$log" || true
# A header's finding is reported once per translation unit including it: count unique ones.
# (grep finds nothing on a clean run: keep pipefail from failing the script.)
count=$({ grep -E ': (warning|error): ' "$log" || true; } | sort -u | wc -l)
if ((count > 0)); then
  echo "tidy.sh: $count finding(s)"
  exit 1
fi
echo "tidy.sh: clean"
