#!/usr/bin/python3
"""gen_golden.py — writes PyTorch's forward outputs and gradients for Prism's op set into golden.json + golden.bin.

Run with a Python that can import torch (Debian: `apt-get install python3-torch`, then
`/usr/bin/python3 tests/golden/gen_golden.py`). The output is deterministic: every case
seeds its own generator from its name, so regenerating changes only the cases whose
definition changed. tests/golden/README.md describes the file format. It also writes
mlp_c.bin, one MLP case as plain arrays for the C ABI check (tests/capi/capi_golden_test.c).

Adding an op is a few lines: `add("op", lambda x, a: torch_fn(x[0], a["dim"]), [X([2, 3]), T([4, 3])],
{"dim": 1})` with a torch function taking the input list and the attrs dict, and a runner of the
same name in tests/unit/golden_test.cpp that calls Prism's op with the same attrs.
"""

import argparse
import json
import math
import os
import sys
import zlib

import torch

FORMAT = "prism-golden"
VERSION = 1

DTYPES = {
    "f64": torch.float64,
    "f32": torch.float32,
    "f16": torch.float16,
    "bf16": torch.bfloat16,
    "i64": torch.int64,
    "bool": torch.bool,
}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
FLOATS = ("f64", "f32")


# ---- inputs ----------------------------------------------------------------------------------


class Input:
    """One op input: its final shape, how its values are drawn, its layout and whether it needs a grad.

    init: "normal" (standard normal), ("uniform", lo, hi), ("signed", lo, hi) (|x| in [lo, hi] with a
    random sign), "bool" (a random mask), ("index", high) (int64 in [0, high)), ("distinct", scale)
    (a random permutation of well separated values: no ties for max/min/sort).
    view: the view ops that turn the contiguous base tensor into the input, as
    [["transpose", d0, d1] | ["permute", dims] | ["slice", dim, start, end, step] | ["expand", sizes]].
    """

    def __init__(self, base, init="normal", view=(), grad=True, dtype=None):
        self.base = list(base)
        self.init = init
        self.view = [list(v) for v in view]
        self.grad = grad
        self.dtype = dtype  # None: the case's dtype

    def layout(self):
        return "+".join(v[0] for v in self.view) if self.view else "contiguous"


def X(shape, init="normal", grad=True, dtype=None):
    """A contiguous input."""
    return Input(shape, init, (), grad, dtype)


def T(shape, init="normal", grad=True):
    """A non-contiguous input of `shape`: the transpose of a contiguous tensor (last two dims)."""
    base = list(shape)
    base[-1], base[-2] = base[-2], base[-1]
    return Input(base, init, [["transpose", -2, -1]], grad)


def P(shape, perm, init="normal", grad=True):
    """A non-contiguous input of `shape`: a permutation of a contiguous tensor."""
    base = [0] * len(shape)
    for i, p in enumerate(perm):
        base[p] = shape[i]
    return Input(base, init, [["permute", list(perm)]], grad)


def S(shape, dim=-1, step=2, init="normal", grad=True):
    """A non-contiguous input of `shape`: every `step`-th element of a larger tensor along `dim`."""
    base = list(shape)
    d = dim % len(shape)
    base[d] = shape[d] * step
    return Input(base, init, [["slice", d, 0, base[d], step]], grad)


def E(base, shape, init="normal", grad=True):
    """A stride-0 input: `base` expanded to `shape`."""
    return Input(base, init, [["expand", list(shape)]], grad)


def draw(inp, dtype, gen):
    n = 1
    for s in inp.base:
        n *= s
    init = inp.init
    kind = init if isinstance(init, str) else init[0]
    if kind == "normal":
        v = torch.randn(n, generator=gen, dtype=torch.float64)
    elif kind == "uniform":
        v = torch.rand(n, generator=gen, dtype=torch.float64) * (init[2] - init[1]) + init[1]
    elif kind == "signed":
        mag = torch.rand(n, generator=gen, dtype=torch.float64) * (init[2] - init[1]) + init[1]
        v = torch.where(torch.rand(n, generator=gen) < 0.5, -mag, mag)
    elif kind == "distinct":
        perm = torch.randperm(n, generator=gen).to(torch.float64)
        v = (perm - n / 2.0 + torch.rand(n, generator=gen, dtype=torch.float64) * 0.5) * init[1]
    elif kind == "perm":  # each row along the last dim: distinct indices in [0, init[1])
        k = inp.base[-1] if inp.base else 1
        rows = n // k if k else 0
        v = [torch.randperm(init[1], generator=gen)[:k] for _ in range(rows)]
        v = torch.stack(v) if v else torch.zeros((0,), dtype=torch.int64)
        return v.reshape(inp.base)
    elif kind == "ties":  # few distinct values: ties for max/min
        v = torch.randint(0, init[1], (n,), generator=gen).to(torch.float64) * 0.25
    elif kind == "const":
        v = torch.full((n,), float(init[1]), dtype=torch.float64)
    elif kind == "bool":
        return (torch.rand(n, generator=gen) < 0.5).reshape(inp.base)
    elif kind == "index":
        return torch.randint(0, init[1], (n,), generator=gen, dtype=torch.int64).reshape(inp.base)
    else:
        raise ValueError(f"unknown init {init}")
    return v.to(DTYPES[dtype]).reshape(inp.base)


def apply_view(t, view):
    for v in view:
        if v[0] == "transpose":
            t = t.transpose(v[1], v[2])
        elif v[0] == "permute":
            t = t.permute(*v[1])
        elif v[0] == "slice":
            _, dim, start, end, step = v
            t = t.narrow(dim, start, end - start)
            idx = [slice(None)] * t.dim()
            idx[dim] = slice(None, None, step)
            t = t[tuple(idx)]
        elif v[0] == "expand":
            t = t.expand(*v[1])
        else:
            raise ValueError(f"unknown view {v}")
    return t


# ---- cases -----------------------------------------------------------------------------------


class Case:
    def __init__(self, name, op, fn, inputs, attrs, dtype, tol=None, ones=False, fd=True):
        self.name, self.op, self.fn, self.inputs, self.attrs, self.dtype, self.tol, self.ones, self.fd = (
            name, op, fn, inputs, attrs, dtype, tol, ones, fd)


CASES = []


def cases_for(op, fn, inputs, attrs=None, tag="", dtypes=FLOATS, tol=None, ones=False, fd=True):
    """One case per dtype; the name is op/tag/dtype (tag defaults to the input layouts and shapes).

    ones: the upstream gradient is all ones (a loss's plain backward()) instead of random.
    fd: False where the inputs sit on a kink (ties, zeros of relu/abs), so central differences
    do not give PyTorch's convention and the test skips that check.
    """
    attrs = attrs or {}
    if not tag:
        tag = "_".join(
            ("x".join(map(str, i.base)) if i.base else "0d") + ("" if not i.view else "_" + i.layout())
            for i in inputs)
        tag = tag or "noinputs"
    out = []
    for dt in dtypes:
        out.append(Case(f"{op}/{tag}/{dt}", op, fn, inputs, attrs, dt, tol, ones, fd))
    return out


def add(op, fn, inputs, attrs=None, tag="", dtypes=FLOATS, tol=None, ones=False, fd=True):
    CASES.extend(cases_for(op, fn, inputs, attrs, tag, dtypes, tol, ones, fd))


# Unary ops: (name, torch function, input init).
UNARY = [
    ("neg", torch.neg, "normal"),
    ("abs", torch.abs, ("signed", 0.1, 2.0)),
    ("sign", torch.sign, ("signed", 0.1, 2.0)),
    ("floor", torch.floor, "normal"),
    ("ceil", torch.ceil, "normal"),
    ("round", torch.round, "normal"),
    ("exp", torch.exp, "normal"),
    ("log", torch.log, ("uniform", 0.2, 3.0)),
    ("log1p", torch.log1p, ("uniform", -0.5, 3.0)),
    ("expm1", torch.expm1, "normal"),
    ("sqrt", torch.sqrt, ("uniform", 0.2, 3.0)),
    ("rsqrt", torch.rsqrt, ("uniform", 0.2, 3.0)),
    ("reciprocal", torch.reciprocal, ("signed", 0.3, 3.0)),
    ("square", torch.square, "normal"),
    ("sin", torch.sin, "normal"),
    ("cos", torch.cos, "normal"),
    ("tanh", torch.tanh, "normal"),
    ("sigmoid", torch.sigmoid, "normal"),
    ("relu", torch.relu, ("signed", 0.05, 2.0)),
    ("gelu", torch.nn.functional.gelu, "normal"),
    ("silu", torch.nn.functional.silu, "normal"),
]
for name, f, init in UNARY:
    fn = (lambda f: lambda x, a: f(x[0]))(f)
    add(name, fn, [X([2, 3], init)])
    add(name, fn, [X([], init)])
    add(name, fn, [X([0, 3], init)])
    add(name, fn, [T([4, 3], init)])
    add(name, fn, [S([3, 2], 0, 2, init)])

# Binary ops with broadcasting: (name, torch function, init of a, init of b).
BINARY = [
    ("add", lambda a, b, al: torch.add(a, b, alpha=al), "normal", "normal"),
    ("sub", lambda a, b, al: torch.sub(a, b, alpha=al), "normal", "normal"),
    ("mul", lambda a, b, al: torch.mul(a, b), "normal", "normal"),
    ("div", lambda a, b, al: torch.div(a, b), "normal", ("signed", 0.5, 2.0)),
    ("remainder", lambda a, b, al: torch.remainder(a, b), ("uniform", -3.0, 3.0), ("uniform", 0.7, 1.9)),
    ("pow", lambda a, b, al: torch.pow(a, b), ("uniform", 0.3, 2.0), ("uniform", -1.5, 2.5)),
    ("maximum", lambda a, b, al: torch.maximum(a, b), "normal", "normal"),
    ("minimum", lambda a, b, al: torch.minimum(a, b), "normal", "normal"),
]
for name, f, ia, ib in BINARY:
    alpha = 0.5 if name in ("add", "sub") else 1.0
    fn = (lambda f: lambda x, a: f(x[0], x[1], a["alpha"]))(f)
    at = {"alpha": alpha}
    add(name, fn, [X([2, 3], ia), X([2, 3], ib)], at)
    add(name, fn, [X([2, 3], ia), X([3], ib)], at)
    add(name, fn, [X([4, 1], ia), X([1, 3], ib)], at)
    add(name, fn, [X([2, 1, 3], ia), X([4, 1], ib)], at)
    add(name, fn, [X([], ia), X([2, 3], ib)], at)
    add(name, fn, [X([], ia), X([], ib)], at)
    add(name, fn, [X([0, 3], ia), X([3], ib)], at)
    add(name, fn, [T([3, 4], ia), S([3, 4], 1, 2, ib)], at)
    add(name, fn, [E([3], [2, 3], ia), T([2, 3], ib)], at)

# where(cond, a, b): cond is a bool input without a grad.
f_where = lambda x, a: torch.where(x[0], x[1], x[2])
add("where", f_where, [X([2, 3], "bool", grad=False, dtype="bool"), X([2, 3]), X([2, 3])])
add("where", f_where, [X([2, 3], "bool", grad=False, dtype="bool"), X([3]), X([2, 1])])
add("where", f_where, [X([3, 1], "bool", grad=False, dtype="bool"), X([]), T([3, 4])])
add("where", f_where, [X([0, 3], "bool", grad=False, dtype="bool"), X([0, 3]), X([3])])

# clamp(x, min?, max?): an absent bound is left out of attrs.
f_clamp = lambda x, a: torch.clamp(x[0], a.get("min"), a.get("max"))
for at, tag in (({"min": -0.5, "max": 0.5}, "both"), ({"min": -0.3}, "min"), ({"max": 0.2}, "max")):
    add("clamp", f_clamp, [X([3, 4])], at, tag=tag + "_3x4")
    add("clamp", f_clamp, [T([3, 4])], at, tag=tag + "_3x4_transpose")
add("clamp", f_clamp, [X([])], {"min": -0.5, "max": 0.5}, tag="both_0d")
add("clamp", f_clamp, [X([0, 2])], {"min": -0.5, "max": 0.5}, tag="both_0x2")


# Reductions with dims and keepdim; attrs: dims ([] = all), keepdim, and op-specific extras.
def reduction_cases(op, fn, init="normal", extra=None, empty=False, tol=None, prefix=""):
    extra = extra or {}
    shapes = [
        ([], [X([2, 3, 4], init)], False),
        ([1], [X([2, 3, 4], init)], False),
        ([1], [X([2, 3, 4], init)], True),
        ([0, 2], [X([2, 3, 4], init)], True),
        ([-1], [T([3, 4], init)], False),
        ([0], [S([3, 2], 1, 2, init)], True),
        ([], [X([], init)], False),
    ]
    if empty:
        shapes.append(([1], [X([2, 0], init)], False))
        shapes.append(([], [X([0], init)], False))
    for dims, inputs, keep in shapes:
        at = dict(extra, dims=dims, keepdim=keep)
        tag = prefix + "dims" + ("".join(str(d) for d in dims) if dims else "all") + ("_keep" if keep else "")
        tag += "_" + ("x".join(map(str, inputs[0].base)) or "0d")
        if inputs[0].view:
            tag += "_" + inputs[0].layout()
        add(op, fn, inputs, at, tag=tag, tol=tol)


def t_reduce_all_dims(f):
    # torch functions whose dim=None form differs: pass every dim explicitly.
    def g(x, a):
        dims = tuple(a["dims"]) if a["dims"] else tuple(range(x[0].dim()))
        if not dims:  # 0-d input
            return f(x[0], None, a)
        return f(x[0], dims, a)
    return g


def _prod_dims(t, dims, keepdim):
    # torch.prod takes one dim: reduce one at a time, highest first.
    for d in sorted((d % t.dim() for d in dims), reverse=True):
        t = torch.prod(t, d, keepdim=keepdim)
    return t


reduction_cases("sum", t_reduce_all_dims(
    lambda t, d, a: torch.sum(t) if d is None else torch.sum(t, d, keepdim=a["keepdim"])), empty=True)
reduction_cases("mean", t_reduce_all_dims(lambda t, d, a: torch.mean(t) if d is None else torch.mean(t, d, keepdim=a["keepdim"])))
reduction_cases("prod", t_reduce_all_dims(
    lambda t, d, a: torch.prod(t) if d is None else
    _prod_dims(t, d, a["keepdim"])), init=("signed", 0.5, 1.5), empty=True)


reduction_cases("amax", t_reduce_all_dims(lambda t, d, a: torch.amax(t, d if d is not None else (), keepdim=a["keepdim"])), init=("distinct", 0.1))
reduction_cases("amin", t_reduce_all_dims(lambda t, d, a: torch.amin(t, d if d is not None else (), keepdim=a["keepdim"])), init=("distinct", 0.1))
for corr in (0, 1):
    reduction_cases("var", t_reduce_all_dims(lambda t, d, a: torch.var(t, d, correction=a["correction"], keepdim=a["keepdim"])),
                    extra={"correction": corr}, prefix=f"c{corr}_")
    reduction_cases("std", t_reduce_all_dims(lambda t, d, a: torch.std(t, d, correction=a["correction"], keepdim=a["keepdim"])),
                    extra={"correction": corr}, prefix=f"c{corr}_")
# The 0-d var/std cases with correction 1 divide by zero (NaN in both); keep them: NaN must match NaN.


def _p(a):
    p = a["p"]
    return float(p) if not isinstance(p, str) else (math.inf if p == "inf" else -math.inf)


for p in (2, 1, 3, "inf", "-inf"):
    init = ("distinct", 0.1) if isinstance(p, str) else ("signed", 0.2, 1.5)
    reduction_cases("norm", t_reduce_all_dims(
        lambda t, d, a: torch.linalg.vector_norm(t, _p(a), d, keepdim=a["keepdim"])), init=init, extra={"p": p}, prefix=f"p{p}_")
reduction_cases("logsumexp", t_reduce_all_dims(
    lambda t, d, a: torch.logsumexp(t, d if d is not None else (), keepdim=a["keepdim"])))

# max/min over one dim: (values, indices).
for op, tf in (("max_dim", torch.max), ("min_dim", torch.min)):
    f = (lambda tf: lambda x, a: tuple(tf(x[0], a["dim"], keepdim=a["keepdim"])))(tf)
    add(op, f, [X([3, 4], ("distinct", 0.1))], {"dim": 1, "keepdim": False}, tag="dim1_3x4")
    add(op, f, [X([2, 3, 4], ("distinct", 0.1))], {"dim": 0, "keepdim": True}, tag="dim0_keep_2x3x4")
    add(op, f, [T([3, 4], ("distinct", 0.1))], {"dim": -1, "keepdim": False}, tag="dim-1_3x4_transpose")

# matmul with 1-D and N-D broadcasting.
f_matmul = lambda x, a: torch.matmul(x[0], x[1])
for sa, sb in (([4], [4]), ([3, 4], [4]), ([4], [4, 5]), ([3, 4], [4, 5]), ([2, 3, 4], [4, 5]),
               ([3, 4], [2, 4, 5]), ([2, 1, 3, 4], [3, 4, 2]), ([2, 3, 4], [4]), ([4], [2, 4, 3]),
               ([0, 4], [4, 5]), ([3, 0], [0, 5])):
    add("matmul", f_matmul, [X(sa), X(sb)])
add("matmul", f_matmul, [T([3, 4]), T([4, 5])])
add("matmul", f_matmul, [P([2, 3, 4], [1, 0, 2]), S([4, 3], 0)])
add("matmul", f_matmul, [E([4, 5], [2, 4, 5]), X([2, 5, 3])])
f_bmm = lambda x, a: torch.bmm(x[0], x[1])
add("bmm", f_bmm, [X([2, 3, 4]), X([2, 4, 5])])
add("bmm", f_bmm, [T([2, 3, 4]), P([2, 4, 5], [2, 0, 1])])
add("bmm", f_bmm, [X([0, 3, 4]), X([0, 4, 5])])

# Joins and splits.
add("cat", lambda x, a: torch.cat(x, a["dim"]), [X([2, 3]), X([2, 1]), T([2, 2])], {"dim": 1}, tag="dim1")
add("cat", lambda x, a: torch.cat(x, a["dim"]), [X([1, 3]), X([0, 3]), X([2, 3])], {"dim": 0}, tag="dim0_empty")
add("cat", lambda x, a: torch.cat(x, a["dim"]), [X([2, 3, 2]), S([2, 3, 2], 0)], {"dim": -1}, tag="dim-1_slice")
add("stack", lambda x, a: torch.stack(x, a["dim"]), [X([2, 3]), T([2, 3])], {"dim": 0}, tag="dim0")
add("stack", lambda x, a: torch.stack(x, a["dim"]), [X([2, 3]), X([2, 3]), X([2, 3])], {"dim": 2}, tag="dim2")
add("stack", lambda x, a: torch.stack(x, a["dim"]), [X([]), X([])], {"dim": 0}, tag="0d")
add("split", lambda x, a: tuple(torch.split(x[0], a["size"], a["dim"])), [X([5, 3])], {"size": 2, "dim": 0}, tag="size2_dim0")
add("split", lambda x, a: tuple(torch.split(x[0], a["size"], a["dim"])), [T([3, 5])], {"size": 3, "dim": 1}, tag="size3_dim1_transpose")
add("split_sizes", lambda x, a: tuple(torch.split(x[0], a["sizes"], a["dim"])), [X([2, 6])], {"sizes": [1, 0, 5], "dim": 1}, tag="1_0_5")
add("chunk", lambda x, a: tuple(torch.chunk(x[0], a["chunks"], a["dim"])), [X([7, 2])], {"chunks": 3, "dim": 0}, tag="3_dim0")

# Views (their backward is the scatter/reshape of the derivatives table).
add("transpose", lambda x, a: x[0].transpose(a["d0"], a["d1"]), [X([2, 3, 4])], {"d0": 0, "d1": 2}, tag="02")
add("transpose", lambda x, a: x[0].transpose(a["d0"], a["d1"]), [T([3, 4])], {"d0": 0, "d1": 1}, tag="01_transpose")
add("permute", lambda x, a: x[0].permute(*a["dims"]), [X([2, 3, 4])], {"dims": [2, 0, 1]}, tag="201")
add("permute", lambda x, a: x[0].permute(*a["dims"]), [S([2, 3], 0)], {"dims": [1, 0]}, tag="10_slice")
add("narrow", lambda x, a: x[0].narrow(a["dim"], a["start"], a["length"]), [X([4, 5])], {"dim": 1, "start": 1, "length": 3}, tag="dim1")
add("narrow", lambda x, a: x[0].narrow(a["dim"], a["start"], a["length"]), [T([4, 5])], {"dim": 0, "start": 2, "length": 0}, tag="empty_transpose")
add("expand", lambda x, a: x[0].expand(*a["sizes"]), [X([3, 1])], {"sizes": [2, 3, 4]}, tag="3x1_to_2x3x4")
add("expand", lambda x, a: x[0].expand(*a["sizes"]), [X([])], {"sizes": [2, 2]}, tag="0d")
add("reshape", lambda x, a: x[0].reshape(*a["sizes"]), [X([2, 6])], {"sizes": [3, -1]}, tag="view")
add("reshape", lambda x, a: x[0].reshape(*a["sizes"]), [T([3, 4])], {"sizes": [12]}, tag="copy_transpose")
add("reshape", lambda x, a: x[0].reshape(*a["sizes"]), [X([0, 4])], {"sizes": [2, 0, 2]}, tag="empty")
add("view", lambda x, a: x[0].view(*a["sizes"]), [X([2, 3, 2])], {"sizes": [6, 2]}, tag="6x2")
add("squeeze", lambda x, a: x[0].squeeze(), [X([2, 1, 3, 1])], tag="all")
add("squeeze_dim", lambda x, a: x[0].squeeze(a["dim"]), [X([2, 1, 3])], {"dim": 1}, tag="dim1")
add("unsqueeze", lambda x, a: x[0].unsqueeze(a["dim"]), [T([2, 3])], {"dim": -1}, tag="dim-1_transpose")
add("select", lambda x, a: x[0].select(a["dim"], a["index"]), [X([3, 4])], {"dim": 1, "index": -1}, tag="dim1")
add("slice", lambda x, a: apply_view(x[0], [["slice", a["dim"], a["start"], a["end"], a["step"]]]),
    [X([3, 7])], {"dim": 1, "start": 1, "end": 7, "step": 2}, tag="step2")
add("flatten", lambda x, a: x[0].flatten(a["start"], a["end"]), [P([2, 3, 4], [2, 1, 0])], {"start": 0, "end": 1}, tag="01_permute")
add("unfold", lambda x, a: x[0].unfold(a["dim"], a["size"], a["step"]), [X([3, 7])], {"dim": 1, "size": 3, "step": 2}, tag="dim1")
add("diagonal", lambda x, a: x[0].diagonal(a["offset"], a["d1"], a["d2"]), [X([3, 4])], {"offset": 1, "d1": 0, "d2": 1}, tag="off1")
add("diagonal", lambda x, a: x[0].diagonal(a["offset"], a["d1"], a["d2"]), [X([2, 3, 3])], {"offset": -1, "d1": 1, "d2": 2}, tag="off-1_batched")
add("as_strided", lambda x, a: x[0].as_strided(a["sizes"], a["strides"], a["offset"]), [X([6])],
    {"sizes": [3, 2], "strides": [1, 2], "offset": 1}, tag="overlap")
add("t", lambda x, a: x[0].t(), [X([3, 2])], tag="2d")
add("clone", lambda x, a: x[0].clone(), [T([3, 2])], tag="transpose")
add("contiguous", lambda x, a: x[0].contiguous(), [T([3, 2])], tag="transpose")

# Casts: the output has the target dtype.
for src in FLOATS:
    for dst in ("f64", "f32", "f16", "bf16"):
        if dst == src:
            continue
        add("to", lambda x, a: x[0].to(DTYPES[a["dtype"]]), [X([2, 3])], {"dtype": dst}, tag=f"to_{dst}", dtypes=(src,))
        add("to", lambda x, a: x[0].to(DTYPES[a["dtype"]]), [T([2, 3])], {"dtype": dst}, tag=f"to_{dst}_transpose",
            dtypes=(src,))


# ---- nn ops (core/dispatch/nn.cpp) -------------------------------------------------------------
F = torch.nn.functional


def I(shape, high):
    """An int64 index input in [0, high) (repeats allowed)."""
    return X(shape, ("index", high), grad=False, dtype="i64")


def U(shape, high):
    """An int64 index input, distinct along the last dim."""
    return X(shape, ("perm", high), grad=False, dtype="i64")


def M(shape):
    """A bool mask input."""
    return X(shape, "bool", grad=False, dtype="bool")


def opt(x, a, name, i):
    """The optional tensor input `name`: x[i] when attrs say it is present (then i advances)."""
    if a.get(name):
        return x[i], i + 1
    return None, i


for op, tf in (("softmax", torch.softmax), ("log_softmax", torch.log_softmax)):
    f = (lambda tf: lambda x, a: tf(x[0], a["dim"]))(tf)
    add(op, f, [X([3, 5])], {"dim": 1}, tag="dim1_3x5")
    add(op, f, [X([2, 3, 4])], {"dim": 1}, tag="dim1_2x3x4")
    add(op, f, [T([4, 3])], {"dim": 0}, tag="dim0_4x3_transpose")
    add(op, f, [X([])], {"dim": 0}, tag="0d")
    add(op, f, [X([0, 3])], {"dim": 1}, tag="dim1_0x3")

REDUCTIONS = ("none", "mean", "sum")


def t_cross_entropy(x, a):
    w, _ = opt(x, a, "weight", 2)
    return F.cross_entropy(x[0], x[1], weight=w, ignore_index=a["ignore_index"],
                           label_smoothing=a["label_smoothing"], reduction=a["reduction"])


for red in REDUCTIONS:
    add("cross_entropy", t_cross_entropy, [X([6, 5]), I([6], 5)],
        {"ignore_index": -100, "label_smoothing": 0.0, "reduction": red}, tag=f"{red}_6x5")
add("cross_entropy", t_cross_entropy, [X([6, 5]), I([6], 5), X([5], ("uniform", 0.2, 2.0), grad=False)],
    {"weight": True, "ignore_index": 1, "label_smoothing": 0.0, "reduction": "mean"}, tag="weight_ignore1_6x5")
add("cross_entropy", t_cross_entropy, [T([6, 5]), I([6], 5)],
    {"ignore_index": -100, "label_smoothing": 0.1, "reduction": "mean"}, tag="smooth_6x5_transpose")
add("cross_entropy", t_cross_entropy, [X([2, 5, 3]), I([2, 3], 5), X([5], ("uniform", 0.2, 2.0), grad=False)],
    {"weight": True, "ignore_index": -100, "label_smoothing": 0.2, "reduction": "mean"}, tag="weight_smooth_2x5x3")
add("cross_entropy", lambda x, a: F.cross_entropy(x[0], torch.softmax(x[1], 1), reduction=a["reduction"]),
    [X([4, 5]), X([4, 5], grad=False)], {"reduction": "mean", "probs": True}, tag="probs_4x5")


def t_nll(x, a):
    w, _ = opt(x, a, "weight", 2)
    return F.nll_loss(x[0], x[1], weight=w, ignore_index=a["ignore_index"], reduction=a["reduction"])


for red in REDUCTIONS:
    add("nll_loss", t_nll, [X([5, 4]), I([5], 4), X([4], ("uniform", 0.2, 2.0), grad=False)],
        {"weight": True, "ignore_index": 2, "reduction": red}, tag=f"weight_ignore2_{red}_5x4")
add("nll_loss", t_nll, [X([2, 4, 3]), I([2, 3], 4)], {"ignore_index": -100, "reduction": "mean"}, tag="2x4x3")


def t_bce(x, a):
    w, i = opt(x, a, "weight", 2)
    pw, _ = opt(x, a, "pos_weight", i)
    return F.binary_cross_entropy_with_logits(x[0], x[1], weight=w, pos_weight=pw, reduction=a["reduction"])


for red in REDUCTIONS:
    add("bce_with_logits", t_bce, [X([4, 3]), X([4, 3], ("uniform", 0, 1), grad=False)], {"reduction": red},
        tag=f"{red}_4x3")
add("bce_with_logits", t_bce, [T([4, 3]), X([4, 3], ("uniform", 0, 1), grad=False),
                               X([3], ("uniform", 0.5, 2), grad=False), X([3], ("uniform", 0.5, 2), grad=False)],
    {"weight": True, "pos_weight": True, "reduction": "mean"}, tag="weights_4x3_transpose")

for op, tf, extra in (("mse_loss", F.mse_loss, {}), ("l1_loss", F.l1_loss, {}),
                      ("huber_loss", lambda i, t, reduction, delta: F.huber_loss(i, t, reduction=reduction, delta=delta),
                       {"delta": 0.7}),
                      ("smooth_l1_loss", lambda i, t, reduction, beta: F.smooth_l1_loss(i, t, reduction=reduction, beta=beta),
                       {"beta": 0.7})):
    f = (lambda tf: lambda x, a: tf(x[0], x[1], reduction=a["reduction"],
                                    **{k: v for k, v in a.items() if k in ("delta", "beta")}))(tf)
    for red in REDUCTIONS:
        add(op, f, [X([3, 4]), X([3, 4], grad=False)], dict(extra, reduction=red), tag=f"{red}_3x4")
    add(op, f, [T([3, 4]), X([3, 4])], dict(extra, reduction="mean"), tag="target_grad_3x4_transpose")


def t_linear(x, a):
    b, _ = opt(x, a, "bias", 2)
    return F.linear(x[0], x[1], b)


add("linear", t_linear, [X([5, 4]), X([3, 4]), X([3])], {"bias": True}, tag="5x4_3x4")
add("linear", t_linear, [X([2, 5, 4]), T([3, 4])], {"bias": False}, tag="nobias_2x5x4")
add("linear", t_linear, [X([4]), X([3, 4]), X([3])], {"bias": True}, tag="1d")


def t_layer_norm(x, a):
    w, i = opt(x, a, "weight", 1)
    b, _ = opt(x, a, "bias", i)
    return F.layer_norm(x[0], a["shape"], w, b, a["eps"])


add("layer_norm", t_layer_norm, [X([2, 3, 4]), X([4]), X([4])], {"shape": [4], "weight": True, "bias": True,
                                                                  "eps": 1e-5}, tag="last_2x3x4")
add("layer_norm", t_layer_norm, [P([2, 3, 4], [1, 0, 2]), X([3, 4])], {"shape": [3, 4], "weight": True,
                                                                        "eps": 1e-5}, tag="last2_weight_permute")
add("layer_norm", t_layer_norm, [T([3, 5])], {"shape": [5], "eps": 1e-3}, tag="plain_transpose")


def t_batch_norm(x, a):
    rm, rv = x[1].clone(), x[2].clone()
    w, i = opt(x, a, "weight", 3)
    b, _ = opt(x, a, "bias", i)
    y = F.batch_norm(x[0], rm, rv, w, b, training=a["training"], momentum=a["momentum"], eps=a["eps"])
    return (y, rm, rv)


bn_stats = [X([3], grad=False), X([3], ("uniform", 0.5, 2.0), grad=False)]
for training in (True, False):
    mode = "train" if training else "eval"
    add("batch_norm", t_batch_norm, [X([5, 3])] + bn_stats + [X([3]), X([3])],
        {"training": training, "momentum": 0.1, "eps": 1e-5, "weight": True, "bias": True}, tag=f"{mode}_5x3")
    add("batch_norm", t_batch_norm, [P([2, 3, 4, 4], [0, 3, 1, 2])] + bn_stats,
        {"training": training, "momentum": 0.2, "eps": 1e-5}, tag=f"{mode}_2x3x4x4_channels_last")


def t_conv2d(x, a):
    b, _ = opt(x, a, "bias", 2)
    return F.conv2d(x[0], x[1], b, a["stride"], a["padding"], a["dilation"], a["groups"])


CONV_TOL = {"rtol": 1e-4, "atol": 1e-5}
add("conv2d", t_conv2d, [X([2, 3, 6, 6]), X([4, 3, 3, 3]), X([4])],
    {"bias": True, "stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": 1}, tag="pad1", tol=CONV_TOL)
add("conv2d", t_conv2d, [X([1, 2, 7, 6]), X([3, 2, 2, 3])],
    {"stride": [2, 1], "padding": [0, 2], "dilation": [2, 1], "groups": 1}, tag="stride_dilation", tol=CONV_TOL)
add("conv2d", t_conv2d, [P([1, 4, 5, 5], [0, 3, 1, 2]), X([6, 2, 3, 3]), X([6])],
    {"bias": True, "stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": 2}, tag="groups2_channels_last",
    tol=CONV_TOL)

add("max_pool2d", lambda x, a: F.max_pool2d(x[0], a["kernel"], a["stride"], a["padding"]),
    [X([2, 2, 6, 6], ("distinct", 0.01))], {"kernel": [2, 2], "stride": [2, 2], "padding": [0, 0]}, tag="k2s2")
add("max_pool2d", lambda x, a: F.max_pool2d(x[0], a["kernel"], a["stride"], a["padding"]),
    [X([1, 2, 5, 7], ("distinct", 0.01))], {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1]}, tag="k3s2p1")
for cip in (True, False):
    add("avg_pool2d", lambda x, a: F.avg_pool2d(x[0], a["kernel"], a["stride"], a["padding"],
                                                count_include_pad=a["count_include_pad"]),
        [X([1, 2, 5, 7])], {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1], "count_include_pad": cip},
        tag=f"k3s2p1_{'incl' if cip else 'excl'}")
add("avg_pool2d", lambda x, a: F.avg_pool2d(x[0], a["kernel"], a["stride"], a["padding"],
                                            count_include_pad=a["count_include_pad"]),
    [P([2, 3, 4, 4], [0, 3, 1, 2])], {"kernel": [2, 2], "stride": [2, 2], "padding": [0, 0], "count_include_pad": True},
    tag="k2s2_channels_last")

# ---- indexing ops (core/dispatch/indexing.cpp) --------------------------------------------------
add("index_select", lambda x, a: torch.index_select(x[0], a["dim"], x[1]), [X([4, 3]), I([5], 4)], {"dim": 0},
    tag="dim0_repeats")
add("index_select", lambda x, a: torch.index_select(x[0], a["dim"], x[1]), [T([4, 3]), I([2], 3)], {"dim": 1},
    tag="dim1_transpose")
add("index_add", lambda x, a: torch.index_add(x[0], a["dim"], x[1], x[2], alpha=a["alpha"]),
    [X([4, 3]), I([5], 4), X([5, 3])], {"dim": 0, "alpha": 0.5}, tag="dim0_repeats")
add("index_fill", lambda x, a: torch.index_fill(x[0], a["dim"], x[1], a["value"]), [T([4, 3]), I([2], 3)],
    {"dim": 1, "value": 1.5}, tag="dim1_transpose")
add("gather", lambda x, a: torch.gather(x[0], a["dim"], x[1]), [X([3, 4]), I([3, 5], 4)], {"dim": 1}, tag="dim1")
add("gather", lambda x, a: torch.gather(x[0], a["dim"], x[1]), [T([3, 4]), I([2, 4], 3)], {"dim": 0},
    tag="dim0_transpose")
add("scatter", lambda x, a: torch.scatter(x[0], a["dim"], x[1], x[2]), [X([3, 5]), U([3, 2], 5), X([3, 2])],
    {"dim": 1}, tag="dim1")
add("scatter_value", lambda x, a: torch.scatter(x[0], a["dim"], x[1], a["value"]), [T([3, 5]), U([3, 2], 5)],
    {"dim": 1, "value": 2.0}, tag="dim1_transpose")
add("scatter_add", lambda x, a: torch.scatter_add(x[0], a["dim"], x[1], x[2]), [X([3, 5]), I([3, 4], 5), X([3, 4])],
    {"dim": 1}, tag="dim1_repeats")
add("masked_fill", lambda x, a: torch.masked_fill(x[0], x[1], x[2]), [X([3, 4]), M([3, 4]), X([], grad=False)],
    tag="3x4")
add("masked_fill", lambda x, a: torch.masked_fill(x[0], x[1], x[2]), [T([3, 4]), M([4]), X([], grad=False)],
    tag="broadcast_mask_transpose")
add("masked_fill", lambda x, a: torch.masked_fill(x[0], x[1], x[2]), [X([2, 3]), M([2, 3]), X([])],
    tag="value_grad")
add("masked_select", lambda x, a: torch.masked_select(x[0], x[1]), [X([3, 4]), M([3, 4])], tag="3x4")
add("take", lambda x, a: torch.take(x[0], x[1]), [T([3, 4]), I([5], 12)], tag="transpose")
for op, tf in (("tril", torch.tril), ("triu", torch.triu)):
    for dg in (0, 1, -1):
        add(op, (lambda tf: lambda x, a: tf(x[0], a["diagonal"]))(tf), [X([4, 5])], {"diagonal": dg},
            tag=f"diag{dg}_4x5")
    add(op, (lambda tf: lambda x, a: tf(x[0], a["diagonal"]))(tf), [T([4, 5])], {"diagonal": 0},
        tag="diag0_transpose")
add("cumsum", lambda x, a: torch.cumsum(x[0], a["dim"]), [X([3, 4])], {"dim": 1}, tag="dim1")
add("cumsum", lambda x, a: torch.cumsum(x[0], a["dim"]), [T([3, 4])], {"dim": 0}, tag="dim0_transpose")
add("cumsum", lambda x, a: torch.cumsum(x[0], a["dim"]), [X([])], {"dim": 0}, tag="0d")
add("cumprod", lambda x, a: torch.cumprod(x[0], a["dim"]), [X([3, 4], ("signed", 0.5, 1.5))], {"dim": 1}, tag="dim1")
add("cumprod", lambda x, a: torch.cumprod(x[0], a["dim"]), [T([3, 4], ("signed", 0.5, 1.5))], {"dim": 0},
    tag="dim0_transpose")
for desc in (False, True):
    add("sort", lambda x, a: tuple(torch.sort(x[0], dim=a["dim"], descending=a["descending"], stable=True)),
        [X([3, 5], ("distinct", 0.1))], {"dim": -1, "descending": desc}, tag=f"{'desc' if desc else 'asc'}_3x5")
add("sort", lambda x, a: tuple(torch.sort(x[0], dim=a["dim"], descending=a["descending"], stable=True)),
    [T([3, 5], ("distinct", 0.1))], {"dim": 0, "descending": False}, tag="dim0_transpose")
for largest in (True, False):
    add("topk", lambda x, a: tuple(torch.topk(x[0], a["k"], a["dim"], a["largest"], True)),
        [X([3, 6], ("distinct", 0.1))], {"k": 2, "dim": 1, "largest": largest},
        tag=f"k2_{'largest' if largest else 'smallest'}")
add("embedding", lambda x, a: F.embedding(x[1], x[0], padding_idx=a.get("padding_idx")), [X([10, 4]), I([2, 3], 10)],
    tag="10x4")
add("embedding", lambda x, a: F.embedding(x[1], x[0], padding_idx=a.get("padding_idx")),
    [X([6, 3]), X([8], ("index", 6), grad=False, dtype="i64")], {"padding_idx": 2}, tag="padding2")


def t_index(x, a):
    it = iter(x[1:])
    key = tuple(slice(None) if k == "slice" else next(it) for k in a["index"])
    return x[0][key]


add("index", t_index, [X([5, 4]), I([3], 5)], {"index": ["tensor"]}, tag="rows")
add("index", t_index, [T([5, 4]), I([2, 3], 4)], {"index": ["slice", "tensor"]}, tag="cols_transpose")
add("index", t_index, [X([5, 4]), M([5, 4])], {"index": ["tensor"]}, tag="mask")
add("index", t_index, [X([5, 4, 2]), I([3], 5), I([3], 4)], {"index": ["tensor", "tensor"]}, tag="pairs")


def t_index_put(x, a):
    return torch.index_put(x[0], (x[1],), x[2], accumulate=a["accumulate"])


add("index_put", t_index_put, [X([5, 4]), X([3], ("perm", 5), grad=False, dtype="i64"), X([3, 4])],
    {"accumulate": False}, tag="rows")
add("index_put", t_index_put, [T([5, 4]), I([6], 5), X([6, 4])], {"accumulate": True}, tag="accumulate_transpose")


# ---- edge cases: ties, zeros and constant slices --------------------------------------------------
# Where a derivative is undefined (ties, x = 0, std = 0) the value is PyTorch's convention.
add("amax", lambda x, a: torch.amax(x[0], a["dims"], keepdim=a["keepdim"]), [X([3, 4], ("ties", 2))],
    {"dims": [1], "keepdim": False}, tag="ties_dims1_3x4", fd=False)
add("max_dim", lambda x, a: tuple(torch.max(x[0], a["dim"], keepdim=a["keepdim"])), [X([3, 4], ("ties", 2))],
    {"dim": 1, "keepdim": False}, tag="ties_dim1_3x4", fd=False)
add("std", lambda x, a: torch.std(x[0], a["dims"], correction=a["correction"], keepdim=a["keepdim"]),
    [X([2, 3], ("const", 0.5))], {"dims": [1], "correction": 1, "keepdim": False}, tag="const_rows_2x3", fd=False)
add("norm", lambda x, a: torch.linalg.vector_norm(x[0], a["p"], a["dims"], keepdim=a["keepdim"]),
    [X([2, 3], ("const", 0.0))], {"p": 2, "dims": [1], "keepdim": False}, tag="p2_zeros_2x3", fd=False)
add("prod", lambda x, a: torch.prod(x[0], a["dims"][0], keepdim=a["keepdim"]), [X([2, 3], ("ties", 2))],
    {"dims": [1], "keepdim": False}, tag="zeros_dims1_2x3", fd=False)
add("relu", lambda x, a: torch.relu(x[0]), [X([2, 3], ("ties", 2))], tag="zeros_2x3", fd=False)
add("abs", lambda x, a: torch.abs(x[0]), [X([2, 3], ("ties", 2))], tag="zeros_2x3", fd=False)
add("clamp", lambda x, a: torch.clamp(x[0], a["min"], a["max"]), [X([2, 3], ("ties", 3))],
    {"min": 0.0, "max": 0.25}, tag="at_bounds_2x3", fd=False)
add("maximum", lambda x, a: torch.maximum(x[0], x[1]), [X([2, 3], ("ties", 2)), X([2, 3], ("ties", 2))],
    tag="ties_2x3", fd=False)

add("max_pool2d", lambda x, a: F.max_pool2d(x[0], a["kernel"], a["stride"], a["padding"]),
    [X([1, 2, 4, 4], ("ties", 2))], {"kernel": [2, 2], "stride": [2, 2], "padding": [0, 0]}, tag="ties_k2s2", fd=False)
for desc in (False, True):
    add("sort", lambda x, a: tuple(torch.sort(x[0], dim=a["dim"], descending=a["descending"], stable=True)),
        [X([3, 6], ("ties", 3))], {"dim": -1, "descending": desc}, tag=f"ties_{'desc' if desc else 'asc'}_3x6",
        fd=False)
# Large logits: the softmax family must subtract the max (no overflow in f32).
add("softmax", lambda x, a: torch.softmax(x[0], a["dim"]), [X([3, 5], ("uniform", -120, 120))], {"dim": 1},
    tag="large_3x5")
add("log_softmax", lambda x, a: torch.log_softmax(x[0], a["dim"]), [X([3, 5], ("uniform", -120, 120))],
    {"dim": 1}, tag="large_3x5")
add("logsumexp", lambda x, a: torch.logsumexp(x[0], a["dims"], keepdim=a["keepdim"]),
    [X([3, 5], ("uniform", -120, 120))], {"dims": [1], "keepdim": False}, tag="large_3x5")
add("cross_entropy", t_cross_entropy, [X([4, 5], ("uniform", -120, 120)), I([4], 5)],
    {"ignore_index": -100, "label_smoothing": 0.0, "reduction": "mean"}, tag="large_4x5")
add("bce_with_logits", t_bce, [X([4, 3], ("uniform", -120, 120)), X([4, 3], ("uniform", 0, 1), grad=False)],
    {"reduction": "mean"}, tag="large_4x3")

# ---- composites: the MLP acceptance check -----------------------------------------------------
# inputs: x (B, D), W1 (H, D), b1 (H), W2 (C, H), b2 (C), target (B, C); loss = mean((y - target)^2)
# with y = relu(x W1^T + b1) W2^T + b2: nn.Linear's layout.
def t_mlp_mse(x, a):
    xb, w1, b1, w2, b2, tgt = x
    h = torch.relu(xb @ w1.t() + b1)
    y = h @ w2.t() + b2
    return torch.mean((y - tgt) ** 2)


B, D, H, C = 16, 64, 32, 10
mlp_inputs = [X([B, D], grad=False), X([H, D], ("uniform", -0.125, 0.125)), X([H], ("uniform", -0.125, 0.125)),
              X([C, H], ("uniform", -0.18, 0.18)), X([C], ("uniform", -0.18, 0.18)), X([B, C], grad=False)]
add("mlp_mse", t_mlp_mse, mlp_inputs, tag=f"{B}x{D}x{H}x{C}", ones=True)


# The same network with a cross-entropy loss over class indices: target (B,) int64.
def t_mlp_cross_entropy(x, a):
    xb, w1, b1, w2, b2, tgt = x
    return F.cross_entropy(F.linear(torch.relu(F.linear(xb, w1, b1)), w2, b2), tgt)


add("mlp_cross_entropy", t_mlp_cross_entropy, mlp_inputs[:5] + [I([B], C)], tag=f"{B}x{D}x{H}x{C}", ones=True)


# ---- writing ----------------------------------------------------------------------------------


class Blob:
    def __init__(self):
        self.data = bytearray()

    def put(self, t):
        """Appends t (row-major, little-endian) at an 8-byte aligned offset; returns the tensor record."""
        t = t.detach().contiguous()
        dt = DTYPE_NAMES[t.dtype]
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        elif t.dtype == torch.bool:
            raw = t.to(torch.uint8).numpy().tobytes()
        else:
            raw = t.numpy().tobytes()
        while len(self.data) % 8:
            self.data.append(0)
        off = len(self.data)
        self.data.extend(raw)
        return {"dtype": dt, "shape": list(t.shape), "offset": off, "nbytes": len(raw)}


# The case that tests/capi/capi_golden_test.c replays through the C ABI, and its plain-binary copy.
C_MLP_CASE = f"mlp_cross_entropy/{B}x{D}x{H}x{C}/f64"
C_MLP_FILE = "mlp_c.bin"
C_MLP = {}


def write_c_mlp(path):
    """mlp_c.bin: b"PRSMMLP1", int64 B D H C, then f64 x W1 b1 W2 b2, int64 target, f64 loss gW1 gb1 gW2 gb2."""
    leaves, loss, grads = C_MLP["leaves"], C_MLP["loss"], C_MLP["grads"]
    parts = [b"PRSMMLP1", torch.tensor([B, D, H, C], dtype=torch.int64).numpy().tobytes()]
    parts += [t.detach().contiguous().numpy().tobytes() for t in leaves]
    parts += [loss.detach().reshape(1).numpy().tobytes()]
    parts += [g.contiguous().numpy().tobytes() for g in grads]
    with open(path, "wb") as f:
        f.write(b"".join(parts))


def seed_of(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def run_case(case, blob):
    gen = torch.Generator().manual_seed(seed_of(case.name))
    leaves, recs = [], []
    for inp in case.inputs:
        dt = inp.dtype or case.dtype
        base = draw(inp, dt, gen)
        x = apply_view(base, inp.view).detach()
        if inp.grad:
            x.requires_grad_(True)
        leaves.append(x)
        recs.append({"base": blob.put(base), "view": inp.view, "requires_grad": inp.grad})
    out = case.fn(leaves, case.attrs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    diff_outs, upstream, out_recs = [], [], []
    for o in outs:
        rec = blob.put(o)
        if o.requires_grad:
            g = (torch.ones(o.shape, dtype=o.dtype) if case.ones else
                 torch.randn(o.shape, generator=gen, dtype=torch.float64).to(o.dtype))
            diff_outs.append(o)
            upstream.append(g)
            rec["grad"] = blob.put(g)
        out_recs.append(rec)
    wrt = [x for x in leaves if x.requires_grad]
    grads = torch.autograd.grad(diff_outs, wrt, upstream, allow_unused=True) if diff_outs and wrt else []
    if case.name == C_MLP_CASE:
        C_MLP.update(leaves=leaves, loss=outs[0], grads=grads)
    gi = iter(grads)
    for x, rec in zip(leaves, recs):
        if x.requires_grad:
            g = next(gi)
            rec["grad"] = blob.put(g) if g is not None else None
    c = {"name": case.name, "op": case.op, "dtype": case.dtype, "seed": seed_of(case.name),
         "attrs": case.attrs, "inputs": recs, "outputs": out_recs}
    if case.tol:
        c["tol"] = case.tol
    if not case.fd:
        c["fd"] = False
    return c


def main():
    if sys.byteorder != "little":
        raise SystemExit("gen_golden.py writes the host's byte order and must run on a little-endian host")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                    help="directory for golden.json, golden.bin and mlp_c.bin (default: next to this script)")
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    names = set()
    blob = Blob()
    cases = []
    for case in CASES:
        if case.name in names:
            raise SystemExit(f"duplicate case name {case.name}")
        names.add(case.name)
        cases.append(run_case(case, blob))
    manifest = {"format": FORMAT, "version": VERSION, "generator": "tests/golden/gen_golden.py",
                "torch": torch.__version__, "blob": "golden.bin", "blob_bytes": len(blob.data), "cases": cases}
    with open(os.path.join(args.out, "golden.bin"), "wb") as f:
        f.write(blob.data)
    # One case per line, so a regenerated file diffs case by case.
    cases_json = [json.dumps(c, separators=(",", ":"), allow_nan=False) for c in manifest.pop("cases")]
    head = json.dumps(manifest, separators=(",", ":"), allow_nan=False)
    with open(os.path.join(args.out, "golden.json"), "w") as f:
        f.write(head[:-1] + ',"cases":[\n' + ",\n".join(cases_json) + "\n]}\n")
    write_c_mlp(os.path.join(args.out, C_MLP_FILE))
    print(f"{len(cases)} cases, golden.bin {len(blob.data)} bytes, {C_MLP_FILE} for the C ABI check")


if __name__ == "__main__":
    main()
