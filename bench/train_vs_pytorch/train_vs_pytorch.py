#!/usr/bin/env python3
"""train_vs_pytorch.py — the PyTorch side of bench/train_vs_pytorch (run with Debian's /usr/bin/python3).

  prepare DIR  writes DIR/init.safetensors (the MLP's initial weights, torch.nn.Linear's
               default init under torch.manual_seed(0)) and DIR/order.safetensors (one
               torch.randperm per epoch), the inputs both sides share
  train DIR    trains the same MLP (784-256-10, ReLU, SGD lr 0.05 momentum 0.9, batch 64,
               cross-entropy) from those weights in that order, and writes
               DIR/pytorch.json: per-step losses, seconds per epoch, test accuracy

Options: --epochs N (default 2), --threads N (default 1), --data DIR (Fashion-MNIST IDX files).
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


def load_split(data, prefix):
    x = read_idx(find(data, prefix + "-images-idx3-ubyte")).float().div(255).sub(MEAN).div(STD).reshape(-1, 784)
    y = read_idx(find(data, prefix + "-labels-idx1-ubyte")).long()
    return x, y


def make_model():
    return torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["prepare", "train"])
    p.add_argument("dir")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.mode == "prepare":
        torch.manual_seed(0)
        model = make_model()
        save_safetensors(os.path.join(a.dir, "init.safetensors"),
                         {k: v.detach() for k, v in model.state_dict().items()})
        save_safetensors(os.path.join(a.dir, "order.safetensors"),
                         {f"epoch{e}": torch.randperm(60000) for e in range(a.epochs)})
        return
    model = make_model()
    model.load_state_dict(load_safetensors(os.path.join(a.dir, "init.safetensors")))
    order = load_safetensors(os.path.join(a.dir, "order.safetensors"))
    x, y = load_split(a.data, "train")
    tx, ty = load_split(a.data, "t10k")
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    losses, epoch_seconds = [], []
    for e in range(a.epochs):
        perm = order[f"epoch{e}"]
        t0 = time.perf_counter()
        for i in range(0, 60000 - BATCH + 1, BATCH):
            idx = perm[i:i + BATCH]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        epoch_seconds.append(time.perf_counter() - t0)
    with torch.no_grad():
        acc = (model(tx).argmax(1) == ty).double().mean().item()
    with open(os.path.join(a.dir, "pytorch.json"), "w") as f:
        json.dump({"losses": losses, "epoch_seconds": epoch_seconds, "accuracy": acc,
                   "torch": torch.__version__, "threads": a.threads}, f)


if __name__ == "__main__":
    main()
