# contention_torch.py — the PyTorch side of bench/contention: the same MLP and CNN training steps, one JSON line out.
#
# Usage: python3 contention_torch.py --model mlp|cnn --threads N [--seconds S] [--warmup N]
# OMP_WAIT_POLICY (PASSIVE or unset) is set for this process by run.sh.
import argparse
import json
import time

import torch
from torch import nn


def make(model):
    if model == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--warmup", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = make(a.model)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(64, 1, 28, 28)
    y = torch.randint(0, 10, (64,))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        loss.item()

    for _ in range(a.warmup):
        step()
    ms = []
    end = time.perf_counter() + a.seconds
    while time.perf_counter() < end or len(ms) < 5:
        t0 = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    print(json.dumps({"impl": "pytorch", "model": a.model, "steps": len(ms),
                      "median_ms": round(ms[len(ms) // 2], 4), "min_ms": round(ms[0], 4)}))


if __name__ == "__main__":
    main()
