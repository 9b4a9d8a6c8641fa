#!/usr/bin/env python3
"""train_step.py — one MLP 784-256-10 training step (batch 64) from Python: prism vs PyTorch, side by side.

Both sides run the same step from Python: zero_grad(set_to_none), forward (Linear-ReLU-Linear),
cross-entropy, backward, SGD with momentum 0.9 (lr 0.05) — with the same initial weights (PyTorch's
default init copied into prism), the same batches and the same thread count, interleaved in rounds
(prism round, torch round, ...) so machine noise hits both alike. Prints the median time per step of
each and the ratio prism / PyTorch (target <= 1.0), plus the CPU name.

Usage: python bench/python/train_step.py [--threads N] [--rounds R] [--steps S] [--device NAME] [--json FILE]
Run it through bench/python/train_step.sh, which picks OpenBLAS's kernels for PyTorch like the other benches.
"""
import argparse
import json
import os
import statistics
import sys
import time


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", default="")
    a = p.parse_args()
    # Both runtimes read their thread count when their OpenMP / BLAS loads: set it first.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(a.threads)

    import numpy as np
    import torch

    import prism
    import prism.nn as pnn
    import prism.nn.functional as PF

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    pmodel = pnn.Sequential(pnn.Linear(784, 256), pnn.ReLU(), pnn.Linear(256, 10))
    pmodel.load_state_dict({k: prism.from_numpy(v.detach().numpy().copy()) for k, v in tmodel.state_dict().items()})
    pmodel.to(a.device)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.05, momentum=0.9)
    popt = prism.optim.SGD(pmodel.parameters(), lr=0.05, momentum=0.9)

    rng = np.random.default_rng(0)
    nb = 16
    xs = [rng.standard_normal((64, 784)).astype(np.float32) for _ in range(nb)]
    ys = [rng.integers(0, 10, 64).astype(np.int64) for _ in range(nb)]
    tx = [torch.from_numpy(x) for x in xs]
    ty = [torch.from_numpy(y) for y in ys]
    px = [prism.from_numpy(x).to(a.device) for x in xs]
    py = [prism.from_numpy(y).to(a.device) for y in ys]
    tloss = torch.nn.functional.cross_entropy
    ploss = PF.cross_entropy

    def torch_steps(n, k0):
        for i in range(n):
            j = (k0 + i) % nb
            topt.zero_grad(set_to_none=True)
            loss = tloss(tmodel(tx[j]), ty[j])
            loss.backward()
            topt.step()
        return loss

    def prism_steps(n, k0):
        for i in range(n):
            j = (k0 + i) % nb
            popt.zero_grad(set_to_none=True)
            loss = ploss(pmodel(px[j]), py[j])
            loss.backward()
            popt.step()
        return loss

    # Same weights and data: the first losses agree (a check that both run the same computation).
    l_t = float(torch_steps(1, 0))
    l_p = float(prism_steps(1, 0))
    if abs(l_t - l_p) > 1e-4 * max(1.0, abs(l_t)):
        sys.exit(f"train_step.py: first-step losses differ: prism {l_p} vs PyTorch {l_t}")
    torch_steps(a.steps, 1)  # warm-up
    prism_steps(a.steps, 1)
    prism.synchronize(a.device)
    tt, tp = [], []
    for r in range(a.rounds):
        t0 = time.perf_counter()
        prism_steps(a.steps, r)
        prism.synchronize(a.device)
        tp.append((time.perf_counter() - t0) / a.steps)
        t0 = time.perf_counter()
        torch_steps(a.steps, r)
        tt.append((time.perf_counter() - t0) / a.steps)
    mp, mt = statistics.median(tp), statistics.median(tt)
    result = {"bench": "python_mlp_train_step", "cpu": cpu_name(), "threads": a.threads, "device": a.device,
              "batch": 64, "rounds": a.rounds, "steps_per_round": a.steps, "prism_ms": mp * 1e3,
              "pytorch_ms": mt * 1e3, "ratio": mp / mt, "torch_version": torch.__version__,
              "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "")}
    print(f"CPU: {result['cpu']}, {a.threads} thread(s), prism device {a.device}, PyTorch {torch.__version__}")
    print(f"MLP 784-256-10 batch 64 training step from Python (median of {a.rounds} rounds x {a.steps} steps):")
    print(f"  prism   {mp * 1e3:8.3f} ms/step")
    print(f"  PyTorch {mt * 1e3:8.3f} ms/step")
    print(f"  ratio prism / PyTorch = {mp / mt:.2f} (target <= 1.0)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
