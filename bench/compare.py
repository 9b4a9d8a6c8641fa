#!/usr/bin/env python3
"""compare.py — reads the JSON of bench_prism, bench_libtorch and bench_pytorch.py and prints the side-by-side table.

Usage: python3 bench/compare.py --prism P.json [--libtorch L.json] [--pytorch Y.json] [--markdown] [--strict]

Ratio = Prism's speed / the peer's speed (GFLOP/s or GB/s ratio; for the
small op, peer ns / Prism ns), so > 1 means Prism is faster. A row with a
target says whether it is met; rows without one are for information.
Each figure is the median over repetitions when the JSON has aggregates,
else the single run. --strict exits 1 when any target is missed.
Standard library only.
"""
import argparse
import json
import statistics
import sys

# Throughput cases: (case, prism run, peer label, peer run, counter, target ratio or None).
# Note [Add variant targets]: the broadcast and transposed adds are held to
# half the CONTIGUOUS plain loop's bandwidth (the brief's "0.5 x the plain
# loop"); the same-variant plain loop is shown beside it for information.
THROUGHPUT = []
for n in (1024, 2048):
    case = f"matmul f32 {n}x{n}"
    run = f"matmul_f32/{n}"
    THROUGHPUT += [
        (case, f"{run}/prism", "dnnl_sgemm (same process)", f"{run}/dnnl_sgemm", "GFLOP/s", 0.90),
        (case, f"{run}/prism", "libtorch at::mm", f"{run}/libtorch", "GFLOP/s", None),
        (case, f"{run}/prism", "torch.mm (python)", f"{run}/pytorch", "GFLOP/s", None),
    ]
THROUGHPUT += [
    ("add f32 16M, new output", "add_f32/16M/prism", "omp loop, prealloc out", "add_f32/16M/loop", "GB/s", 0.85),
    ("add f32 16M, new output", "add_f32/16M/prism", "libtorch at::add", "add_f32/16M/libtorch", "GB/s", None),
    ("add f32 16M, new output", "add_f32/16M/prism", "libtorch at::add_out", "add_f32/16M/libtorch_out", "GB/s", None),
    ("add f32 16M, new output", "add_f32/16M/prism", "torch.add (python)", "add_f32/16M/pytorch", "GB/s", None),
    ("add f32 16M, new output", "add_f32/16M/prism", "torch.add out= (python)", "add_f32/16M/pytorch_out", "GB/s", None),
]
for variant, label in (("row", "4096^2 + [4096] row bcast"), ("col", "4096^2 + [4096,1] col bcast"),
                       ("t", "4096^2 + b.t() transposed")):
    run = f"add_f32/4096x4096+{variant}"
    THROUGHPUT += [
        (label, f"{run}/prism", "contiguous omp loop", "add_f32/16M/loop", "GB/s", 0.50),
        (label, f"{run}/prism", "same-variant omp loop" + (" (tiled)" if variant == "t" else ""), f"{run}/loop", "GB/s", None),
        (label, f"{run}/prism", "libtorch at::add", f"{run}/libtorch", "GB/s", None),
        (label, f"{run}/prism", "torch.add (python)", f"{run}/pytorch", "GB/s", None),
    ]

# Latency cases: (case, prism run, peer label, peer run or None, absolute target in ns or None).
LATENCY = [
    ("small add 4 f32, new output", "small_add_f32/4/prism", "(absolute)", None, 500.0),
    ("small add 4 f32, new output", "small_add_f32/4/prism", "libtorch at::add", "small_add_f32/4/libtorch", None),
    ("small add 4 f32, new output", "small_add_f32/4/prism", "torch.add (python)", "small_add_f32/4/pytorch", None),
    ("small add_ 4 f32, in place", "small_add_f32/4/prism_inplace", "libtorch add_", "small_add_f32/4/libtorch_inplace", None),
    ("small add_ 4 f32, in place", "small_add_f32/4/prism_inplace", "tensor.add_ (python)", "small_add_f32/4/pytorch_inplace", None),
    ("prism_empty+release 4 f32", "small_empty_f32/4/prism", "(breakdown)", None, None),
    ("C ABI query (numel)", "small_query/prism", "(breakdown)", None, None),
    ("tiny graph 4 f32: mul, relu, add, sum, backward", "tiny_graph_f32/4/prism", "(absolute)", None, 10000.0),
    ("tiny graph 4 f32: mul, relu, add, sum, backward", "tiny_graph_f32/4/prism", "libtorch autograd",
     "tiny_graph_f32/4/libtorch", None),
    ("tiny graph 4 f32: mul, relu, add, sum, backward", "tiny_graph_f32/4/prism", "torch (python)",
     "tiny_graph_f32/4/pytorch", None),
]

# Training steps, forward + backward (Note [nn benchmark cases] in bench_prism.cpp):
# (case, prism run, peer label, peer run, target). Ratio = peer time / Prism time;
# the target "Prism's time <= 1.2x PyTorch's" is a ratio >= 1 / 1.2.
TRAIN = [
    ("conv2d train step 64x1x28x28 -> 32, 3x3 pad 1", "conv2d_train_f32/64x1x28x28-32x3x3/prism",
     "libtorch autograd", "conv2d_train_f32/64x1x28x28-32x3x3/libtorch", 1 / 1.2),
    ("matmul train step 512x512 f32", "matmul_train_f32/512/prism", "libtorch autograd",
     "matmul_train_f32/512/libtorch", 1 / 1.2),
]

TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
CV = {}  # run name -> coefficient of variation of real time over repetitions
NOISY_CV = 0.10


def load(path):
    """{run name: row} from a Google Benchmark (or bench_pytorch.py) JSON file; medians win."""
    if not path:
        return {}, {}
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print(f"compare: cannot read {path}: {e}", file=sys.stderr)
        return {}, {}
    rows = {}
    for b in doc.get("benchmarks", []):
        name = b.get("run_name", b["name"]).replace("/real_time", "")
        agg = b.get("aggregate_name")
        if agg == "cv":
            CV[name] = b.get("real_time")
        if b.get("runs") and len(b["runs"]) > 1:  # bench_pytorch.py keeps its repetitions
            CV[name] = statistics.pstdev(b["runs"]) / statistics.mean(b["runs"])
        if b.get("run_type") == "aggregate" and agg != "median":
            continue
        if name in rows and rows[name].get("aggregate_name") == "median" and agg != "median":
            continue
        if b.get("error_occurred"):
            continue
        rows[name] = b
    return rows, doc.get("context", {})


def fmt(value, unit):
    if value is None:
        return "-"
    if unit == "ns":
        return f"{value:,.0f} ns"
    return f"{value:.2f} {unit}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prism", required=True)
    parser.add_argument("--libtorch")
    parser.add_argument("--pytorch")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    runs = {}
    contexts = {}
    for label, path in (("prism", args.prism), ("libtorch", args.libtorch), ("pytorch", args.pytorch)):
        rows, ctx = load(path)
        runs.update(rows)
        contexts[label] = ctx
    if not any(k.endswith("/prism") or "/prism_" in k for k in runs):
        print(f"compare: no Prism results in {args.prism}", file=sys.stderr)
        return 2

    table = []  # (case, prism, peer label, peer, ratio, target, met)
    missed = 0
    for case, prun, plabel, peer_run, counter, target in THROUGHPUT:
        p, q = runs.get(prun), runs.get(peer_run)
        if p is None or q is None:
            continue
        pv, qv = p.get(counter), q.get(counter)
        if pv is None or qv is None:
            continue
        ratio = pv / qv
        met = None if target is None else ratio >= target
        missed += met is False
        table.append((case, fmt(pv, counter), f"{plabel}: {fmt(qv, counter)}", f"{ratio:.2f}",
                      "-" if target is None else f">= {target:.2f}", {None: "", True: "yes", False: "NO"}[met]))
    for case, prun, plabel, peer_run, target_ns in LATENCY:
        p = runs.get(prun)
        if p is None:
            continue
        pns = p["real_time"] * TO_NS[p.get("time_unit", "ns")]
        if peer_run is None:
            # The small op runs on the calling thread, so its CPU time is the
            # figure least disturbed by other load; shown beside the wall time.
            cpu = p.get("cpu_time")
            note = plabel if cpu is None else f"{plabel}; cpu time {fmt(cpu * TO_NS[p.get('time_unit', 'ns')], 'ns')}"
            met = None if target_ns is None else pns <= target_ns
            missed += met is False
            table.append((case, fmt(pns, "ns"), note, "-", "-" if target_ns is None else f"<= {target_ns:.0f} ns",
                          {None: "", True: "yes", False: "NO"}[met]))
            continue
        q = runs.get(peer_run)
        if q is None:
            continue
        qns = q["real_time"] * TO_NS[q.get("time_unit", "ns")]
        table.append((case, fmt(pns, "ns"), f"{plabel}: {fmt(qns, 'ns')}", f"{qns / pns:.2f}", "-", ""))

    for case, prun, plabel, peer_run, target in TRAIN:
        p, q = runs.get(prun), runs.get(peer_run)
        if p is None or q is None:
            continue
        pns = p["real_time"] * TO_NS[p.get("time_unit", "ns")]
        qns = q["real_time"] * TO_NS[q.get("time_unit", "ns")]
        ratio = qns / pns
        met = ratio >= target
        missed += met is False
        table.append((case, fmt(pns / 1e6, "ms"), f"{plabel}: {fmt(qns / 1e6, 'ms')}", f"{ratio:.2f}",
                      f">= {target:.2f}", "yes" if met else "NO"))

    header = ("case", "prism", "peer", "ratio", "target", "met?")
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for row in table:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(str(r[i])) for r in [header] + table) for i in range(len(header))]
        line = "  ".join("-" * w for w in widths)
        print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        print(line)
        last_case = None
        for row in table:
            if last_case is not None and row[0] != last_case:
                print()
            cells = list(row)
            if row[0] == last_case:
                cells[0] = ""
            last_case = row[0]
            print("  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip())
    print()
    ctx = contexts.get("prism", {})
    load_avg = ctx.get("load_avg")
    if isinstance(load_avg, list):
        load_avg = " ".join(f"{x:.2f}" for x in load_avg)
    threads = ctx.get("omp_threads", "?")
    print(f"threads: prism/omp loops/dnnl {threads}, libtorch {contexts.get('libtorch', {}).get('torch_threads', '-')}, "
          f"pytorch {contexts.get('pytorch', {}).get('torch_threads', '-')}; "
          f"host {ctx.get('host_name', '?')}, {ctx.get('num_cpus', '?')} cpus, load {load_avg or '?'}, "
          f"{ctx.get('date', '')}")
    used = sorted({r for row in THROUGHPUT for r in (row[1], row[3])} | {r for row in LATENCY for r in (row[1], row[3]) if r}
                  | {r for row in TRAIN for r in (row[1], row[3])})
    noisy = [f"{r} ({CV[r]:.0%})" for r in used if r in runs and CV.get(r) is not None and CV[r] > NOISY_CV]
    if noisy:
        print(f"noisy (repetitions vary by more than {NOISY_CV:.0%}): " + ", ".join(noisy))
    targets = sum(1 for r in table if r[5])
    print(f"targets met: {targets - missed}/{targets}")
    return 1 if (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
