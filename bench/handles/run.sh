#!/usr/bin/env bash
# run.sh — bench/handles: what checked tensor handles cost (Note [Tensor handles]).
#
# Usage: bash bench/handles/run.sh [--build-dir DIR] [--rounds N]
#   --build-dir  a configured, built Prism build (default build/ci)
#   --rounds     interleaved processes per library (default 10)
#   --keep DIR   build the two libraries into DIR and keep them; a later run
#                with the same DIR reuses them (to repeat the timing alone)
# Builds libprism twice from the same tree, once as it is and once with
# raw-pointer handles (ptr-handles.patch: one heap allocation per handle,
# no checks), then runs bench_prism's small cases
# against the checked and the raw-pointer library in turn, one process at a
# time. Each process runs 8 repetitions of each case and keeps its fastest
# (a process's time is bimodal on some machines, decided at start-up); the
# report is the median of those per library and the ratio checked / ptr.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$root/build/ci
rounds=10
keep=
while [ $# -gt 0 ]; do
  case $1 in
    --build-dir) build=$(cd "$2" && pwd); shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -x "$build/bin/bench_prism" ] || { echo "run.sh: $build/bin/bench_prism not built" >&2; exit 2; }
if [ -n "$keep" ]; then
  mkdir -p "$keep"
  work=$(cd "$keep" && pwd)
  rm -f "$work/times.txt"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
# Both libraries are built here from one copy of the tree (HEAD plus the
# working tree's uncommitted core changes) with the same flags, the second
# with ptr-handles.patch applied, so they differ only in the handle table;
# the caller's build is used only for bench_prism and the CPU plugin.
if [ ! -e "$work/ptr/libprism.so" ]; then
git -C "$root" worktree add -q --detach "$work/src" HEAD
git -C "$root" diff HEAD -- core | git -C "$work/src" apply --allow-empty
for v in checked ptr; do
  [ $v = ptr ] && git -C "$work/src" apply "$root/bench/handles/ptr-handles.patch"
  cmake -S "$work/src" -B "$work/build-$v" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPRISM_BACKEND_CUDA=OFF \
    -DPRISM_BACKEND_ROCM=OFF -DPRISM_BACKEND_OPENCL=OFF >/dev/null
  cmake --build "$work/build-$v" --target prism >/dev/null
  mkdir -p "$work/$v"
  cp -a "$work/build-$v"/lib/libprism.so* "$work/$v/"
done
git -C "$root" worktree remove --force "$work/src"
fi
mkdir -p "$work/plugins"
ln -sf "$build/lib/libprism-cpu.so" "$work/plugins/"
out=$work/times.txt
for r in $(seq 1 "$rounds"); do
  for v in checked ptr; do
    PRISM_LOG=error PRISM_PLUGIN_PATH=$work/plugins LD_LIBRARY_PATH=$work/$v "$build/bin/bench_prism" \
      --benchmark_filter='small_(add_f32/4/prism$|add_f32/4/prism_inplace|empty)' \
      --benchmark_min_time=0.05 --benchmark_repetitions=8 --benchmark_format=csv 2>/dev/null |
      grep '^"small' | grep -v '_mean\|_median\|_stddev\|_cv' |
      awk -F, -v v=$v '{ if (!($1 in m) || $3 < m[$1]) m[$1] = $3 } END { for (k in m) print v, k, m[k] }' >>"$out"
  done
done
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
python3 - "$out" <<'PY'
import collections, statistics as st, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    v, name, t = line.split()
    d[(name.strip('"'), v)].append(float(t))
print("%-32s %10s %10s %14s" % ("case (ns per op)", "checked", "ptr", "checked / ptr"))
for name in sorted({k[0] for k in d}):
    c, p = st.median(d[(name, "checked")]), st.median(d[(name, "ptr")])
    print("%-32s %10.0f %10.0f %14.3f" % (name, c, p, c / p))
PY
