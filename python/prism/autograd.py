"""prism.autograd: no_grad/enable_grad, grad(), backward(), anomaly mode — over the C ABI's autograd."""

from __future__ import annotations

import functools

from . import _C

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "grad", "backward",
           "set_detect_anomaly", "detect_anomaly", "is_anomaly_enabled"]

is_grad_enabled = _C.is_grad_enabled


class _DecoratorContext:
    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_DecoratorContext):
    """Context manager and decorator: no graph is recorded inside (thread-local)."""

    def __enter__(self):
        _C._no_grad_enter()
        return self

    def __exit__(self, *exc):
        _C._no_grad_exit()
        return False


class enable_grad(_DecoratorContext):
    """Context manager and decorator: gradients are recorded inside, even within no_grad.

    Note [enable_grad over the C ABI]: the ABI has nested no_grad_enter/exit pairs only; enable_grad
    leaves the enclosing no_grad levels on entry and re-enters the same number on exit, which
    restores the previous mode exactly.
    """

    def __enter__(self):
        self._left = 0
        while not _C.is_grad_enabled():
            try:
                _C._no_grad_exit()
            except _C.Error:
                break
            self._left += 1
        return self

    def __exit__(self, *exc):
        for _ in range(self._left):
            _C._no_grad_enter()
        return False


class set_grad_enabled:
    """set_grad_enabled(mode): as a function or a context manager."""

    def __init__(self, mode: bool):
        self._ctx = None
        self._prev = _C.is_grad_enabled()
        if bool(mode) != self._prev:
            self._ctx = enable_grad() if mode else no_grad()
            self._ctx.__enter__()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.__exit__(*exc)
            self._ctx = None
        return False


_anomaly = [False]


def set_detect_anomaly(mode: bool) -> None:
    """Anomaly mode: backward fails naming the op whose gradient became NaN or Inf."""
    _C.set_anomaly_enabled(bool(mode))
    _anomaly[0] = bool(mode)


def is_anomaly_enabled() -> bool:
    return _anomaly[0]


class detect_anomaly(_DecoratorContext):
    """Context manager: anomaly mode inside."""

    def __init__(self, check_nan: bool = True):
        self._check = check_nan

    def __enter__(self):
        self._prev = _anomaly[0]
        set_detect_anomaly(self._check)
        return self

    def __exit__(self, *exc):
        set_detect_anomaly(self._prev)
        return False


def _seq(x):
    return [x] if isinstance(x, _C.TensorBase) else list(x)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False,
         materialize_grads=False):
    """Gradients of outputs w.r.t. inputs (a tuple, one per input), without touching any .grad."""
    if create_graph:
        raise NotImplementedError("grad(create_graph=True): higher-order gradients are not supported")
    outs = _seq(outputs)
    ins = _seq(inputs)
    gos = None if grad_outputs is None else _seq(grad_outputs)
    res = _C.grad(outs, ins, gos, bool(retain_graph), bool(allow_unused or materialize_grads))
    if materialize_grads:
        from ._factories import zeros_like

        res = tuple(zeros_like(i) if r is None else r for r, i in zip(res, ins))
    return res


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulates gradients of tensors into the leaves' .grad."""
    if create_graph:
        raise NotImplementedError("backward(create_graph=True): higher-order gradients are not supported")
    ts = _seq(tensors)
    gs = None if grad_tensors is None else _seq(grad_tensors)
    _C.backward(ts, gs, bool(retain_graph))
