"""complex64 / complex128 tensors: creation, Python and NumPy exchange, promotion, math against NumPy, errors."""

import cmath
import math

import pytest

import prism
from _helpers import extra_devices, np, torch

pytestmark = pytest.mark.skipif(np is None, reason="skipped: numpy not installed")


def test_dtypes_and_spellings():
    assert prism.complex64 is prism.cfloat and prism.complex128 is prism.cdouble
    assert prism.complex64.is_complex and not prism.float32.is_complex
    assert prism.complex64.itemsize == 8 and prism.complex128.itemsize == 16
    assert prism.complex64.to_real() is prism.float32 and prism.float64.to_complex() is prism.complex128


def test_python_complex_data_item_tolist():
    t = prism.tensor([1 + 2j, -3.5j, 4])
    assert t.dtype is prism.complex64 and t.is_complex()
    assert t.tolist() == [1 + 2j, -3.5j, 4 + 0j]
    assert t[1].item() == -3.5j and complex(t[0]) == 1 + 2j
    d = prism.tensor([[1, 2], [3, 4]], dtype=prism.complex128)
    assert d.dtype is prism.complex128 and d.tolist() == [[1 + 0j, 2 + 0j], [3 + 0j, 4 + 0j]]
    r = repr(prism.tensor([1 + 2j, 3 - 4j]))
    assert r == "tensor([1.+2.j, 3.-4.j], dtype=prism.complex64)", r
    assert "-3.5000j" in repr(t)
    f = prism.full((2,), 1 - 2j)
    assert f.dtype is prism.complex64 and f.tolist() == [1 - 2j, 1 - 2j]
    assert prism.zeros(2, dtype=prism.complex128).tolist() == [0j, 0j]
    assert prism.ones(1, dtype=prism.cfloat).tolist() == [1 + 0j]


def test_numpy_shares_memory_both_ways():
    a = np.array([1 + 1j, 2 - 2j], dtype=np.complex128)
    t = prism.from_numpy(a)
    assert t.dtype is prism.complex128
    a[0] = 5j
    assert t[0].item() == 5j
    b = t.numpy()
    b[1] = -1 + 0j
    assert a[1] == -1 + 0j
    c = prism.tensor([1j], dtype=prism.complex64).numpy()
    assert c.dtype == np.complex64 and c[0] == 1j


def test_dlpack_round_trip_with_numpy():
    t = prism.tensor([1 + 2j, 3 - 4j], dtype=prism.complex128)
    a = np.from_dlpack(t) if hasattr(np, "from_dlpack") else np.asarray(t.numpy())
    assert a.dtype == np.complex128 and list(a) == [1 + 2j, 3 - 4j]
    back = prism.from_dlpack(t)
    assert back.dtype is prism.complex128 and back.tolist() == [1 + 2j, 3 - 4j]


def test_promotion():
    c64 = prism.tensor([1 + 1j])
    assert (c64 + prism.tensor([1.0], dtype=prism.float64)).dtype is prism.complex128
    assert (c64 + prism.tensor([1], dtype=prism.int32)).dtype is prism.complex64
    assert (prism.tensor([1.0]) + 2j).dtype is prism.complex64
    assert (prism.tensor([1.0], dtype=prism.float64) * 1j).dtype is prism.complex128
    assert (c64 * 2.0).dtype is prism.complex64
    assert prism.tensor([1 + 1j]).to(prism.float32).tolist() == [1.0]  # casts keep the real part


VALUES = [0j, 1 + 2j, -0.5 + 0.25j, 3 - 4j, -2 - 1e-3j, 1e-8 + 1e-8j]


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "asin",
                                  "acos", "atan", "asinh", "acosh", "atanh", "expm1", "log1p", "square", "log10"])
def test_unary_math_matches_numpy(name):
    vals = VALUES[1:] if name in ("log", "log10", "atanh", "acosh") else VALUES
    a = np.array(vals, dtype=np.complex128)
    t = prism.from_numpy(a.copy())
    got = np.array(getattr(prism, name)(t).tolist())
    ref = {"expm1": lambda x: np.array([cmath.exp(v) - 1 if abs(v) > 1e-4 else v + v * v / 2 for v in x]),
           "log1p": lambda x: np.array([cmath.log(1 + v) if abs(v) > 1e-4 else v - v * v / 2 for v in x]),
           "square": lambda x: x * x, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan,
           "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh}.get(name, getattr(np, name, None))
    np.testing.assert_allclose(got, ref(a), rtol=1e-12, atol=1e-300)


def test_annex_g_special_values():
    inf, nan = math.inf, math.nan
    t = prism.tensor([complex(inf, 0.0), complex(-inf, inf), complex(0.0, nan)], dtype=prism.complex128)
    e = prism.exp(t).tolist()
    assert e[0] == complex(inf, 0.0)
    assert e[1].real == 0.0 and e[1].imag == 0.0  # exp(-inf + inf j) = ±0 ± 0j
    r = prism.sqrt(prism.tensor([complex(-4.0, 0.0), complex(-4.0, -0.0)], dtype=prism.complex128)).tolist()
    assert r[0] == 2j and r[1] == -2j and math.copysign(1, r[1].real) == 1
    assert prism.acos(prism.tensor([0j], dtype=prism.complex128)).tolist()[0] == complex(math.pi / 2, -0.0)
    # the array API's cases where C99 leaves the sign of zero open
    e1 = prism.expm1(prism.tensor([complex(-0.0, 0.0)], dtype=prism.complex128)).tolist()[0]
    assert e1 == 0j and math.copysign(1, e1.real) == 1
    th = prism.tanh(prism.tensor([complex(inf, 3.0), complex(-inf, -3.0)], dtype=prism.complex128)).tolist()
    assert th[0] == 1 and math.copysign(1, th[0].imag) == 1
    assert th[1] == -1 and math.copysign(1, th[1].imag) == -1
    m = (prism.tensor([complex(inf, 0.0)], dtype=prism.complex128) * prism.tensor([1j], dtype=prism.complex128))
    assert m.tolist()[0] == complex(0.0, inf) or math.isinf(m.tolist()[0].imag)


def test_binary_arithmetic_and_reductions():
    a = np.array([1 + 2j, -3 + 0.5j, 2 - 2j], dtype=np.complex64)
    b = np.array([0.5 - 1j, 2 + 2j, -1j], dtype=np.complex64)
    ta, tb = prism.from_numpy(a.copy()), prism.from_numpy(b.copy())
    for op, ref in ((prism.add, a + b), (prism.sub, a - b), (prism.mul, a * b), (prism.div, a / b),
                    (prism.pow, a ** b)):
        np.testing.assert_allclose(np.array(op(ta, tb).tolist()), ref, rtol=1e-5)
    assert prism.eq(ta, ta.clone()).tolist() == [True] * 3 and prism.ne(ta, tb).tolist() == [True] * 3
    np.testing.assert_allclose(complex(ta.sum()), a.sum(), rtol=1e-6)
    np.testing.assert_allclose(complex(ta.prod()), a.prod(), rtol=1e-5)
    np.testing.assert_allclose(complex(ta.mean()), a.mean(), rtol=1e-6)
    w = prism.where(prism.tensor([True, False, True]), ta, tb)
    assert w.tolist() == [complex(a[0]), complex(b[1]), complex(a[2])]


def test_parts_abs_predicates():
    t = prism.tensor([3 + 4j, complex(math.nan, 1), complex(1, math.inf)], dtype=prism.complex128)
    assert t.real.dtype is prism.float64 and t.real.tolist()[0] == 3.0 and t.imag.tolist()[0] == 4.0
    assert prism.conj(t).tolist()[0] == 3 - 4j
    assert prism.abs(t).dtype is prism.float64 and prism.abs(t).tolist()[0] == 5.0
    assert prism.isnan(t).tolist() == [False, True, False]
    assert prism.isinf(t).tolist() == [False, False, True]
    assert prism.isfinite(t).tolist() == [True, False, False]
    r = prism.tensor([1.5])
    assert prism.real(r) is not None and prism.conj(r).tolist() == [1.5]
    with pytest.raises(prism.Error, match="imag"):
        prism.imag(r)


def test_indexing_and_views():
    t = prism.tensor([[1 + 1j, 2 + 2j], [3 + 3j, 4 + 4j]])
    assert t[1, 0].item() == 3 + 3j
    assert t.T.contiguous().tolist() == [[1 + 1j, 3 + 3j], [2 + 2j, 4 + 4j]]
    assert t[prism.tensor([1, 0])].tolist() == [[3 + 3j, 4 + 4j], [1 + 1j, 2 + 2j]]
    assert prism.cat([t, t]).shape == (4, 2)


def test_errors_are_clear(tmp_path):
    t = prism.tensor([1 + 1j])
    with pytest.raises(prism.Error, match="complex"):
        prism.save({"z": t}, str(tmp_path / "z.safetensors"))
    with pytest.raises(prism.Error):
        t.requires_grad_(True)
    with pytest.raises(prism.Error):
        prism.tensor([1 + 1j]) < prism.tensor([2 + 0j])
    for dev in extra_devices():
        with pytest.raises(prism.Error):
            t.to(dev)
    assert t.tolist() == [1 + 1j]  # intact after the errors


@pytest.mark.skipif(torch is None, reason="skipped: torch not installed")
def test_matches_torch():
    a = [1 + 2j, -0.5 - 3j, 0.25j]
    tt = torch.tensor(a, dtype=torch.complex128)
    pt = prism.tensor(a, dtype=prism.complex128)
    for name in ("exp", "log", "sqrt", "tanh", "sin"):
        np.testing.assert_allclose(np.array(getattr(prism, name)(pt).tolist()),
                                   getattr(torch, name)(tt).numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.array((pt * pt / (pt + 1)).tolist()), (tt * tt / (tt + 1)).numpy(), rtol=1e-12)
