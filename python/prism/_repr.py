"""Printing tensors as PyTorch does: tensor([1., 2.]), aligned rows, summarised large tensors, suffixes."""

from __future__ import annotations

import math

_THRESHOLD = 1000  # elements before summarising
_EDGE = 3  # items kept at each end of a summarised dim
_LINEWIDTH = 80


class _Formatter:
    def __init__(self, values, floating: bool):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        finite = [v for v in values if isinstance(v, float) and math.isfinite(v)] if floating else []
        if floating:
            self.int_mode = all(v == math.floor(v) for v in finite)
            nonzero = [abs(v) for v in finite if v != 0]
            if nonzero:
                mx, mn = max(nonzero), min(nonzero)
                if self.int_mode:
                    self.sci_mode = mx > 1e8
                else:
                    self.sci_mode = mx / mn > 1000.0 or mx > 1e8 or mn < 1e-4
        self.width = max((len(self.format(v)) for v in values), default=1)

    def format(self, v) -> str:
        if isinstance(v, bool):
            return "True" if v else "False"
        if not self.floating:
            return str(v)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if self.sci_mode:
            return f"{v:.4e}"
        if self.int_mode:
            return f"{v:.0f}."
        return f"{v:.4f}"

    def pad(self, v) -> str:
        return self.format(v).rjust(self.width)


class _ComplexFormatter:
    """complex values as PyTorch prints them: 1.+2.j, 0.5000-1.2500j (each part formatted as a float)."""

    def __init__(self, values):
        parts = _Formatter([v.real for v in values] + [abs(v.imag) for v in values], True)
        self.re = self.im = parts  # one format for both parts, as PyTorch
        self.width = max((len(self.format(v)) for v in values), default=1)

    def format(self, v) -> str:
        sign = "-" if math.copysign(1.0, v.imag) < 0 and not math.isnan(v.imag) else "+"
        return f"{self.re.format(v.real)}{sign}{self.im.format(abs(v.imag))}j"

    def pad(self, v) -> str:
        return self.format(v).rjust(self.width)


def _flatten(data, out):
    if isinstance(data, list):
        for d in data:
            _flatten(d, out)
    else:
        out.append(data)


def _summarise(data, shape, summarise):
    """The nested list with the middle of long dims replaced by Ellipsis."""
    if not isinstance(data, list):
        return data
    if summarise and len(data) > 2 * _EDGE:
        items = data[:_EDGE] + [...] + data[-_EDGE:]
    else:
        items = data
    return [d if d is ... else _summarise(d, shape[1:], summarise) for d in items]


def _format(data, fmt, indent, ndim):
    if not isinstance(data, list):
        return fmt.pad(data)
    if ndim == 1:
        per_line = max(1, (_LINEWIDTH - indent) // (fmt.width + 2))
        parts = ["..." if d is ... else fmt.pad(d) for d in data]
        lines = [", ".join(parts[i:i + per_line]) for i in range(0, len(parts), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    sep = "," + "\n" * (ndim - 1) + " " * (indent + 1)
    parts = ["..." if d is ... else _format(d, fmt, indent + 1, ndim - 1) for d in data]
    return "[" + sep.join(parts) + "]"


def tensor_repr(t, prefix="tensor(") -> str:
    from . import _C

    shape = tuple(t.shape)
    dt = t.dtype
    numel = t.numel()
    suffixes = []
    dev = t._device_str
    if not dev.startswith("cpu"):
        suffixes.append(f"device='{dev}'")
    summarise = numel > _THRESHOLD
    if numel == 0:
        body = "[]"
        if len(shape) != 1:
            suffixes.insert(0, f"size={shape}")
    else:
        src = t.detach()
        if dt.name in ("float16", "bfloat16"):
            src = src.float()
        data = _C.TensorBase.tolist(src)
        if summarise:
            data = _summarise(data, shape, True)
        flat = []
        _flatten(data, flat)
        flat = [v for v in flat if v is not ...]
        fmt = _ComplexFormatter(flat) if dt.is_complex else _Formatter(flat, dt.is_floating_point)
        body = _format(data, fmt, len(prefix), len(shape))
    if dt.name not in ("float32", "int64", "bool"):
        suffixes.append(f"dtype=prism.{dt.name}")
    info = t._grad_fn_info()
    if info is not None:
        suffixes.append(f"grad_fn=<{info[0]}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    s = prefix + body
    if suffixes:
        s += ", " + ", ".join(suffixes)
    return s + ")"
