#!/usr/bin/env python3
"""compare.py — prints bench/train_vs_pytorch's side-by-side table from DIR/prism.json and DIR/pytorch.json.

Checks (exit 1 when one fails): every loss of both runs is finite (a NaN or
Inf anywhere fails: max() would silently skip NaN); at least 20 losses were
recorded and the first 20 agree within 1e-4 relative (same initial weights,
data order and hyper-parameters); both test accuracies are finite, at least
ACCURACY_FLOOR and within 0.02 of each other; and Prism's mean time per epoch
is at most 1.0 x PyTorch's (reported; --no-time-check to only report).

Several DIRs (one per thread count, from train_vs_pytorch.sh --threads "1 2") print one table
each, then compare each side at its best thread count; the time check uses that comparison.
A run cut short with --steps checks a lower accuracy floor (PARTIAL_ACCURACY_FLOOR).
"""
import json
import math
import os
import sys

ACCURACY_FLOOR = 0.80  # one epoch of this MLP reaches about 0.85 on Fashion-MNIST
PARTIAL_ACCURACY_FLOOR = 0.60  # a few hundred steps
FULL_EPOCH_STEPS = 60000 // 64


def compare(d, check_time):
    """Prints one run's table; returns (ok without the time check, Prism s/epoch, PyTorch s/epoch, threads)."""
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
        full = len(run["losses"]) >= FULL_EPOCH_STEPS * len(run["epoch_seconds"])
        floor = ACCURACY_FLOOR if full else PARTIAL_ACCURACY_FLOOR
        if not (math.isfinite(acc) and acc >= floor):
            problems.append(f"{name}: test accuracy {acc} below the floor {floor}")
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
    model = ("demo CNN (conv16-pool-conv32-pool-fc128-fc10), batch 64, SGD lr 0.01 momentum 0.9"
             if t.get("model") == "cnn" else "MLP 784-256-10, batch 64, SGD lr 0.05 momentum 0.9")
    print(f"{model}, {len(p['epoch_seconds'])} epoch(s), "
          f"{t['threads']} thread(s), torch {t['torch']}, Prism device {p['device']}")
    print(f"{'':24}{'Prism':>12}{'PyTorch':>12}")
    for e, (a, b) in enumerate(zip(p["epoch_seconds"], t["epoch_seconds"])):
        print(f"{'epoch %d seconds' % (e + 1):24}{a:12.2f}{b:12.2f}")
    print(f"{'mean s/epoch':24}{pe:12.2f}{te:12.2f}   ratio Prism/PyTorch {pe / te:.2f} (target <= 1.00)")
    print(f"{'ms per step':24}{1e3 * pe / (len(p['losses']) / len(p['epoch_seconds'])):12.3f}"
          f"{1e3 * te / (len(t['losses']) / len(t['epoch_seconds'])):12.3f}")
    if "epoch_cpu_seconds" in p and "epoch_cpu_seconds" in t:
        pc, tc = sum(p["epoch_cpu_seconds"]), sum(t["epoch_cpu_seconds"])
        steps_p, steps_t = len(p["losses"]), len(t["losses"])
        print(f"{'CPU ms per step':24}{1e3 * pc / steps_p:12.3f}{1e3 * tc / steps_t:12.3f}   ratio "
              f"{(pc / steps_p) / (tc / steps_t):.2f} (process CPU time: the fairer figure on a busy machine)")
    print(f"{'test accuracy':24}{p['accuracy']:12.4f}{t['accuracy']:12.4f}")
    print(f"first {n} losses: worst relative difference {worst:.2e} (target <= 1e-4)")
    for msg in problems:
        print("check failed:", msg)
    ok = not problems and worst <= 1e-4
    if check_time:
        print("result:", "ok" if ok and pe <= te else "FAILED")
    return ok, pe, te, t["threads"]


def main():
    dirs = [a for a in sys.argv[1:] if not a.startswith("--")]
    check_time = "--no-time-check" not in sys.argv
    if len(dirs) == 1:
        ok, pe, te, _ = compare(dirs[0], check_time)
        return 0 if ok and (not check_time or pe <= te) else 1
    runs = []
    for d in dirs:
        runs.append(compare(d, False))
        print()
    all_ok = all(r[0] for r in runs)
    bp = min(runs, key=lambda r: r[1])
    bt = min(runs, key=lambda r: r[2])
    print(f"best thread count: Prism {bp[1]:.2f} s/epoch at {bp[3]} thread(s), PyTorch {bt[2]:.2f} s/epoch at "
          f"{bt[3]} thread(s): ratio Prism/PyTorch {bp[1] / bt[2]:.2f} (target <= 1.00)")
    ok = all_ok and (not check_time or bp[1] <= bt[2])
    print("result:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
