#!/usr/bin/env python3
"""gen_attention.py — writes attention.safetensors: PyTorch 1.13's MultiheadAttention and TransformerEncoderLayer
(weights, inputs, outputs and gradients, float64) for tests/cpp/attention_golden_test.cpp.

Usage: /usr/bin/python3 tests/golden/gen_attention.py   (needs torch; writes next to this script)
"""
import json
import os
import struct

import torch

torch.manual_seed(0)
out = {}


def put(name, t):
    out[name] = t.detach().to(torch.float64).contiguous()


# MultiheadAttention, batch_first=False: (L, N, E) query, (S, N, E) key/value, a key padding mask and a
# float attention mask; outputs, head-averaged weights, and gradients of every input and parameter.
E, H, L, S, N = 8, 2, 4, 6, 3
mha = torch.nn.MultiheadAttention(E, H).double()
for k, v in mha.state_dict().items():
    put("mha." + k, v)
q = torch.randn(L, N, E, dtype=torch.float64, requires_grad=True)
k = torch.randn(S, N, E, dtype=torch.float64, requires_grad=True)
v = torch.randn(S, N, E, dtype=torch.float64, requires_grad=True)
kpm = torch.zeros(N, S, dtype=torch.bool)
kpm[1, -2:] = True
am = torch.randn(L, S, dtype=torch.float64)
o, w = mha(q, k, v, key_padding_mask=kpm, attn_mask=am)
g = torch.randn(o.shape, dtype=torch.float64)
o.backward(g)
for n_, t in (("q", q), ("k", k), ("v", v), ("attn_mask", am), ("out", o), ("weights", w), ("grad_out", g)):
    put("mha." + n_, t)
put("mha.key_padding_mask", kpm.to(torch.float64))
for n_, t in (("q", q), ("k", k), ("v", v)):
    put("mha.grad." + n_, t.grad)
for n_, p in mha.named_parameters():
    put("mha.grad." + n_, p.grad)

# TransformerEncoderLayer, batch_first, dropout 0, causal mask, post- and pre-norm, relu and gelu.
for norm_first, act in ((False, "relu"), (True, "gelu")):
    tag = f"tel{int(norm_first)}"
    layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=act, batch_first=True,
                                             norm_first=norm_first).double()
    for k_, v_ in layer.state_dict().items():
        put(f"{tag}.{k_}", v_)
    x = torch.randn(2, 5, 8, dtype=torch.float64, requires_grad=True)
    y = layer(x, src_mask=torch.nn.Transformer.generate_square_subsequent_mask(5).double())
    gy = torch.randn(y.shape, dtype=torch.float64)
    y.backward(gy)
    put(f"{tag}.x", x)
    put(f"{tag}.out", y)
    put(f"{tag}.grad_out", gy)
    put(f"{tag}.grad.x", x.grad)
    for n_, p in layer.named_parameters():
        put(f"{tag}.grad.{n_}", p.grad)

# safetensors, written from the format's definition (8-byte LE header size, JSON header, raw LE data).
header, blobs, offset = {}, [], 0
for name in sorted(out):
    b = out[name].numpy().tobytes()
    header[name] = {"dtype": "F64", "shape": list(out[name].shape), "data_offsets": [offset, offset + len(b)]}
    blobs.append(b)
    offset += len(b)
header["__metadata__"] = {"generator": "tests/golden/gen_attention.py", "torch": torch.__version__}
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attention.safetensors")
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(h)))
    f.write(h)
    for b in blobs:
        f.write(b)
print(f"wrote {path}: {len(out)} tensors, {offset} bytes of data")
