# _dtypes.py — the array API dtype objects of prism.array_api, the standard's promotion table and dtype queries.
"""Data types of :mod:`prism.array_api`.

Note [Array API dtypes]
-----------------------
Prism stores bool, int8/16/32/64, uint8, float16, bfloat16, float32, float64,
complex64 and complex128. The 2023.12 standard names bool, int8..int64,
uint8..uint64, float32, float64, complex64 and complex128. This namespace offers
the intersection: uint16, uint32 and uint64 are missing (the conformance run
sets ARRAY_API_TESTS_SKIP_DTYPES for them and python/tests/array_api/xfails.txt
lists them). float16/bfloat16 are Prism dtypes the standard does not name; a
prism tensor of those dtypes wrapped by ``asarray`` keeps them.

Promotion follows the standard's table (not PyTorch's value-based rules for
0-d tensors): two arrays of one kind promote to the smallest dtype that can
hold both; mixing kinds (bool, integer, float) is an error here, since the
standard leaves it undefined and silent casts hide bugs. Real floating with complex
promotes to the complex dtype whose parts hold both (float64 with complex64 is
complex128), as the standard's table says.
"""

from __future__ import annotations

import prism as _prism


class DType:
    """An array API dtype (compares equal only to itself)."""

    __slots__ = ("name", "kind", "bits", "_prism")

    def __init__(self, name: str, kind: str, bits: int):
        self.name = name
        self.kind = kind  # "b", "i", "u", "f", "c"
        self.bits = bits
        self._prism = getattr(_prism, name)

    def __repr__(self) -> str:
        return f"prism.array_api.{self.name}"

    def __eq__(self, other) -> bool:
        return self is other

    def __hash__(self) -> int:
        return hash(self.name)


bool = DType("bool", "b", 8)  # noqa: A001 - the standard's name
int8 = DType("int8", "i", 8)
int16 = DType("int16", "i", 16)
int32 = DType("int32", "i", 32)
int64 = DType("int64", "i", 64)
uint8 = DType("uint8", "u", 8)
float32 = DType("float32", "f", 32)
float64 = DType("float64", "f", 64)
complex64 = DType("complex64", "c", 64)
complex128 = DType("complex128", "c", 128)
# Prism dtypes outside the standard, so arrays wrapping them still print and cast.
float16 = DType("float16", "f", 16)
bfloat16 = DType("bfloat16", "f", 16)

_STANDARD = (bool, int8, int16, int32, int64, uint8, float32, float64, complex64, complex128)
_ALL = _STANDARD + (float16, bfloat16)
_BY_NAME = {d.name: d for d in _ALL}

default_float = float32
default_int = int64
default_index = int64


_FROM_PRISM = {}


def from_prism(pdt) -> DType:
    """The DType of a prism dtype object."""
    try:
        return _FROM_PRISM[pdt]
    except (KeyError, TypeError):
        pass
    for d in _ALL:
        if d._prism == pdt:
            try:
                _FROM_PRISM[pdt] = d
            except TypeError:
                pass
            return d
    name = str(pdt).rsplit(".", 1)[-1]
    if name in _BY_NAME:
        return _BY_NAME[name]
    raise TypeError(f"prism dtype {pdt!r} has no array API dtype")


def check(dtype, what: str = "dtype") -> DType:
    if isinstance(dtype, DType):
        return dtype
    raise TypeError(f"{what} must be a prism.array_api dtype (e.g. prism.array_api.float32), got {dtype!r}")


def is_bool(d: DType) -> bool:
    return d.kind == "b"


def is_int(d: DType) -> bool:
    return d.kind in "iu"


def is_float(d: DType) -> bool:
    return d.kind == "f"


def is_complex(d: DType) -> bool:
    return d.kind == "c"


def is_inexact(d: DType) -> bool:
    """Real floating or complex floating."""
    return d.kind in "fc"


def real_of(d: DType) -> DType:
    """float32 for complex64, float64 for complex128, d itself otherwise."""
    return {"complex64": float32, "complex128": float64}.get(d.name, d)


def complex_of(d: DType) -> DType:
    """complex128 for float64, complex64 for narrower floats, d itself for complex."""
    if d.kind == "c":
        return d
    return complex128 if d is float64 else complex64


def is_numeric(d: DType) -> bool:
    return d.kind != "b"


def _int_promote(a: DType, b: DType) -> DType:
    if a.kind == b.kind:
        return a if a.bits >= b.bits else b
    s, u = (a, b) if a.kind == "i" else (b, a)
    # uint8 with a signed type: the signed type when it is wider, else int16
    if s.bits > u.bits:
        return s
    return {8: int16}.get(u.bits, None) or _fail(a, b)


def _fail(a: DType, b: DType):
    raise TypeError(f"{a.name} and {b.name} cannot be promoted together")


def promote(a: DType, b: DType) -> DType:
    """The standard's promotion of two dtypes (TypeError across kinds)."""
    if a is b:
        return a
    if a.kind == "b" or b.kind == "b":
        _fail(a, b)
    if is_int(a) and is_int(b):
        return _int_promote(a, b)
    if is_float(a) and is_float(b):
        if a.bits == b.bits:  # float16 with bfloat16
            return float32
        return a if a.bits > b.bits else b
    if is_inexact(a) and is_inexact(b):  # at least one complex
        ra, rb = real_of(a), real_of(b)
        return complex128 if float64 in (ra, rb) else complex64
    _fail(a, b)


def result_type_of(dtypes) -> DType:
    it = iter(dtypes)
    r = next(it)
    for d in it:
        r = promote(r, d)
    return r
