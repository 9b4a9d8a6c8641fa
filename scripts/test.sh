#!/usr/bin/env bash
# test.sh — the README's test command: deps, every test under the ci, asan and ubsan presets, the threaded tests under tsan, format and tidy checks.
#
# Usage: bash scripts/test.sh [--quick] [--no-deps]
#   --quick    only the ci preset's build and tests, and the lint checks
#   --no-deps  do not run scripts/install-deps.sh (when the packages are known to be there)
# Environment: PRISM_JOBS (parallel build and test jobs, default: number of cores).
#
# Every stage runs even when an earlier one failed (a failed build skips the
# stages that need it), so one run reports everything; the exit status is
# non-zero when any stage failed. Logs go to build/logs/.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
JOBS=${PRISM_JOBS:-$(nproc 2>/dev/null || echo 2)}
LOGS=$ROOT/build/logs

quick=0
deps=1
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --no-deps) deps=0 ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) printf 'test.sh: unknown option %s (try --help)\n' "$arg" >&2; exit 2 ;;
  esac
done

stage_names=()
stage_results=()
stage_seconds=()
tests_passed=0
tests_failed=0
start_all=$SECONDS

# run_stage NAME COMMAND...: runs one stage, records its result and time.
run_stage() {
  local name=$1 rc=0 t0=$SECONDS
  shift
  printf '\n==== %s ====\n' "$name"
  "$@" || rc=$?
  stage_names+=("$name")
  stage_seconds+=($((SECONDS - t0)))
  if ((rc == 0)); then
    stage_results+=(ok)
  else
    stage_results+=("FAILED (exit $rc)")
    printf '==== %s: FAILED (exit %d)\n' "$name" "$rc"
  fi
  return "$rc"
}

skip_stage() {
  stage_names+=("$1")
  stage_seconds+=(0)
  stage_results+=("skipped: $2")
  printf '\n==== %s: skipped (%s) ====\n' "$1" "$2"
}

# True when the stage named $1 ran and succeeded.
stage_ok() {
  local i
  for i in "${!stage_names[@]}"; do
    [[ "${stage_names[$i]}" == "$1" ]] && [[ "${stage_results[$i]}" == ok ]] && return 0
  done
  return 1
}

configure_and_build() {
  local preset=$1
  cmake --preset "$preset" || return
  cmake --build --preset "$preset" -j "$JOBS"
}

# run_ctest PRESET [ctest args...]: all tests of PRESET; adds the counts to the totals.
run_ctest() {
  local preset=$1 log=$LOGS/ctest-$1.log rc=0 line passed total failed
  shift
  mkdir -p "$LOGS"
  ctest --preset "$preset" -j "$JOBS" --output-on-failure --no-tests=error "$@" 2>&1 | tee "$log" || rc=$?
  # "100% tests passed, 0 tests failed out of 57"
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
  if [[ -n "$line" ]]; then
    failed=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$line")
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    passed=$((total - failed))
    tests_passed=$((tests_passed + passed))
    tests_failed=$((tests_failed + failed))
  fi
  return "$rc"
}

shell_check() {
  local scripts=(scripts/*.sh .ci/run) s
  for s in "${scripts[@]}"; do bash -n "$s" || return; done
  if command -v shellcheck >/dev/null 2>&1; then
    shellcheck -s bash "${scripts[@]}"
  else
    echo "shellcheck not installed: syntax check only"
  fi
}

# ---------------------------------------------------------------------------
if ((deps)); then
  run_stage deps bash scripts/install-deps.sh || true
fi

run_stage "build ci" configure_and_build ci || true
if stage_ok "build ci"; then
  run_stage "test ci" run_ctest ci || true
else
  skip_stage "test ci" "build failed"
fi

if ((quick)); then
  skip_stage "asan" "--quick"
  skip_stage "ubsan" "--quick"
elif ! stage_ok "build ci"; then
  skip_stage "asan" "the ci build failed"
  skip_stage "ubsan" "the ci build failed"
else
  for preset in asan ubsan; do
    run_stage "build $preset" configure_and_build "$preset" || true
    if stage_ok "build $preset"; then
      # Sanitizer runs cover the core, the C ABI, the loader and its broken
      # plugins, the CPU plugin and the examples; the conformance sweeps and
      # the OpenCL (PoCL JIT) tests are exercised in the ci run above, as
      # instrumenting a JIT compiler makes them take hours.
      run_stage "test $preset" run_ctest "$preset" -E '^(conformance|opencl)|OpenCL' || true
    else
      skip_stage "test $preset" "build failed"
    fi
  done
fi

# ThreadSanitizer: the tsan build preset builds only the core, the CPU plugin
# and threads_test, and the tsan test preset runs only the threaded tests
# (Threads.*), with the CPU plugin's OpenMP regions at one thread
# (PRISM_NUM_THREADS=1) and tests/tsan.supp for uninstrumented libraries.
# Cold (no ccache): 175 CPU-seconds to configure and build (~1.5-2 min of wall
# on an idle 2-core machine at -j2) and ~1.5 s of tests.
if ((quick)); then
  skip_stage "tsan" "--quick"
elif ! stage_ok "build ci"; then
  skip_stage "tsan" "the ci build failed"
else
  run_stage "build tsan" configure_and_build tsan || true
  if stage_ok "build tsan"; then
    run_stage "test tsan" run_ctest tsan || true
  else
    skip_stage "test tsan" "build failed"
  fi
fi

run_stage "clang-format" bash scripts/format.sh --check || true
if stage_ok "build ci"; then
  run_stage "clang-tidy" bash scripts/tidy.sh build/ci || true
else
  skip_stage "clang-tidy" "the ci build failed"
fi
run_stage "shell scripts" shell_check || true

# ---------------------------------------------------------------------------
printf '\n==== summary ====\n'
failed_stages=0
for i in "${!stage_names[@]}"; do
  printf '  %-16s %5ds  %s\n' "${stage_names[$i]}" "${stage_seconds[$i]}" "${stage_results[$i]}"
  [[ "${stage_results[$i]}" == FAILED* ]] && failed_stages=$((failed_stages + 1))
done
printf '  total %ds (%d jobs)\n' "$((SECONDS - start_all))" "$JOBS"
printf 'tests: %d passed, %d failed\n' "$tests_passed" "$tests_failed"
if ((failed_stages > 0)); then
  printf 'test.sh: %d stage(s) failed\n' "$failed_stages"
  exit 1
fi
