# _info.py — __array_namespace_info__ of prism.array_api (2023.12 inspection API).
"""Inspection utilities: devices, default dtypes, supported dtypes and capabilities."""

from __future__ import annotations

from . import _dtypes as _d
from ._array_object import CPU, Device


class Info:
    """What ``prism.array_api.__array_namespace_info__()`` returns."""

    def capabilities(self) -> dict:
        return {"boolean indexing": True, "data-dependent shapes": True}

    def default_device(self) -> Device:
        return CPU

    def devices(self) -> list:
        out = [CPU]
        try:
            import prism

            for d in prism.devices():
                name = str(d)
                if name != "cpu" and Device(name) not in out:
                    out.append(Device(name))
        except Exception:  # noqa: BLE001 - listing devices is best effort; the CPU is always there
            pass
        return out

    def default_dtypes(self, *, device=None) -> dict:
        return {
            "real floating": _d.default_float,
            "complex floating": _d.complex64,
            "integral": _d.default_int,
            "indexing": _d.default_index,
        }

    def dtypes(self, *, device=None, kind=None) -> dict:
        """The dtypes of ``kind`` that ``device`` (default: the CPU) can hold; a plugin may
        decline some (the emu device has no complex dtypes)."""
        from ._functions import isdtype

        out = {}
        for d in _d._STANDARD:
            if (kind is None or isdtype(d, kind)) and _holds(device, d):
                out[d.name] = d
        return out


_HOLDS: dict = {}


def _holds(device, d) -> bool:
    """Whether ``device`` can hold dtype ``d``: probed once with an empty tensor (a device that
    declines the dtype refuses it with a clear error)."""
    name = "cpu" if device is None else getattr(device, "_name", str(device))
    if name == "cpu":
        return True
    key = (name, d.name)
    if key not in _HOLDS:
        import prism

        try:
            prism.empty((0,), dtype=d._prism, device=name)
            _HOLDS[key] = True
        except Exception:  # noqa: BLE001 - any refusal means "not held"
            _HOLDS[key] = False
    return _HOLDS[key]


def __array_namespace_info__() -> Info:
    return Info()
