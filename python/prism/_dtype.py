"""Dtype, device and Size objects of the prism package (PyTorch spelling: prism.float32, prism.device("cpu"))."""

from __future__ import annotations

from . import _C

__all__ = ["dtype", "device", "Size"]


class dtype:
    """An element type. Compare with ``is`` or ``==``; ``itemsize`` is the element size in bytes."""

    __slots__ = ("_prism_code", "_name", "itemsize", "is_floating_point", "is_signed", "is_complex")

    def __init__(self, code: int, name: str):
        self._prism_code = code
        self._name = name
        self.itemsize = _C.dtype_size(code)
        self.is_floating_point = name in ("float16", "bfloat16", "float32", "float64")
        self.is_signed = name not in ("bool", "uint8")
        self.is_complex = name in ("complex64", "complex128")

    def __repr__(self) -> str:
        return "prism." + self._name

    def __reduce__(self):
        return (_dtype_by_name, (self._name,))

    def to_real(self) -> "dtype":
        """float32 for complex64, float64 for complex128, the dtype itself otherwise."""
        return {"complex64": _BY_NAME["float32"], "complex128": _BY_NAME["float64"]}.get(self._name, self)

    def to_complex(self) -> "dtype":
        """complex128 for float64, complex64 for float32/float16/bfloat16, complex dtypes themselves."""
        if self.is_complex:
            return self
        return _BY_NAME["complex128" if self._name == "float64" else "complex64"]

    @property
    def name(self) -> str:
        return self._name


def _dtype_by_name(name: str) -> dtype:
    return _BY_NAME[name]


_NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64",
          "complex64", "complex128"]
DTYPES = [dtype(i, n) for i, n in enumerate(_NAMES)]
_BY_NAME = {d._name: d for d in DTYPES}
_C._register_dtypes(DTYPES)


class device:
    """A device, ``type:index`` ("cpu", "opencl:0", "emu:1"). ``str(d)`` gives the string Prism accepts."""

    __slots__ = ("type", "index", "_prism_device")

    def __init__(self, type, index=None):  # noqa: A002 - PyTorch's spelling
        if isinstance(type, device):
            self.type, self.index, self._prism_device = type.type, type.index, type._prism_device
            return
        if not isinstance(type, str):
            raise TypeError(f"device(): expected a str, got {type.__class__.__name__}")
        s = type.strip()
        if ":" in s:
            if index is not None:
                raise ValueError(f"device(): type {s!r} already has an index")
            t, _, i = s.partition(":")
            try:
                index = int(i)
            except ValueError:
                raise ValueError(f"Invalid device string: {type!r}") from None
            s = t
        if not s or not s.replace("_", "").isalnum():
            raise ValueError(f"Invalid device string: {type!r}")
        if index is not None and (not isinstance(index, int) or index < 0):
            raise ValueError(f"device(): index must be a non-negative int, got {index!r}")
        self.type = s
        self.index = index
        self._prism_device = f"{s}:{index if index is not None else 0}"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type={self.type!r})"
        return f"device(type={self.type!r}, index={self.index})"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (TypeError, ValueError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self._prism_device == other._prism_device

    def __hash__(self) -> int:
        return hash(self._prism_device)

    def __reduce__(self):
        return (device, (str(self),))


_DEVICE_CACHE: dict = {}


def _device_of(s: str) -> device:
    """The device object of a core device string ("cpu:0" -> device('cpu'), like PyTorch's CPU tensors)."""
    d = _DEVICE_CACHE.get(s)
    if d is None:
        t, _, i = s.partition(":")
        d = device(t) if t == "cpu" else device(t, int(i or 0))
        _DEVICE_CACHE[s] = d
    return d


class Size(tuple):
    """The shape of a tensor: a tuple of ints."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"prism.Size([{', '.join(str(int(s)) for s in self)}])"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, key):
        r = tuple.__getitem__(self, key)
        return Size(r) if isinstance(key, slice) else r

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))


_C._set_size_class(Size)
