"""Tensor creation, metadata, conversions, repr and views from Python (checked against PyTorch when present)."""

import math

import pytest

import prism
from _helpers import all_devices, close, extra_devices, np, torch


def test_tensor_from_nested_lists_infers_dtype():
    assert prism.tensor([1, 2, 3]).dtype is prism.int64
    assert prism.tensor([1.0, 2]).dtype is prism.float32
    assert prism.tensor([True, False]).dtype is prism.bool
    assert prism.tensor(3.5).shape == ()
    assert prism.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert prism.tensor([]).shape == (0,)
    assert prism.tensor([[1, 2]], dtype=prism.float64).dtype is prism.float64


def test_factories_shapes_dtypes():
    assert prism.zeros(2, 3).shape == (2, 3)
    assert prism.zeros((2, 3)).tolist() == [[0.0] * 3] * 2
    assert prism.ones([4], dtype=prism.int32).tolist() == [1, 1, 1, 1]
    assert prism.full((2,), 7).dtype is prism.int64
    assert prism.full((2,), 7.5).tolist() == [7.5, 7.5]
    assert prism.empty(3, 1).shape == (3, 1)
    assert prism.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert prism.arange(1, 2, 0.25).tolist() == [1.0, 1.25, 1.5, 1.75]
    assert prism.arange(5).dtype is prism.int64
    assert close(prism.linspace(0, 1, 5), [0, 0.25, 0.5, 0.75, 1])
    assert prism.eye(3).tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert prism.eye(2, 3).shape == (2, 3)
    x = prism.ones(2, 3, dtype=prism.float64)
    for f in (prism.zeros_like, prism.ones_like, prism.empty_like, prism.rand_like, prism.randn_like):
        y = f(x)
        assert y.shape == x.shape and y.dtype is x.dtype
    assert prism.full_like(x, 2).tolist() == [[2.0] * 3] * 2


def test_random_factories_and_seed():
    prism.manual_seed(7)
    a = prism.rand(100)
    prism.manual_seed(7)
    b = prism.rand(100)
    assert prism.equal(a, b)
    assert 0 <= a.min().item() and a.max().item() < 1
    n = prism.randn(2000)
    assert abs(n.mean().item()) < 0.1 and abs(n.std().item() - 1) < 0.1
    r = prism.randint(3, 9, (50,))
    assert r.dtype is prism.int64 and 3 <= r.min().item() and r.max().item() < 9
    assert prism.randint(5, (4,)).shape == (4,)
    p = prism.randperm(10)
    assert sorted(p.tolist()) == list(range(10))


def test_metadata():
    t = prism.zeros(2, 3, 4)
    assert t.ndim == 3 and t.dim() == 3
    assert t.numel() == 24
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert isinstance(t.shape, prism.Size) and isinstance(t.shape, tuple)
    assert repr(t.shape) == "prism.Size([2, 3, 4])"
    assert t.stride() == (12, 4, 1) and t.stride(0) == 12
    assert t.is_contiguous()
    assert not t.transpose(0, 1).is_contiguous()
    assert t.dtype.itemsize == 4 and t.element_size() == 4
    assert t.dtype.is_floating_point and not prism.int64.is_floating_point
    assert t.device == prism.device("cpu") and str(t.device) == "cpu"
    assert len(t) == 2


def test_dtype_and_device_objects():
    assert repr(prism.float32) == "prism.float32"
    assert prism.float is prism.float32 and prism.long is prism.int64
    d = prism.device("opencl:0")
    assert d.type == "opencl" and d.index == 0 and str(d) == "opencl:0"
    assert prism.device("cpu") == "cpu"
    with pytest.raises(ValueError):
        prism.device("not a device!")


def test_item_tolist_scalars():
    assert prism.tensor(2.5).item() == 2.5
    assert prism.tensor([7]).item() == 7
    assert prism.tensor(True).item() is True
    assert isinstance(prism.tensor(3).item(), int)
    assert float(prism.tensor(1.5)) == 1.5 and int(prism.tensor(4)) == 4
    assert prism.tensor([1.5, 2.5], dtype=prism.float16).tolist() == [1.5, 2.5]
    assert prism.tensor(3.0).tolist() == 3.0
    assert [x.item() for x in prism.tensor([1, 2, 3])] == [1, 2, 3]


def test_to_cpu_clone_detach_contiguous():
    t = prism.tensor([1.5, 2.5])
    assert t.to(prism.int32).tolist() == [1, 2]
    assert t.to(dtype=prism.float64).dtype is prism.float64
    assert t.double().dtype is prism.float64 and t.long().dtype is prism.int64 and t.bool().dtype is prism.bool
    c = t.clone()
    c[0] = 9
    assert t[0].item() == 1.5
    d = t.detach()
    d[0] = 4
    assert t[0].item() == 4
    tt = prism.arange(6).reshape(2, 3).t()
    cc = tt.contiguous()
    assert cc.is_contiguous() and cc.tolist() == tt.tolist()
    assert t.cpu() is t
    assert t.to(t) is t or t.to(t).tolist() == t.tolist()


@pytest.mark.parametrize("dev", extra_devices())
def test_to_device_round_trip(dev):
    t = prism.arange(6, dtype=prism.float32).reshape(2, 3)
    u = t.to(dev)
    assert str(u.device) == dev
    assert (u * 2 + 1).cpu().tolist() == [[1, 3, 5], [7, 9, 11]]
    assert u.to("cpu", non_blocking=True).tolist() == t.tolist()
    assert f"device='{dev}'" in repr(u)
    z = prism.zeros(3, device=dev)
    assert str(z.device) == dev


def test_repr_like_pytorch():
    assert repr(prism.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(prism.tensor([1.5, 2.0])) == "tensor([1.5000, 2.0000])"
    assert repr(prism.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(prism.tensor(3.0)) == "tensor(3.)"
    assert repr(prism.tensor([True, False])) == "tensor([ True, False])"
    assert repr(prism.tensor([1, 2], dtype=prism.int32)) == "tensor([1, 2], dtype=prism.int32)"
    assert repr(prism.zeros(2, requires_grad=True)) == "tensor([0., 0.], requires_grad=True)"
    x = prism.ones(2, requires_grad=True)
    assert repr(x * 2).endswith("grad_fn=<MulBackward>)")
    assert repr(prism.tensor([[1.0, 2.0], [3.0, 4.0]])) == "tensor([[1., 2.],\n        [3., 4.]])"
    assert "..." in repr(prism.zeros(2000))
    if torch is not None:
        for data in ([1.0, 2.0], [1.5, -2.25], [1e-5, 1e5], [[1, 2], [3, 4]], [0.1, 0.2, 0.3]):
            assert repr(prism.tensor(data)) == repr(torch.tensor(data))


def test_views_share_storage():
    t = prism.arange(12, dtype=prism.float32)
    v = t.view(3, 4)
    v[0, 0] = 100
    assert t[0].item() == 100
    assert t.view(-1, 6).shape == (2, 6)
    assert t.reshape(2, 2, 3).shape == (2, 2, 3)
    m = t.view(3, 4)
    assert m.T.shape == (4, 3) and m.t().tolist() == m.T.tolist()
    assert m.mT.shape == (4, 3)
    assert m.permute(1, 0).tolist() == m.T.tolist()
    assert m.transpose(0, 1).stride() == (1, 4)
    assert m.unsqueeze(0).shape == (1, 3, 4) and m.unsqueeze(-1).shape == (3, 4, 1)
    assert m.unsqueeze(1).squeeze().shape == (3, 4)
    assert m.unsqueeze(1).squeeze(1).shape == (3, 4)
    assert prism.ones(3, 1).expand(3, 4).shape == (3, 4)
    assert prism.ones(3, 1).expand(-1, 5).stride() == (1, 0)
    assert prism.zeros(2, 3, 4).flatten().shape == (24,)
    assert prism.zeros(2, 3, 4).flatten(1).shape == (2, 12)
    assert m.narrow(1, 1, 2).shape == (3, 2)
    a, b = m.split(2, dim=1)
    assert a.shape == (3, 2) and b.shape == (3, 2)
    assert len(m.chunk(3)) == 3
    assert [x.shape for x in m.split([1, 3], dim=1)] == [(3, 1), (3, 3)]
    with pytest.raises(prism.Error, match="view"):
        m.t().view(12)
    if torch is not None:
        tm = torch.arange(12.0).view(3, 4)
        tm[0, 0] = 100
        assert close(m.permute(1, 0).reshape(2, 6), tm.permute(1, 0).reshape(2, 6))


def test_cat_stack_where():
    a, b = prism.tensor([1, 2]), prism.tensor([3, 4])
    assert prism.cat([a, b]).tolist() == [1, 2, 3, 4]
    assert prism.stack([a, b]).tolist() == [[1, 2], [3, 4]]
    assert prism.stack([a, b], dim=1).tolist() == [[1, 3], [2, 4]]
    assert prism.where(a > 1, a, b).tolist() == [3, 2]
    assert prism.where(a > 1, a, 0).tolist() == [0, 2]
    assert prism.where(a > 1, 1.5, 0.5).tolist() == [0.5, 1.5]


def test_legacy_tensor_constructor_and_subclass():
    t = prism.Tensor(2, 3)
    assert t.shape == (2, 3) and t.dtype is prism.float32
    assert prism.Tensor([1, 2]).tolist() == [1.0, 2.0]

    class Sub(prism.Tensor):
        pass

    base = prism.ones(3)
    s = prism._C._make_subclass(Sub, base, True)
    assert isinstance(s, Sub) and isinstance(s, prism.Tensor)
    assert s.requires_grad and s.is_leaf
    s.extra = 1  # subclasses have a __dict__
    base[0] = 5
    assert s[0].item() == 5  # same storage
    assert type(s * 2) is prism.Tensor


def test_tensors_are_hashable_and_iterable():
    a, b = prism.ones(1), prism.ones(1)
    d = {a: 1, b: 2}
    assert d[a] == 1 and d[b] == 2
    assert sum(1 for _ in prism.zeros(3, 2)) == 3


@pytest.mark.skipif(np is None, reason="skipped: numpy not installed")
def test_tensor_from_numpy_copies():
    a = np.arange(4, dtype=np.float64)
    t = prism.tensor(a)
    a[0] = 9
    assert t.dtype is prism.float64 and t[0].item() == 0
    assert prism.tensor(np.array([1, 2], dtype=np.int32)).dtype is prism.int32


def test_python_m_prism_info():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "prism", "info"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "plugins:" in r.stdout and "cpu" in r.stdout


def test_data_rebinds_like_pytorch():
    class P(prism.Tensor):
        def __new__(cls, data=None, requires_grad=True):
            return prism.Tensor._make_subclass(cls, data, requires_grad)

    p = P(prism.ones(2))
    (p * 2).sum().backward()
    p.data = p.data * 3  # same shape: keeps .grad
    assert p.tolist() == [3, 3] and p.grad.tolist() == [2, 2] and p.requires_grad and p.is_leaf
    p.data = prism.zeros(3, dtype=prism.float64)  # shape and dtype may change
    assert p.shape == (3,) and p.dtype is prism.float64 and isinstance(p, P)
    assert not p.data.requires_grad


def test_pickle_round_trip():
    import pickle

    t = prism.tensor([[1.5, 2.0]], dtype=prism.float64)
    u = pickle.loads(pickle.dumps(t))
    assert u.dtype is prism.float64 and u.tolist() == t.tolist()
    assert pickle.loads(pickle.dumps(prism.int32)) is prism.int32
