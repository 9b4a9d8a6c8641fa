#!/usr/bin/env bash
# run.sh — distributed benchmarks side by side: all-reduce bus bandwidth, Prism (Gloo plugin) vs torch.distributed (gloo), 2 local ranks.
#
# Usage: bash bench/dist/run.sh [--build-dir DIR] [--max-bytes N] [--min-seconds S] [--rounds R]
#   --build-dir   a built tree with bin/prism, bin/bench_dist_allreduce and lib/ (default <repo>/build/dev)
#   --max-bytes   largest message (default 268435456 = 256 MiB)
#   --rounds      A/B rounds (default 2): Prism then torch, repeated; each size keeps its best round
# Prints one row per size with both bus bandwidths and the ratio, the CPU model and the load average
# before and after (the machine may be shared: read ratios, not absolute figures).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build="$root/build/dev"
max_bytes=$((256 << 20))
min_s=0.3
rounds=2
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
trap 'rm -rf "$out"' EXIT
export PRISM_PLUGIN_PATH="$build/lib"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
port=29710
for ((r = 1; r <= rounds; r++)); do
  port=$((port + 1))
  "$build/bin/prism" run -n 2 --master-port $port "$build/bin/bench_dist_allreduce" --max-bytes "$max_bytes" \
    --min-seconds "$min_s" | sed -n 's/^\[0\] //p' >>"$out/prism.jsonl"
  port=$((port + 1))
  "$build/bin/prism" run -n 2 --master-port $port "$python" "$root/bench/dist/allreduce_torch.py" \
    --max-bytes "$max_bytes" --min-seconds "$min_s" 2>/dev/null | sed -n 's/^\[0\] //p' >>"$out/torch.jsonl"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$python" - "$out/prism.jsonl" "$out/torch.jsonl" <<'PY'
import json, sys
def best(path):
    b = {}
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        b[r["bytes"]] = max(b.get(r["bytes"], 0), r["busbw_GBps"])
    return b
p, t = best(sys.argv[1]), best(sys.argv[2])
print(f"{'size':>10} {'prism GB/s':>11} {'torch GB/s':>11} {'ratio':>7}")
ratios = []
for n in sorted(p):
    if n not in t:
        continue
    ratio = p[n] / t[n] if t[n] > 0 else float("nan")
    ratios.append(ratio)
    size = f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"
    print(f"{size:>10} {p[n]:11.3f} {t[n]:11.3f} {ratio:7.2f}")
if ratios:
    print(f"min ratio {min(ratios):.2f}, sizes >= 0.9x: {sum(r >= 0.9 for r in ratios)}/{len(ratios)}")
PY
