#!/usr/bin/env python3
"""train_fashion_mnist.py — trains an MLP (and optionally a CNN) on Fashion-MNIST with the prism Python package.

Usage: python examples/python/train_fashion_mnist.py [--device NAME] [--model mlp|cnn|both] [--epochs N]
           [--batch N] [--lr LR] [--workers N] [--checkpoint DIR] [--data DIR] [--limit N] [--seed S] [--no-target]
  --device      cpu, opencl:0, cuda:0, ... (default: the best loaded device: cuda, then rocm, else cpu)
  --model       which model to train (default mlp: 784-256-10)
  --epochs      epochs (default 2)
  --batch       batch size (default 64)
  --lr          Adam's learning rate (default 1e-3)
  --workers     DataLoader worker processes (default 0: batches are built in this process)
  --checkpoint  directory for fashion_mnist_<model>_python.safetensors (default: a temporary directory);
                written with prism.save, loaded back with prism.load into a fresh model and evaluated
  --data        directory with the four IDX files (plain or .gz; default /usr/share/datasets/fashion-mnist,
                Debian's dataset-fashion-mnist)
  --limit       use only the first N training images (quick runs)
  --seed        prism.manual_seed (default 0): initial weights, shuffling
  --no-target   do not fail when the accuracy target is missed (MLP >= 0.85, CNN >= 0.88 after 2 epochs)
Exits 1 when a model trained for 2+ epochs on the full set misses its target, 2 on bad arguments or data.
"""
import argparse
import os
import sys
import tempfile
import time

import prism
import prism.nn as nn
from prism.utils.data import DataLoader, TensorDataset

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training-set pixel statistics (as the C++ example)
TARGETS = {"mlp": 0.85, "cnn": 0.88}


def find_idx(data, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(data, name)
        if os.path.exists(path):
            return path
    print(f"train_fashion_mnist.py: {data}/{stem}(.gz) not found (apt-get install dataset-fashion-mnist, or --data DIR)",
          file=sys.stderr)
    sys.exit(2)


def load_split(data, prefix, limit=0):
    """(images float32 (N, 1, 28, 28) normalised, labels int64 (N)) of one split, read by prism_load_idx."""
    images = prism.utils.data.load_idx(find_idx(data, prefix + "-images-idx3-ubyte"))
    labels = prism.utils.data.load_idx(find_idx(data, prefix + "-labels-idx1-ubyte"))
    if limit and limit < images.shape[0]:
        images, labels = images[:limit], labels[:limit]
    images = ((images.to(prism.float32) / 255.0 - MEAN) / STD).unsqueeze(1).contiguous()
    return images, labels.to(prism.int64)


def make_mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def make_cnn():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


MODELS = {"mlp": make_mlp, "cnn": make_cnn}


@prism.no_grad()
def accuracy(model, images, labels, device, batch=1000):
    """Test accuracy in batches, in eval mode, without autograd."""
    model.eval()
    correct = 0
    n = int(images.shape[0])
    for i in range(0, n, batch):
        x = images[i:i + batch].to(device)
        y = labels[i:i + batch].to(device)
        correct += int((model(x).argmax(dim=1) == y).sum().item())
    model.train()
    return correct / n


def progress(epoch, epochs, i, n, rate, loss, width=30):
    done = int(width * i / n)
    bar = "=" * done + (">" if done < width else "") + " " * max(0, width - done - 1)
    print(f"\r  epoch {epoch}/{epochs} [{bar}] {i:5d}/{n}  {rate:7.1f} batches/s  loss {loss:.4f}", end="",
          flush=True)


def train(name, train_set, test_set, args, device):
    """Trains one model; returns (test accuracy per epoch, reloaded-checkpoint accuracy)."""
    model = MODELS[name]().to(device)
    opt = prism.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(*train_set), batch_size=args.batch, shuffle=True,
                        num_workers=args.workers, pin_memory=not str(device).startswith("cpu"))
    n = len(loader)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"\n{name}: {n_params} parameters on {device}, {args.epochs} epoch(s) of {n} batches of {args.batch}")
    accs = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        loss_value = float("nan")
        for i, (x, y) in enumerate(loader, 1):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            if i % 50 == 0 or i == n:
                loss_value = loss.item()
                progress(epoch, args.epochs, i, n, i / (time.perf_counter() - t0), loss_value)
        seconds = time.perf_counter() - t0
        acc = accuracy(model, *test_set, device)
        accs.append(acc)
        print(f"\n  epoch {epoch}: {seconds:.1f} s, test accuracy {acc:.4f}")
    # Checkpoint round trip: prism.save, then prism.load into a fresh model on the same device.
    path = os.path.join(args.checkpoint, f"fashion_mnist_{name}_python.safetensors")
    prism.save({"epoch": args.epochs, "model_state_dict": model.state_dict(),
                "optimizer_state_dict": opt.state_dict(), "test_accuracy": accs[-1]}, path)
    ckpt = prism.load(path, map_location=device)
    reloaded = MODELS[name]().to(device)
    reloaded.load_state_dict(ckpt["model_state_dict"])
    opt2 = prism.optim.Adam(reloaded.parameters(), lr=args.lr)
    opt2.load_state_dict(ckpt["optimizer_state_dict"])
    re_acc = accuracy(reloaded, *test_set, device)
    print(f"  checkpoint {path} ({os.path.getsize(path)} bytes): reloaded accuracy {re_acc:.4f}")
    return accs, re_acc


def best_device():
    names = [str(d) for d in prism.devices()]
    for kind in ("cuda", "rocm"):
        for d in names:
            if d.startswith(kind):
                return d
    return "cpu"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="")
    p.add_argument("--model", choices=["mlp", "cnn", "both"], default="mlp")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--checkpoint", default="")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-target", action="store_true")
    args = p.parse_args(argv)
    if args.epochs <= 0 or args.batch <= 0:
        p.error("--epochs and --batch must be positive")
    prism.manual_seed(args.seed)
    device = args.device or best_device()
    train_set = load_split(args.data, "train", args.limit)
    test_set = load_split(args.data, "t10k")
    tmp = None
    if not args.checkpoint:
        tmp = tempfile.TemporaryDirectory()
        args.checkpoint = tmp.name
    os.makedirs(args.checkpoint, exist_ok=True)
    names = ["mlp", "cnn"] if args.model == "both" else [args.model]
    failed = False
    summary = []
    for name in names:
        accs, re_acc = train(name, train_set, test_set, args, device)
        target = TARGETS[name]
        judged = args.epochs >= 2 and not args.limit and not args.no_target
        ok = accs[-1] >= target and abs(re_acc - accs[-1]) < 1e-9
        failed |= judged and not ok
        summary.append(f"  {name}: test accuracy {accs[-1]:.4f} (target {target}), reloaded {re_acc:.4f}"
                       + ("" if not judged else ("  OK" if ok else "  MISSED")))
    print(f"\nsummary (device {device}, {args.epochs} epoch(s))")
    print("\n".join(summary))
    if tmp is not None:
        tmp.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
