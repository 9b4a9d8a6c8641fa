"""Operators, Python scalars (weak), broadcasting, type promotion, in-place ops, reductions and math functions."""

import math

import pytest

import prism
from _helpers import close, extra_devices, torch


def test_arithmetic_operators():
    a = prism.tensor([1.0, 2.0, 3.0])
    b = prism.tensor([4.0, 5.0, 6.0])
    assert (a + b).tolist() == [5, 7, 9]
    assert (a - b).tolist() == [-3, -3, -3]
    assert (a * b).tolist() == [4, 10, 18]
    assert close(a / b, [0.25, 0.4, 0.5])
    assert (b // a).tolist() == [4, 2, 2]
    assert (b % a).tolist() == [0, 1, 0]
    assert (a ** 2).tolist() == [1, 4, 9]
    assert (a @ b).item() == 32
    assert (-a).tolist() == [-1, -2, -3]
    assert abs(prism.tensor([-1, 2])).tolist() == [1, 2]
    assert (+a) is a


def test_reflected_scalars():
    a = prism.tensor([1.0, 2.0])
    assert (2 + a).tolist() == [3, 4]
    assert (2 - a).tolist() == [1, 0]
    assert (2 * a).tolist() == [2, 4]
    assert (2 / a).tolist() == [2, 1]
    assert (2 ** a).tolist() == [2, 4]
    assert (5 // a).tolist() == [5, 2]
    assert (5 % a).tolist() == [0, 1]


def test_weak_python_scalars_promotion():
    i32 = prism.tensor([1, 2], dtype=prism.int32)
    assert (i32 + 2).dtype is prism.int32
    assert (i32 + 2.5).dtype is prism.float32
    assert (i32 * 2.5).tolist() == [2.5, 5.0]
    f16 = prism.tensor([1.0], dtype=prism.float16)
    assert (f16 + 2.0).dtype is prism.float16
    f64 = prism.tensor([1.0], dtype=prism.float64)
    assert (f64 * 2).dtype is prism.float64
    f32 = prism.tensor([1.0])
    assert (f32 + 2.0).dtype is prism.float32
    b = prism.tensor([True, False])
    assert (b + 1).dtype is prism.int64
    assert (b + 1.5).dtype is prism.float32
    assert (prism.tensor([1, 2]) / 2).dtype is prism.float32
    assert (i32 < 1.5).tolist() == [True, False]


def test_tensor_promotion_matches_torch():
    if torch is None:
        pytest.skip("skipped: torch not installed")
    names = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
    for x in names:
        for y in names:
            p = (prism.ones(2, dtype=getattr(prism, x)) + prism.ones(2, dtype=getattr(prism, y))).dtype
            t = (torch.ones(2, dtype=getattr(torch, x)) + torch.ones(2, dtype=getattr(torch, y))).dtype
            assert p.name == str(t).replace("torch.", ""), (x, y)


def test_broadcasting():
    a = prism.arange(3).reshape(3, 1)
    b = prism.arange(4)
    c = a + b
    assert c.shape == (3, 4)
    assert c.tolist() == [[i + j for j in range(4)] for i in range(3)]
    with pytest.raises(prism.Error, match=r"\[2\].*\[3\]"):
        prism.ones(2) + prism.ones(3)


def test_comparisons_and_logical():
    a = prism.tensor([1, 2, 3])
    assert (a == 2).tolist() == [False, True, False]
    assert (a != 2).tolist() == [True, False, True]
    assert (a < 2).tolist() == [True, False, False]
    assert (a <= 2).tolist() == [True, True, False]
    assert (a > 2).tolist() == [False, False, True]
    assert (a >= 2).tolist() == [False, True, True]
    m = a > 1
    n = a < 3
    assert (m & n).tolist() == [False, True, False]
    assert (m | n).tolist() == [True, True, True]
    assert (m ^ n).tolist() == [True, False, True]
    assert (~m).tolist() == [True, False, False]
    assert (a == None) is False  # noqa: E711  (PyTorch: False)


def test_inplace_ops():
    a = prism.tensor([1.0, 2.0])
    ident = id(a)
    a += 1
    a *= 2
    a -= prism.tensor([1.0, 1.0])
    a /= 2
    assert id(a) == ident
    assert a.tolist() == [1.5, 2.5]
    a.add_(prism.ones(2), alpha=2)
    assert a.tolist() == [3.5, 4.5]
    a.mul_(2).sub_(1)
    assert a.tolist() == [6, 8]
    a.zero_()
    assert a.tolist() == [0, 0]
    a.fill_(3)
    assert a.tolist() == [3, 3]
    a.copy_(prism.tensor([5, 6]))
    assert a.tolist() == [5, 6]
    a.clamp_(max=5.5)
    assert a.tolist() == [5, 5.5]


def test_named_binary_and_math_functions():
    x = prism.tensor([0.5, 1.0, 2.0])
    for name in ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "neg", "floor", "ceil",
                 "round", "log1p", "expm1", "rsqrt", "reciprocal", "square", "sign", "gelu", "silu"]:
        got = getattr(prism, name)(x)
        assert close(got, getattr(x, name)())
        if torch is not None:
            tx = torch.tensor([0.5, 1.0, 2.0])
            assert close(got, getattr(torch, name)(tx) if hasattr(torch, name) else getattr(torch.nn.functional, name)(tx), 1e-4), name
    y = x.clone()
    y.exp_()
    assert close(y, x.exp())
    assert close(prism.add(x, x, alpha=2), x * 3)
    assert close(prism.sub(x, 1), x - 1)
    assert close(prism.pow(x, 2), x * x)
    assert close(prism.maximum(x, prism.ones(3)), [1, 1, 2])
    assert close(prism.minimum(x, prism.ones(3)), [0.5, 1, 1])
    assert close(prism.clamp(x, 0.75, 1.5), [0.75, 1, 1.5])
    assert prism.div(prism.tensor([7, -7]), 2, rounding_mode="floor").tolist() == [3, -4]
    assert prism.div(prism.tensor([7, -7]), 2, rounding_mode="trunc").tolist() == [3, -3]


def test_reductions():
    t = prism.arange(24, dtype=prism.float32).reshape(2, 3, 4)
    assert t.sum().item() == 276
    assert t.sum(dim=0).shape == (3, 4)
    assert t.sum(dim=(0, 2)).tolist() == [60, 92, 124]
    assert t.sum(1, keepdim=True).shape == (2, 1, 4)
    assert t.sum(dtype=prism.float64).dtype is prism.float64
    assert prism.arange(4).sum().dtype is prism.int64
    assert t.mean().item() == 11.5
    assert t.mean(-1).tolist() == [[1.5, 5.5, 9.5], [13.5, 17.5, 21.5]]
    assert t.prod(dim=2)[0, 0].item() == 0
    assert t.amax(dim=1).shape == (2, 4) and t.amin().item() == 0
    assert t.max().item() == 23 and t.min().item() == 0
    v, i = t.max(dim=2)
    assert v.tolist() == [[3, 7, 11], [15, 19, 23]] and i.tolist() == [[3] * 3] * 2
    assert t.max(dim=2).values.shape == (2, 3)
    assert t.min(1, keepdim=True).indices.shape == (2, 1, 4)
    assert t.argmax().item() == 23 and t.argmin(dim=1).tolist() == [[0] * 4] * 2
    assert (t > 5).any().item() and not (t > 100).any().item()
    assert (t >= 0).all().item()
    if torch is not None:
        tt = torch.arange(24.0).reshape(2, 3, 4)
        assert close(t.var(), tt.var())
        assert close(t.std(dim=1), tt.std(dim=1))
        assert close(t.var(dim=(0, 1), unbiased=False), tt.var(dim=(0, 1), unbiased=False))
        assert close(t.norm(), tt.norm())
        assert close(t.logsumexp(dim=2), tt.logsumexp(dim=2), 1e-4)
        assert close(t.cumsum(1), tt.cumsum(1))
        assert close(prism.sort(t.flip_() if hasattr(t, "flip_") else t, dim=1, descending=True).values,
                     torch.sort(tt, dim=1, descending=True).values)
    assert prism.tensor([3, 1, 2]).sort().indices.tolist() == [1, 2, 0]
    assert prism.tensor([3, 1, 2]).topk(2).values.tolist() == [3, 2]


def test_matmul_shapes():
    a = prism.ones(2, 3)
    b = prism.ones(3, 4)
    assert (a @ b).shape == (2, 4) and (a @ b)[0, 0].item() == 3
    assert prism.matmul(prism.ones(5, 2, 3), b).shape == (5, 2, 4)
    assert prism.ones(3).matmul(b).shape == (4,)
    if torch is not None:
        prism.manual_seed(0)
        x, y = prism.randn(4, 5), prism.randn(5, 3)
        tx, ty = torch.tensor(x.tolist()), torch.tensor(y.tolist())
        assert close(x @ y, tx @ ty, 1e-4)


@pytest.mark.parametrize("dev", extra_devices())
def test_ops_on_extra_devices(dev):
    a = prism.tensor([[1.0, 2.0], [3.0, 4.0]], device=dev)
    r = (a * 2 + 1).sum(dim=0)
    assert str(r.device) == dev and r.tolist() == [10, 14]
    assert (a @ a).cpu().tolist() == [[7, 10], [15, 22]]
    assert (a > 2).tolist() == [[False, False], [True, True]]
    with pytest.raises(prism.Error, match="cpu"):
        a + prism.ones(2, 2)


def test_nan_propagation():
    x = prism.tensor([1.0, math.nan])
    assert math.isnan(x.sum().item())
    assert math.isnan(x.max().item())
    assert x.isnan().tolist() == [False, True]


@pytest.mark.skipif(not hasattr(prism._C, "bitwise_and"), reason="skipped: this core has no bitwise ops")
def test_integer_bitwise_operators():
    a = prism.tensor([1, 2, 3], dtype=prism.int32)
    assert (a & 2).tolist() == [0, 2, 2] and (a & 2).dtype is prism.int32
    assert (a | 4).tolist() == [5, 6, 7]
    assert (a ^ 1).tolist() == [0, 3, 2]
    assert (a << 1).tolist() == [2, 4, 6] and (8 >> a).tolist() == [4, 2, 1]
    b = a.clone()
    b &= 1
    b |= 8
    assert b.tolist() == [9, 8, 9]
    assert prism.bitwise_xor(a, a).tolist() == [0, 0, 0]
    if torch is not None:
        t = torch.tensor([1, 2, 3], dtype=torch.int32)
        assert (a & 2).tolist() == (t & 2).tolist() and (a << 2).tolist() == (t << 2).tolist()


def test_integer_invert():
    a = prism.tensor([1, 2, 3], dtype=prism.int32)
    assert (~a).tolist() == [-2, -3, -4]
    assert (~prism.tensor([True, False])).tolist() == [False, True]


@pytest.mark.skipif(not hasattr(prism._C, "atan2"), reason="skipped: this core has no extra math ops")
def test_extra_math_functions():
    x = prism.tensor([0.25, 0.5, 0.75])
    assert close(prism.atan2(x, prism.ones(3)), [math.atan2(v, 1) for v in (0.25, 0.5, 0.75)])
    assert close(x.tan(), [math.tan(v) for v in (0.25, 0.5, 0.75)])
    assert close(prism.log2(x), [math.log2(v) for v in (0.25, 0.5, 0.75)])
    assert prism.isnan(prism.tensor([1.0, math.nan])).tolist() == [False, True]
    assert close(x.hypot(1.0), [math.hypot(v, 1) for v in (0.25, 0.5, 0.75)])
