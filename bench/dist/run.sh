#!/usr/bin/env bash
# run.sh — distributed benchmarks side by side: all-reduce bus bandwidth, Prism (Gloo plugin) vs torch.distributed (gloo), 2 local ranks.
#
# Usage: bash bench/dist/run.sh [--build-dir DIR] [--max-bytes N] [--min-seconds S] [--rounds R]
#   --build-dir   a built tree with bin/prism, bin/bench_dist_allreduce and lib/ (default <repo>/build/dev)
#   --max-bytes   largest message (default 268435456 = 256 MiB)
#   --min-seconds least time of one block of repetitions (default 0.1)
#   --rounds      blocks per size and side (default 5)
# Both programs run at once and take turns block by block (Note [Interleaved blocks] in
# allreduce_prism.cpp): for each size, Prism and torch blocks alternate R times. Prints one row per size
# with the bus bandwidth of each side's median over all its repetitions, their ratio (prism / torch; >= 1:
# Prism is faster), the range of the per-round ratios, the ratio of the 90th percentiles (the tail) and the
# repetition counts (a block stops after --min-seconds, so fewer repetitions mean slower ones), the CPU
# model and the load average before and after (the machine may be shared: read ratios, not absolute
# figures).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build="$root/build/dev"
max_bytes=$((256 << 20))
min_s=0.1
rounds=5
while (($#)); do
  case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --max-bytes) max_bytes=$2; shift 2 ;;
    --min-seconds) min_s=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
python=${PRISM_BENCH_PYTHON:-/usr/bin/python3}
out=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$out"
}
trap cleanup EXIT
export PRISM_PLUGIN_PATH="$build/lib"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
mkfifo "$out"/{prism,torch}.turn.{0,1}
exec 3<>"$out/prism.turn.0"  # held open: no rank ever sees end-of-file
printf x >&3                 # Prism's block comes first
common=(--max-bytes "$max_bytes" --min-seconds "$min_s" --rounds "$rounds")
"$build/bin/prism" run -n 2 --master-port 29711 "$build/bin/bench_dist_allreduce" "${common[@]}" \
  --turn-in "$out/prism.turn" --turn-out "$out/torch.turn" >"$out/prism.log" 2>&1 &
pids+=($!)
"$build/bin/prism" run -n 2 --master-port 29712 "$python" "$root/bench/dist/allreduce_torch.py" "${common[@]}" \
  --turn-in "$out/torch.turn" --turn-out "$out/prism.turn" >"$out/torch.log" 2>&1 &
pids+=($!)
# When one side fails the other would wait for its turn forever: stop both.
for _ in 1 2; do
  status=0
  wait -n || status=$?
  if ((status != 0)); then
    echo "run.sh: a benchmark failed (exit $status):" >&2
    tail -n 20 "$out/prism.log" "$out/torch.log" >&2
    exit 1
  fi
done
pids=()
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
sed -n 's/^\[0\] //p' "$out/prism.log" >"$out/prism.jsonl"
sed -n 's/^\[0\] //p' "$out/torch.log" >"$out/torch.jsonl"
"$python" - "$out/prism.jsonl" "$out/torch.jsonl" <<'PY'
import json, statistics, sys
def load(path):
    d = {}
    for line in open(path):
        if line.strip().startswith("{"):
            r = json.loads(line)
            d.setdefault(r["bytes"], {})[r["round"]] = r["times"]
    return d
p, t = load(sys.argv[1]), load(sys.argv[2])
busbw = lambda n, s: n * 2.0 * (2 - 1) / 2 / s / 1e9  # 2 ranks
print(f"{'size':>10} {'prism GB/s':>11} {'torch GB/s':>11} {'ratio':>7} {'per-round ratios':>18} {'p90 ratio':>9} {'reps p/t':>9}")
ratios = []
def p90(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(0.9 * len(xs)))]
for n in sorted(p):
    if n not in t:
        continue
    pall = [x for ts in p[n].values() for x in ts]
    tall = [x for ts in t[n].values() for x in ts]
    pm, tm = statistics.median(pall), statistics.median(tall)
    rr = sorted(statistics.median(t[n][r]) / statistics.median(p[n][r]) for r in p[n] if r in t[n])
    ratio = tm / pm
    ratios.append(ratio)
    size = f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"
    reps = f"{len(pall)}/{len(tall)}"
    print(f"{size:>10} {busbw(n, pm):11.3f} {busbw(n, tm):11.3f} {ratio:7.2f} {rr[0]:8.2f} .. {rr[-1]:5.2f} "
          f"{p90(tall) / p90(pall):9.2f} {reps:>9}")
if ratios:
    print(f"min ratio {min(ratios):.2f}, sizes >= 0.9x: {sum(r >= 0.9 for r in ratios)}/{len(ratios)}")
PY
