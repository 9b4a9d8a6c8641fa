# _indexing.py — __getitem__ / __setitem__ of prism.array_api arrays over prism Tensor indexing.
"""Indexing of :class:`prism.array_api.Array`.

Note [Array API indexing]
-------------------------
The key is normalised, then handed to the prism Tensor's own indexing:
integers, slices with positive steps, ``None``, ``...``, bool arrays and
integer arrays pass through (Arrays become their tensors). The standard also
allows negative slice steps, which prism's views do not take: such a slice
becomes a positive-step slice of the dim read backwards (a gather with a
reversed index), which is exact. Integers out of range raise IndexError, as
the standard asks (Python's rule for sequences).
"""

from __future__ import annotations

import builtins

import numpy as _np

from ._ops import P as _P

from . import _dtypes as _d
from ._array_object import Array


def _key_tuple(key):
    return key if isinstance(key, tuple) else (key,)


def _consumes(k) -> int:
    if k is None or k is Ellipsis:
        return 0
    if isinstance(k, Array) and _d.is_bool(k.dtype):
        return builtins.max(k.ndim, 0)
    return 1


def _normalize(x: Array, key):
    """(tensor to index, key for it) with Arrays as tensors and negative steps removed."""
    key = _key_tuple(key)
    if builtins.sum(1 for k in key if k is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = builtins.sum(_consumes(k) for k in key)
    if used > x.ndim:
        raise IndexError(f"too many indices for an array of {x.ndim} dims ({used} given)")
    t = x._t
    out = []
    dim = 0
    for k in key:
        if k is Ellipsis:
            out.append(k)
            dim = x.ndim - builtins.sum(_consumes(j) for j in key[key.index(Ellipsis) + 1 :])
            continue
        if k is None:
            out.append(None)
            continue
        if isinstance(k, builtins.bool):
            out.append(k)
            continue
        if isinstance(k, Array):
            if _d.is_bool(k.dtype):
                if k.shape != x.shape[dim : dim + k.ndim]:
                    raise IndexError(f"boolean index of shape {k.shape} does not match {x.shape[dim:dim + k.ndim]}")
                out.append(k._t)
                dim += k.ndim
                continue
            if not _d.is_int(k.dtype):
                raise IndexError(f"arrays used as indices must be integer or bool, got {k.dtype.name}")
            out.append(k._t)
            dim += 1
            continue
        if hasattr(k, "__index__") and not isinstance(k, slice):
            i = k.__index__()
            n = x.shape[dim]
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for axis {dim} with size {n}")
            out.append(i)
            dim += 1
            continue
        if isinstance(k, slice):
            n = x.shape[dim]
            start, stop, step = k.indices(n)
            if step < 0:
                count = len(range(start, stop, step))
                rev = _P.from_numpy(_np.arange(n - 1, -1, -1, dtype=_np.int64))
                t = _P.index_select(t, dim, rev) if n > 0 else t
                start = n - 1 - start
                out.append(slice(start, start + count * (-step), -step) if count else slice(0, 0, 1))
            else:
                out.append(slice(start, stop, step))
            dim += 1
            continue
        raise IndexError(f"unsupported index {k!r} ({type(k).__name__})")
    return t, tuple(out)


def getitem(x: Array, key) -> Array:
    t, k = _normalize(x, key)
    if k == ():
        return Array._new(t)
    return Array._new(t[k])


def setitem(x: Array, key, value) -> None:
    key_t = _key_tuple(key)
    if builtins.any(isinstance(k, slice) and k.step is not None and k.step < 0 for k in key_t):
        # write through positions: the negative-step slice becomes an index array into the same memory
        fixed = []
        dim = 0
        n_neg = 0
        for k in key_t:
            if isinstance(k, slice) and k.step is not None and k.step < 0:
                idx = list(range(*k.indices(x.shape[dim])))
                fixed.append(Array._new(_P.from_numpy(_np.asarray(idx, dtype=_np.int64))))
                n_neg += 1
            else:
                fixed.append(k)
            dim += _consumes(k) if k is not Ellipsis else x.ndim - builtins.sum(_consumes(j) for j in key_t)
        if n_neg > 1 or builtins.any(isinstance(k, Array) for k in key_t):
            raise IndexError("setitem: only one negative-step slice (and no index arrays) is supported in a key")
        key = tuple(fixed)
    t_key = _normalize(x, key)[1]
    if isinstance(value, Array):
        v = value._t if value.dtype is x.dtype else value._t.to(x.dtype._prism)
    else:
        from ._functions import _operand

        v = _operand(value, x)
        if v is NotImplemented:
            raise TypeError(f"cannot assign {type(value).__name__} to an array")
        v = v._t
    x._t[t_key if t_key != () else ...] = v
