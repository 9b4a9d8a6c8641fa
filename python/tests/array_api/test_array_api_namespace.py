# test_array_api_namespace.py — prism.array_api checked against NumPy on hand-picked values (the full suite is run.sh).
import math

import numpy as np
import pytest

xp = pytest.importorskip("prism.array_api")


def host(a):
    return np.asarray(a._host())


@pytest.mark.parametrize(
    "name, npname, values",
    [
        ("tan", "tan", [-0.75, 0.0, 0.5]),
        ("asin", "arcsin", [-0.75, -0.0, 0.5, 2.0]),
        ("acos", "arccos", [-0.75, 0.0, 1.0]),
        ("atan", "arctan", [-math.inf, -0.0, 3.0]),
        ("sinh", "sinh", [-1.5, 0.0, 2.0]),
        ("cosh", "cosh", [-1.5, 0.0, 2.0]),
        ("asinh", "arcsinh", [-1.5, -0.0, 2.0]),
        ("acosh", "arccosh", [0.5, 1.0, 2.0]),
        ("atanh", "arctanh", [-1.0, -0.0, 0.5]),
        ("log2", "log2", [0.0, 0.5, 8.0, -1.0]),
        ("log10", "log10", [0.0, 0.001, 100.0]),
        ("trunc", "trunc", [-2.5, -0.5, 0.5, math.inf]),
    ],
)
def test_unary_float_matches_numpy(name, npname, values):
    x = np.asarray(values, dtype=np.float64)
    with np.errstate(all="ignore"):
        want = getattr(np, npname)(x)
    got = host(getattr(xp, name)(xp.asarray(values, dtype=xp.float64)))
    np.testing.assert_allclose(got, want, rtol=1e-13, equal_nan=True)
    real = ~np.isnan(want)  # signed zeros must match; a NaN's sign bit is unspecified
    assert list(np.signbit(got[real])) == list(np.signbit(want[real]))


@pytest.mark.parametrize("name, npname", [("atan2", "arctan2"), ("hypot", "hypot"), ("copysign", "copysign"),
                                          ("logaddexp", "logaddexp"), ("nextafter", "nextafter")])
def test_binary_float_matches_numpy(name, npname):
    a = np.array([1.0, -2.0, 0.0, -0.0, math.inf, -math.inf, math.nan])
    b = np.array([2.0, -0.5, -1.0, 1.0, 2.0, -math.inf, 1.0])
    want = getattr(np, npname)(a, b)
    got = host(getattr(xp, name)(xp.asarray(a), xp.asarray(b)))
    np.testing.assert_allclose(got, want, rtol=1e-13, equal_nan=True)


def test_bitwise_int64_exact():
    a = np.array([2**63 - 2, -(2**63), 0x123456789ABCDEF0, -5], dtype=np.int64)
    b = np.array([0x0F0F0F0F0F0F0F0F, 3, -1, 7], dtype=np.int64)
    x, y = xp.asarray(a), xp.asarray(b)
    assert host(x & y).tolist() == (a & b).tolist()
    assert host(x | y).tolist() == (a | b).tolist()
    assert host(x ^ y).tolist() == (a ^ b).tolist()
    assert host(~x).tolist() == (~a).tolist()
    s = np.array([1, 62, 63, 0], dtype=np.int64)
    assert host(xp.bitwise_left_shift(x, xp.asarray(s))).tolist() == np.left_shift(a, s).tolist()
    assert host(xp.bitwise_right_shift(x, xp.asarray(s))).tolist() == np.right_shift(a, s).tolist()


def test_predicates_and_sign():
    v = [math.nan, -math.inf, -0.0, 0.0, -1.5, 2.0]
    x = xp.asarray(v, dtype=xp.float64)
    a = np.asarray(v)
    assert host(xp.isnan(x)).tolist() == np.isnan(a).tolist()
    assert host(xp.isinf(x)).tolist() == np.isinf(a).tolist()
    assert host(xp.isfinite(x)).tolist() == np.isfinite(a).tolist()
    assert host(xp.signbit(x)).tolist() == np.signbit(a).tolist()
    s = host(xp.sign(x))
    assert math.isnan(s[0]) and s[1:].tolist() == [-1.0, 0.0, 0.0, -1.0, 1.0]


def test_standard_semantics_differ_from_pytorch_spelling():
    x = xp.asarray([[1.0, 5.0], [3.0, 2.0]])
    assert host(xp.var(x)).item() == pytest.approx(np.var(host(x)))  # correction=0
    m = xp.max(x, axis=0)
    assert isinstance(m, xp.Array) and host(m).tolist() == [3.0, 5.0]
    assert x.size == 4 and x.mT.shape == (2, 2)
    assert host(xp.linspace(0, 1, num=5)).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert host(x[::-1, ::-1]).tolist() == [[2.0, 3.0], [5.0, 1.0]]
    assert x.__array_namespace__() is xp
    with pytest.raises(TypeError):
        xp.asarray([1, 2], dtype=xp.int8) + 1.5  # no float scalar with an integer array


def test_promotion_table_ignores_zero_dim_values():
    a = xp.asarray([1, 2], dtype=xp.int8)
    b = xp.asarray(300, dtype=xp.int16)  # a 0-d array promotes like any other
    assert (a + b).dtype == xp.int16
    assert (xp.asarray([1], dtype=xp.uint8) + xp.asarray([1], dtype=xp.int8)).dtype == xp.int16


def test_composites():
    x = xp.asarray([3.0, 1.0, 3.0, math.nan, math.nan, 2.0])
    u = xp.unique_all(x)
    assert host(u.values)[:3].tolist() == [1.0, 2.0, 3.0] and np.isnan(host(u.values)[3:]).all()
    assert host(u.counts).tolist() == [1, 1, 2, 1, 1]
    assert host(u.values)[host(u.inverse_indices)][:3].tolist() == [3.0, 1.0, 3.0]
    s = xp.asarray([1.0, 2.0, 2.0, 4.0])
    v = xp.asarray([2.0, 3.0, 0.0, 5.0])
    assert host(xp.searchsorted(s, v)).tolist() == np.searchsorted(host(s), host(v)).tolist()
    assert host(xp.searchsorted(s, v, side="right")).tolist() == np.searchsorted(host(s), host(v), "right").tolist()
    r = xp.asarray([[1, 2, 3], [4, 5, 6]])
    assert host(xp.roll(r, 1, axis=1)).tolist() == np.roll(host(r), 1, axis=1).tolist()
    assert host(xp.repeat(r, 2, axis=0)).tolist() == np.repeat(host(r), 2, axis=0).tolist()
    assert host(xp.tile(r, (2, 1))).tolist() == np.tile(host(r), (2, 1)).tolist()
    big = xp.asarray([[2**40 + 1, 3]], dtype=xp.int64)
    assert host(big @ xp.asarray([[1], [2**20]])).tolist() == [[2**40 + 1 + 3 * 2**20]]
