"""prism.amp: mixed precision as torch.amp spells it — `prism.autocast(device_type, dtype, enabled)` and
`prism.amp.GradScaler` (loss scaling with skipped steps on overflow, PyTorch's growth/backoff rules)."""

from __future__ import annotations

import functools

import prism
from . import _C

__all__ = ["autocast", "GradScaler", "is_autocast_enabled", "get_autocast_dtype"]


def _device_type(device_type) -> str:
    if isinstance(device_type, prism.device):
        return device_type.type
    if not isinstance(device_type, str):
        raise TypeError(f"autocast: device_type must be a str such as 'cpu', got {type(device_type).__name__}")
    return device_type.split(":")[0]


class autocast:  # noqa: N801  (torch.autocast's spelling)
    """torch.autocast: inside the scope, ops on tensors of `device_type` run in a per-op dtype —
    matmul/linear/conv2d/bmm in `dtype` (bfloat16 on "cpu" by default, float16 elsewhere), losses in
    float32 (and, on non-CPU device types, softmax, log_softmax, layer_norm, sum, exp, log, pow, ...),
    cat/stack in the widest input dtype — following PyTorch's autocast lists (docs/ops.md, Autocast).
    Works as a context manager and as a decorator, nests, and works under prism.no_grad()."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        self.device_type = _device_type(device_type)
        self.fast_dtype = dtype if dtype is not None else _C.autocast_get_dtype(self.device_type)
        self._enabled = bool(enabled)
        del cache_enabled  # accepted for PyTorch compatibility; casts are not cached

    def __enter__(self):
        _C.autocast_enter(self.device_type, self.fast_dtype, self._enabled)
        return self

    def __exit__(self, *exc):
        _C.autocast_exit()
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with autocast(self.device_type, self.fast_dtype, self._enabled):
                return func(*args, **kwargs)

        return wrapper


def is_autocast_enabled(device_type="cpu") -> bool:
    """True when an enabled autocast scope for device_type is open on this thread."""
    return _C.autocast_is_enabled(_device_type(device_type))


def get_autocast_dtype(device_type="cpu"):
    """The dtype of the innermost autocast scope for device_type (or PyTorch's default for it)."""
    return _C.autocast_get_dtype(_device_type(device_type))


class GradScaler:
    """torch.cuda.amp.GradScaler on any device: scale(loss) multiplies by the scale (65536 at first);
    step(optimizer) unscales every gradient with the fused op amp_unscale_check and skips
    optimizer.step() when one held NaN/Inf; update() halves the scale after an overflow and doubles it
    after `growth_interval` clean steps in a row (the op amp_update_scale)."""

    def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        self._enabled = bool(enabled)
        if self._enabled:
            if not init_scale > 0:
                raise ValueError(f"GradScaler: init_scale must be > 0, got {init_scale}")
            if not growth_factor > 1.0:
                raise ValueError("The growth factor must be > 1.0.")
            if not backoff_factor < 1.0:
                raise ValueError("The backoff factor must be < 1.0.")
        self._init_scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._init_growth_tracker = 0
        self._scale = None
        self._growth_tracker = None
        self._per_optimizer = {}

    def is_enabled(self):
        return self._enabled

    def _lazy_init(self, device):
        self._scale = prism.full((1,), self._init_scale, dtype=prism.float32, device=device)
        self._growth_tracker = prism.full((1,), self._init_growth_tracker, dtype=prism.int32, device=device)

    def _state(self, optimizer):
        return self._per_optimizer.setdefault(id(optimizer), {"stage": "ready", "found_inf": {}})

    def scale(self, outputs):
        """outputs * scale (a tensor, or any nesting of lists/tuples of tensors)."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, prism.Tensor):
            if self._scale is None:
                self._lazy_init(outputs.device)
            return outputs * self._scale.to(outputs.device)
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def unscale_(self, optimizer):
        """Divides optimizer's gradients by the scale in place and records NaN/Inf."""
        if not self._enabled:
            return
        st = self._state(optimizer)
        if st["stage"] == "unscaled":
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if st["stage"] == "stepped":
            raise RuntimeError("unscale_() is being called after step().")
        if self._scale is None:
            raise RuntimeError("Attempted unscale_ but _scale is None. This may indicate your script did not "
                               "use scaler.scale(loss or outputs) earlier in the iteration.")
        inv = 1.0 / self._scale.item()  # in f64, stored as f32 (as PyTorch)
        inv_by_device = {}
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                key = str(p.grad.device)
                if key not in st["found_inf"]:
                    st["found_inf"][key] = prism.zeros(1, dtype=prism.float32, device=p.grad.device)
                    inv_by_device[key] = prism.full((1,), inv, dtype=prism.float32, device=p.grad.device)
                _C.amp_unscale_check(p.grad, st["found_inf"][key], inv_by_device[key])
        st["stage"] = "unscaled"

    def step(self, optimizer, *args, **kwargs):
        """optimizer.step(*args, **kwargs) unless a gradient overflowed (then None)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        st = self._state(optimizer)
        if st["stage"] == "stepped":
            raise RuntimeError("step() has already been called since the last update().")
        if st["stage"] == "ready":
            self.unscale_(optimizer)
        found = sum(v.item() for v in st["found_inf"].values())
        st["stage"] = "stepped"
        if found:
            return None
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None):
        """Backoff after an overflow, growth after growth_interval clean steps; or set new_scale."""
        if not self._enabled or self._scale is None:
            return
        if new_scale is not None:
            value = new_scale.item() if isinstance(new_scale, prism.Tensor) else float(new_scale)
            self._scale.fill_(value)
        else:
            founds = [f.to(self._scale.device) for st in self._per_optimizer.values()
                      for f in st["found_inf"].values()]
            if not founds:
                raise RuntimeError("No inf checks were recorded prior to update.")
            found = founds[0].clone()
            for f in founds[1:]:
                found = found + f
            _C.amp_update_scale(self._scale, self._growth_tracker, found, self._growth_factor,
                                self._backoff_factor, self._growth_interval)
        self._per_optimizer = {}

    def get_scale(self):
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else self._scale.item()

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = int(new_interval)

    def _get_growth_tracker(self):
        if self._growth_tracker is None:
            return self._init_growth_tracker
        return int(self._growth_tracker.item())

    def state_dict(self):
        """PyTorch's keys: scale, growth_factor, backoff_factor, growth_interval, _growth_tracker."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._scale is not None:
            self._scale.fill_(self._init_scale)
            self._growth_tracker.fill_(self._init_growth_tracker)
