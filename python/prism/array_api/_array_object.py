# _array_object.py — the Array type of prism.array_api: a prism Tensor with the standard's semantics.
"""The array object of :mod:`prism.array_api`.

Note [Array API array object]
-----------------------------
``Array`` owns one prism Tensor (``_t``). Every operation goes through prism's
ops; the differences from ``prism.Tensor`` are the standard's: operands are
promoted with the standard's table (``_dtypes.promote``) before the op runs,
so a 0-d array takes part in promotion like any other array; a Python scalar
operand takes the array's dtype (an int scalar with a float array gives the
float dtype; a float scalar with an integer array is an error, as is a bool
scalar with a numeric array); ``size`` is an attribute; in-place operators
write into the same memory and refuse to change the dtype or shape.
"""

from __future__ import annotations

import builtins
import math
import operator

import numpy as _np

from ._ops import P as _P

from . import _dtypes as _d
from ._dtypes import DType


class Device:
    """A device of prism.array_api (wraps a prism device string)."""

    __slots__ = ("_name",)

    def __init__(self, name: str = "cpu"):
        self._name = str(name)

    def __eq__(self, other) -> builtins.bool:
        return isinstance(other, Device) and other._name == self._name

    def __hash__(self) -> int:
        return hash(self._name)

    def __repr__(self) -> str:
        return f"Device({self._name!r})"

    def __str__(self) -> str:
        return self._name


CPU = Device("cpu")


def _device_name(device) -> str | None:
    if device is None:
        return None
    if isinstance(device, Device):
        return device._name
    if isinstance(device, str):
        return device
    return str(device)


class Array:
    """An n-dimensional array of the Python array API standard (2023.12) over a prism Tensor."""

    __slots__ = ("_t", "__weakref__")
    __array_priority__ = 100.0

    def __init__(self, *args, **kwargs):
        raise TypeError("create arrays with prism.array_api functions (asarray, zeros, ...), not Array()")

    @classmethod
    def _new(cls, t) -> "Array":
        obj = object.__new__(cls)
        obj._t = t
        return obj

    # ---- attributes -------------------------------------------------------------------------------------
    @property
    def dtype(self) -> DType:
        return _d.from_prism(self._t.dtype)

    @property
    def device(self) -> Device:
        return Device(str(self._t.device))

    @property
    def ndim(self) -> int:
        return len(self._t.shape)

    @property
    def shape(self) -> tuple:
        return tuple(int(s) for s in self._t.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def T(self) -> "Array":
        if self.ndim != 2:
            raise ValueError(f"x.T needs a 2-d array, got {self.ndim} dims; use matrix_transpose or permute_dims")
        return Array._new(self._t.permute(1, 0))

    @property
    def mT(self) -> "Array":
        from ._functions import matrix_transpose

        return matrix_transpose(self)

    def __array_namespace__(self, *, api_version: str | None = None):
        if api_version is not None and api_version not in ("2021.12", "2022.12", "2023.12"):
            raise ValueError(f"prism.array_api implements the 2023.12 standard, not {api_version!r}")
        from prism import array_api

        return array_api

    def to_device(self, device, /, *, stream=None) -> "Array":
        if stream is not None:
            raise ValueError("to_device: streams are not supported")
        name = _device_name(device)
        if name == str(self._t.device):
            return self
        return Array._new(self._t.to(name))

    # ---- conversion ---------------------------------------------------------------------------------------
    def __repr__(self) -> str:
        if self.size > 1000:
            return f"Array(shape={self.shape}, dtype={self.dtype.name}, device={self.device})"
        return f"Array({self._host().tolist()!r}, dtype={self.dtype.name})"

    def _host(self):
        """A numpy copy of the values (host side; used for conversions, printing and DLPack to the host)."""
        t = self._t
        if str(t.device) != "cpu":
            t = t.to("cpu")
        if self.dtype in (_d.float16, _d.bfloat16):
            t = t.to(_P.float32)
        return _np.array(t.numpy(), copy=True)

    def _scalar(self):
        if self.size != 1:
            raise TypeError(f"only one-element arrays can be converted to Python scalars, got shape {self.shape}")
        return self._t.item()

    def __bool__(self) -> builtins.bool:
        return builtins.bool(self._scalar())

    def __int__(self) -> int:
        if _d.is_float(self.dtype):
            v = float(self._scalar())
            if math.isnan(v):
                raise ValueError("cannot convert NaN to an integer")
            if math.isinf(v):
                raise OverflowError("cannot convert infinity to an integer")
            return int(v)
        return int(self._scalar())

    def __index__(self) -> int:
        if not _d.is_int(self.dtype):
            raise TypeError(f"only integer arrays can be used as an index, got {self.dtype.name}")
        return int(self._scalar())

    def __float__(self) -> float:
        return float(self._scalar())

    def __complex__(self) -> complex:
        return complex(self._scalar())

    # ---- DLPack -------------------------------------------------------------------------------------------
    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        if dl_device is not None and tuple(dl_device) != tuple(self.__dlpack_device__()):
            if copy is False:
                raise BufferError("__dlpack__: exporting to another device needs a copy (copy=False given)")
            if tuple(dl_device)[0] != 1:
                raise BufferError(f"__dlpack__: cannot export to DLPack device {tuple(dl_device)}")
            src = self._t.to("cpu")
        else:
            src = self._t.clone() if copy else self._t
        kw = {}
        if stream is not None:
            kw["stream"] = stream
        if max_version is not None:
            kw["max_version"] = max_version
        return src.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self._t.__dlpack_device__()

    # ---- operators ----------------------------------------------------------------------------------------
    def __getitem__(self, key):
        from ._indexing import getitem

        return getitem(self, key)

    def __setitem__(self, key, value):
        from ._indexing import setitem

        setitem(self, key, value)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        for i in range(self.shape[0]):
            yield self[i]

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]


def _install_operators():
    from . import _functions as F

    binary = {
        "add": F.add,
        "sub": F.subtract,
        "mul": F.multiply,
        "truediv": F.divide,
        "floordiv": F.floor_divide,
        "mod": F.remainder,
        "pow": F.pow,
        "and": F.bitwise_and,
        "or": F.bitwise_or,
        "xor": F.bitwise_xor,
        "lshift": F.bitwise_left_shift,
        "rshift": F.bitwise_right_shift,
    }
    for name, fn in binary.items():

        def fwd(self, other, _fn=fn):
            other = F._operand(other, self)
            if other is NotImplemented:
                return NotImplemented
            return _fn(self, other)

        def rev(self, other, _fn=fn):
            other = F._operand(other, self)
            if other is NotImplemented:
                return NotImplemented
            return _fn(other, self)

        def inplace(self, other, _fn=fn, _name=name):
            other = F._operand(other, self)
            if other is NotImplemented:
                return NotImplemented
            r = _fn(self, other)
            if r.dtype != self.dtype:
                raise TypeError(f"__i{_name}__: the result dtype {r.dtype.name} differs from the array's {self.dtype.name}")
            if r.shape != self.shape:
                raise ValueError(f"__i{_name}__: the result shape {r.shape} differs from the array's {self.shape}")
            self._t.copy_(r._t)
            return self

        setattr(Array, f"__{name}__", fwd)
        setattr(Array, f"__r{name}__", rev)
        setattr(Array, f"__i{name}__", inplace)

    def matmul(self, other):
        other = F._operand(other, self, allow_scalar=False)
        if other is NotImplemented:
            return NotImplemented
        return F.matmul(self, other)

    def rmatmul(self, other):
        other = F._operand(other, self, allow_scalar=False)
        if other is NotImplemented:
            return NotImplemented
        return F.matmul(other, self)

    def imatmul(self, other):
        r = matmul(self, other)
        if r is NotImplemented:
            return r
        if r.shape != self.shape or r.dtype != self.dtype:
            raise ValueError(f"__imatmul__: the result {r.shape} {r.dtype.name} does not fit the array's {self.shape}")
        self._t.copy_(r._t)
        return self

    Array.__matmul__ = matmul
    Array.__rmatmul__ = rmatmul
    Array.__imatmul__ = imatmul

    compare = {"eq": F.equal, "ne": F.not_equal, "lt": F.less, "le": F.less_equal, "gt": F.greater, "ge": F.greater_equal}
    for name, fn in compare.items():

        def cmp(self, other, _fn=fn):
            other = F._operand(other, self)
            if other is NotImplemented:
                return NotImplemented
            return _fn(self, other)

        setattr(Array, f"__{name}__", cmp)
    Array.__hash__ = None

    Array.__neg__ = lambda self: F.negative(self)
    Array.__pos__ = lambda self: F.positive(self)
    Array.__abs__ = lambda self: F.abs(self)
    Array.__invert__ = lambda self: F.bitwise_invert(self)
    _ = operator  # keep the import for readers looking for the operator mapping
