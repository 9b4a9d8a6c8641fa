"""Per-op overhead from Python: a 4-element `a + b` in Prism vs PyTorch, same thread count, interleaved repetitions.

Usage: .venv/bin/python bench/python/bench_overhead.py [--reps 15] [--number 20000]
Prints the median time per op of each and the ratio prism / torch (target <= 0.8), with the CPU name.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import timeit


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--number", type=int, default=20000)
    args = ap.parse_args()

    import torch

    import prism

    torch.set_num_threads(1)
    pa, pb = prism.tensor([1.0, 2.0, 3.0, 4.0]), prism.tensor([5.0, 6.0, 7.0, 8.0])
    ta, tb = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([5.0, 6.0, 7.0, 8.0])
    assert (pa + pb).tolist() == (ta + tb).tolist()
    cases = {
        "a + b": (lambda: pa + pb, lambda: ta + tb),
        "a * 2.0": (lambda: pa * 2.0, lambda: ta * 2.0),
        "a.sum()": (lambda: pa.sum(), lambda: ta.sum()),
        "a[1]": (lambda: pa[1], lambda: ta[1]),
    }
    print(f"CPU: {cpu_name()}; torch {torch.__version__} ({torch.get_num_threads()} thread), prism {prism.__version__}")
    print(f"{'op':<10} {'prism us':>9} {'torch us':>9} {'ratio':>6}")
    for name, (fp, ft) in cases.items():
        for f in (fp, ft):  # warm-up
            timeit.timeit(f, number=1000)
        tp, tt = [], []
        for _ in range(args.reps):  # interleaved repetitions
            tp.append(timeit.timeit(fp, number=args.number) / args.number)
            tt.append(timeit.timeit(ft, number=args.number) / args.number)
        mp, mt = statistics.median(tp) * 1e6, statistics.median(tt) * 1e6
        print(f"{name:<10} {mp:9.3f} {mt:9.3f} {mp / mt:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
