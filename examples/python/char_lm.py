#!/usr/bin/env python3
"""char_lm.py — a character-level language model: embedding + TransformerEncoderLayers (causal mask) + linear head.

Usage: python examples/python/char_lm.py [--device NAME] [--steps N] [--layers N] [--d-model N] [--heads N]
           [--block N] [--batch N] [--lr LR] [--dropout P] [--seed S] [--sample N]
  --device   cpu, opencl:0, emu:0, ... (default cpu)
  --steps    Adam steps (default 300)
  --layers   TransformerEncoderLayers, pre-norm, GELU (default 2)
  --d-model  embedding width (default 32); --heads attention heads (default 4)
  --block    context length in characters (default 32); --batch sequences per step (default 16)
  --lr       Adam's learning rate (default 3e-3); --dropout dropout of the layers (default 0)
  --seed     prism.manual_seed for the weights, numpy seed for the batches (default 0)
  --sample   characters generated greedily after training (default 120)
Prints the loss every 25 steps and exits 1 when the final loss is not below the first one.

The model, the batch order and the training step are plain functions so that a test can run the same
training in PyTorch from the same weights and compare the losses (python/tests/test_char_lm.py).
"""
import argparse
import sys

import numpy as np

import prism
import prism.nn as nn
import prism.nn.functional as F
import prism.optim
from prism.nn.modules.transformer import generate_square_subsequent_mask

TEXT = (
    "Prism is a heterogeneous tensor runtime. A small core owns the tensor, the dispatcher and autograd; "
    "every device is a plugin loaded at run time through one stable C ABI, and one conformance suite checks "
    "them all. The same model trains on the CPU, on an OpenCL device and on an emulated device, and the "
    "gradients agree. Attention lets each position of a sequence look at the positions before it: the "
    "queries meet the keys, a softmax turns the scores into weights, and the weights mix the values. A "
    "causal mask hides the future, so the model learns to predict the next character from the ones it has "
    "already seen. Train it for a few hundred steps and it begins to spell the words of this paragraph.\n"
)


def vocabulary(text=TEXT):
    chars = sorted(set(text))
    return chars, {c: i for i, c in enumerate(chars)}


def encode(text=TEXT):
    _, index = vocabulary(text)
    return np.array([index[c] for c in text], dtype=np.int64)


def batches(data, steps, batch, block, seed):
    """The (inputs, targets) int64 arrays of every step, (batch, block) each, from a seeded numpy generator."""
    rng = np.random.RandomState(seed)
    for _ in range(steps):
        starts = rng.randint(0, len(data) - block - 1, size=batch)
        x = np.stack([data[s:s + block] for s in starts])
        y = np.stack([data[s + 1:s + block + 1] for s in starts])
        yield x, y


class CharLM(nn.Module):
    """Token + position embeddings, pre-norm TransformerEncoderLayers under a causal mask, a final LayerNorm
    and a linear head over the vocabulary."""

    def __init__(self, vocab, d_model=32, heads=4, layers=2, block=32, dropout=0.0):
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(block, d_model)
        self.layers = nn.ModuleList([
            nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=dropout, activation="gelu",
                                       batch_first=True, norm_first=True) for _ in range(layers)])
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.tok(idx) + self.pos(prism.arange(T, device=idx.device))
        mask = generate_square_subsequent_mask(T, device=idx.device)
        for layer in self.layers:
            x = layer(x, src_mask=mask)
        return self.head(self.norm(x))


def train(model, data, steps, batch, block, lr, seed, device="cpu", on_step=None):
    """Adam on the mean next-character cross-entropy; returns the loss of every step."""
    opt = prism.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for step, (x, y) in enumerate(batches(data, steps, batch, block, seed)):
        logits = model(prism.tensor(x).to(device))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), prism.tensor(y).to(device).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
        if on_step is not None:
            on_step(step, losses[-1])
    return losses


def sample(model, prompt, n, block, device="cpu"):
    chars, index = vocabulary()
    ids = [index[c] for c in prompt]
    model.eval()
    with prism.no_grad():
        for _ in range(n):
            x = prism.tensor(np.array([ids[-block:]], dtype=np.int64)).to(device)
            ids.append(int(model(x)[0, -1].argmax().item()))
    model.train()
    return "".join(chars[i] for i in ids)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--d-model", type=int, default=32)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--block", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sample", type=int, default=120)
    a = ap.parse_args(argv)
    prism.manual_seed(a.seed)
    chars, _ = vocabulary()
    model = CharLM(len(chars), a.d_model, a.heads, a.layers, a.block, a.dropout).to(a.device)
    data = encode()

    def report(step, loss):
        if step % 25 == 0 or step == a.steps - 1:
            print(f"step {step:4d}  loss {loss:.4f}", flush=True)

    losses = train(model, data, a.steps, a.batch, a.block, a.lr, a.seed, a.device, report)
    if a.sample > 0:
        print(repr(sample(model, "Prism ", a.sample, a.block, a.device)))
    if not losses or losses[-1] >= losses[0]:
        print(f"char_lm.py: the loss did not fall ({losses[0]:.4f} -> {losses[-1]:.4f})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
