"""Shared helpers of the prism Python tests: optional torch/numpy, extra devices."""

import prism

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


def extra_devices():
    """The non-CPU devices loaded here (opencl:0 on PoCL, emu:0), as strings."""
    return [str(d) for d in prism.devices() if d.type in ("opencl", "emu")]


def all_devices():
    return ["cpu"] + extra_devices()


def close(a, b, tol=1e-5):
    """a and b (prism tensors, torch tensors or lists) hold the same values."""
    def flat(x):
        if hasattr(x, "tolist"):
            x = x.tolist()
        out = []

        def rec(v):
            if isinstance(v, (list, tuple)):
                for e in v:
                    rec(e)
            else:
                out.append(float(v))

        rec(x)
        return out

    fa, fb = flat(a), flat(b)
    assert len(fa) == len(fb), (fa, fb)
    for x, y in zip(fa, fb):
        if x != x and y != y:
            continue
        assert abs(x - y) <= tol * (1 + abs(y)), (fa, fb)
    return True
