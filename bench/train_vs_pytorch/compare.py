#!/usr/bin/env python3
"""compare.py — prints bench/train_vs_pytorch's side-by-side table from DIR/prism.json and DIR/pytorch.json.

Checks (exit 1 when one fails): every loss of both runs is finite (a NaN or
Inf anywhere fails: max() would silently skip NaN); at least 20 losses were
recorded and the first 20 agree within 1e-4 relative (same initial weights,
data order and hyper-parameters); both test accuracies are finite, at least
ACCURACY_FLOOR and within 0.02 of each other; and Prism's mean time per epoch
is at most 1.0 x PyTorch's (reported; --no-time-check to only report).
"""
import json
import math
import os
import sys

ACCURACY_FLOOR = 0.80  # one epoch of this MLP reaches about 0.85 on Fashion-MNIST


def main():
    d = sys.argv[1]
    check_time = "--no-time-check" not in sys.argv
    with open(os.path.join(d, "prism.json")) as f:
        p = json.load(f)
    with open(os.path.join(d, "pytorch.json")) as f:
        t = json.load(f)
    problems = []
    for name, run in (("Prism", p), ("PyTorch", t)):
        bad = [i for i, v in enumerate(run["losses"]) if not math.isfinite(v)]
        if bad:
            problems.append(f"{name}: loss {bad[0]} is {run['losses'][bad[0]]} ({len(bad)} non-finite losses)")
        acc = run.get("accuracy", float("nan"))
        if not (math.isfinite(acc) and acc >= ACCURACY_FLOOR):
            problems.append(f"{name}: test accuracy {acc} below the floor {ACCURACY_FLOOR}")
    n = min(20, len(p["losses"]), len(t["losses"]))
    if n < 20:
        problems.append(f"only {n} losses recorded (need 20)")
    diffs = [abs(a - b) / max(abs(b), 1e-12) for a, b in zip(p["losses"][:n], t["losses"][:n])]
    # NaN compares false both ways: any NaN difference makes `worst` NaN, which fails below
    worst = float("nan") if any(math.isnan(x) for x in diffs) or not diffs else max(diffs)
    if abs(p.get("accuracy", 0) - t.get("accuracy", 1)) > 0.02:
        problems.append(f"test accuracies differ by more than 0.02 ({p.get('accuracy')} vs {t.get('accuracy')})")
    pe = sum(p["epoch_seconds"]) / len(p["epoch_seconds"])
    te = sum(t["epoch_seconds"]) / len(t["epoch_seconds"])
    print(f"MLP 784-256-10, batch 64, SGD lr 0.05 momentum 0.9, {len(p['epoch_seconds'])} epoch(s), "
          f"{t['threads']} thread(s), torch {t['torch']}, Prism device {p['device']}")
    print(f"{'':24}{'Prism':>12}{'PyTorch':>12}")
    for e, (a, b) in enumerate(zip(p["epoch_seconds"], t["epoch_seconds"])):
        print(f"{'epoch %d seconds' % (e + 1):24}{a:12.2f}{b:12.2f}")
    print(f"{'mean s/epoch':24}{pe:12.2f}{te:12.2f}   ratio Prism/PyTorch {pe / te:.2f} (target <= 1.00)")
    print(f"{'ms per step':24}{1e3 * pe / (len(p['losses']) / len(p['epoch_seconds'])):12.3f}"
          f"{1e3 * te / (len(t['losses']) / len(t['epoch_seconds'])):12.3f}")
    print(f"{'test accuracy':24}{p['accuracy']:12.4f}{t['accuracy']:12.4f}")
    print(f"first {n} losses: worst relative difference {worst:.2e} (target <= 1e-4)")
    for msg in problems:
        print("check failed:", msg)
    ok = not problems and worst <= 1e-4 and (not check_time or pe <= te)
    print("result:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
