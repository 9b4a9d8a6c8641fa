# _functions.py — the functions of the prism.array_api namespace (2023.12), written over prism's ops.
"""Functions of :mod:`prism.array_api`.

Every function computes with prism ops on the arrays' tensors; NumPy is used
only to turn Python data (nested sequences, scalars, buffers) into host memory
that prism then adopts, exactly as ``prism.from_numpy`` does.

Note [Array API composites]
---------------------------
Where prism has no op of its own, a function is a composite of prism ops that
is exact (no float detour for integers): ``searchsorted`` counts comparisons,
the ``unique_*`` family sorts and marks the first element of each run (NaNs
compare unequal, so each NaN stays distinct, as the standard asks), ``roll``
concatenates two narrowed pieces, ``repeat`` and ``flip`` gather with integer
index arrays, ``tensordot`` permutes and reshapes to one matmul.
"""

from __future__ import annotations

import builtins
import math
from typing import Optional, Sequence, Tuple, Union

import numpy as _np

from ._ops import P as _P

from . import _dtypes as _d
from ._array_object import CPU, Array, Device, _device_name
from ._dtypes import DType

# ===========================================================================
# helpers
# ===========================================================================


def _wrap(t) -> Array:
    return Array._new(t)


def _check(x, fn: str) -> Array:
    if not isinstance(x, Array):
        raise TypeError(f"{fn}: expected a prism.array_api Array, got {type(x).__name__}")
    return x


def _np_dtype(d: DType):
    return _np.dtype(d.name)


def _from_numpy(a, device=None):
    a = _np.asarray(a)
    if not a.flags.c_contiguous or not a.flags.writeable:
        a = a.copy()  # (ascontiguousarray would turn a 0-d array into 1-d)
    t = _P.from_numpy(a)
    dev = _device_name(device)
    if dev is not None and dev != "cpu":
        t = t.to(dev)
    return t


def _scalar_tensor(value, d: DType, device=None):
    return _from_numpy(_np.asarray(value, dtype=_np_dtype(d)), device)


def _operand(other, like: Array, allow_scalar: bool = True):
    """`other` as an Array for a binary op with `like` (Note [Array API array object])."""
    if isinstance(other, Array):
        return other
    if not allow_scalar:
        return NotImplemented
    d = like.dtype
    if isinstance(other, builtins.bool):
        if not _d.is_bool(d):
            raise TypeError(f"a Python bool operand needs a bool array, got {d.name}")
        return _wrap(_scalar_tensor(other, d, like.device))
    if isinstance(other, int):
        if _d.is_bool(d):
            raise TypeError("a Python int operand needs a numeric array, got bool")
        if _d.is_int(d):
            info = _np.iinfo(_np_dtype(d))
            if not info.min <= other <= info.max:
                raise OverflowError(f"Python int {other} does not fit {d.name}")
        return _wrap(_scalar_tensor(other, d, like.device))
    if isinstance(other, float):
        if not _d.is_inexact(d):
            raise TypeError(f"a Python float operand needs a floating point array, got {d.name}")
        return _wrap(_scalar_tensor(other, d, like.device))
    if isinstance(other, complex):
        if not _d.is_complex(d):
            raise TypeError(f"a Python complex operand needs a complex array, got {d.name}")
        return _wrap(_scalar_tensor(other, d, like.device))
    return NotImplemented


def _as_array(x, like: Array | None = None) -> Array:
    if isinstance(x, Array):
        return x
    if like is not None:
        r = _operand(x, like)
        if r is not NotImplemented:
            return r
    return asarray(x)


def _cast(t, d: DType):
    return t if _d.from_prism(t.dtype) is d else t.to(d._prism)


def _promoted(x1: Array, x2: Array):
    d = _d.promote(x1.dtype, x2.dtype)
    return _cast(x1._t, d), _cast(x2._t, d), d


def _binary(fn: str, x1, x2, kinds: str = "biufc"):
    if not isinstance(x1, Array):
        x1 = _as_array(x1, x2 if isinstance(x2, Array) else None)
    if not isinstance(x2, Array):
        x2 = _as_array(x2, x1)
    a, b, d = _promoted(x1, x2)
    if d.kind not in kinds:
        raise TypeError(f"{fn}: not defined for {d.name} arrays")
    return a, b, d


def _normalize_axis(axis: int, ndim: int, fn: str) -> int:
    if not isinstance(axis, int) or isinstance(axis, builtins.bool):
        raise TypeError(f"{fn}: axis must be an int, got {axis!r}")
    if not -ndim <= axis < builtins.max(ndim, 1) or (ndim == 0 and axis not in (0, -1)):
        raise IndexError(f"{fn}: axis {axis} is out of bounds for an array of {ndim} dims")
    return axis % ndim if ndim else 0


def _axes(axis, ndim: int, fn: str) -> Tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    out = tuple(_normalize_axis(a, ndim, fn) for a in axis)
    if len(set(out)) != len(out):
        raise ValueError(f"{fn}: repeated axis in {axis}")
    return out


def _shape_arg(shape) -> Tuple[int, ...]:
    if isinstance(shape, int):
        return (shape,)
    return tuple(int(s) for s in shape)


def _i64(values, device=None):
    return _from_numpy(_np.asarray(values, dtype=_np.int64), device)


# ===========================================================================
# creation
# ===========================================================================


def _infer_dtype(obj) -> DType:
    a = _np.asarray(obj)
    k = a.dtype.kind
    if k == "b":
        return _d.bool
    if k in "iu":
        return _d.default_int
    if k == "f":
        return _d.default_float
    if k == "c":
        return _d.complex64 if _d.default_float is _d.float32 else _d.complex128
    if k == "O":
        raise OverflowError(f"asarray: {obj!r} does not fit int64")
    raise TypeError(f"asarray: cannot make an array from {type(obj).__name__} (numpy kind {k!r})")


def _has_arrays(obj) -> builtins.bool:
    if isinstance(obj, Array):
        return True
    if isinstance(obj, (list, tuple)):
        return builtins.any(_has_arrays(o) for o in obj)
    return False


def _unwrap_nested(obj):
    if isinstance(obj, Array):
        return obj._host()
    if isinstance(obj, (list, tuple)):
        return [_unwrap_nested(o) for o in obj]
    return obj


def asarray(obj, /, *, dtype: Optional[DType] = None, device=None, copy: Optional[builtins.bool] = None) -> Array:
    """Convert `obj` (an Array, prism Tensor, DLPack or buffer object, Python scalar or nested sequence) to an Array."""
    if dtype is not None:
        _d.check(dtype)
    if isinstance(obj, Array) or isinstance(obj, _P.Tensor):
        t = obj._t if isinstance(obj, Array) else obj
        src_d = _d.from_prism(t.dtype)
        if dtype is not None and dtype is not src_d:
            if copy is False:
                raise ValueError(f"asarray: casting {src_d.name} to {dtype.name} needs a copy (copy=False given)")
            t = t.to(dtype._prism)
        elif copy:
            t = t.clone()
        dev = _device_name(device)
        if dev is not None and dev != str(t.device):
            if copy is False:
                raise ValueError("asarray: moving to another device needs a copy (copy=False given)")
            t = t.to(dev)
        return _wrap(t)
    if isinstance(obj, _np.ndarray) or (hasattr(obj, "__array_interface__") or hasattr(obj, "__buffer__")) and not isinstance(obj, (bytes, bytearray)):
        a = _np.asarray(obj)
        if a.dtype.kind not in "biufc":
            raise TypeError(f"asarray: unsupported buffer dtype {a.dtype}")
        if dtype is not None and a.dtype != _np_dtype(dtype):
            if copy is False:
                raise ValueError("asarray: changing the dtype needs a copy (copy=False given)")
            a = a.astype(_np_dtype(dtype))
        elif copy:
            a = a.copy()
        elif copy is False and not a.flags.c_contiguous:
            raise ValueError("asarray: a non-contiguous buffer needs a copy (copy=False given)")
        return _wrap(_from_numpy(a, device))
    if hasattr(obj, "__dlpack__") and not isinstance(obj, (list, tuple)):
        r = from_dlpack(obj)
        return asarray(r, dtype=dtype, device=device, copy=copy)
    if copy is False:
        raise ValueError("asarray: a Python object always needs a copy (copy=False given)")
    if dtype is None and isinstance(obj, (builtins.bool, int, float, complex)):  # fast path for scalars
        dtype = (_d.bool if isinstance(obj, builtins.bool) else _d.default_int if isinstance(obj, int)
                 else _d.default_float if isinstance(obj, float) else _d.complex64)
        if _d.is_int(dtype) and not -(2**63) <= obj < 2**63:
            raise OverflowError(f"asarray: {obj} does not fit int64")
        return _wrap(_scalar_tensor(obj, dtype, device))
    if _has_arrays(obj):
        obj = _unwrap_nested(obj)
    if dtype is None:
        dtype = _infer_dtype(obj)
    if _d.is_int(dtype):
        probe = _np.asarray(obj)
        if probe.dtype.kind == "O":
            raise OverflowError(f"asarray: values do not fit {dtype.name}")
        if probe.dtype.kind == "f":
            a = probe.astype(_np_dtype(dtype))
        else:
            info = _np.iinfo(_np_dtype(dtype))
            if probe.size and (probe.min() < info.min or probe.max() > info.max):
                raise OverflowError(f"asarray: values do not fit {dtype.name}")
            a = probe.astype(_np_dtype(dtype))
    else:
        with _np.errstate(over="ignore"):
            a = _np.asarray(obj, dtype=_np_dtype(dtype))
    return _wrap(_from_numpy(a, device))


def _creation_dtype(dtype, default: DType) -> DType:
    return default if dtype is None else _d.check(dtype)


def zeros(shape, *, dtype=None, device=None) -> Array:
    d = _creation_dtype(dtype, _d.default_float)
    return _wrap(_P.zeros(_shape_arg(shape), dtype=d._prism, device=_device_name(device)))


def ones(shape, *, dtype=None, device=None) -> Array:
    d = _creation_dtype(dtype, _d.default_float)
    return _wrap(_P.ones(_shape_arg(shape), dtype=d._prism, device=_device_name(device)))


def empty(shape, *, dtype=None, device=None) -> Array:
    d = _creation_dtype(dtype, _d.default_float)
    return _wrap(_P.empty(_shape_arg(shape), dtype=d._prism, device=_device_name(device)))


def _fill_dtype(fill_value) -> DType:
    if isinstance(fill_value, builtins.bool):
        return _d.bool
    if isinstance(fill_value, int):
        return _d.default_int
    if isinstance(fill_value, float):
        return _d.default_float
    if isinstance(fill_value, complex):
        return _d.complex64
    if isinstance(fill_value, Array):
        return fill_value.dtype
    raise TypeError(f"full: fill_value must be a bool, int, float or complex, got {type(fill_value).__name__}")


def full(shape, fill_value, *, dtype=None, device=None) -> Array:
    d = _fill_dtype(fill_value) if dtype is None else _d.check(dtype)
    if isinstance(fill_value, Array):
        fill_value = fill_value._scalar()
    if _d.is_int(d):
        info = _np.iinfo(_np_dtype(d))
        if not isinstance(fill_value, int) or not info.min <= fill_value <= info.max:
            raise OverflowError(f"full: {fill_value!r} does not fit {d.name}")
    if _d.is_complex(d) or isinstance(fill_value, complex):
        # prism.full takes a real value; a complex fill goes through host memory
        return _wrap(_from_numpy(_np.full(_shape_arg(shape), fill_value, dtype=_np_dtype(d)), device))
    return _wrap(_P.full(_shape_arg(shape), fill_value, dtype=d._prism, device=_device_name(device)))


def _like_dtype(x: Array, dtype) -> DType:
    return x.dtype if dtype is None else _d.check(dtype)


def _like_device(x: Array, device):
    return x.device if device is None else device


def zeros_like(x, /, *, dtype=None, device=None) -> Array:
    return zeros(x.shape, dtype=_like_dtype(x, dtype), device=_like_device(x, device))


def ones_like(x, /, *, dtype=None, device=None) -> Array:
    return ones(x.shape, dtype=_like_dtype(x, dtype), device=_like_device(x, device))


def empty_like(x, /, *, dtype=None, device=None) -> Array:
    return empty(x.shape, dtype=_like_dtype(x, dtype), device=_like_device(x, device))


def full_like(x, /, fill_value, *, dtype=None, device=None) -> Array:
    d = _like_dtype(x, dtype)
    if _d.is_bool(d):
        fill_value = builtins.bool(fill_value)
    elif _d.is_float(d) and isinstance(fill_value, int):
        fill_value = float(fill_value)
    return full(x.shape, fill_value, dtype=d, device=_like_device(x, device))


def arange(start, /, stop=None, step=1, *, dtype=None, device=None) -> Array:
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be 0")
    if dtype is None:
        ints = builtins.all(isinstance(v, int) for v in (start, stop, step))
        dtype = _d.default_int if ints else _d.default_float
    _d.check(dtype)
    n = builtins.max(math.ceil((stop - start) / step), 0)
    if _d.is_int(dtype):
        values = _np.array([start + i * step for i in range(n)], dtype=_np.int64).astype(_np_dtype(dtype))
    else:
        values = (start + _np.arange(n, dtype=_np.float64) * step).astype(_np_dtype(dtype))
    return _wrap(_from_numpy(values, device))


def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True) -> Array:
    if isinstance(start, complex) or isinstance(stop, complex):
        raise TypeError("linspace: complex endpoints are not supported (Prism's linspace is real)")
    d = _creation_dtype(dtype, _d.default_float)
    if not _d.is_float(d):
        raise TypeError(f"linspace: dtype must be a floating point dtype, got {d.name}")
    if num < 0:
        raise ValueError("linspace: num must be >= 0")
    if endpoint:
        t = _P.linspace(float(start), float(stop), int(num), dtype=_d.float64._prism)
    else:
        t = _P.linspace(float(start), float(stop), int(num) + 1, dtype=_d.float64._prism)[: int(num)]
    t = t.to(d._prism)
    dev = _device_name(device)
    if dev is not None and dev != "cpu":
        t = t.to(dev)
    return _wrap(t)


def eye(n_rows: int, n_cols: Optional[int] = None, /, *, k: int = 0, dtype=None, device=None) -> Array:
    d = _creation_dtype(dtype, _d.default_float)
    n_cols = n_rows if n_cols is None else n_cols
    base = _P.ones((n_rows, n_cols), dtype=d._prism, device=_device_name(device))
    if n_rows == 0 or n_cols == 0:
        return _wrap(base)
    return _wrap(_P.triu(_P.tril(base, k), k))


def tril(x, /, *, k: int = 0) -> Array:
    return _wrap(_P.tril(_check(x, "tril")._t, k))


def triu(x, /, *, k: int = 0) -> Array:
    return _wrap(_P.triu(_check(x, "triu")._t, k))


def meshgrid(*arrays, indexing: str = "xy") -> list:
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    if len(arrays) == 0:
        return []
    d = _d.result_type_of([a.dtype for a in arrays])
    shape = [a.size for a in arrays]
    if indexing == "xy" and len(arrays) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, a in enumerate(arrays):
        view = [1] * len(arrays)
        pos = i
        if indexing == "xy" and len(arrays) >= 2 and i < 2:
            pos = 1 - i
        view[pos] = a.size
        t = _cast(a._t.reshape(tuple(view)), d).expand(tuple(shape)).contiguous()
        out.append(_wrap(t))
    return out


def from_dlpack(x, /, *, device=None, copy=None) -> Array:
    if isinstance(x, Array):
        return asarray(x, device=device, copy=copy)
    if copy:
        t = _P.from_dlpack(x).clone()
    else:
        t = _P.from_dlpack(x)
    dev = _device_name(device)
    if dev is not None and dev != str(t.device):
        if copy is False:
            raise ValueError("from_dlpack: moving to another device needs a copy (copy=False given)")
        t = t.to(dev)
    return _wrap(t)


# ===========================================================================
# data type functions
# ===========================================================================


def astype(x, dtype, /, *, copy: builtins.bool = True, device=None) -> Array:
    _check(x, "astype")
    _d.check(dtype)
    t = x._t
    if dtype is x.dtype:
        t = t.clone() if copy else t
    else:
        t = t.to(dtype._prism)
    dev = _device_name(device)
    if dev is not None and dev != str(t.device):
        t = t.to(dev)
    return _wrap(t)


def can_cast(from_, to, /) -> builtins.bool:
    f = from_.dtype if isinstance(from_, Array) else _d.check(from_)
    _d.check(to)
    if f is to:
        return True
    try:
        return _d.promote(f, to) is to
    except TypeError:
        return False


class finfo_object:
    def __init__(self, d: DType):
        info = _np.finfo(_np_dtype(d))
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.smallest_normal = float(info.tiny)
        self.dtype = d


class iinfo_object:
    def __init__(self, d: DType):
        info = _np.iinfo(_np_dtype(d))
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = d


def finfo(type, /) -> finfo_object:  # noqa: A002 - the standard's name
    d = type.dtype if isinstance(type, Array) else _d.check(type)
    d = _d.real_of(d)  # complex64 -> float32's figures, as the standard says
    if not _d.is_float(d):
        raise TypeError(f"finfo: {d.name} is not a floating point dtype")
    return finfo_object(d)


def iinfo(type, /) -> iinfo_object:  # noqa: A002
    d = type.dtype if isinstance(type, Array) else _d.check(type)
    if not _d.is_int(d):
        raise TypeError(f"iinfo: {d.name} is not an integer dtype")
    return iinfo_object(d)


_KINDS = {
    "bool": "b",
    "signed integer": "i",
    "unsigned integer": "u",
    "integral": "iu",
    "real floating": "f",
    "complex floating": "c",
    "numeric": "iufc",
}


def isdtype(dtype, kind) -> builtins.bool:
    _d.check(dtype)
    if isinstance(kind, tuple):
        return builtins.any(isdtype(dtype, k) for k in kind)
    if isinstance(kind, DType):
        return dtype is kind
    if isinstance(kind, str):
        if kind not in _KINDS:
            raise ValueError(f"isdtype: unknown kind {kind!r}")
        return dtype.kind in _KINDS[kind] and _KINDS[kind] != ""
    raise TypeError(f"isdtype: kind must be a dtype, a str or a tuple, got {kind!r}")


def result_type(*arrays_and_dtypes) -> DType:
    if not arrays_and_dtypes:
        raise ValueError("result_type: at least one array or dtype is needed")
    dts = []
    scalars = []
    for a in arrays_and_dtypes:
        if isinstance(a, Array):
            dts.append(a.dtype)
        elif isinstance(a, DType):
            dts.append(a)
        elif isinstance(a, (builtins.bool, int, float, complex)):
            scalars.append(a)
        else:
            raise TypeError(f"result_type: unexpected {a!r}")
    if not dts:
        raise ValueError("result_type: at least one array or dtype is needed")
    r = _d.result_type_of(dts)
    for s in scalars:
        if isinstance(s, builtins.bool) and not _d.is_bool(r):
            raise TypeError(f"result_type: a bool scalar with {r.name}")
        if isinstance(s, float) and not _d.is_inexact(r):
            raise TypeError(f"result_type: a float scalar with {r.name}")
        if isinstance(s, int) and not isinstance(s, builtins.bool) and _d.is_bool(r):
            raise TypeError("result_type: an int scalar with bool")
        if isinstance(s, complex) and not _d.is_complex(r):
            raise TypeError(f"result_type: a complex scalar with {r.name}")
    return r


def broadcast_shapes(*shapes) -> Tuple[int, ...]:
    ndim = builtins.max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for i, n in enumerate(s):
            j = ndim - len(s) + i
            if out[j] == 1:
                out[j] = n
            elif n != 1 and n != out[j]:
                raise ValueError(f"shapes {shapes} are not broadcastable")
    return tuple(out)


def broadcast_arrays(*arrays) -> list:
    shape = broadcast_shapes(*[a.shape for a in arrays])
    return [broadcast_to(a, shape) for a in arrays]


def broadcast_to(x, /, shape) -> Array:
    _check(x, "broadcast_to")
    shape = _shape_arg(shape)
    if broadcast_shapes(x.shape, shape) != shape:
        raise ValueError(f"broadcast_to: cannot broadcast {x.shape} to {shape}")
    return _wrap(x._t.expand(shape))


# ===========================================================================
# elementwise
# ===========================================================================


def _unary_float(name: str, complex_ok: builtins.bool = True):
    def fn(x, /):
        _check(x, name)
        if not _d.is_inexact(x.dtype) or (not complex_ok and _d.is_complex(x.dtype)):
            raise TypeError(f"{name}: needs a floating point array, got {x.dtype.name}")
        return _wrap(getattr(_P, name)(x._t))

    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name} of a floating point array."
    return fn


sqrt = _unary_float("sqrt")
exp = _unary_float("exp")
expm1 = _unary_float("expm1")
log = _unary_float("log")
log1p = _unary_float("log1p")
log2 = _unary_float("log2")
log10 = _unary_float("log10")
sin = _unary_float("sin")
cos = _unary_float("cos")
tan = _unary_float("tan")
sinh = _unary_float("sinh")
cosh = _unary_float("cosh")
tanh = _unary_float("tanh")
asin = _unary_float("asin")
acos = _unary_float("acos")
atan = _unary_float("atan")
asinh = _unary_float("asinh")
acosh = _unary_float("acosh")
atanh = _unary_float("atanh")


def _unary_numeric(name: str, prism_name: str | None = None, keep_int: builtins.bool = False,
                   complex_ok: builtins.bool = True):
    pname = prism_name or name

    def fn(x, /):
        _check(x, name)
        if _d.is_bool(x.dtype):
            raise TypeError(f"{name}: not defined for bool arrays")
        if keep_int and _d.is_int(x.dtype):
            return _wrap(x._t.clone())
        if not complex_ok and _d.is_complex(x.dtype):
            raise TypeError(f"{name}: not defined for complex arrays")
        return _wrap(getattr(_P, pname)(x._t))

    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name} of a numeric array."
    return fn


abs = _unary_numeric("abs")  # noqa: A001
negative = _unary_numeric("negative", "neg")
square = _unary_numeric("square")
ceil = _unary_numeric("ceil", keep_int=True, complex_ok=False)
floor = _unary_numeric("floor", keep_int=True, complex_ok=False)
trunc = _unary_numeric("trunc", keep_int=True, complex_ok=False)
round = _unary_numeric("round", keep_int=True, complex_ok=False)  # noqa: A001


def positive(x, /) -> Array:
    _check(x, "positive")
    if _d.is_bool(x.dtype):
        raise TypeError("positive: not defined for bool arrays")
    return _wrap(x._t.clone())


def sign(x, /) -> Array:
    _check(x, "sign")
    if _d.is_bool(x.dtype):
        raise TypeError("sign: not defined for bool arrays")
    s = _P.sign(x._t)
    if _d.is_inexact(x.dtype):  # the standard keeps NaN (prism's sign(NaN) is 0, as PyTorch's)
        s = _P.where(_P.isnan(x._t), x._t, s)
    return _wrap(s)


def _predicate(name: str):
    def fn(x, /):
        _check(x, name)
        return _wrap(getattr(_P, name)(x._t))

    fn.__name__ = name
    return fn


isnan = _predicate("isnan")
isinf = _predicate("isinf")
isfinite = _predicate("isfinite")


def signbit(x, /) -> Array:
    _check(x, "signbit")
    if not _d.is_float(x.dtype):
        raise TypeError(f"signbit: needs a floating point array, got {x.dtype.name}")
    return _wrap(_P.signbit(x._t))


def logical_not(x, /) -> Array:
    _check(x, "logical_not")
    return _wrap(_P.logical_not(x._t))


def bitwise_invert(x, /) -> Array:
    _check(x, "bitwise_invert")
    if _d.is_inexact(x.dtype):
        raise TypeError("bitwise_invert: needs an integer or bool array")
    return _wrap(_P.bitwise_not(x._t))


def conj(x, /) -> Array:
    _check(x, "conj")
    if _d.is_complex(x.dtype):
        return _wrap(_P.conj(x._t))
    return _wrap(x._t.clone())


def real(x, /) -> Array:
    _check(x, "real")
    if _d.is_complex(x.dtype):
        return _wrap(_P.real(x._t))
    return _wrap(x._t.clone())


def imag(x, /) -> Array:
    _check(x, "imag")
    if _d.is_complex(x.dtype):
        return _wrap(_P.imag(x._t))
    return zeros_like(x)


def _binary_fn(name: str, prism_name: str, kinds: str):
    def fn(x1, x2, /):
        a, b, _ = _binary(name, x1, x2, kinds)
        return _wrap(getattr(_P, prism_name)(a, b))

    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name} with the standard's type promotion."
    return fn


add = _binary_fn("add", "add", "biufc")
subtract = _binary_fn("subtract", "sub", "iufc")
multiply = _binary_fn("multiply", "mul", "biufc")
remainder = _binary_fn("remainder", "remainder", "iuf")
maximum = _binary_fn("maximum", "maximum", "iuf")
minimum = _binary_fn("minimum", "minimum", "iuf")
atan2 = _binary_fn("atan2", "atan2", "f")
hypot = _binary_fn("hypot", "hypot", "f")
copysign = _binary_fn("copysign", "copysign", "f")
logaddexp = _binary_fn("logaddexp", "logaddexp", "f")
nextafter = _binary_fn("nextafter", "nextafter", "f")
equal = _binary_fn("equal", "eq", "biufc")
not_equal = _binary_fn("not_equal", "ne", "biufc")
less = _binary_fn("less", "lt", "iuf")
less_equal = _binary_fn("less_equal", "le", "iuf")
greater = _binary_fn("greater", "gt", "iuf")
greater_equal = _binary_fn("greater_equal", "ge", "iuf")
bitwise_and = _binary_fn("bitwise_and", "bitwise_and", "biu")
bitwise_or = _binary_fn("bitwise_or", "bitwise_or", "biu")
bitwise_xor = _binary_fn("bitwise_xor", "bitwise_xor", "biu")
bitwise_left_shift = _binary_fn("bitwise_left_shift", "bitwise_left_shift", "iu")
bitwise_right_shift = _binary_fn("bitwise_right_shift", "bitwise_right_shift", "iu")


def _logical(name: str, prism_name: str):
    def fn(x1, x2, /):
        a, b, _ = _binary(name, x1, x2, "b")
        return _wrap(getattr(_P, prism_name)(a, b))

    fn.__name__ = name
    return fn


logical_and = _logical("logical_and", "logical_and")
logical_or = _logical("logical_or", "logical_or")
logical_xor = _logical("logical_xor", "logical_xor")


def divide(x1, x2, /) -> Array:
    a, b, d = _binary("divide", x1, x2, "iufc")
    return _wrap(_P.div(a, b))


def floor_divide(x1, x2, /) -> Array:
    a, b, d = _binary("floor_divide", x1, x2, "iuf")
    return _wrap(_P.div(a, b, rounding_mode="floor"))


def pow(x1, x2, /) -> Array:  # noqa: A001
    a, b, d = _binary("pow", x1, x2, "iufc")
    return _wrap(_P.pow(a, b))


def clip(x, /, min=None, max=None) -> Array:  # noqa: A002
    _check(x, "clip")
    if _d.is_bool(x.dtype):
        raise TypeError("clip: not defined for bool arrays")
    t = x._t
    d = x.dtype
    for bound, fn in ((min, _P.maximum), (max, _P.minimum)):
        if bound is None:
            continue
        if isinstance(bound, Array):
            b = _cast(bound._t, d)
        else:
            if _d.is_int(d):
                info = _np.iinfo(_np_dtype(d))
                if isinstance(bound, float) and not bound.is_integer():
                    raise TypeError("clip: a float bound with an integer array")
                bound = builtins.max(builtins.min(int(bound), info.max), info.min)
            b = _scalar_tensor(bound, d, x.device)
        t = fn(t, b)
    if t is x._t:
        t = t.clone()
    return _wrap(t)


# ===========================================================================
# linear algebra (main namespace)
# ===========================================================================


def matmul(x1, x2, /) -> Array:
    a, b, d = _binary("matmul", x1, x2, "iufc")
    if x1.ndim == 0 or x2.ndim == 0:
        raise ValueError("matmul: 0-d arrays are not allowed")
    if _d.is_float(d):
        return _wrap(_P.matmul(a, b))
    # integers: exact products and sums (no float detour); complex: the same composite over the complex kernels
    A = a if x1.ndim > 1 else a.reshape((1, x1.shape[0]))
    B = b if x2.ndim > 1 else b.reshape((x2.shape[0], 1))
    if A.shape[-1] != B.shape[-2]:
        raise ValueError(f"matmul: shapes {x1.shape} and {x2.shape} do not match")
    prod = _P.mul(A.unsqueeze(-1), B.unsqueeze(-3))
    r = _cast(_P.sum(prod, dim=-2), d)
    if x1.ndim == 1:
        r = r.squeeze(-2)
    if x2.ndim == 1:
        r = r.squeeze(-1)
    return _wrap(r)


def matrix_transpose(x, /) -> Array:
    _check(x, "matrix_transpose")
    if x.ndim < 2:
        raise ValueError("matrix_transpose: needs at least 2 dims")
    perm = list(range(x.ndim))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return _wrap(x._t.permute(*perm))


def tensordot(x1, x2, /, *, axes=2) -> Array:
    a, b, d = _binary("tensordot", x1, x2, "iufc")
    if isinstance(axes, int):
        if axes < 0:
            raise ValueError("tensordot: axes must be >= 0")
        ax1 = list(range(x1.ndim - axes, x1.ndim))
        ax2 = list(range(axes))
    else:
        ax1 = [_normalize_axis(i, x1.ndim, "tensordot") for i in axes[0]]
        ax2 = [_normalize_axis(i, x2.ndim, "tensordot") for i in axes[1]]
    free1 = [i for i in range(x1.ndim) if i not in ax1]
    free2 = [i for i in range(x2.ndim) if i not in ax2]
    for i, j in zip(ax1, ax2):
        if x1.shape[i] != x2.shape[j]:
            raise ValueError(f"tensordot: axis {i} of x1 ({x1.shape[i]}) and {j} of x2 ({x2.shape[j]}) differ")
    k = math.prod(x1.shape[i] for i in ax1)
    m = math.prod(x1.shape[i] for i in free1)
    n = math.prod(x2.shape[i] for i in free2)
    A = a.permute(*(free1 + ax1)).reshape((m, k)) if x1.ndim else a.reshape((1, 1))
    B = b.permute(*(ax2 + free2)).reshape((k, n)) if x2.ndim else b.reshape((1, 1))
    r = matmul(_wrap(A), _wrap(B))._t
    return _wrap(r.reshape(tuple(x1.shape[i] for i in free1) + tuple(x2.shape[i] for i in free2)))


def vecdot(x1, x2, /, *, axis: int = -1) -> Array:
    a, b, d = _binary("vecdot", x1, x2, "iufc")
    if _d.is_complex(d):
        a = _P.conj(a)  # the standard's vecdot conjugates x1
    shape = broadcast_shapes(x1.shape, x2.shape)
    ax = _normalize_axis(axis, len(shape), "vecdot")
    if axis >= 0:
        # the standard counts a non-negative axis from the end of the broadcast shape's operands
        pass
    if x1.shape[axis] != x2.shape[axis]:
        raise ValueError(f"vecdot: axis {axis} sizes {x1.shape[axis]} and {x2.shape[axis]} differ")
    return _wrap(_cast(_P.sum(_P.mul(a, b), dim=ax), d))


# ===========================================================================
# manipulation
# ===========================================================================


def concat(arrays, /, *, axis: Optional[int] = 0) -> Array:
    arrays = list(arrays)
    d = _d.result_type_of([a.dtype for a in arrays])
    ts = [_cast(a._t, d) for a in arrays]
    if axis is None:
        ts = [t.reshape((-1,)) for t in ts]
        axis = 0
    ax = _normalize_axis(axis, arrays[0].ndim, "concat")
    return _wrap(_P.cat(ts, ax))


def stack(arrays, /, *, axis: int = 0) -> Array:
    arrays = list(arrays)
    d = _d.result_type_of([a.dtype for a in arrays])
    ax = _normalize_axis(axis, arrays[0].ndim + 1, "stack")
    return _wrap(_P.stack([_cast(a._t, d) for a in arrays], ax))


def unstack(x, /, *, axis: int = 0) -> tuple:
    _check(x, "unstack")
    ax = _normalize_axis(axis, x.ndim, "unstack")
    return tuple(_wrap(x._t.select(ax, i)) for i in range(x.shape[ax]))


def expand_dims(x, /, axis: int = 0) -> Array:
    _check(x, "expand_dims")
    n = x.ndim + 1
    if not -n <= axis < n:
        raise IndexError(f"expand_dims: axis {axis} is out of bounds for the result's {n} dims")
    return _wrap(x._t.unsqueeze(axis % n))


def squeeze(x, /, axis) -> Array:
    _check(x, "squeeze")
    axes = _axes(axis, x.ndim, "squeeze")
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} has size {x.shape[a]}, not 1")
    shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)
    return _wrap(x._t.reshape(shape))


def permute_dims(x, /, axes) -> Array:
    _check(x, "permute_dims")
    axes = tuple(_normalize_axis(a, x.ndim, "permute_dims") for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"permute_dims: {axes} is not a permutation of {x.ndim} dims")
    return _wrap(x._t.permute(*axes))


def moveaxis(x, source, destination, /) -> Array:
    _check(x, "moveaxis")
    src = _axes(source, x.ndim, "moveaxis")
    dst = _axes(destination, x.ndim, "moveaxis")
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination need the same number of axes")
    order = [i for i in range(x.ndim) if i not in src]
    for d_, s in sorted(zip(dst, src)):
        order.insert(d_, s)
    return _wrap(x._t.permute(*order))


def reshape(x, /, shape, *, copy: Optional[builtins.bool] = None) -> Array:
    _check(x, "reshape")
    shape = _shape_arg(shape)
    if shape.count(-1) > 1:
        raise ValueError("reshape: only one dimension may be -1")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or x.size % known:
            raise ValueError(f"reshape: cannot reshape {x.shape} into {shape}")
    elif known != x.size:
        raise ValueError(f"reshape: cannot reshape {x.shape} ({x.size} elements) into {shape}")
    if copy:
        return _wrap(x._t.clone().reshape(shape))
    if copy is False:
        try:
            return _wrap(x._t.view(shape))
        except Exception as e:  # noqa: BLE001 - the error names why a view is impossible
            raise ValueError(f"reshape: a copy is needed (copy=False given): {e}") from e
    return _wrap(x._t.reshape(shape))


def _reverse_index(n: int, device):
    return _i64(list(range(n - 1, -1, -1)), device)


def flip(x, /, *, axis=None) -> Array:
    _check(x, "flip")
    t = x._t
    for a in _axes(axis, x.ndim, "flip"):
        if x.shape[a] > 1:
            t = _P.index_select(t, a, _reverse_index(x.shape[a], x.device))
    if t is x._t:
        t = t.clone()
    return _wrap(t)


def roll(x, /, shift, *, axis=None) -> Array:
    _check(x, "roll")
    t = x._t
    if axis is None:
        flat = t.reshape((-1,))
        n = flat.shape[0]
        s = (shift if isinstance(shift, int) else builtins.sum(shift)) % n if n else 0
        if s:
            flat = _P.cat([flat[n - s :], flat[: n - s]], 0)
        return _wrap(flat.reshape(x.shape).clone() if not s else flat.reshape(x.shape))
    shifts = (shift,) if isinstance(shift, int) else tuple(shift)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if len(shifts) != len(axes):
        raise ValueError("roll: shift and axis need the same length")
    for s, a in zip(shifts, axes):
        a = _normalize_axis(a, x.ndim, "roll")
        n = x.shape[a]
        if n == 0:
            continue
        s %= n
        if s:
            t = _P.cat([_P.narrow(t, a, n - s, s), _P.narrow(t, a, 0, n - s)], a)
    if t is x._t:
        t = t.clone()
    return _wrap(t)


def repeat(x, repeats, /, *, axis: Optional[int] = None) -> Array:
    _check(x, "repeat")
    t = x._t
    if axis is None:
        t = t.reshape((-1,))
        axis = 0
    ax = _normalize_axis(axis, len(t.shape), "repeat")
    n = t.shape[ax]
    if isinstance(repeats, Array):
        reps = [int(v) for v in repeats._host().reshape(-1).tolist()]
        if len(reps) == 1:
            reps = reps * n
    else:
        reps = [int(repeats)] * n
    if len(reps) != n:
        raise ValueError(f"repeat: {len(reps)} repeats for an axis of size {n}")
    if builtins.any(r < 0 for r in reps):
        raise ValueError("repeat: repeats must be >= 0")
    idx = [i for i, r in enumerate(reps) for _ in range(r)]
    return _wrap(_P.index_select(t, ax, _i64(idx, x.device)))


def tile(x, repetitions, /) -> Array:
    _check(x, "tile")
    reps = tuple(int(r) for r in repetitions)
    nd = builtins.max(len(reps), x.ndim)
    reps = (1,) * (nd - len(reps)) + reps
    shape = (1,) * (nd - x.ndim) + x.shape
    t = x._t.reshape(shape)
    # (r0, s0, r1, s1, ...) by expanding a size-1 dim before each dim, then merging
    inter = []
    exp = []
    for r, s in zip(reps, shape):
        inter += [1, s]
        exp += [r, s]
    t = t.reshape(tuple(inter)).expand(tuple(exp)).contiguous()
    return _wrap(t.reshape(tuple(r * s for r, s in zip(reps, shape))))


# ===========================================================================
# indexing functions
# ===========================================================================


def take(x, indices, /, *, axis: Optional[int] = None) -> Array:
    _check(x, "take")
    if axis is None:
        if x.ndim > 1:
            raise ValueError("take: axis is required for arrays with more than one dim")
        axis = 0
    ax = _normalize_axis(axis, x.ndim, "take")
    idx = _cast(indices._t, _d.int64)
    n = x.shape[ax]
    idx = _P.where(_P.lt(idx, _scalar_tensor(0, _d.int64, x.device)), _P.add(idx, _scalar_tensor(n, _d.int64, x.device)), idx)
    return _wrap(_P.index_select(x._t, ax, idx))


# ===========================================================================
# reductions (statistical and utility)
# ===========================================================================


def _reduce(name: str, x: Array, axis, keepdims: builtins.bool, fn):
    axes = _axes(axis, x.ndim, name)
    t = x._t
    if x.ndim == 0:
        return _wrap(fn(t.reshape((1,)), [0], False))
    if len(axes) == 0:
        return _wrap(fn(t.unsqueeze(0), [0], False))
    return _wrap(fn(t, list(axes), keepdims))


def _sum_dtype(x: Array, dtype) -> DType:
    if dtype is not None:
        return _d.check(dtype)
    if _d.is_bool(x.dtype) or _d.is_int(x.dtype):
        if x.dtype.kind == "u":
            return _d.int64  # no uint64 in Prism (Note [Array API dtypes])
        return _d.int64
    return x.dtype


def sum(x, /, *, axis=None, dtype=None, keepdims: builtins.bool = False) -> Array:  # noqa: A001
    _check(x, "sum")
    d = _sum_dtype(x, dtype)
    y = _wrap(_cast(x._t, d)) if d is not x.dtype else x
    return _reduce("sum", y, axis, keepdims, lambda t, dims, k: _cast(_P.sum(t, dim=dims, keepdim=k), d))


def prod(x, /, *, axis=None, dtype=None, keepdims: builtins.bool = False) -> Array:
    _check(x, "prod")
    d = _sum_dtype(x, dtype)
    y = _wrap(_cast(x._t, d)) if d is not x.dtype else x
    return _reduce("prod", y, axis, keepdims, lambda t, dims, k: _cast(_P.prod(t, dim=dims, keepdim=k), d))


def cumulative_sum(x, /, *, axis: Optional[int] = None, dtype=None, include_initial: builtins.bool = False) -> Array:
    _check(x, "cumulative_sum")
    if axis is None:
        if x.ndim > 1:
            raise ValueError("cumulative_sum: axis is required for arrays with more than one dim")
        axis = 0
    if x.ndim == 0:
        raise ValueError("cumulative_sum: needs at least one dim")
    ax = _normalize_axis(axis, x.ndim, "cumulative_sum")
    d = _sum_dtype(x, dtype)
    t = _cast(x._t, d)
    if _d.is_complex(d) and x.shape[ax]:
        # no complex scan kernel: out[i] = sum(where(j <= i, x[j], 0)) over a (n, n) mask (exact, O(n^2))
        n = x.shape[ax]
        idx = _P.arange(n, device=str(x._t.device))
        mask = _P.le(idx.unsqueeze(0), idx.unsqueeze(1))  # (i, j): j <= i
        tm = t.movedim(ax, -1).unsqueeze(-2)  # (..., 1, n)
        zero = _scalar_tensor(0, d, x.device)
        r = _P.sum(_P.where(mask, tm, zero), dim=-1).movedim(-1, ax)
    else:
        r = _cast(_P.cumsum(t, ax), d) if x.shape[ax] else t.clone()
    if include_initial:
        shape = list(x.shape)
        shape[ax] = 1
        r = _P.cat([_P.zeros(tuple(shape), dtype=d._prism, device=str(x._t.device)), r], ax)
    return _wrap(r)


def _extreme(name: str, prism_name: str):
    def fn(x, /, *, axis=None, keepdims: builtins.bool = False):
        _check(x, name)
        if x.size == 0:
            raise ValueError(f"{name}: zero-size array has no {name}imum")
        return _reduce(name, x, axis, keepdims, lambda t, dims, k: getattr(_P, prism_name)(t, dim=dims, keepdim=k))

    fn.__name__ = name
    return fn


max = _extreme("max", "amax")  # noqa: A001
min = _extreme("min", "amin")  # noqa: A001


def mean(x, /, *, axis=None, keepdims: builtins.bool = False) -> Array:
    _check(x, "mean")
    if not _d.is_inexact(x.dtype):
        raise TypeError(f"mean: needs a floating point array, got {x.dtype.name}")
    return _reduce("mean", x, axis, keepdims, lambda t, dims, k: _P.mean(t, dim=dims, keepdim=k))


def _var(name: str, x: Array, axis, correction, keepdims: builtins.bool, root: builtins.bool) -> Array:
    _check(x, name)
    if not _d.is_float(x.dtype):
        raise TypeError(f"{name}: needs a floating point array, got {x.dtype.name}")
    axes = _axes(axis, x.ndim, name)
    t = x._t if x.ndim else x._t.reshape((1,))
    dims = list(axes) if x.ndim else [0]
    if x.ndim and not axes:
        t = t.unsqueeze(0)
        dims = [0]
        keepdims = False
    n = math.prod(t.shape[i] for i in dims)
    m = _P.mean(t, dim=dims, keepdim=True)
    dev = _P.sub(t, m)
    ss = _P.sum(_P.mul(dev, dev), dim=dims, keepdim=keepdims)
    denom = builtins.max(n - correction, 0)
    v = _P.div(ss, _scalar_tensor(float(denom), x.dtype, x.device))
    if root:
        v = _P.sqrt(v)
    return _wrap(v)


def var(x, /, *, axis=None, correction: Union[int, float] = 0.0, keepdims: builtins.bool = False) -> Array:
    return _var("var", x, axis, correction, keepdims, False)


def std(x, /, *, axis=None, correction: Union[int, float] = 0.0, keepdims: builtins.bool = False) -> Array:
    return _var("std", x, axis, correction, keepdims, True)


def _truth(x: Array) -> Array:
    """x != 0 for complex arrays (the bool reductions and nonzero have real kernels only)."""
    if _d.is_complex(x.dtype):
        return _wrap(_P.ne(x._t, _scalar_tensor(0, x.dtype, x.device)))
    return x


def all(x, /, *, axis=None, keepdims: builtins.bool = False) -> Array:  # noqa: A001
    _check(x, "all")
    x = _truth(x)
    return _reduce("all", x, axis, keepdims, lambda t, dims, k: _P.all(t, dim=dims, keepdim=k))


def any(x, /, *, axis=None, keepdims: builtins.bool = False) -> Array:  # noqa: A001
    _check(x, "any")
    x = _truth(x)
    return _reduce("any", x, axis, keepdims, lambda t, dims, k: _P.any(t, dim=dims, keepdim=k))


# ===========================================================================
# searching and sorting
# ===========================================================================


def _argext(name: str, prism_name: str):
    def fn(x, /, *, axis: Optional[int] = None, keepdims: builtins.bool = False):
        _check(x, name)
        if x.size == 0:
            raise ValueError(f"{name}: zero-size array")
        if axis is None:
            r = getattr(_P, prism_name)(x._t.reshape((-1,)), dim=0)
            if keepdims:
                r = r.reshape((1,) * x.ndim)
            return _wrap(r)
        ax = _normalize_axis(axis, x.ndim, name)
        if x.ndim == 0:
            return _wrap(getattr(_P, prism_name)(x._t.reshape((1,)), dim=0))
        return _wrap(getattr(_P, prism_name)(x._t, dim=ax, keepdim=keepdims))

    fn.__name__ = name
    return fn


argmax = _argext("argmax", "argmax")
argmin = _argext("argmin", "argmin")


def nonzero(x, /) -> tuple:
    _check(x, "nonzero")
    if x.ndim == 0:
        raise ValueError("nonzero: 0-d arrays are not allowed")
    nz = _P.nonzero(_truth(x)._t)
    return tuple(_wrap(nz[:, i].contiguous()) for i in range(x.ndim))


def where(condition, x1, x2, /) -> Array:
    _check(condition, "where")
    if not _d.is_bool(condition.dtype):
        raise TypeError(f"where: condition must be a bool array, got {condition.dtype.name}")
    a, b, d = _binary("where", x1, x2, "biuf")
    return _wrap(_P.where(condition._t, a, b))


def searchsorted(x1, x2, /, *, side: str = "left", sorter=None) -> Array:
    _check(x1, "searchsorted")
    if x1.ndim != 1:
        raise ValueError("searchsorted: x1 must be 1-d")
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    s = x1 if sorter is None else take(x1, sorter)
    a, v, d = _binary("searchsorted", s, x2, "iuf")
    # position = number of x1 elements before v: x1 < v (left) or x1 <= v (right); NaN sorts last
    vv = v.unsqueeze(-1)
    cmp = _P.lt(a, vv) if side == "left" else _P.le(a, vv)
    if _d.is_float(d):
        nan_v = _P.isnan(vv)
        not_nan_a = _P.logical_not(_P.isnan(a))
        before_nan = not_nan_a if side == "left" else _P.logical_or(not_nan_a, _P.isnan(a))
        cmp = _P.where(nan_v, before_nan, cmp)
    return _wrap(_P.sum(cmp, dim=-1))


def sort(x, /, *, axis: int = -1, descending: builtins.bool = False, stable: builtins.bool = True) -> Array:
    _check(x, "sort")
    if x.ndim == 0:
        return _wrap(x._t.clone())
    ax = _normalize_axis(axis, x.ndim, "sort")
    values, _ = _P.sort(x._t, dim=ax, descending=descending, stable=True)
    return _wrap(values)


def argsort(x, /, *, axis: int = -1, descending: builtins.bool = False, stable: builtins.bool = True) -> Array:
    _check(x, "argsort")
    if x.ndim == 0:
        return _wrap(_P.zeros((), dtype=_d.int64._prism))
    ax = _normalize_axis(axis, x.ndim, "argsort")
    _, idx = _P.sort(x._t, dim=ax, descending=descending, stable=True)
    return _wrap(idx)


# ===========================================================================
# set functions (Note [Array API composites])
# ===========================================================================


def _unique_parts(x: Array):
    flat = x._t.reshape((-1,))
    n = flat.shape[0]
    if _d.is_complex(x.dtype):
        # no complex sort kernel: order by (real, imag) with two stable sorts, then gather
        p1 = _P.sort(_P.imag(flat), dim=0, descending=False, stable=True)[1]
        p2 = _P.sort(_P.real(flat)[p1], dim=0, descending=False, stable=True)[1]
        perm = p1[p2]
        values = flat[perm]
    else:
        values, perm = _P.sort(flat, dim=0, descending=False, stable=True)
    if n == 0:
        return values, perm, _P.zeros((0,), dtype=_d.bool._prism), n
    first = _P.ones((1,), dtype=_d.bool._prism)
    if n > 1:
        first = _P.cat([first, _P.ne(values[1:], values[:-1])], 0)
    return values, perm, first, n


def unique_values(x, /) -> Array:
    _check(x, "unique_values")
    values, perm, first, n = _unique_parts(x)
    if n == 0:
        return _wrap(values)
    return _wrap(_P.masked_select(values, first))


def _counts(first, n: int, device):
    starts = _P.nonzero(first)[:, 0].contiguous()
    k = starts.shape[0]
    ends = _P.cat([starts[1:], _i64([n], device)], 0) if k else starts
    return _P.sub(ends, starts), starts


def unique_counts(x, /):
    _check(x, "unique_counts")
    values, perm, first, n = _unique_parts(x)
    if n == 0:
        return UniqueCountsResult(_wrap(values), _wrap(_P.zeros((0,), dtype=_d.int64._prism)))
    counts, _ = _counts(first, n, x.device)
    return UniqueCountsResult(_wrap(_P.masked_select(values, first)), _wrap(counts))


def _inverse(first, perm, shape, device):
    group = _P.sub(_P.cumsum(_cast(first, _d.int64), 0), _scalar_tensor(1, _d.int64, device))
    inv = _P.zeros(tuple(group.shape), dtype=_d.int64._prism)
    inv = _P.scatter(inv, 0, perm, group)
    return inv.reshape(shape)


def unique_inverse(x, /):
    _check(x, "unique_inverse")
    values, perm, first, n = _unique_parts(x)
    if n == 0:
        return UniqueInverseResult(_wrap(values), _wrap(_P.zeros(x.shape, dtype=_d.int64._prism)))
    inv = _inverse(first, perm, x.shape, x.device)
    return UniqueInverseResult(_wrap(_P.masked_select(values, first)), _wrap(inv))


def unique_all(x, /):
    _check(x, "unique_all")
    values, perm, first, n = _unique_parts(x)
    if n == 0:
        z = _wrap(_P.zeros((0,), dtype=_d.int64._prism))
        return UniqueAllResult(_wrap(values), z, _wrap(_P.zeros(x.shape, dtype=_d.int64._prism)), z)
    counts, starts = _counts(first, n, x.device)
    indices = _P.index_select(perm, 0, starts)
    inv = _inverse(first, perm, x.shape, x.device)
    return UniqueAllResult(_wrap(_P.masked_select(values, first)), _wrap(indices), _wrap(inv), _wrap(counts))


class UniqueAllResult(tuple):
    def __new__(cls, values, indices, inverse_indices, counts):
        return tuple.__new__(cls, (values, indices, inverse_indices, counts))

    values = property(lambda s: s[0])
    indices = property(lambda s: s[1])
    inverse_indices = property(lambda s: s[2])
    counts = property(lambda s: s[3])


class UniqueCountsResult(tuple):
    def __new__(cls, values, counts):
        return tuple.__new__(cls, (values, counts))

    values = property(lambda s: s[0])
    counts = property(lambda s: s[1])


class UniqueInverseResult(tuple):
    def __new__(cls, values, inverse_indices):
        return tuple.__new__(cls, (values, inverse_indices))

    values = property(lambda s: s[0])
    inverse_indices = property(lambda s: s[1])


_ = (Sequence, CPU, Device)
