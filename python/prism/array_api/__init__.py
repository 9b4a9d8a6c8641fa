# __init__.py — prism.array_api: the Python array API standard (2023.12) over prism tensors.
"""The Python array API standard (version 2023.12) on Prism.

``prism.array_api`` has its own array object (:class:`Array`, a prism Tensor
with the standard's semantics) and the standard's functions, written over
prism's ops. Where the standard differs from PyTorch-style ``prism`` it
follows the standard: ``var``/``std`` default to ``correction=0``,
``max(x, axis=...)`` returns an array, ``linspace`` takes ``num``, ``size`` is
an attribute, type promotion uses the standard's table (no value-based casts).

Dtypes: bool, int8, int16, int32, int64, uint8, float32, float64, complex64,
complex128. Prism has no uint16, uint32 or uint64, so those are missing; see
docs/array-api.md.
"""

from __future__ import annotations

import math as _math

__array_api_version__ = "2023.12"

from ._array_object import Array, Device  # noqa: E402
from ._array_object import _install_operators as _install  # noqa: E402
from ._dtypes import bool, complex64, complex128, float32, float64, int8, int16, int32, int64, uint8  # noqa: E402,A004
from ._functions import *  # noqa: E402,F401,F403
from ._functions import (  # noqa: E402,A004
    abs,
    all,
    any,
    max,
    min,
    pow,
    round,
    sum,
)
from ._info import __array_namespace_info__  # noqa: E402
from . import linalg  # noqa: E402

_install()

e = _math.e
inf = _math.inf
nan = _math.nan
pi = _math.pi
newaxis = None

__all__ = [n for n in dir() if not n.startswith("_")] + ["__array_namespace_info__", "__array_api_version__"]
