# _ops.py — where prism.array_api finds prism's ops: the prism package first, then the prism._C extension.
"""Lookup of prism functions by name for :mod:`prism.array_api`."""

from __future__ import annotations

import prism as _prism


class _Ops:
    """``P.name`` is ``prism.name`` when the package exports it, else ``prism._C.name``, else the Tensor method."""

    def __getattr__(self, name: str):
        fn = getattr(_prism, name, None)
        if fn is None:
            fn = getattr(getattr(_prism, "_C", None), name, None)
        if fn is None:

            def fn(t, *args, _name=name, **kwargs):
                return getattr(t, _name)(*args, **kwargs)

        setattr(self, name, fn)
        return fn


P = _Ops()
