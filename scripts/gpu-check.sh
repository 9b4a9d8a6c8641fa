#!/usr/bin/env bash
# gpu-check.sh — a one-shot check of the CUDA plugin on a machine with an NVIDIA GPU: build a self-contained bundle
# here, run it there.
#
# Usage: bash scripts/gpu-check.sh --build [OUT.tar.gz]   (default build/gpu-check/prism-gpu-check.tar.gz)
#        bash scripts/gpu-check.sh --run BUNDLE [SUMMARY]  (BUNDLE: the .tar.gz or its unpacked folder)
#
# --build (a development machine with scripts/install-deps.sh run and the CUDA toolkit in /usr/local/cuda):
#   builds libprism, the CPU plugin and the CUDA plugin (sm_90 only), prism, prism-conformance, the training
#   example and bench_gpu (bench/gpu/bench_gpu.cu, nvcc), the NCCL communicator plugin and prism-comm-check
#   (where nccl.h exists), and packs them with every non-system library they load (oneDNN, libstdc++,
#   libgomp, ...) and a slice of Fashion-MNIST into one tar.gz of at most 60 MiB.
# --run (the GPU machine; needs only the NVIDIA driver, plus cuBLAS from a CUDA toolkit if present):
#   prism info, prism-conformance in every mode on cuda:0, bench_gpu, the copy/compute overlap of user
#   streams (bench_stream_overlap, >= 70 % of the copy time hidden), a short MLP training run on cuda:0,
#   the NCCL collectives (prism-comm-check, N = 1 on cuda:0, and N = 2 where NCCL allows), each under a
#   time limit (about 6 minutes in all), and writes one summary file (default: ./gpu-check-summary.txt).
#   libnccl.so.2 is not bundled (about 190 MiB compressed): the NCCL stages use the machine's (ldconfig,
#   /usr/local/cuda*, $NCCL_HOME/lib, a pip nvidia-nccl wheel) and say "skipped" without one.
#   Without a GPU it stops at once, exit status 3, saying what is missing.
# Exit status: 0 every stage passed; 1 a stage failed; 2 usage; 3 no NVIDIA GPU or driver.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JOBS=${PRISM_JOBS:-$(nproc 2>/dev/null || echo 2)}
LIMIT_MIB=60

die() { printf 'gpu-check: error: %s\n' "$1" >&2; exit "${2:-1}"; }
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

# ---------------------------------------------------------------------------
# --build
# ---------------------------------------------------------------------------

# The libraries every Linux machine with a driver has; everything else a
# bundled file loads is copied in (Note [GPU check bundle]).
is_system_lib() {
  case "$1" in
    linux-vdso.so* | ld-linux*.so* | libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | libcuda.so* | \
      libnvidia*.so*) return 0 ;;
  esac
  return 1
}

# Note [GPU check bundle]
# A GPU machine for this check may lack every Debian library Prism builds
# against, so the bundle carries the non-system libraries its programs load
# (ldd, glibc and the driver excepted) in lib/, next to libprism and the two
# plugins (the loader's "next to libprism" rule finds them); --run points
# LD_LIBRARY_PATH there. The CUDA runtime is linked statically into the plugin
# and bench_gpu; cuBLAS (hundreds of MiB) is not bundled: the plugin and the
# benchmark load it at run time when the machine's toolkit has it, otherwise
# bmm uses the shared tiled kernel and the cuBLAS row says skipped.
build_bundle() {
  local out=${1:-$ROOT/build/gpu-check/prism-gpu-check.tar.gz}
  local nvcc=${CUDACXX:-/usr/local/cuda/bin/nvcc}
  [[ -x "$nvcc" ]] || die "nvcc not found at $nvcc (set CUDACXX)"
  local build=$ROOT/build/gpu-check
  local stage=$build/bundle/prism-gpu-check
  cmake -S "$ROOT" -B "$build/cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DPRISM_BACKEND_CUDA=ON -DPRISM_BACKEND_ROCM=OFF -DPRISM_BACKEND_OPENCL=OFF -DPRISM_CUDA_ARCHS=90-real \
    -DCMAKE_CUDA_COMPILER="$nvcc" -DPRISM_BUILD_TESTS=OFF -DPRISM_BUILD_BENCH=OFF -DPRISM_BUILD_EXAMPLES=ON
  cmake --build "$build/cmake" -j "$JOBS" --target prism prism-cpu prism-cuda prism_cli prism-conformance \
    example_cpp_train_fashion_mnist
  local nccl=0
  if cmake --build "$build/cmake" --target help | grep -q 'prism-comm-nccl'; then
    cmake --build "$build/cmake" -j "$JOBS" --target prism-comm-nccl
    nccl=1
  else
    printf 'gpu-check: the NCCL communicator plugin is not built (nccl.h not found): no NCCL stages\n'
  fi
  rm -rf "$build/bundle"
  mkdir -p "$stage/bin" "$stage/lib" "$stage/data"
  # bench_gpu: one nvcc unit linked against libprism, CUDA runtime static
  # shellcheck disable=SC2016  # $ORIGIN is for the linker
  "$nvcc" -O2 -std=c++17 -arch=sm_90 -cudart static -I"$ROOT/api" "$ROOT/bench/gpu/bench_gpu.cu" \
    -o "$stage/bin/bench_gpu" -L"$build/cmake/lib" -lprism -ldl -Xlinker -rpath -Xlinker '$ORIGIN/../lib'
  # bench_stream_overlap: plain C++ over prism.hpp (Note [Copy/compute overlap measurement])
  # shellcheck disable=SC2016  # $ORIGIN is for the linker
  c++ -O2 -std=c++17 -I"$ROOT/api" "$ROOT/bench/streams/stream_overlap.cpp" -o "$stage/bin/bench_stream_overlap" \
    -L"$build/cmake/lib" -lprism -Wl,-rpath,'$ORIGIN/../lib'
  cp -P "$build/cmake/lib"/libprism.so* "$build/cmake/lib"/libprism_conformance.so* "$stage/lib/"
  cp "$build/cmake/lib/libprism-cpu.so" "$build/cmake/lib/libprism-cuda.so" "$stage/lib/"
  cp "$build/cmake/bin/prism" "$build/cmake/bin/prism-conformance" "$stage/bin/"
  cp "$build/cmake/bin/examples/cpp/train_fashion_mnist" "$stage/bin/"
  if ((nccl)); then
    # prism-comm-check (tests/dist/comm_check.cpp): one C++ unit over libprism, built here as tests are off
    # shellcheck disable=SC2016  # $ORIGIN is for the linker
    "${CXX:-c++}" -O2 -std=c++17 -I"$ROOT/api" "$ROOT/tests/dist/comm_check.cpp" -o "$stage/bin/prism-comm-check" \
      -L"$build/cmake/lib" -lprism -Wl,-rpath,'$ORIGIN/../lib'
    cp "$build/cmake/lib/libprism-comm-nccl.so" "$stage/lib/"
  fi
  local f lib path
  for f in "$stage"/bin/* "$stage"/lib/libprism*.so; do
    while read -r lib path; do
      is_system_lib "$lib" && continue
      [[ -e "$stage/lib/$lib" ]] && continue
      [[ -f "$path" ]] || die "$f needs $lib, which ldd did not find"
      cp -L "$path" "$stage/lib/$lib"
    done < <(LD_LIBRARY_PATH="$stage/lib" ldd "$f" | awk '/=>/ { print $1, $3 }')
  done
  # Fashion-MNIST: the first 8192 training and 2000 test images (the --quick run uses 4096 and 2000)
  python3 - "$stage/data" <<'PY'
import gzip, struct, sys, os
src = "/usr/share/datasets/fashion-mnist"
for name, keep in [("train-images-idx3-ubyte", 8192), ("train-labels-idx1-ubyte", 8192),
                   ("t10k-images-idx3-ubyte", 2000), ("t10k-labels-idx1-ubyte", 2000)]:
    raw = gzip.open(os.path.join(src, name + ".gz")).read()
    ndim = raw[3]
    dims = list(struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim]))
    per = 1
    for d in dims[1:]:
        per *= d
    head = raw[:4] + struct.pack(">" + "I" * ndim, keep, *dims[1:])
    body = raw[4 + 4 * ndim: 4 + 4 * ndim + keep * per]
    with gzip.open(os.path.join(sys.argv[1], name + ".gz"), "wb") as f:
        f.write(head + body)
PY
  cp "$0" "$stage/gpu-check.sh"
  strip --strip-unneeded "$stage"/bin/* "$stage"/lib/*.so* 2>/dev/null || true
  mkdir -p "$(dirname "$out")"
  tar -C "$build/bundle" -czf "$out" prism-gpu-check
  local size
  size=$(stat -c %s "$out")
  printf 'gpu-check: bundle %s: %.1f MiB (%d files; limit %d MiB)\n' "$out" "$(echo "$size / 1048576" | bc -l)" \
    "$(tar -tzf "$out" | grep -vc '/$')" "$LIMIT_MIB"
  ((size <= LIMIT_MIB * 1048576)) || die "the bundle exceeds $LIMIT_MIB MiB"
}

# ---------------------------------------------------------------------------
# --run
# ---------------------------------------------------------------------------

# Note [NCCL stages]
# prism-comm-check over the NCCL plugin: N = 1 with every tensor on cuda:0
# (device-native collectives) and with host tensors (staged through the
# plugin's device scratch), then N = 2. NCCL refuses two ranks of one
# communicator on one GPU ("Duplicate GPU detected"), so on a one-GPU machine
# N = 2 is reported as skipped with NCCL's message; with two GPUs each rank
# takes its own (device = local rank).
find_nccl_dir() {
  local d
  d=$(ldconfig -p 2>/dev/null | awk '/libnccl\.so\.2 / { print $NF; exit }')
  if [[ -n "$d" ]]; then
    dirname "$d"
    return 0
  fi
  for d in ${NCCL_HOME:+"$NCCL_HOME/lib"} /usr/local/cuda*/lib64 /usr/local/cuda*/lib /usr/lib/x86_64-linux-gnu \
    /usr/local/lib/python3*/dist-packages/nvidia/nccl/lib /usr/local/lib/python3*/site-packages/nvidia/nccl/lib; do
    [[ -e "$d/libnccl.so.2" ]] && { printf '%s\n' "$d"; return 0; }
  done
  return 1
}

nccl_stages() {
  local dir=$1 ndir ngpu out
  if [[ ! -e "$dir/lib/libprism-comm-nccl.so" ]]; then
    printf '\n==== NCCL collectives ====\nskipped: the bundle has no NCCL plugin (nccl.h was not found at --build)\n' |
      tee -a "$summary"
    return 0
  fi
  if ! ndir=$(find_nccl_dir); then
    # shellcheck disable=SC2016  # $NCCL_HOME is named, not expanded
    printf '\n==== NCCL collectives ====\nskipped: libnccl.so.2 not found on this machine (ldconfig, /usr/local/cuda*, $NCCL_HOME/lib, pip nvidia-nccl); it is not bundled\n' |
      tee -a "$summary"
    return 0
  fi
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$ndir"
  FILTER='nccl|comm' stage "prism info (comm plugins)" 30 "$dir/bin/prism" info
  FILTER='rank 0 of|FAIL|error' stage "NCCL collectives, N = 1, tensors on cuda:0" 120 \
    "$dir/bin/prism" run -n 1 --master-port 29710 "$dir/bin/prism-comm-check" --backend nccl --on cuda:0
  FILTER='rank 0 of|FAIL|error' stage "NCCL collectives, N = 1, host tensors" 90 \
    "$dir/bin/prism" run -n 1 --master-port 29711 "$dir/bin/prism-comm-check" --backend nccl
  ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
  printf '\n==== NCCL collectives, N = 2, tensors on cuda (%s GPU(s)) ====\n' "${ngpu:-?}" | tee -a "$summary"
  local rc=0 t0=$SECONDS
  out=$(NCCL_DEBUG=WARN timeout --kill-after=10 150 "$dir/bin/prism" run -n 2 --master-port 29712 \
    "$dir/bin/prism-comm-check" --backend nccl --on cuda:local 2>&1) || rc=$?
  printf '%s\n' "$out" >>"$summary.log"
  if ((rc != 0 && ngpu < 2)) && grep -q 'Duplicate GPU' <<<"$out"; then
    printf 'skipped: NCCL refuses two ranks on one GPU: %s\n' "$(grep -m1 -o 'Duplicate GPU[^)]*' <<<"$out")" |
      tee -a "$summary"
  else
    grep -E 'rank 0 of|FAIL|error' <<<"$out" | tee -a "$summary" || true
    printf -- '-> NCCL N = 2: exit %d, %ds (limit 150s)\n' "$rc" $((SECONDS - t0)) | tee -a "$summary"
    ((rc == 0)) || failed=$((failed + 1))
  fi
}

run_bundle() {
  local bundle=$1 summary=${2:-$PWD/gpu-check-summary.txt} dir
  [[ -e "$bundle" ]] || die "no bundle at $bundle" 2
  # Fail fast: an NVIDIA driver and a GPU, before unpacking anything.
  if ! command -v nvidia-smi >/dev/null 2>&1 && ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; then
    die "no NVIDIA driver on this machine (neither nvidia-smi nor libcuda.so.1 found); run --run on a machine with an NVIDIA GPU" 3
  fi
  if command -v nvidia-smi >/dev/null 2>&1 && ! nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
    die "the NVIDIA driver reports no GPU (nvidia-smi -L: $(nvidia-smi -L 2>&1 | head -n 1))" 3
  fi
  if [[ -d "$bundle" ]]; then
    dir=$(cd "$bundle" && pwd)
  else
    local tmp
    tmp=$(mktemp -d)
    tar -C "$tmp" -xzf "$bundle"
    dir=$tmp/prism-gpu-check
  fi
  export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PRISM_FALLBACK=warn
  local info
  info=$("$dir/bin/prism" info 2>&1 || true)
  if ! grep -q '^cuda:0' <<<"$info"; then
    printf '%s\n' "$info" >&2
    die "the CUDA plugin found no device (its reason is in the load report above)" 3
  fi
  : >"$summary"
  {
    printf 'Prism GPU check, %s, host %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(hostname)"
    command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  } >>"$summary"
  local failed=0 t0 rc name limit
  # stage NAME LIMIT_S COMMAND...: runs one stage under `timeout`, appends its output and result.
  stage() {
    name=$1 limit=$2
    shift 2
    t0=$SECONDS
    rc=0
    printf '\n==== %s ====\n' "$name" | tee -a "$summary"
    timeout --kill-after=10 "$limit" "$@" >"$summary.out" 2>&1 || rc=$?
    cat "$summary.out" >>"$summary.log"
    grep -E "$FILTER" "$summary.out" | tee -a "$summary" || true
    printf -- '-> %s: exit %d, %ds (limit %ds)\n' "$name" "$rc" $((SECONDS - t0)) "$limit" | tee -a "$summary"
    ((rc == 0)) || failed=$((failed + 1))
  }
  printf '%s\n' "$info" >>"$summary"
  FILTER='^  mode|^ +[a-z]+ +[0-9]+|^result|FAIL' stage "conformance cuda:0" 150 \
    "$dir/bin/prism-conformance" --plugin "$dir/lib/libprism-cuda.so" --mode abi,ops,rng,support,grad,async \
    --report "$(dirname "$summary")/gpu-check-conformance.json"
  FILTER='.' stage "benchmarks (bench_gpu)" 90 "$dir/bin/bench_gpu" --reps 9
  FILTER='.' stage "stream overlap (cuda:0, target 70 % hidden)" 90 "$dir/bin/bench_stream_overlap" \
    --device cuda:0 --chunks 8 --chunk-mib 64 --passes 4 --reps 3 --min-hidden 0.7
  FILTER='epoch|accuracy|step|cuda|error' stage "training (MLP, cuda:0)" 60 \
    "$dir/bin/train_fashion_mnist" --device cuda:0 --model mlp --quick --data "$dir/data"
  nccl_stages "$dir"
  rm -f "$summary.out"
  printf '\ngpu-check: %d stage(s) failed; summary %s (full output %s.log)\n' "$failed" "$summary" "$summary" |
    tee -a "$summary"
  ((failed == 0))
}

case "${1:-}" in
  --build) build_bundle "${2:-}" ;;
  --run)
    [[ $# -ge 2 ]] || { usage >&2; exit 2; }
    run_bundle "$2" "${3:-}"
    ;;
  -h | --help) usage ;;
  *) usage >&2; exit 2 ;;
esac
