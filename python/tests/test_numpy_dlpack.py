"""NumPy and DLPack exchange: zero copy in both directions with NumPy and PyTorch, versioned capsules."""

import pytest

import prism
from _helpers import extra_devices, np, torch

pytestmark = pytest.mark.skipif(np is None, reason="skipped: numpy not installed")


def test_numpy_shares_memory():
    t = prism.arange(6, dtype=prism.float32).reshape(2, 3)
    a = t.numpy()
    assert a.dtype == np.float32 and a.shape == (2, 3)
    a[0, 0] = 42
    assert t[0, 0].item() == 42
    t[1, 2] = -1
    assert a[1, 2] == -1
    v = t.t().numpy()  # strided view keeps its strides
    assert v.shape == (3, 2) and v[2, 1] == -1
    del t
    assert a.sum() == 42 + 1 + 2 + 3 + 4 - 1  # the array keeps the memory alive


def test_from_numpy_shares_memory():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = prism.from_numpy(a)
    assert t.dtype is prism.float64 and t.shape == (2, 3)
    a[1, 1] = 100
    assert t[1, 1].item() == 100
    t[0, 0] = -5
    assert a[0, 0] == -5
    s = prism.from_numpy(a[:, ::2])
    assert s.tolist() == [[-5, 2], [3, 5]] and s.stride() == (3, 2)
    del a
    assert t.sum().item() == -5 + 1 + 2 + 3 + 100 + 5  # the tensor keeps the array alive


@pytest.mark.parametrize("name", ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
                                  "float64"])
def test_numpy_dtypes_round_trip(name):
    a = (np.arange(4) % 2 == 0) if name == "bool" else np.arange(4).astype(name)
    t = prism.from_numpy(a)
    assert t.dtype is getattr(prism, name)
    assert np.array_equal(t.numpy(), a)
    assert np.array_equal(np.asarray(t), a)


def test_numpy_requires_grad_and_device_errors():
    with pytest.raises(prism.Error, match="detach"):
        prism.ones(2, requires_grad=True).numpy()
    for dev in extra_devices():
        if dev.startswith("opencl"):
            with pytest.raises(TypeError, match="cpu"):
                prism.ones(2, device=dev).numpy()
            assert np.asarray(prism.ones(2, device=dev)).tolist() == [1, 1]  # __array__ copies
    with pytest.raises(TypeError):
        prism.from_numpy([1, 2])
    with pytest.raises(TypeError):
        prism.from_numpy(np.array(["a"]))


def test_dlpack_torch_both_directions():
    if torch is None:
        pytest.skip("skipped: torch not installed")
    tt = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    p = prism.from_dlpack(tt)  # torch 1.13: __dlpack__() without max_version (unversioned capsule)
    tt[0, 0] = 7
    assert p[0, 0].item() == 7
    back = torch.from_dlpack(p)
    p[1, 1] = -3
    assert back[1, 1].item() == -3
    assert back.dtype == torch.float32 and tuple(back.shape) == (2, 3)
    cap = torch.utils.dlpack.to_dlpack(tt)
    q = prism.from_dlpack(cap)
    assert q[0, 0].item() == 7
    with pytest.raises(Exception):
        prism.from_dlpack(cap)  # a capsule is consumed once


def test_dlpack_numpy_both_directions():
    a = np.arange(4, dtype=np.int32)
    p = prism.from_dlpack(a)
    a[0] = 9
    assert p[0].item() == 9
    n = np.from_dlpack(p)
    p[3] = 11
    assert n[3] == 11


def test_dlpack_versioned_prism_to_prism():
    t = prism.arange(5, dtype=prism.float32)
    cap = t.__dlpack__(max_version=(1, 0))
    assert "dltensor_versioned" in repr(cap)
    u = prism.from_dlpack(cap)
    t[0] = 3
    assert u[0].item() == 3
    legacy = t.__dlpack__()
    assert '"dltensor"' in repr(legacy)
    w = prism.from_dlpack(t)  # prism to prism asks for DLPack 1.0
    t[1] = 4
    assert w[1].item() == 4
    c = prism.from_dlpack(t, copy=True)
    t[2] = 5
    assert c[2].item() == 2  # copied
    assert t.__dlpack_device__() == (1, 0)


@pytest.mark.parametrize("dev", [d for d in extra_devices() if d.startswith("opencl")])
def test_dlpack_device_tensor_copies_when_allowed(dev):
    t = prism.arange(3, dtype=prism.float32, device=dev)
    assert t.__dlpack_device__()[0] != 1
    with pytest.raises(BufferError):
        t.__dlpack__(copy=False)
    u = prism.from_dlpack(t.__dlpack__(dl_device=(1, 0)))
    assert u.tolist() == [0, 1, 2] and str(u.device) == "cpu"
