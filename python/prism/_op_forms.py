"""Op forms on prism.Tensor: clamp with tensor bounds, mm, dtype= on sum/prod/mean/softmax (prism.h "Op forms")."""

from __future__ import annotations

import numbers

from . import _C
from ._tensor import Tensor

__all__ = []

_base_clamp = Tensor.clamp
_base_sum = Tensor.sum
_base_prod = Tensor.prod
_base_mean = Tensor.mean


def _bound(v, like):
    """A clamp bound as a tensor on like's device: tensors pass, Python numbers become 0-d tensors."""
    if v is None or isinstance(v, _C.TensorBase):
        return v
    if isinstance(v, numbers.Number):
        from ._factories import tensor

        return tensor(v, device=like.device)
    raise TypeError(f"clamp(): min and max must be numbers or tensors, not {type(v).__name__}")


def clamp(self, min=None, max=None):  # noqa: A002
    """Clamps into [min, max]; min and max may be numbers or tensors that broadcast (min(max(x, min), max))."""
    if isinstance(min, _C.TensorBase) or isinstance(max, _C.TensorBase):
        return _C.op_clamp_tensor(self, _bound(min, self), _bound(max, self))
    return _base_clamp(self, min, max)


def clamp_min(self, min):  # noqa: A002
    return clamp(self, min, None)


def clamp_max(self, max):  # noqa: A002
    return clamp(self, None, max)


def clip(self, min=None, max=None):  # noqa: A002
    return clamp(self, min, max)


def mm(self, mat2):
    """Matrix product of two 2-D tensors of one dtype (no broadcasting: use matmul for that)."""
    return _C.op_mm(self, mat2)


def _dims(dim):
    if dim is None:
        return None
    if isinstance(dim, numbers.Integral):
        return [int(dim)]
    return [int(d) for d in dim]


def _reduction(name, base):
    def method(self, dim=None, keepdim=False, *, dtype=None):
        if dtype is None:
            return base(self, dim, keepdim)
        return _C.op_reduce_dtype(name, self, _dims(dim), bool(keepdim), dtype)

    method.__name__ = name
    method.__qualname__ = f"Tensor.{name}"
    method.__doc__ = (f"{name} over `dim` (int or tuple; None: all). dtype=: the input is cast to dtype first "
                      "and the result has dtype, as PyTorch.")
    return method


def softmax(self, dim, dtype=None):
    if dtype is None:
        return _C.softmax(self, dim)
    return _C.op_softmax_dtype(self, int(dim), dtype, False)


def log_softmax(self, dim, dtype=None):
    if dtype is None:
        return _C.log_softmax(self, dim)
    return _C.op_softmax_dtype(self, int(dim), dtype, True)


Tensor.clamp = clamp
Tensor.clamp_min = clamp_min
Tensor.clamp_max = clamp_max
Tensor.clip = clip
Tensor.mm = mm
Tensor.sum = _reduction("sum", _base_sum)
Tensor.prod = _reduction("prod", _base_prod)
Tensor.mean = _reduction("mean", _base_mean)
Tensor.softmax = softmax
Tensor.log_softmax = log_softmax
