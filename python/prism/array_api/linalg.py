# linalg.py — the linalg extension of prism.array_api: the functions prism's ops can compute exactly.
"""``prism.array_api.linalg``: matmul, matrix_transpose, tensordot, vecdot,
outer, trace, diagonal, cross, vector_norm and matrix_norm ("fro", "inf",
"-inf", 1, -1) over prism ops. Decompositions and solvers (cholesky, det, eigh,
inv, qr, slogdet, solve, svd, pinv, matrix_rank, matrix_power with negative
powers) need kernels Prism does not have yet and are not offered; the
conformance run lists them in python/tests/array_api/xfails.txt.
"""

from __future__ import annotations

import builtins
import math

from ._ops import P as _P

from . import _dtypes as _d
from ._array_object import Array
from ._functions import (
    _binary,
    _cast,
    _check,
    _normalize_axis,
    _scalar_tensor,
    _wrap,
    matmul,
    matrix_transpose,
    tensordot,
    vecdot,
)
from ._functions import abs as _abs
from ._functions import max as _max
from ._functions import min as _min
from ._functions import sum as _sum

__all__ = [
    "matmul",
    "matrix_transpose",
    "tensordot",
    "vecdot",
    "outer",
    "trace",
    "diagonal",
    "cross",
    "vector_norm",
    "matrix_norm",
]


def outer(x1, x2, /) -> Array:
    a, b, d = _binary("outer", x1, x2, "iuf")
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError("outer: both arrays must be 1-d")
    return _wrap(_P.mul(a.unsqueeze(1), b.unsqueeze(0)))


def diagonal(x, /, *, offset: int = 0) -> Array:
    _check(x, "diagonal")
    if x.ndim < 2:
        raise ValueError("diagonal: needs at least 2 dims")
    return _wrap(_P.diagonal(x._t, offset, -2, -1))


def trace(x, /, *, offset: int = 0, dtype=None) -> Array:
    from ._functions import sum as sum_

    return sum_(diagonal(x, offset=offset), axis=-1, dtype=dtype)


def cross(x1, x2, /, *, axis: int = -1) -> Array:
    a, b, d = _binary("cross", x1, x2, "iuf")
    if x1.shape[axis] != 3 or x2.shape[axis] != 3:
        raise ValueError("cross: the axis must have size 3 in both arrays")
    a, b = _P.broadcast_tensors(a, b) if hasattr(_P, "broadcast_tensors") else (a, b)
    nd = builtins.max(x1.ndim, x2.ndim)
    ax = _normalize_axis(axis, nd, "cross")

    def c(t, i):
        return _P.narrow(t, ax if t.ndim == nd else ax - (nd - t.ndim), i, 1)

    x, y, z = c(a, 0), c(a, 1), c(a, 2)
    u, v, w = c(b, 0), c(b, 1), c(b, 2)
    r0 = _P.sub(_P.mul(y, w), _P.mul(z, v))
    r1 = _P.sub(_P.mul(z, u), _P.mul(x, w))
    r2 = _P.sub(_P.mul(x, v), _P.mul(y, u))
    return _wrap(_P.cat([r0, r1, r2], ax))


def vector_norm(x, /, *, axis=None, keepdims: bool = False, ord=2) -> Array:  # noqa: A002
    _check(x, "vector_norm")
    if _d.is_complex(x.dtype):
        x = _abs(x)  # the norm of a complex vector is the norm of its magnitudes (a real result)
    if not _d.is_float(x.dtype):
        raise TypeError("vector_norm: needs a floating point array")
    a = _abs(x)
    if ord == math.inf:
        return _max(a, axis=axis, keepdims=keepdims) if x.size else _sum(a, axis=axis, keepdims=keepdims)
    if ord == -math.inf:
        return _min(a, axis=axis, keepdims=keepdims)
    if ord == 0:
        nz = _wrap(_cast(_P.ne(x._t, _scalar_tensor(0, x.dtype, x.device)), x.dtype))
        return _sum(nz, axis=axis, keepdims=keepdims)
    if ord == 1:
        return _sum(a, axis=axis, keepdims=keepdims)
    p = float(ord)
    powed = _wrap(_P.pow(a._t, _scalar_tensor(p, x.dtype, x.device)))
    s = _sum(powed, axis=axis, keepdims=keepdims)
    return _wrap(_P.pow(s._t, _scalar_tensor(1.0 / p, x.dtype, x.device)))


def matrix_norm(x, /, *, keepdims: bool = False, ord="fro") -> Array:  # noqa: A002
    _check(x, "matrix_norm")
    if x.ndim < 2:
        raise ValueError("matrix_norm: needs at least 2 dims")
    if ord == "fro":
        return vector_norm(x, axis=(-2, -1), keepdims=keepdims, ord=2)
    a = _abs(x)
    if ord in (1, -1):
        s = _sum(a, axis=-2, keepdims=True)
        r = (_max if ord == 1 else _min)(s, axis=-1, keepdims=True)
    elif ord in (math.inf, -math.inf):
        s = _sum(a, axis=-1, keepdims=True)
        r = (_max if ord == math.inf else _min)(s, axis=-2, keepdims=True)
    else:
        raise ValueError(f"matrix_norm: ord {ord!r} needs singular values, which Prism does not compute yet")
    if not keepdims:
        r = _wrap(r._t.reshape(x.shape[:-2]))
    return r
