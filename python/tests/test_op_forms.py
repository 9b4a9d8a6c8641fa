"""Op forms against PyTorch 1.13: clamp with tensor bounds, gelu(approximate), pad, conv2d padding strings, mm,
dtype= on softmax/log_softmax/sum/prod/mean, cat of empty tensors, empty index dtypes; on every loaded device."""
import numpy as np
import pytest

import prism
import prism.nn as nn
import prism.nn.functional as F
from _helpers import all_devices

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DEVICES = all_devices()


def P(a, device="cpu", requires_grad=False):
    """A prism tensor on `device` holding the values of a torch tensor."""
    t = prism.tensor(np.array(a.detach().numpy(), copy=True)).to(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def close(p, t, tol=1e-6):
    assert tuple(p.shape) == tuple(t.shape), (tuple(p.shape), tuple(t.shape))
    np.testing.assert_allclose(p.detach().cpu().numpy().astype(np.float64), t.detach().numpy().astype(np.float64),
                               rtol=tol, atol=tol)


def pair(*shapes, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=dtype) for s in shapes]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("which", ["both", "min", "max", "crossed"])
def test_clamp_tensor_values_and_grads(device, which):
    x, lo, hi, w = pair((4, 3), (3,), (4, 1), (4, 3), seed=1)
    lo, hi = lo - 0.5, hi + 0.5
    if which == "crossed":  # min > max somewhere: the result is max, max gets the gradient
        lo, hi = hi.view(4, 1).expand(4, 3) + 1.0, hi
    tl = [t.clone().requires_grad_() for t in (x, lo, hi)]
    pl = [P(t, device, True) for t in (x, lo, hi)]
    args_t = (tl[0], None if which == "max" else tl[1], None if which == "min" else tl[2])
    args_p = (pl[0], None if which == "max" else pl[1], None if which == "min" else pl[2])
    out_t = torch.clamp(*args_t)
    out_p = prism.clamp(*args_p)
    close(out_p, out_t)
    assert out_p.grad_fn is not None and "Clamp" in out_p.grad_fn.name()
    (out_t * w).sum().backward()
    (out_p * P(w, device)).sum().backward()
    for a_t, a_p in zip(args_t, args_p):
        if a_t is not None:
            close(a_p.grad, a_t.grad)


@pytest.mark.parametrize("device", DEVICES)
def test_clamp_tensor_promotes_and_mixes_numbers(device):
    x = torch.tensor([1, 5, 9], dtype=torch.int32)
    lo = torch.tensor([2.5, 0.0, 3.0])
    out = P(x, device).clamp(min=P(lo, device))
    assert out.dtype == prism.float32
    close(out, torch.clamp(x, min=lo))
    close(P(x, device).clamp_max(P(torch.tensor([4], dtype=torch.int32), device)), torch.tensor([1, 4, 4]))
    nan = float("nan")
    xn, ln = torch.tensor([1.0, nan, 3.0]), torch.tensor([nan, 0.0, 0.0])
    two = torch.full((3,), 2.0)
    close(P(xn, device).clamp(P(ln, device), P(two, device)), torch.clamp(xn, ln, two))
    with pytest.raises(prism.Error, match="at least one of 'min' or 'max'"):
        prism._C.op_clamp_tensor(P(x, device), None, None)
    with pytest.raises(prism.Error, match=r"\[3\].*\[2\]|\[2\].*\[3\]"):
        P(x, device).clamp(P(torch.zeros(2), device))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_approximate(device, approximate):
    (x,) = pair((5, 7), seed=2)
    x = x * 3
    xt = x.clone().requires_grad_()
    xp = P(x, device, True)
    yt, yp = TF.gelu(xt, approximate=approximate), F.gelu(xp, approximate=approximate)
    close(yp, yt, 1e-9)
    yt.sum().backward()
    yp.sum().backward()
    close(xp.grad, xt.grad, 1e-9)
    # float32 against PyTorch's float32 kernel, and the module spelling.
    close(nn.GELU(approximate=approximate)(P(x.float(), device)), TF.gelu(x.float(), approximate=approximate),
          1e-5)
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(xp, approximate="fast")


PAD_CASES = [
    ("constant", (1, 2)), ("constant", (2, 0, 1, 3)), ("constant", (-1, 2, 0, -1)), ("constant", (1, 1, 1, 1, 1, 1)),
    ("reflect", (2, 1)), ("reflect", (1, 2, 2, 0)), ("reflect", (-1, 2)),
    ("replicate", (3, 1)), ("replicate", (1, 2, 0, 3)),
    ("circular", (2, 1)), ("circular", (1, 2, 3, 0)),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode,pad", PAD_CASES)
def test_pad_matches_torch(device, mode, pad):
    # PyTorch's non-constant modes pad 1, 2 or 3 trailing dims of a 3-D, 4-D or 5-D input.
    (x,) = pair({2: (2, 3, 5), 4: (2, 3, 4, 5), 6: (1, 2, 3, 4, 5)}[len(pad)], seed=3)
    xt = x.clone().requires_grad_()
    xp = P(x, device, True)
    kw = {"value": 1.5} if mode == "constant" else {}
    yt, yp = TF.pad(xt, pad, mode, **kw), F.pad(xp, pad, mode, **kw)
    close(yp, yt)
    (w,) = pair(tuple(yt.shape), seed=4)
    (yt * w).sum().backward()
    (yp * P(w, device)).sum().backward()
    close(xp.grad, xt.grad)


@pytest.mark.parametrize("device", DEVICES)
def test_pad_bad_input(device):
    xp = P(torch.zeros(1, 2, 3), device)
    with pytest.raises(prism.Error, match=r"reflect.*\(3, 0\).*\[1, 2, 3\]"):
        F.pad(xp, (3, 0), "reflect")
    with pytest.raises(prism.Error, match="divisible by 2"):
        F.pad(xp, (1, 1, 1))
    with pytest.raises(prism.Error, match="too large"):
        F.pad(xp, (1,) * 8)
    with pytest.raises(prism.Error, match="negative output size"):
        F.pad(xp, (-2, -2))
    with pytest.raises(prism.Error, match="wrapping around"):
        F.pad(xp, (4, 0), "circular")
    with pytest.raises(NotImplementedError, match="mode"):
        F.pad(xp, (1, 1), "mirror")
    with pytest.raises(ValueError, match="value"):
        F.pad(xp, (1, 1), "reflect", value=3.0)
    assert xp.shape == (1, 2, 3)  # untouched


CONV_CASES = [((3, 3), (1, 1)), ((2, 2), (1, 1)), ((4, 3), (1, 1)), ((2, 3), (2, 1)), ((2, 2), (3, 2)),
              ((1, 1), (1, 1))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kernel,dilation", CONV_CASES)
def test_conv2d_same_and_valid(device, kernel, dilation):
    x, w, b = pair((2, 4, 7, 6), (6, 2) + kernel, (6,), dtype=torch.float32, seed=5)
    for padding in ("same", "valid"):
        ts = [t.clone().requires_grad_() for t in (x, w, b)]
        ps = [P(t, device, True) for t in (x, w, b)]
        yt = TF.conv2d(*ts, padding=padding, dilation=dilation, groups=2)
        yp = F.conv2d(*ps, padding=padding, dilation=dilation, groups=2)
        close(yp, yt, 1e-4)
        (g,) = pair(tuple(yt.shape), dtype=torch.float32, seed=6)
        yt.backward(g)
        yp.backward(P(g, device))
        for a_p, a_t in zip(ps, ts):
            close(a_p.grad, a_t.grad, 1e-4)
    m = nn.Conv2d(4, 6, kernel, padding="same", dilation=dilation, groups=2).to(device)
    assert m(P(x, device)).shape == (2, 6, 7, 6)
    with pytest.raises(ValueError, match="strided|same"):
        F.conv2d(P(x, device), P(w, device), padding="same", stride=2, groups=2)


@pytest.mark.parametrize("device", DEVICES)
def test_mm(device):
    a, b = pair((3, 4), (4, 2), seed=7)
    at, bt = a.clone().requires_grad_(), b.clone().requires_grad_()
    ap, bp = P(a, device, True), P(b, device, True)
    yt, yp = torch.mm(at, bt), prism.mm(ap, bp)
    close(yp, yt, 1e-12)
    yt.sum().backward()
    yp.sum().backward()
    close(ap.grad, at.grad, 1e-12)
    close(bp.grad, bt.grad, 1e-12)
    close(ap.detach().mm(bp.detach()), yt)
    with pytest.raises(prism.Error, match=r"mm.*3x4 and 3x4"):
        ap.mm(ap)
    with pytest.raises(prism.Error, match=r"mm.*matrix.*\[4\]"):
        ap.mm(P(torch.zeros(4), device))
    with pytest.raises(prism.Error, match=r"mm.*matrix"):
        P(torch.zeros(2, 3, 4), device).mm(bp)
    with pytest.raises(prism.Error, match="same dtype"):
        ap.mm(bp.float())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_dtype(device, fn):
    (x,) = pair((3, 5), dtype=torch.float32, seed=8)
    xt = x.clone().requires_grad_()
    xp = P(x, device, True)
    yt = getattr(TF, fn)(xt, dim=1, dtype=torch.float64)
    yp = getattr(F, fn)(xp, dim=1, dtype=prism.float64)
    assert yp.dtype == prism.float64
    close(yp, yt, 1e-12)
    close(getattr(xp.detach(), fn)(0, dtype=prism.float64), getattr(TF, fn)(x, 0, dtype=torch.float64), 1e-12)
    (w,) = pair((3, 5), seed=9)
    (yt * w).sum().backward()
    (yp * P(w, device)).sum().backward()
    assert xp.grad.dtype == prism.float32
    close(xp.grad, xt.grad, 1e-6)
    with pytest.raises(prism.Error, match="floating point"):
        getattr(F, fn)(xp, dim=1, dtype=prism.int32)


@pytest.mark.parametrize("device", DEVICES)
def test_reductions_dtype(device):
    xi = torch.tensor([[100, 27, -3], [90, 1, 2]], dtype=torch.int8)
    xp = P(xi, device)
    for fn, dt_t, dt_p, dims in [("sum", torch.int16, prism.int16, None), ("sum", torch.float64, prism.float64, 1),
                                 ("prod", torch.int32, prism.int32, None), ("prod", torch.float32, prism.float32, 1),
                                 ("mean", torch.float64, prism.float64, (0, 1)),
                                 ("mean", torch.float32, prism.float32, 0)]:
        want = getattr(xi, fn)(dtype=dt_t) if dims is None else getattr(xi, fn)(dims, dtype=dt_t)
        got = getattr(xp, fn)(dtype=dt_p) if dims is None else getattr(xp, fn)(dims, dtype=dt_p)
        assert got.dtype == dt_p, (fn, got.dtype)
        close(got, want, 1e-6)
    close(prism.sum(xp, 1, keepdim=True, dtype=prism.int16), torch.sum(xi, 1, keepdim=True, dtype=torch.int16))
    with pytest.raises(prism.Error, match="could not infer output dtype"):
        xp.mean(dtype=prism.int64)
    # gradients flow back through the cast to the input's dtype
    (x,) = pair((2, 3), dtype=torch.float32, seed=10)
    xt, xq = x.clone().requires_grad_(), P(x, device, True)
    (xt.prod(1, dtype=torch.float64) * torch.tensor([2.0, 3.0], dtype=torch.float64)).sum().backward()
    (xq.prod(1, dtype=prism.float64) * P(torch.tensor([2.0, 3.0], dtype=torch.float64), device)).sum().backward()
    assert xq.grad.dtype == prism.float32
    close(xq.grad, xt.grad, 1e-6)
    xq.grad = None
    xq.mean(dtype=prism.float64).backward()
    close(xq.grad, torch.full((2, 3), 1 / 6), 1e-7)


@pytest.mark.parametrize("device", DEVICES)
def test_cat_of_empties_records_history(device):
    cases = [[(0,), (0,)], [(2, 0), (3, 0)], [(0,), (2, 0)], [(0, 3), (0, 3)]]
    for shapes in cases:
        ts = [torch.zeros(*s, dtype=torch.float64, requires_grad=True) for s in shapes]
        ps = [P(t, device, True) for t in ts]
        yt, yp = torch.cat(ts), prism.cat(ps)
        assert tuple(yp.shape) == tuple(yt.shape)
        assert yp.grad_fn is not None and yp.grad_fn.name() == "CatBackward"
        yt.sum().backward()
        yp.sum().backward()
        for a_p, a_t in zip(ps, ts):
            assert a_p.grad is not None and tuple(a_p.grad.shape) == tuple(a_t.grad.shape)
    # an empty part beside a non-empty one gets an empty gradient too
    e, x = torch.zeros(0, requires_grad=True), torch.ones(2, 3, requires_grad=True)
    ep, xp = P(e, device, True), P(x, device, True)
    prism.cat([ep, xp]).sum().backward()
    assert tuple(ep.grad.shape) == (0,)
    close(xp.grad, torch.ones(2, 3))


@pytest.mark.parametrize("device", DEVICES)
def test_empty_index_dtypes(device):
    x = torch.arange(12.0).view(3, 4)
    xp = P(x, device)
    for dt_t, dt_p in [(torch.int16, prism.int16), (torch.int8, prism.int8), (torch.uint8, prism.uint8),
                       (torch.int32, prism.int32)]:
        it = torch.zeros(3, 0, dtype=dt_t)
        assert tuple(xp.gather(1, P(it, device)).shape) == tuple(torch.gather(x, 1, it).shape)
        # index_select: any integer dtype when empty (PyTorch 1.13 accepts only int32/int64 here)
        assert tuple(xp.index_select(1, P(torch.zeros(0, dtype=dt_t), device)).shape) == (3, 0)
    # gather: even a float empty index, as PyTorch
    assert tuple(xp.gather(0, P(torch.zeros(0, 4), device)).shape) == (0, 4)
    # non-empty non-integer-64/32 index: the usual error, as PyTorch
    with pytest.raises(prism.Error, match=r"gather.*int16"):
        xp.gather(1, P(torch.zeros(3, 1, dtype=torch.int16), device))
    with pytest.raises(prism.Error, match=r"index_select.*int16"):
        xp.index_select(1, P(torch.zeros(2, dtype=torch.int16), device))
    with pytest.raises(prism.Error, match=r"index_select.*float32"):
        xp.index_select(1, P(torch.zeros(0), device))
