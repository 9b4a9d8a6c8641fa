#!/usr/bin/env python3
"""compare.py — prints bench/train_vs_pytorch's side-by-side table from DIR/prism.json and DIR/pytorch.json.

Checks (exit 1 when one fails): the first 20 losses agree within 1e-4 relative
(same initial weights, data order and hyper-parameters), and Prism's mean time
per epoch is at most 1.0 x PyTorch's (reported; --no-time-check to only report).
"""
import json
import os
import sys


def main():
    d = sys.argv[1]
    check_time = "--no-time-check" not in sys.argv
    with open(os.path.join(d, "prism.json")) as f:
        p = json.load(f)
    with open(os.path.join(d, "pytorch.json")) as f:
        t = json.load(f)
    n = min(20, len(p["losses"]), len(t["losses"]))
    worst = max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(p["losses"][:n], t["losses"][:n]))
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
    ok = worst <= 1e-4 and (not check_time or pe <= te)
    print("result:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
