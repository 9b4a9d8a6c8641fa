#!/usr/bin/env python3
"""bench_pytorch.py — the bench_prism cases through PyTorch's Python API (Debian python3-torch); prints JSON.

Usage: python3 bench/bench_pytorch.py [--min-time SECONDS] [--repetitions N] [--filter REGEX]

Each case runs a warm-up, then repeats timed batches of a perf_counter loop
until --min-time has passed; a repetition's time is the mean per call of its
batches, and the JSON carries the median of the repetitions. Threads:
torch.set_num_threads(T), T = OMP_NUM_THREADS (2 when unset), the same count
as every bench_prism peer. Everything runs under torch.inference_mode().

The JSON has the shape of Google Benchmark's (`context`, `benchmarks` with
`name`, `run_name`, `aggregate_name`, `real_time`, `time_unit` and counters),
so bench/compare.py reads it like the C++ suites' output.
"""
import argparse
import json
import os
import platform
import re
import statistics
import sys
import time

import torch

SIDE = 4096
ADD_N = SIDE * SIDE


def rand_f32(*sizes):
    return torch.rand(*sizes, dtype=torch.float32) * 2 - 1


def measure(fn, min_time, repetitions):
    """Median seconds per call of `fn` over `repetitions` timed runs."""
    for _ in range(3):  # warm-up: first-call dispatch, page faults, thread pool start
        fn()
    # Pick a batch size so one batch takes about 10 ms (perf_counter overhead stays < 0.1%).
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    batch = max(1, int(0.01 / one))
    results = []
    for _ in range(repetitions):
        calls = 0
        elapsed = 0.0
        while elapsed < min_time:
            t0 = time.perf_counter()
            for _ in range(batch):
                fn()
            elapsed += time.perf_counter() - t0
            calls += batch
        results.append(elapsed / calls)
    return statistics.median(results), results


def cases():
    """(name, fn, counter name, units of work per call, unit) for every case."""
    out = []
    for n in (1024, 2048):
        a, b = rand_f32(n, n), rand_f32(n, n)
        out.append((f"matmul_f32/{n}/pytorch", (lambda a=a, b=b: torch.mm(a, b)), "GFLOP/s", 2.0 * n ** 3 * 1e-9, "ms"))

    a = rand_f32(ADD_N)
    b = rand_f32(ADD_N)
    vec = rand_f32(SIDE)
    a2 = a.view(SIDE, SIDE)
    bt = b.view(SIDE, SIDE).t()
    col = vec.view(SIDE, 1)
    out_buf = torch.empty(ADD_N, dtype=torch.float32)
    out2 = out_buf.view(SIDE, SIDE)
    big = ADD_N * 4
    small_bytes = 2 * big + SIDE * 4
    for name, x, y, o, nbytes in (
        ("add_f32/16M", a, b, out_buf, 3 * big),
        ("add_f32/4096x4096+row", a2, vec, out2, small_bytes),
        ("add_f32/4096x4096+col", a2, col, out2, small_bytes),
        ("add_f32/4096x4096+t", a2, bt, out2, 3 * big),
    ):
        out.append((f"{name}/pytorch", (lambda x=x, y=y: torch.add(x, y)), "GB/s", nbytes * 1e-9, "ms"))
        out.append((f"{name}/pytorch_out", (lambda x=x, y=y, o=o: torch.add(x, y, out=o)), "GB/s", nbytes * 1e-9, "ms"))

    sa, sb = rand_f32(4), rand_f32(4)
    out.append(("small_add_f32/4/pytorch", (lambda: torch.add(sa, sb)), None, 0, "ns"))
    out.append(("small_add_f32/4/pytorch_inplace", (lambda: sa.add_(sb)), None, 0, "ns"))

    # Tiny autograd graph (Note [tiny graph] in bench_prism.cpp).
    # Autograd is on for this case (the rest run under inference_mode).
    with torch.inference_mode(False):
        ta = torch.tensor([1.0, -2.0, 3.0, -4.0], requires_grad=True)
        tb = torch.tensor([0.5, 0.25, -0.125, 1.0], requires_grad=True)

    def tiny_graph():
        with torch.inference_mode(False), torch.enable_grad():
            (torch.relu(ta * tb) + ta).sum().backward()
        ta.grad = None
        tb.grad = None

    out.append(("tiny_graph_f32/4/pytorch", tiny_graph, None, 0, "ns"))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds per repetition (default 0.5)")
    parser.add_argument("--repetitions", type=int, default=3, help="timed runs per case; the median is kept (default 3)")
    parser.add_argument("--filter", default="", help="run only cases whose name matches this regex")
    args = parser.parse_args()

    env = os.environ.get("OMP_NUM_THREADS", "")
    threads = int(env) if env.isdigit() and int(env) > 0 else 2
    torch.set_num_threads(threads)
    scale = {"ms": 1e3, "ns": 1e9}
    benchmarks = []
    with torch.inference_mode():
        for name, fn, counter, work, unit in cases():
            if args.filter and not re.search(args.filter, name):
                continue
            median, runs = measure(fn, args.min_time, args.repetitions)
            row = {
                "name": name + "_median",
                "run_name": name,
                "run_type": "aggregate",
                "aggregate_name": "median",
                "repetitions": args.repetitions,
                "real_time": median * scale[unit],
                "time_unit": unit,
                "runs": [r * scale[unit] for r in runs],
            }
            if counter:
                row[counter] = work / median
            benchmarks.append(row)
            print(f"{name:45s} {row['real_time']:12.3f} {unit}", file=sys.stderr)
    context = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host_name": platform.node(),
        "executable": "bench_pytorch.py",
        "python": platform.python_version(),
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": env or "(unset)",
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(detected)"),
        "torch_parallel_info": torch.__config__.parallel_info(),
    }
    json.dump({"context": context, "benchmarks": benchmarks}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
