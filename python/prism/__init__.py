"""Prism: a heterogeneous tensor runtime. `import prism` gives tensors, autograd and every loaded device,
spelled as in PyTorch (prism.tensor, prism.float32, t.backward(), prism.no_grad())."""

from __future__ import annotations

from . import _C
from ._C import (  # noqa: F401  errors
    DeviceLostError,
    DTypeError,
    Error,
    FileError,
    IndexOutOfRangeError,
    InternalError,
    InvalidArgumentError,
    OutOfMemoryError,
    UnavailableError,
    UnimplementedError,
)
from ._C import (  # noqa: F401  runtime and ops implemented natively
    allclose,
    bernoulli,
    cat,
    empty_cache,
    equal,
    from_dlpack,
    from_numpy,
    get_fallback_policy,
    load_plugin,
    load_report,
    manual_seed,
    memory_stats,
    promote_types,
    reset_peak_memory_stats,
    set_fallback_policy,
    stack,
    synchronize,
    where,
)
from ._dtype import DTYPES as _DTYPES, Size, device, dtype  # noqa: F401
from ._tensor import Tensor  # noqa: F401
from . import _op_forms  # noqa: F401,E402  (clamp with tensors, mm, dtype= on reductions)
from ._factories import *  # noqa: F401,F403
from ._factories import get_default_dtype, set_default_dtype  # noqa: F401
from . import autograd  # noqa: F401
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from . import amp  # noqa: F401,E402
from .amp import autocast  # noqa: F401,E402
from . import profiler  # noqa: F401,E402  (also prism.autograd.profiler, as in torch)

__version__ = _C.version()

(bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64, complex64,  # noqa: A001
 complex128) = _DTYPES
half, float, double, long, int, short = float16, float32, float64, int64, int32, int16  # noqa: A001
cfloat, cdouble = complex64, complex128
_C._set_tensor_factory(tensor)  # noqa: F405  (lists used as indices)

import builtins as _builtins  # noqa: E402


def is_tensor(obj) -> _builtins.bool:
    """True when obj is a prism.Tensor."""
    return isinstance(obj, Tensor)


def numel(input) -> _builtins.int:  # noqa: A002
    return input.numel()


def devices() -> list:
    """Every device of every loaded plugin, e.g. [device(type='cpu'), device(type='opencl', index=0)]."""
    from ._dtype import _device_of

    return [_device_of(d["device"]) for d in _C.device_infos()]


def is_available(device_type: str) -> _builtins.bool:
    """True when at least one device of this type is loaded ("opencl", "cuda", "emu", ...)."""
    return _builtins.any(d.type == device_type for d in devices())


def fallback_count(op=None) -> _builtins.int:
    """CPU fallbacks taken by kernel op `op` (None: all ops) under the fallback policy."""
    return _C.fallback_count(op)


def fallback_reset() -> None:
    _C.fallback_reset()


def seed() -> _builtins.int:
    import random

    s = random.getrandbits(63)
    manual_seed(s)
    return s


# ---- functions that mirror Tensor methods (prism.exp(x) == x.exp()) -------------------------------------
def _method(name):
    def fn(input, *args, **kwargs):  # noqa: A002
        if not isinstance(input, _C.TensorBase):
            raise TypeError(f"prism.{name}(): argument 'input' must be a prism.Tensor, not {type(input).__name__}")
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = name
    fn.__qualname__ = name
    doc = getattr(Tensor, name).__doc__
    fn.__doc__ = doc if doc else f"prism.{name}(input, ...): the same as input.{name}(...)."
    return fn


_METHODS = [
    "neg", "negative", "abs", "absolute", "sign", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "reciprocal",
    "square", "sin", "cos", "tanh", "sigmoid", "relu", "gelu", "silu", "floor", "ceil", "round", "clamp", "clip",
    "sum", "prod", "mean", "amax", "amin", "all", "any", "logsumexp", "var", "std", "norm", "argmax", "argmin",
    "cumsum", "cumprod", "sort", "argsort", "topk", "max", "min", "maximum", "minimum", "matmul", "mm", "bmm",
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide", "remainder", "pow",
    "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not", "clone",
    "detach", "reshape", "permute", "transpose", "t", "squeeze", "unsqueeze", "flatten", "narrow", "select",
    "unfold", "diagonal", "as_strided", "split", "chunk", "index_select", "gather", "scatter", "scatter_add",
    "masked_fill", "masked_select", "take", "nonzero", "tril", "triu", "unbind", "movedim", "swapaxes",
    "isnan", "isinf", "isfinite", "count_nonzero", "dot", "outer", "unflatten", "softmax", "log_softmax",
    "exp_", "log_", "sqrt_", "relu_", "sigmoid_", "tanh_", "abs_", "neg_", "clamp_", "square_", "index_put",
]
from ._tensor import _EXTRA_BINARY, _EXTRA_PREDICATES, _EXTRA_UNARY  # noqa: E402

_METHODS += [n for n in _EXTRA_UNARY + _EXTRA_PREDICATES + _EXTRA_BINARY if n not in _METHODS and hasattr(Tensor, n)]
for _name in _METHODS:
    globals()[_name] = _method(_name)
del _name



def real(input):  # noqa: A002 - PyTorch's spelling
    """prism.real(input): the real part (float32/float64 for complex64/complex128; input itself otherwise)."""
    return _C.real(input)


def imag(input):  # noqa: A002
    """prism.imag(input): the imaginary part of a complex tensor."""
    return _C.imag(input)


def conj(input):  # noqa: A002
    """prism.conj(input): the complex conjugate (input itself for real dtypes)."""
    return _C.conj(input)


sigmoid = globals()["sigmoid"]
transpose = globals()["transpose"]
concat = concatenate = cat
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne  # noqa: F821
multiply = globals()["multiply"]


def broadcast_tensors(*tensors):
    """Views of the tensors expanded to their common shape."""
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(t.expand(*shape) for t in tensors)


def broadcast_shapes(*shapes):
    out = []
    for s in shapes:
        s = tuple(s)
        for i in range(1, len(s) + 1):
            if i > len(out):
                out.insert(0, s[-i])
            elif out[-i] == 1:
                out[-i] = s[-i]
            elif s[-i] != 1 and s[-i] != out[-i]:
                raise InvalidArgumentError(f"shape mismatch: cannot broadcast {list(s)} with {out}")
    return Size(out)


def flatten(input, start_dim=0, end_dim=-1):  # noqa: A002,F811
    return input.flatten(start_dim, end_dim)


__all__ = [n for n in globals() if not n.startswith("_")]

# ---- plain-Python layers over the Tensor type (prism.nn, prism.optim, prism.utils.data, checkpoints) ----
from . import distributed  # noqa: E402,F401  (before nn: nn.parallel uses it)
from . import nn, optim, utils  # noqa: E402,F401
from .serialization import load, save  # noqa: E402,F401
from .streams import Event, Stream, StreamContext, current_stream, default_stream, stream  # noqa: E402,F401
