#!/usr/bin/env bash
# test.sh — the README's test command: deps, every test under the ci, asan and ubsan presets, the threaded tests under tsan, format and tidy checks.
#
# Usage: bash scripts/test.sh [--quick] [--no-deps]
#   --quick    only the ci preset's build and tests, and the lint checks
#   --no-deps  do not run scripts/install-deps.sh (when the packages are known to be there)
# Environment: PRISM_JOBS (parallel build and test jobs, default: number of cores);
#   PRISM_REQUIRE_DEVICES (default cpu,opencl:0,emu:0: a skip for a missing one fails).
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
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) printf 'test.sh: unknown option %s (try --help)\n' "$arg" >&2; exit 2 ;;
  esac
done

# Note [Required devices] (tests/prism_require_devices.h): where this script
# runs (CI and the README's test command, after install-deps.sh) the CPU
# plugin, the PoCL OpenCL device and the emulated device must exist, so a
# test that would skip for a missing one fails instead. An explicitly empty
# PRISM_REQUIRE_DEVICES= allows the skips again.
export PRISM_REQUIRE_DEVICES="${PRISM_REQUIRE_DEVICES-cpu,opencl:0,emu:0}"

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

# rocm-on-cpu: the ci preset also builds the ROCm plugin's sources against the
# HIP CPU Runtime when ../shared/third_party/HIP-CPU exists (backends/rocm/hip_cpu),
# and its ctest entries (label rocm-cpu) run conformance, the tour and the demo on it.
HIP_CPU_DIR=${PRISM_HIP_CPU_DIR:-$ROOT/../shared/third_party/HIP-CPU}
rocm_cpu=0
rocm_cpu_args=(-DPRISM_BACKEND_ROCM_CPU=OFF)
if [[ -f "$HIP_CPU_DIR/include/hip/hip_runtime.h" ]]; then
  rocm_cpu=1
  rocm_cpu_args=(-DPRISM_BACKEND_ROCM_CPU=ON "-DPRISM_HIP_CPU_DIR=$(cd "$HIP_CPU_DIR" && pwd)")
fi

configure_and_build() {
  local preset=$1 extra=()
  [[ "$preset" == ci ]] && extra=("${rocm_cpu_args[@]}")
  cmake --preset "$preset" "${extra[@]}" || return
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

# python_tests: pip installs python/ into .venv against the ci build (find_package(Prism) through
# CMAKE_PREFIX_PATH), then runs pytest on python/tests from the repository root (so `import prism`
# is the installed package). pytest's exit 5 (no tests collected) fails like any other failure.
python_tests() {
  local py=$ROOT/.venv/bin/python log=$LOGS/pytest.log rc=0 line
  if [[ ! -x "$py" ]]; then
    echo "no .venv: run scripts/install-deps.sh"
    return 1
  fi
  mkdir -p "$LOGS"
  CMAKE_PREFIX_PATH=$ROOT/build/ci CMAKE_BUILD_PARALLEL_LEVEL=$JOBS \
    "$py" -m pip install --no-build-isolation --no-deps --disable-pip-version-check -q ./python || return
  # Passive OpenMP waits: spinning barriers make small ops crawl on a loaded 2-core machine.
  # PRISM_CLI: the `prism run` launcher for test_distributed.py (the package does not carry it).
  OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} PRISM_CLI=${PRISM_CLI:-$ROOT/build/ci/bin/prism} \
    "$py" -m pytest python/tests --ignore=python/tests/array_api -q -p no:cacheprovider 2>&1 | tee "$log" || rc=$?
  # "312 passed, 3 skipped in 41.20s"
  line=$(grep -E '^(=+ )?[0-9]+ (passed|failed)' "$log" | tail -n 1 || true)
  printf 'pytest: %s\n' "${line:-no summary line}"
  if [[ -n "$line" ]]; then
    tests_passed=$((tests_passed + $(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || echo 0)))
    tests_failed=$((tests_failed + $(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || echo 0)))
  fi
  return "$rc"
}

# Each rocm-on-cpu test passed in the ci run (ctest's "Test #N: name ... Passed").
rocm_cpu_passed() {
  local t rc=0
  for t in rocm_cpu_info rocm_cpu_conformance rocm_cpu_device_tour rocm_cpu_train_mlp; do
    if grep -E "Test +#[0-9]+: $t \.+ +Passed" "$LOGS/ctest-ci.log"; then :; else
      echo "rocm-on-cpu: $t did not pass (see $LOGS/ctest-ci.log)"
      rc=1
    fi
  done
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

# Plugin authors' road, self-contained: the ci build installed to a temporary
# prefix (relocated: the prefix is not the configured one), `prism info` from
# there finds the install's plugins, the pkg-config files resolve, the
# copy-me template builds out of tree against the install with -Werror (with
# CMake and with plain cc + pkg-config), and prism-conformance passes on it in
# every mode.
plugin_road() {
  local work prefix cflags rc=0
  local -a sdk_flags
  work=$(mktemp -d) || return
  prefix=$work/prefix
  {
    cmake --install build/ci --prefix "$prefix" >"$work/install.log" &&
      env -u PRISM_PLUGIN_PATH "$prefix/bin/prism" info | tee "$work/info.txt" >/dev/null &&
      grep -E 'devices \([1-9][0-9]*\)' "$work/info.txt" &&
      PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --exists --print-errors prism prism-plugin-sdk &&
      cflags=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags prism-plugin-sdk) &&
      read -ra sdk_flags <<<"$cflags" &&
      cc -shared -fPIC -std=c99 -Wall -Wextra -Werror "${sdk_flags[@]}" \
        plugins/template/template_plugin.c -o "$work/libprism-template-pc.so" &&
      cmake -S plugins/template -B "$work/template" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_C_FLAGS=-Werror >"$work/configure.log" &&
      cmake --build "$work/template" &&
      env -u PRISM_PLUGIN_PATH "$prefix/bin/prism-conformance" --plugin "$work/template/libprism-template.so" \
        --mode abi,ops,rng,support,grad,async --quiet --report "$work/template.json" &&
      echo "plugin road: install, prism info, pkg-config, template (-Werror) and conformance in every mode: ok"
  } || rc=$?
  rm -rf "$work"
  return "$rc"
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
if ((rocm_cpu == 0)); then
  skip_stage "rocm-on-cpu" "HIP-CPU not found (looked in $HIP_CPU_DIR)"
  echo "skipped: HIP-CPU not found"
elif stage_ok "test ci"; then
  # the rocm_cpu_* tests ran inside "test ci"; this stage shows them in the summary
  run_stage "rocm-on-cpu" rocm_cpu_passed || true
fi

# --- Python package: built against build/ci (no second core build), installed into .venv, pytest ---
if stage_ok "build ci"; then
  run_stage "python" python_tests || true
else
  skip_stage "python" "the ci build failed"
fi

if stage_ok "build ci"; then
  run_stage "plugin road" plugin_road || true
else
  skip_stage "plugin road" "the ci build failed"
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
      # The distributed tests keep their core paths (n = 1, 2, faults) under
      # the sanitizers; the larger worlds, MPI, DDP training and the
      # namespace test run in the ci build only.
      run_stage "test $preset" run_ctest "$preset" -E '^(conformance|opencl)|OpenCL|^dist\.(comm\.n([34]|2_big)|ddp_train|ddp\.n3|netns|mpi)' || true
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

# --- array API standard: prism.array_api against ../shared/array-api-tests (owner: py-array) ---
# Prints "array-api: N passed, ..."; fails when fewer than the threshold pass (python/tests/array_api/run.sh).
if [[ -x .venv/bin/python ]]; then
  run_stage "array-api" bash python/tests/array_api/run.sh || true
else
  skip_stage "array-api" "no .venv (scripts/install-deps.sh creates it)"
fi

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
