"""prism.Tensor: the native TensorBase plus the Python-level methods (repr, to, max/min, hooks, conversions)."""

from __future__ import annotations

import collections
import math

from . import _C
from ._dtype import DTYPES, Size, _device_of, device, dtype

__all__ = ["Tensor"]

_F32, _F64, _I64, _BOOL = DTYPES[8], DTYPES[9], DTYPES[5], DTYPES[0]

return_types_max = collections.namedtuple("max", ["values", "indices"])
return_types_min = collections.namedtuple("min", ["values", "indices"])
return_types_sort = collections.namedtuple("sort", ["values", "indices"])
return_types_topk = collections.namedtuple("topk", ["values", "indices"])


class _GradFn:
    """A node of the autograd graph as the C ABI describes it: its name and its next functions' names."""

    __slots__ = ("_name", "_next")

    def __init__(self, name, next_names):
        self._name = name
        self._next = next_names

    def name(self) -> str:
        return self._name

    @property
    def next_functions(self):
        return tuple((None if not n else _GradFn(n, []), 0) for n in self._next)

    def __repr__(self) -> str:
        return f"<{self._name} object>"


class RemovableHandle:
    """Returned by Tensor.register_hook; remove() unregisters the hook."""

    def __init__(self, tensor, hook_id, fn):
        self._tensor, self._id, self._fn = tensor, hook_id, fn

    def remove(self) -> None:
        if self._tensor is not None:
            _C._remove_hook(self._tensor, self._id, self._fn)
            self._tensor = None


class Tensor(_C.TensorBase):
    """A multi-dimensional array on one device, with autograd. Create it with prism.tensor, prism.zeros, ..."""

    __slots__ = ()

    def __new__(cls, *args, **kwargs):
        # Legacy constructor: Tensor(data tensor) aliases it, Tensor(sizes...) is an uninitialised float32
        # tensor, Tensor(list) copies the data (float32), as torch.Tensor does.
        from . import _factories

        if len(args) == 1 and isinstance(args[0], _C.TensorBase):
            return _C._make_subclass(cls, args[0], args[0].requires_grad)
        if len(args) == 1 and isinstance(args[0], (list, tuple)) and not all(isinstance(a, int) for a in args[0]):
            t = _factories.tensor(args[0], dtype=_F32)
        elif args and all(isinstance(a, int) for a in args):
            t = _factories.empty(*args, dtype=_F32)
        elif len(args) == 1 and isinstance(args[0], (list, tuple)):
            t = _factories.tensor(list(args[0]), dtype=_F32)
        elif not args:
            t = _factories.empty(0, dtype=_F32)
        else:
            raise TypeError(f"Tensor(): unsupported arguments {args!r}")
        return t if cls is Tensor else _C._make_subclass(cls, t, False)

    def __init__(self, *args, **kwargs):
        pass

    @staticmethod
    def _make_subclass(cls, data, requires_grad=False):
        """An instance of cls (a Tensor subclass) sharing data's storage: a leaf (torch.Tensor._make_subclass)."""
        return _C._make_subclass(cls, data, requires_grad)

    # ---- metadata ---------------------------------------------------------------------------------
    @property
    def device(self) -> device:
        """The device this tensor lives on."""
        return _device_of(self._device_str)

    @property
    def is_cuda(self) -> bool:
        return self._device_str.startswith("cuda")

    @property
    def is_cpu(self) -> bool:
        return self._device_str.startswith("cpu")

    @property
    def data(self) -> "Tensor":
        """A detached alias of this tensor (same storage, no grad)."""
        return self.detach()

    @data.setter
    def data(self, value) -> None:
        """Rebinds this tensor to value's storage (shape, dtype and device may change), as PyTorch does."""
        if not isinstance(value, _C.TensorBase):
            raise TypeError(f"data must be a prism.Tensor, not {type(value).__name__}")
        self._set_data(value)

    @property
    def T(self) -> "Tensor":
        """The dims reversed (a view)."""
        n = self.ndim
        return self if n < 2 else self.permute(*range(n - 1, -1, -1))

    @property
    def mT(self) -> "Tensor":
        """The last two dims swapped (a view)."""
        return self.transpose(-2, -1)

    @property
    def H(self) -> "Tensor":
        return self.T

    @property
    def mH(self) -> "Tensor":
        return self.mT

    @property
    def grad_fn(self):
        """The graph node that produced this tensor (name(), next_functions), or None for a leaf."""
        info = self._grad_fn_info()
        return None if info is None else _GradFn(info[0], info[1])

    @property
    def itemsize(self) -> int:
        return self.element_size()

    @property
    def nbytes(self) -> int:
        return self.element_size() * self.numel()

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def is_complex(self) -> bool:
        return self.dtype.is_complex

    @property
    def real(self):
        """The real part (a float tensor for complex dtypes; the tensor itself for real dtypes)."""
        return _C.real(self)

    @property
    def imag(self):
        """The imaginary part of a complex tensor (refused for real dtypes, as in PyTorch)."""
        return _C.imag(self)

    def conj(self):
        """The complex conjugate (the tensor itself for real dtypes)."""
        return _C.conj(self)

    def get_device(self) -> int:
        return -1 if self.is_cpu else int(self._device_str.partition(":")[2] or 0)

    # ---- values -----------------------------------------------------------------------------------
    def item(self):
        """The value of a one-element tensor as a Python number."""
        return self._item()

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise _C.InvalidArgumentError(
                f"Boolean value of Tensor with more than one value is ambiguous (shape {list(self.shape)})"
            )
        return bool(self._item())

    def __float__(self) -> float:
        return float(self._item())

    def __int__(self) -> int:
        return int(self._item())

    def __index__(self) -> int:
        if self.dtype.is_floating_point or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._item())

    def __complex__(self) -> complex:
        return complex(self._item())

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter([self.select(0, i) for i in range(self.shape[0])])

    def __reversed__(self):
        return iter(list(self.__iter__())[::-1])

    def __contains__(self, element) -> bool:
        return bool((self == element).any())

    def __array__(self, dtype=None, copy=None):
        import numpy as np

        a = self.detach().cpu().numpy() if (self.requires_grad or not self.is_cpu) else self.numpy()
        if dtype is not None:
            a = a.astype(dtype, copy=False)
        return a

    __array_priority__ = 1000  # NumPy defers mixed operators to the tensor

    def __format__(self, spec):
        if self.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __repr__(self, *, tensor_contents=None) -> str:
        from ._repr import tensor_repr

        return tensor_repr(self)

    def __str__(self) -> str:
        return self.__repr__()

    def __reduce_ex__(self, proto):
        return (_rebuild, (self.detach().cpu().tolist(), self.dtype.name, str(self.device), self.requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        from . import autograd

        with autograd.no_grad():
            c = self.clone()
        if self.requires_grad and self.is_leaf:
            c.requires_grad_(True)
        if type(self) is not Tensor:
            c = _C._make_subclass(type(self), c, self.requires_grad)
            if hasattr(self, "__dict__"):
                import copy as _copy

                c.__dict__.update(_copy.deepcopy(self.__dict__, memo))
        memo[id(self)] = c
        return c

    # ---- conversions ------------------------------------------------------------------------------
    def to(self, *args, **kwargs) -> "Tensor":
        """to(device), to(dtype), to(device, dtype), to(other tensor); non_blocking= and copy= accepted."""
        dev = kwargs.pop("device", None)
        dt = kwargs.pop("dtype", None)
        copy = kwargs.pop("copy", False)
        non_blocking = bool(kwargs.pop("non_blocking", False))
        kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, _C.TensorBase):
                dev, dt = a.device, a.dtype
            elif isinstance(a, (dtype, type)):
                dt = a
            elif isinstance(a, (str, device)):
                dev = a
            elif isinstance(a, bool):
                non_blocking = a  # given positionally
            else:
                raise TypeError(f"to() received an invalid argument {a!r}")
        t = self
        if dt is not None:
            t = t._to_dtype(dt)
        if dev is not None:
            d = device(dev) if not isinstance(dev, device) else dev
            if d._prism_device != t._device_str:
                t = _C._to_device_non_blocking(t, d._prism_device) if non_blocking else t._to_device(d._prism_device)
        if copy and t is self:
            t = t.clone()
        return t

    def record_stream(self, stream) -> None:
        """Marks this tensor's memory as used by work on ``stream`` (a ``prism.Stream`` of its device), so the
        caching allocator does not hand it to another stream before that work completed."""
        if not hasattr(stream, "_h"):
            raise TypeError(f"record_stream(): expected a prism.Stream, got {type(stream).__name__}")
        _C._record_stream(self, stream._h)

    def cpu(self) -> "Tensor":
        return self if self.is_cpu else self._to_device("cpu")

    def cuda(self, device=None) -> "Tensor":
        return self.to("cuda" if device is None else device)

    def type(self, dtype=None):
        if dtype is None:
            return "prism." + {"float32": "FloatTensor", "float64": "DoubleTensor", "int64": "LongTensor",
                               "int32": "IntTensor", "bool": "BoolTensor"}.get(self.dtype.name, self.dtype.name)
        return self.to(dtype)

    def float(self) -> "Tensor":
        return self._to_dtype(_F32)

    def double(self) -> "Tensor":
        return self._to_dtype(_F64)

    def half(self) -> "Tensor":
        return self._to_dtype(DTYPES[6])

    def bfloat16(self) -> "Tensor":
        return self._to_dtype(DTYPES[7])

    def long(self) -> "Tensor":
        return self._to_dtype(_I64)

    def int(self) -> "Tensor":
        return self._to_dtype(DTYPES[4])

    def short(self) -> "Tensor":
        return self._to_dtype(DTYPES[3])

    def char(self) -> "Tensor":
        return self._to_dtype(DTYPES[2])

    def byte(self) -> "Tensor":
        return self._to_dtype(DTYPES[1])

    def bool(self) -> "Tensor":
        return self._to_dtype(_BOOL)

    def type_as(self, other) -> "Tensor":
        return self._to_dtype(other.dtype)

    # ---- shapes -----------------------------------------------------------------------------------
    def view_as(self, other) -> "Tensor":
        return self.view(tuple(other.shape))

    def reshape_as(self, other) -> "Tensor":
        return self.reshape(tuple(other.shape))

    def expand_as(self, other) -> "Tensor":
        return self.expand(tuple(other.shape))

    def swapaxes(self, a, b) -> "Tensor":
        return self.transpose(a, b)

    swapdims = swapaxes

    def movedim(self, source, destination) -> "Tensor":
        n = self.ndim
        src = [source] if isinstance(source, int) else list(source)
        dst = [destination] if isinstance(destination, int) else list(destination)
        src = [s % n for s in src]
        dst = [d % n for d in dst]
        order = [i for i in range(n) if i not in src]
        for d, s in sorted(zip(dst, src)):
            order.insert(d, s)
        return self.permute(*order)

    def unflatten(self, dim, sizes) -> "Tensor":
        shape = list(self.shape)
        dim = dim % len(shape)
        return self.reshape(*shape[:dim], *sizes, *shape[dim + 1:])

    def unbind(self, dim=0):
        return tuple(self.select(dim, i) for i in range(self.shape[dim]))

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        from . import _factories

        return _factories.tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                                 requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        from . import _factories

        return _factories.zeros(*size, dtype=dtype or self.dtype, device=device or self.device,
                                requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        from . import _factories

        return _factories.ones(*size, dtype=dtype or self.dtype, device=device or self.device,
                               requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        from . import _factories

        return _factories.full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                               requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        from . import _factories

        return _factories.empty(*size, dtype=dtype or self.dtype, device=device or self.device,
                                requires_grad=requires_grad)

    # ---- reductions with PyTorch's overloads ------------------------------------------------------
    def max(self, dim=None, keepdim=False):
        """max() of all elements; max(dim) -> (values, indices); max(other) -> elementwise maximum."""
        if isinstance(dim, _C.TensorBase):
            return self.maximum(dim)
        if dim is None:
            return self._max_all(False)
        return return_types_max(*self._max_dim(dim, keepdim, False))

    def min(self, dim=None, keepdim=False):
        """min() of all elements; min(dim) -> (values, indices); min(other) -> elementwise minimum."""
        if isinstance(dim, _C.TensorBase):
            return self.minimum(dim)
        if dim is None:
            return self._max_all(True)
        return return_types_min(*self._max_dim(dim, keepdim, True))

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return self._var(dim, _correction(unbiased, correction), keepdim, False)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return self._var(dim, _correction(unbiased, correction), keepdim, True)

    def clip(self, min=None, max=None):  # noqa: A002
        return self.clamp(min, max)

    def clip_(self, min=None, max=None):  # noqa: A002
        return self.clamp_(min, max)

    def div(self, other, *, rounding_mode=None):
        return self.div_mode(other, rounding_mode) if rounding_mode is not None else self.__truediv__(other)

    def divide(self, other, *, rounding_mode=None):
        return self.div(other, rounding_mode=rounding_mode)

    def multiply(self, other):
        return self.mul(other)

    def subtract(self, other, *, alpha=1):
        return self.sub(other, alpha=alpha)

    def negative(self):
        return self.neg()

    def absolute(self):
        return self.abs()

    def sort(self, dim=-1, descending=False, *, stable=False):
        return return_types_sort(*_C.TensorBase.sort(self, dim, descending, stable=stable))

    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002
        return return_types_topk(*_C.TensorBase.topk(self, k, dim, largest, sorted))

    def argsort(self, dim=-1, descending=False, stable=False):
        return self.sort(dim, descending, stable=stable).indices

    def count_nonzero(self, dim=None):
        return (self != 0).sum(dim)

    def isnan(self):
        return self != self

    def isinf(self):
        return self.abs() == math.inf

    def isfinite(self):
        return (self == self) & (self.abs() != math.inf)

    def dot(self, other):
        return (self * other).sum()

    def outer(self, other):
        return self.unsqueeze(-1) * other.unsqueeze(0)

    def softmax(self, dim):
        return _C.softmax(self, dim)

    def log_softmax(self, dim):
        return _C.log_softmax(self, dim)

    def uniform_(self, a=0.0, b=1.0):
        from . import _factories, autograd

        with autograd.no_grad():
            r = _factories.rand(*self.shape, dtype=self.dtype, device=self.device)
            self.copy_(r * (b - a) + a)
        return self

    def normal_(self, mean=0.0, std=1.0):
        from . import _factories, autograd

        with autograd.no_grad():
            r = _factories.randn(*self.shape, dtype=self.dtype, device=self.device)
            self.copy_(r * std + mean)
        return self

    def bernoulli_(self, p=0.5):
        from . import _factories, autograd

        with autograd.no_grad():
            self.copy_(_factories.rand(*self.shape, dtype=_F32, device=self.device) < p)
        return self

    def index_put_(self, indices, values, accumulate=False):
        _C._index_put_(self, tuple(indices), values, accumulate)
        return self

    def index_put(self, indices, values, accumulate=False):
        return _C.index_put(self, list(indices), values, accumulate)

    def where(self, condition, other):
        return _C.where(condition, self, other)

    # ---- autograd ---------------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulates the gradient of this tensor into the .grad of every leaf that requires grad."""
        if create_graph:
            raise NotImplementedError("backward(create_graph=True): higher-order gradients are not supported")
        if inputs is not None:
            raise NotImplementedError("backward(inputs=...) is not supported; use prism.autograd.grad")
        _C.backward(self, gradient, bool(retain_graph))

    def register_hook(self, hook):
        """Calls hook(grad) when the gradient of this tensor is computed; a non-None result replaces it."""
        if not callable(hook):
            raise TypeError("register_hook: hook must be callable")
        return RemovableHandle(self, _C._register_hook(self, hook), hook)

    @property
    def retains_grad(self) -> bool:
        return False

    def zero_grad_(self, set_to_none=True):
        self.grad = None


def _correction(unbiased, correction):
    if correction is not None:
        return int(correction)
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


def _rebuild(data, dtype_name, device_str, requires_grad):
    from . import _factories
    from ._dtype import _dtype_by_name

    return _factories.tensor(data, dtype=_dtype_by_name(dtype_name), device=device_str, requires_grad=requires_grad)


_C._set_tensor_class(Tensor)


# ---- extra elementwise ops (prism._C's math_ops, when the core has them) --------------------------------
_EXTRA_UNARY = ["trunc", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "log2",
                "log10", "bitwise_not"]
_EXTRA_PREDICATES = ["isnan", "isinf", "isfinite", "signbit"]
_EXTRA_BINARY = ["atan2", "hypot", "copysign", "logaddexp", "nextafter", "bitwise_and", "bitwise_or",
                 "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"]


def _unary_method(fn, name):
    def method(self):
        return fn(self)

    method.__name__ = name
    method.__doc__ = f"Elementwise {name}."
    return method


def _binary_method(fn, name):
    def method(self, other):
        return fn(self, _C._operand(self, other))

    method.__name__ = name
    method.__doc__ = f"Elementwise {name} (a Python number is a weak scalar, as in PyTorch)."
    return method


def _operator(fn, reflected=False, inplace=False, native=None):
    def op(self, other):
        try:
            o = _C._operand(self, other)
        except TypeError:
            return NotImplemented
        if native is not None and self.dtype is _BOOL and o.dtype is _BOOL:
            return native(self, o)  # bool & | ^ are the logical ops
        if inplace:
            fn(self, o)
            return self
        return fn(o, self) if reflected else fn(self, o)

    return op


def _install_extra_ops():
    for name in _EXTRA_UNARY + _EXTRA_PREDICATES:
        fn = getattr(_C, name, None)
        if fn is not None:
            setattr(Tensor, name, _unary_method(fn, name))
            fn_ = getattr(_C, name + "_", None)
            if fn_ is not None:
                setattr(Tensor, name + "_", _unary_method(fn_, name + "_"))
    for name in _EXTRA_BINARY:
        fn = getattr(_C, name, None)
        if fn is not None:
            setattr(Tensor, name, _binary_method(fn, name))
            fn_ = getattr(_C, name + "_", None)
            if fn_ is not None:
                setattr(Tensor, name + "_", _binary_method(fn_, name + "_"))
    ops = {"and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor", "lshift": "bitwise_left_shift",
           "rshift": "bitwise_right_shift"}
    for dunder, name in ops.items():
        fn, fn_ = getattr(_C, name, None), getattr(_C, name + "_", None)
        if fn is None:
            continue
        base = _C.TensorBase
        nat = {k: getattr(base, f"__{k}{dunder}__", None) for k in ("", "r", "i")}
        setattr(Tensor, f"__{dunder}__", _operator(fn, native=nat[""]))
        setattr(Tensor, f"__r{dunder}__", _operator(fn, reflected=True, native=nat["r"]))
        if fn_ is not None:
            setattr(Tensor, f"__i{dunder}__", _operator(fn_, inplace=True, native=nat["i"]))
    if getattr(_C, "bitwise_not", None) is not None:
        def invert(self):
            return _C.TensorBase.__invert__(self) if self.dtype is _BOOL else _C.bitwise_not(self)

        Tensor.__invert__ = invert


_install_extra_ops()
