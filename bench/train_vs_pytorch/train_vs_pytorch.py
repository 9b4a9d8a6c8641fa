#!/usr/bin/env python3
"""train_vs_pytorch.py — the PyTorch side of bench/train_vs_pytorch (run with Debian's /usr/bin/python3).

  prepare DIR  writes DIR/init.safetensors (the model's initial weights, torch.nn's
               default init under torch.manual_seed(0)) and DIR/order.safetensors (one
               torch.randperm per epoch), the inputs both sides share
  train DIR    trains the same model from those weights in that order, and writes
               DIR/pytorch.json: per-step losses, seconds per epoch, test accuracy

Models (--model): mlp (784-256-10, ReLU, SGD lr 0.05 momentum 0.9) and cnn (the demo CNN of
examples/cpp/train_fashion_mnist: conv3x3 1->16, ReLU, maxpool 2, conv3x3 16->32, ReLU, maxpool 2,
linear 1568-128, ReLU, linear 128-10; SGD lr 0.01 momentum 0.9); batch 64, cross-entropy.
Options: --epochs N (default 2), --threads N (default 1), --data DIR (Fashion-MNIST IDX files),
--steps N (stop each epoch after N batches; 0 = whole epochs).
The safetensors files are written with the format's own rules (8-byte little-endian header
length, JSON header, raw little-endian data), so no extra package is needed.
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import torch

DTYPES = {torch.float32: ("F32", 4), torch.int64: ("I64", 8)}
NAMES = {"F32": torch.float32, "I64": torch.int64}
MEAN, STD = 0.2860, 0.3530
BATCH, LR, MOMENTUM = 64, 0.05, 0.9


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        code, size = DTYPES[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=NAMES[info["dtype"]]).reshape(info["shape"])
    return out


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(raw[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def find(data, stem):
    for ext in ("", ".gz"):
        p = os.path.join(data, stem + ext)
        if os.path.exists(p):
            return p
    sys.exit(f"train_vs_pytorch.py: {data}/{stem}(.gz) not found")


def load_split(data, prefix, images=False):
    x = read_idx(find(data, prefix + "-images-idx3-ubyte")).float().div(255).sub(MEAN).div(STD)
    x = x.reshape(-1, 1, 28, 28) if images else x.reshape(-1, 784)
    y = read_idx(find(data, prefix + "-labels-idx1-ubyte")).long()
    return x, y


def make_model(name="mlp"):
    nn = torch.nn
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, 1, 1),
                             nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(),
                             nn.Linear(128, 10))
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["prepare", "train"])
    p.add_argument("dir")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--steps", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.mode == "prepare":
        torch.manual_seed(0)
        model = make_model(a.model)
        save_safetensors(os.path.join(a.dir, "init.safetensors"),
                         {k: v.detach() for k, v in model.state_dict().items()})
        save_safetensors(os.path.join(a.dir, "order.safetensors"),
                         {f"epoch{e}": torch.randperm(60000) for e in range(a.epochs)})
        return
    model = make_model(a.model)
    model.load_state_dict(load_safetensors(os.path.join(a.dir, "init.safetensors")))
    order = load_safetensors(os.path.join(a.dir, "order.safetensors"))
    cnn = a.model == "cnn"
    x, y = load_split(a.data, "train", cnn)
    tx, ty = load_split(a.data, "t10k", cnn)
    opt = torch.optim.SGD(model.parameters(), lr=0.01 if cnn else LR, momentum=MOMENTUM)
    losses, epoch_seconds, epoch_cpu_seconds = [], [], []
    for e in range(a.epochs):
        perm = order[f"epoch{e}"]
        t0 = time.perf_counter()
        c0 = time.process_time()
        for step, i in enumerate(range(0, 60000 - BATCH + 1, BATCH)):
            if a.steps > 0 and step == a.steps:
                break
            idx = perm[i:i + BATCH]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        epoch_seconds.append(time.perf_counter() - t0)
        epoch_cpu_seconds.append(time.process_time() - c0)
    with torch.no_grad():
        model.eval()
        acc = sum((model(tx[i:i + 1000]).argmax(1) == ty[i:i + 1000]).sum().item()
                  for i in range(0, len(tx), 1000)) / len(tx)
    with open(os.path.join(a.dir, "pytorch.json"), "w") as f:
        json.dump({"losses": losses, "epoch_seconds": epoch_seconds, "epoch_cpu_seconds": epoch_cpu_seconds, "accuracy": acc,
                   "torch": torch.__version__, "threads": a.threads,
                   "model": a.model}, f)


if __name__ == "__main__":
    main()
