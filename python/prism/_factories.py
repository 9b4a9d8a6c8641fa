"""Tensor creation in PyTorch spelling: tensor, zeros/ones/full/empty/arange/linspace/eye, random, *_like."""

from __future__ import annotations

import numbers

from . import _C
from ._dtype import DTYPES, device as _device_cls

__all__ = [
    "tensor", "as_tensor", "asarray", "zeros", "ones", "full", "empty", "arange", "linspace", "eye", "rand",
    "randn", "randint", "randperm", "zeros_like", "ones_like", "full_like", "empty_like", "rand_like",
    "randn_like", "randint_like", "scalar_tensor",
]

_F32, _I64, _BOOL = DTYPES[8], DTYPES[5], DTYPES[0]
_default_dtype = [_F32]


def get_default_dtype():
    """The dtype of floating tensors created from Python floats (float32)."""
    return _default_dtype[0]


def set_default_dtype(d) -> None:
    if d is not DTYPES[8]:
        raise NotImplementedError("set_default_dtype: Prism's default float dtype is fixed to prism.float32")


def _dev(device):
    if device is None:
        return "cpu"
    if isinstance(device, _device_cls):
        return device._prism_device
    if isinstance(device, str):
        return _device_cls(device)._prism_device
    if isinstance(device, int) and not isinstance(device, bool):
        raise ValueError("a device index alone is ambiguous in Prism; pass 'type:index' (e.g. 'opencl:0')")
    raise TypeError(f"device must be a str or prism.device, not {type(device).__name__}")


def _finish(t, requires_grad):
    if requires_grad:
        t.requires_grad_(True)
    return t


def _sizes(size, what):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, bool) or not isinstance(s, (numbers.Integral,)) and not hasattr(s, "__index__"):
            raise TypeError(f"{what}(): size must be a sequence of ints, got {type(s).__name__}")
        out.append(int(s.__index__()))
    return out


def _is_numpy(x):
    return type(x).__module__ == "numpy" and hasattr(x, "__array_interface__")


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of `data` (nested lists/tuples of numbers, a NumPy array, a tensor, a number).

    The dtype is inferred as PyTorch does (bool, int64, or the default float dtype) unless given.
    """
    dev = _dev(device)
    if isinstance(data, _C.TensorBase):
        t = data.detach().to(dtype=dtype, device=dev, copy=True) if dtype is not None else data.detach().to(dev, copy=True)
    elif _is_numpy(data):
        import numpy as np

        t = _C.from_numpy(np.ascontiguousarray(data)).clone()
        if dtype is not None or not dev.startswith("cpu"):
            t = t.to(dtype=dtype, device=dev)
    else:
        t = _C._tensor_from_data(data, dtype, dev)
    return _finish(t, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like tensor(), but shares memory with a tensor or a NumPy array when dtype and device allow."""
    if isinstance(data, _C.TensorBase):
        return data.to(dtype=dtype, device=device) if (dtype is not None or device is not None) else data
    if _is_numpy(data):
        t = _C.from_numpy(data)
        return t.to(dtype=dtype, device=device) if (dtype is not None or device is not None) else t
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def scalar_tensor(value, *, dtype=None, device=None, requires_grad=False):
    return _finish(_C._scalar(float(value), dtype or _default_dtype[0], _dev(device)), requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None):
    """A tensor of zeros: zeros(2, 3) or zeros((2, 3))."""
    return _finish(_C._zeros(_sizes(size, "zeros"), dtype or _default_dtype[0], _dev(device)), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None):
    """A tensor of ones."""
    return _finish(_C._ones(_sizes(size, "ones"), dtype or _default_dtype[0], _dev(device)), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, pin_memory=False, memory_format=None):
    """An uninitialised tensor."""
    return _finish(_C._empty(_sizes(size, "empty"), dtype or _default_dtype[0], _dev(device)), requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A tensor filled with fill_value (dtype inferred from it when not given)."""
    if isinstance(size, int):
        size = (size,)
    if isinstance(fill_value, complex) or (dtype is not None and dtype.is_complex):
        # the core's fill takes a real value: a complex one goes through a 0-d tensor, expanded and copied
        from . import _dtype

        cdt = dtype if dtype is not None else _dtype._BY_NAME["complex64"]
        z = tensor(complex(fill_value), dtype=cdt, device=device)
        return _finish(z.expand(tuple(size)).contiguous(), requires_grad)
    if dtype is None:
        dtype = _BOOL if isinstance(fill_value, bool) else _I64 if isinstance(fill_value, int) else _default_dtype[0]
    return _finish(_C._full(_sizes((tuple(size),), "full"), float(fill_value), dtype, _dev(device)), requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Values start, start+step, ... < end. Integer arguments give int64, else the default float dtype."""
    if end is None:
        start, end = 0, start
    vals = (start, end, step)
    if dtype is None:
        dtype = _I64 if all(isinstance(v, int) for v in vals) else _default_dtype[0]
    if step == 0:
        raise _C.InvalidArgumentError("arange: step must be nonzero")
    return _finish(_C._arange(float(start), float(end), float(step), dtype, _dev(device)), requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    """`steps` evenly spaced values from start to end inclusive."""
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise TypeError(f"linspace(): steps must be an int, got {type(steps).__name__}")
    return _finish(_C._linspace(float(start), float(end), steps, dtype or _default_dtype[0], _dev(device)),
                   requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    """The n x m identity matrix."""
    return _finish(_C._eye(n, -1 if m is None else m, dtype or _default_dtype[0], _dev(device)), requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Uniform random values in [0, 1) (global generator, prism.manual_seed)."""
    return _finish(_C._rand(_sizes(size, "rand"), dtype or _default_dtype[0], _dev(device)), requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Standard normal random values."""
    return _finish(_C._randn(_sizes(size, "randn"), dtype or _default_dtype[0], _dev(device)), requires_grad)


def randint(low, high=None, size=None, *, dtype=None, device=None, requires_grad=False, generator=None):
    """Random integers in [low, high): randint(high, size) or randint(low, high, size)."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint(): size is required, e.g. randint(10, (3,))")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if isinstance(size, int):
        size = (size,)
    return _finish(_C._randint(int(low), int(high), _sizes((tuple(size),), "randint"), dtype or _I64, _dev(device)),
                   requires_grad)


def randperm(n, *, dtype=None, device=None, requires_grad=False, generator=None):
    """A random permutation of 0 .. n-1 (int64)."""
    return _finish(_C._randperm(int(n), dtype or _I64, _dev(device)), requires_grad)


def _like(fn, t, dtype, device, requires_grad, *extra):
    return _finish(fn(list(t.shape), *extra, dtype or t.dtype, _dev(device) if device is not None else t._device_str),
                   requires_grad)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):  # noqa: A002
    return _like(_C._zeros, input, dtype, device, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):  # noqa: A002
    return _like(_C._ones, input, dtype, device, requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):  # noqa: A002
    return _like(_C._empty, input, dtype, device, requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):  # noqa: A002
    return _like(_C._rand, input, dtype, device, requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):  # noqa: A002
    return _like(_C._randn, input, dtype, device, requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None):  # noqa: A002
    return _finish(_C._full(list(input.shape), float(fill_value), dtype or input.dtype,
                            _dev(device) if device is not None else input._device_str), requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False):  # noqa: A002
    if high is None:
        low, high = 0, low
    return _finish(_C._randint(int(low), int(high), list(input.shape), dtype or input.dtype,
                               _dev(device) if device is not None else input._device_str), requires_grad)
