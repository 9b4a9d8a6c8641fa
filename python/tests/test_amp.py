"""prism.autocast and prism.amp.GradScaler: the cast policy op by op against torch.autocast("cpu") of
PyTorch 1.13, gradients through the casts, the CUDA-style lists on opencl/emu, and GradScaler's
skip/backoff/growth rules with hand-computed values."""

import math

import pytest

import prism
import prism.nn.functional as F
from _helpers import all_devices, close, extra_devices

np = pytest.importorskip("numpy")


def _pair(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# (name, fn(lib, F, x, w, xb, t, img, k)) — the same call in prism and torch; x, w f32, xb bf16.
OPS = [
    ("matmul", lambda m, F, x, w, xb, t, img, k: m.matmul(x, w)),
    ("linear", lambda m, F, x, w, xb, t, img, k: F.linear(x, w)),
    ("conv2d", lambda m, F, x, w, xb, t, img, k: F.conv2d(img, k)),
    ("bmm", lambda m, F, x, w, xb, t, img, k: m.bmm(x.unsqueeze(0), w.unsqueeze(0))),
    ("softmax_f32", lambda m, F, x, w, xb, t, img, k: F.softmax(x, dim=1)),
    ("softmax_bf16", lambda m, F, x, w, xb, t, img, k: F.softmax(xb, dim=1)),
    ("log_softmax_bf16", lambda m, F, x, w, xb, t, img, k: F.log_softmax(xb, dim=1)),
    ("exp_bf16", lambda m, F, x, w, xb, t, img, k: xb.exp()),
    ("sum_bf16", lambda m, F, x, w, xb, t, img, k: xb.sum()),
    ("mean_bf16", lambda m, F, x, w, xb, t, img, k: xb.mean()),
    ("prod_bf16", lambda m, F, x, w, xb, t, img, k: (xb * 0.1 + 1).prod()),
    ("cross_entropy_bf16", lambda m, F, x, w, xb, t, img, k: F.cross_entropy(xb, t)),
    ("nll_loss_bf16", lambda m, F, x, w, xb, t, img, k: F.nll_loss(xb, t)),
    ("mse_loss_bf16", lambda m, F, x, w, xb, t, img, k: F.mse_loss(xb, xb * 0.5)),
    ("l1_loss_bf16", lambda m, F, x, w, xb, t, img, k: F.l1_loss(xb, xb * 0.5)),
    ("bce_logits_bf16",
     lambda m, F, x, w, xb, t, img, k: F.binary_cross_entropy_with_logits(xb, xb.sigmoid())),
    ("layer_norm_bf16", lambda m, F, x, w, xb, t, img, k: F.layer_norm(xb, (8,))),
    ("cat_mixed", lambda m, F, x, w, xb, t, img, k: m.cat([xb, x])),
    ("stack_mixed", lambda m, F, x, w, xb, t, img, k: m.stack([xb, x])),
    ("add_mixed", lambda m, F, x, w, xb, t, img, k: xb + x),
    ("relu_f32", lambda m, F, x, w, xb, t, img, k: F.relu(x)),
    ("max_pool2d_bf16", lambda m, F, x, w, xb, t, img, k: F.max_pool2d(img.to(m.bfloat16), 2)),
]


def _inputs(lib):
    x = _pair((4, 8), 1)
    w = _pair((8, 8), 2)
    img = _pair((1, 1, 6, 6), 3)
    k = _pair((2, 1, 3, 3), 4)
    t = np.array([1, 0, 3, 7], dtype=np.int64)
    mk = lib.from_numpy
    xx, ww = mk(x.copy()), mk(w.copy())
    return xx, ww, xx.to(lib.bfloat16), mk(t.copy()), mk(img.copy()), mk(k.copy())


@pytest.mark.parametrize("name,fn", OPS, ids=[o[0] for o in OPS])
def test_cpu_policy_matches_torch_autocast(name, fn):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    tx, tw, txb, tt, timg, tk = _inputs(torch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want = fn(torch, TF, tx, tw, txb, tt, timg, tk)
    px, pw, pxb, pt, pimg, pk = _inputs(prism)
    with prism.autocast("cpu", dtype=prism.bfloat16):
        got = fn(prism, F, px, pw, pxb, pt, pimg, pk)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], name
    # Values: both ran the same dtypes; bf16 results within bf16 rounding.
    tol = 2e-2 if want.dtype == torch.bfloat16 else 1e-2
    close(got.to(prism.float32), want.float(), tol=tol)


@pytest.mark.parametrize("device", extra_devices())
def test_other_device_types_follow_the_cuda_lists(device):
    dtype_of = {}
    x = prism.randn(3, 5, device=device)
    w = prism.randn(5, 5, device=device)
    xb = x.to(prism.bfloat16)
    with prism.autocast(prism.device(device).type, dtype=prism.bfloat16):
        dtype_of["matmul"] = (x @ w).dtype
        dtype_of["softmax"] = F.softmax(xb, dim=1).dtype
        dtype_of["exp"] = xb.exp().dtype
        dtype_of["sum"] = xb.sum().dtype
        dtype_of["relu"] = F.relu(xb).dtype
    assert dtype_of == {"matmul": prism.bfloat16, "softmax": prism.float32, "exp": prism.float32,
                        "sum": prism.float32, "relu": prism.bfloat16}


def test_gradients_match_torch_autocast():
    """The same small network under autocast in both: f32 leaves get f32 gradients that agree."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 8)).astype(np.float32)
    w = (rng.standard_normal((4, 8)) * 0.3).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    t = np.array([0, 1, 2, 3, 0, 1])
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        tl = TF.cross_entropy(TF.linear(torch.tensor(x), tw, tb), torch.tensor(t))
    tl.backward()
    pw, pb = prism.tensor(w, requires_grad=True), prism.tensor(b, requires_grad=True)
    with prism.autocast("cpu", dtype=prism.bfloat16):
        y = F.linear(prism.tensor(x), pw, pb)
        assert y.dtype == prism.bfloat16
        pl = F.cross_entropy(y, prism.tensor(t))
    assert pl.dtype == prism.float32
    pl.backward()
    assert pw.grad.dtype == prism.float32 and pb.grad.dtype == prism.float32
    close(pl, tl.detach(), tol=1e-2)
    close(pw.grad, tw.grad, tol=2e-2)
    close(pb.grad, tb.grad, tol=2e-2)


@pytest.mark.parametrize("device", all_devices())
def test_autocast_decorator_nesting_and_no_grad(device):
    dev_type = prism.device(device).type
    a = prism.randn(2, 3, device=device)
    b = prism.randn(3, 2, device=device)

    @prism.autocast(dev_type, dtype=prism.float16)
    def f():
        return a @ b

    assert f().dtype == prism.float16
    assert not prism.amp.is_autocast_enabled(dev_type)
    with prism.no_grad(), prism.autocast(dev_type, dtype=prism.bfloat16):
        assert prism.amp.is_autocast_enabled(dev_type)
        assert prism.amp.get_autocast_dtype(dev_type) == prism.bfloat16
        assert (a @ b).dtype == prism.bfloat16
        with prism.autocast(dev_type, enabled=False):
            assert (a @ b).dtype == prism.float32
        assert (a @ b).dtype == prism.bfloat16
    assert (a @ b).dtype == prism.float32
    with pytest.raises(prism.Error, match="float16 or bfloat16"):
        with prism.autocast(dev_type, dtype=prism.float32):
            pass


@pytest.mark.parametrize("device", all_devices())
def test_unscale_check_op(device):
    g = prism.tensor([4.0, -8.0, 2.0], device=device).to(prism.bfloat16)
    found = prism.zeros(1, device=device)
    inv = prism.full((1,), 0.25, dtype=prism.float32, device=device)
    prism._C.amp_unscale_check(g, found, inv)
    close(g.float(), [1.0, -2.0, 0.5], tol=0)
    assert found.item() == 0.0
    bad = prism.tensor([1.0, math.inf, math.nan], device=device)
    prism._C.amp_unscale_check(bad, found, inv)
    assert found.item() == 1.0


class _Toy:
    """w = [1, 2], SGD lr 0.5, loss = sum(w * c)."""

    def __init__(self, device="cpu"):
        self.w = prism.tensor([1.0, 2.0], device=device, requires_grad=True)
        self.opt = prism.optim.SGD([self.w], lr=0.5)
        self.device = device

    def run(self, scaler, c):
        self.opt.zero_grad()
        loss = (self.w * prism.full((2,), c, device=self.device)).sum()
        scaler.scale(loss).backward()
        scaler.step(self.opt)
        scaler.update()


@pytest.mark.parametrize("device", all_devices())
def test_grad_scaler_skips_and_backs_off_on_overflow(device):
    scaler = prism.amp.GradScaler()
    assert scaler.get_scale() == 65536.0
    toy = _Toy(device)
    toy.run(scaler, 1e35)  # 1e35 * 65536 overflows f32: every gradient is Inf
    close(toy.w, [1.0, 2.0], tol=0)  # step skipped
    assert scaler.get_scale() == 32768.0
    assert scaler.state_dict()["_growth_tracker"] == 0
    toy.run(scaler, 1.0)  # grad 32768 unscaled to exactly 1
    close(toy.w, [0.5, 1.5], tol=0)
    assert scaler.get_scale() == 32768.0
    assert scaler.state_dict()["_growth_tracker"] == 1


def test_grad_scaler_growth_and_state_dict():
    scaler = prism.amp.GradScaler(growth_interval=3)
    toy = _Toy()
    toy.run(scaler, 1e35)
    scales = []
    for _ in range(6):
        toy.run(scaler, 0.125)
        scales.append(scaler.get_scale())
    assert scales == [32768.0, 32768.0, 65536.0, 65536.0, 65536.0, 131072.0]
    close(toy.w, [1 - 6 * 0.0625, 2 - 6 * 0.0625], tol=0)
    sd = scaler.state_dict()
    assert sd == {"scale": 131072.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 3,
                  "_growth_tracker": 0}
    resumed = prism.amp.GradScaler()
    resumed.load_state_dict(sd)
    assert resumed.get_scale() == 131072.0 and resumed.get_growth_interval() == 3
    with pytest.raises(RuntimeError, match="already been called"):
        toy.opt.zero_grad()
        scaler.scale(toy.w.sum()).backward()
        scaler.unscale_(toy.opt)
        scaler.unscale_(toy.opt)


def test_grad_scaler_disabled_passes_through():
    scaler = prism.amp.GradScaler(enabled=False)
    toy = _Toy()
    loss = toy.w.sum()
    assert scaler.scale(loss) is loss
    assert scaler.get_scale() == 1.0 and scaler.state_dict() == {}
