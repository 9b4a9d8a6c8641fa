"""NumPy and DLPack exchange cost vs size: t.numpy(), prism.from_numpy, DLPack to and from PyTorch must be O(1).

Usage: .venv/bin/python bench/python/bench_interop.py [--number 2000]
Prints the median time per exchange for 1e2 .. 1e7 elements and the largest/smallest ratio per exchange
(a zero-copy exchange stays near 1; a copy would grow ~1e5x over this range). Exits 1 when a ratio exceeds 10.
"""

from __future__ import annotations

import argparse
import statistics
import timeit


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--number", type=int, default=2000)
    args = ap.parse_args()
    import numpy as np
    import torch

    import prism

    sizes = [10**k for k in range(2, 8)]
    rows = {}
    for n in sizes:
        t = prism.ones(n)
        a = np.ones(n, dtype=np.float32)
        tt = torch.ones(n)
        cases = {
            "t.numpy()": lambda: t.numpy(),
            "from_numpy(a)": lambda: prism.from_numpy(a),
            "from_dlpack(torch)": lambda: prism.from_dlpack(tt),
            "torch.from_dlpack(t)": lambda: torch.from_dlpack(t),
            "np.from_dlpack(t)": lambda: np.from_dlpack(t),
        }
        for name, f in cases.items():
            f()
            reps = [timeit.timeit(f, number=args.number) / args.number for _ in range(5)]
            rows.setdefault(name, []).append(statistics.median(reps) * 1e6)
    print(f"{'exchange':<22}" + "".join(f"{n:>10.0e}" for n in sizes) + "   max/min")
    worst = 0.0
    for name, ts in rows.items():
        ratio = max(ts) / min(ts)
        worst = max(worst, ratio)
        print(f"{name:<22}" + "".join(f"{x:9.2f}u" for x in ts) + f"   {ratio:6.2f}")
    print(f"largest max/min ratio: {worst:.2f} (O(1): no copy)")
    return 0 if worst < 10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
