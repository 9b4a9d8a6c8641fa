#!/usr/bin/env bash
# run.sh — bench/contention: Prism's and PyTorch's MLP and CNN training steps beside 0, 2 and 4 busy processes, at 1 and 2 threads.
#
# Usage: bash bench/contention/run.sh [--build-dir DIR] [--seconds S] [--loads "0 2 4"] [--models "mlp cnn"] [--no-torch]
#   --build-dir  a configured Prism build (default build/release; configured and built here when missing)
#   --seconds    timed seconds per case after a warm-up (default 1.5)
#   --loads      numbers of busy background processes (default "0 2 4")
#   --models     which steps (default "mlp cnn")
#   --no-torch   Prism only
# Each busy process is a shell spinning for at most 10 minutes; the script
# stops them after each load level and on exit. A case that runs past 120 s
# (a collapsed step can take seconds) is stopped and reported as timed out. Every case runs in its own
# process; threads are set for that process only (OMP_NUM_THREADS for Prism's
# CPU plugin, torch.set_num_threads for PyTorch). Prism runs with its default
# policy and with PRISM_THREAD_POLICY=fixed (no load adaptation, the policy
# before), PyTorch with the default OpenMP wait policy and OMP_WAIT_POLICY=PASSIVE.
# Prints one line per case and the acceptance table (docs/benchmarks.md).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$root/build/release
seconds=1.5
loads="0 2 4"
models="mlp cnn"
torch=1
python=${PRISM_BENCH_PYTHON:-/usr/bin/python3}
while (($#)); do
  case "$1" in
    --build-dir) build=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --loads) loads=$2; shift ;;
    --models) models=$2; shift ;;
    --no-torch) torch=0 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

if ((torch)) && ! "$python" -c "import torch" 2>/dev/null; then
  echo "run.sh: $python cannot import torch (bash scripts/install-deps.sh installs libopenblas0 and python3-torch); running Prism only" >&2
  torch=0
fi
if [[ ! -x "$build/bin/contention_step" ]]; then
  [[ -f "$build/CMakeCache.txt" ]] || cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DPRISM_BACKEND_CUDA=OFF -DPRISM_BACKEND_ROCM=OFF
  cmake --build "$build" --target contention_step prism-cpu
fi

busy_pids=()
start_busy() {
  local i
  for ((i = 0; i < $1; ++i)); do
    timeout 600 bash -c 'while :; do :; done' &
    busy_pids+=($!)
  done
}
stop_busy() {
  local p
  for p in "${busy_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${busy_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  busy_pids=()
}
trap stop_busy EXIT

results=$(mktemp)
trap 'stop_busy; rm -f "$results"' EXIT

# run_case LOAD LABEL THREADS ENV... -- COMMAND...: one timed case, one result line.
run_case() {
  local load=$1 label=$2 threads=$3 envs=() out
  shift 3
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  out=$(timeout 120 env "${envs[@]}" "$@" 2>&1 | tail -n 1) || true
  [[ -n "$out" ]] || out='{"timed_out": true}'
  printf '%s\t%s\t%s\t%s\n' "$load" "$label" "$threads" "$out" | tee -a "$results"
}

echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cpus; $(date -u +%FT%TZ)"
for load in $loads; do
  start_busy "$load"
  sleep 1
  echo "== $load busy processes; load average $(cut -d' ' -f1-4 /proc/loadavg)"
  for model in $models; do
    for threads in 1 2; do
      run_case "$load" "prism" "$threads" OMP_NUM_THREADS="$threads" -- \
        "$build/bin/contention_step" --model "$model" --seconds "$seconds" --warmup 3
      run_case "$load" "prism-fixed" "$threads" OMP_NUM_THREADS="$threads" PRISM_THREAD_POLICY=fixed -- \
        "$build/bin/contention_step" --model "$model" --seconds "$seconds" --warmup 3
      if ((torch)); then
        run_case "$load" "pytorch" "$threads" OMP_NUM_THREADS="$threads" -- \
          "$python" "$root/bench/contention/contention_torch.py" --model "$model" --threads "$threads" --seconds "$seconds" --warmup 3
        run_case "$load" "pytorch-passive" "$threads" OMP_NUM_THREADS="$threads" OMP_WAIT_POLICY=PASSIVE -- \
          "$python" "$root/bench/contention/contention_torch.py" --model "$model" --threads "$threads" --seconds "$seconds" --warmup 3
      fi
    done
  done
  stop_busy
done

"$python" - "$results" <<'EOF'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    load, label, threads, js = line.rstrip("\n").split("\t", 3)
    try:
        r = json.loads(js)
    except ValueError:
        print("failed:", line.strip()); continue
    if "median_ms" not in r:
        continue  # timed out: shown as "-"
    rows[(int(load), r["model"], label, int(threads))] = r["median_ms"]
print("\nmedian ms per step (load = busy processes)")
print("load model  prism1  prism2  fixed1  fixed2  torch1  torch2  tpass1  tpass2 | p2/p1  p2/torch_best  p2/fixed2")
for (load, model) in sorted({(k[0], k[1]) for k in rows}):
    g = lambda lab, t: rows.get((load, model, lab, t))
    cells = [g("prism", 1), g("prism", 2), g("prism-fixed", 1), g("prism-fixed", 2),
             g("pytorch", 1), g("pytorch", 2), g("pytorch-passive", 1), g("pytorch-passive", 2)]
    fmt = lambda v: f"{v:7.3f}" if v is not None else "      -"
    torch_best = min([v for v in cells[4:] if v is not None], default=None)
    p1, p2, f2 = cells[0], cells[1], cells[3]
    r1 = f"{p2 / p1:5.2f}" if p1 and p2 else "    -"
    rt = f"{p2 / torch_best:13.2f}" if p2 and torch_best else "            -"
    rf = f"{p2 / f2:9.2f}" if p2 and f2 else "        -"
    print(f"{load:4d} {model:5s} " + " ".join(fmt(v) for v in cells) + f" | {r1}  {rt}  {rf}")
EOF
