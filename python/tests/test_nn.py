"""prism.nn against torch.nn: modules, registration, layers, losses, init, clipping, with the same weights."""
import math

import numpy as np
import pytest

import prism
import prism.nn as nn
import prism.nn.functional as F

torch = pytest.importorskip("torch")


def P(a, dtype=None, requires_grad=False):
    """A prism tensor holding the values of a torch tensor / numpy array / list."""
    if hasattr(a, "detach"):
        a = a.detach().numpy()
    t = prism.tensor(np.array(a))
    if dtype is not None:
        t = t.to(dtype)
    if requires_grad:
        t.requires_grad_(True)
    return t


def T(t, requires_grad=False):
    """A torch tensor holding the values of a prism tensor."""
    x = torch.from_numpy(np.array(t.detach().numpy(), copy=True))
    if requires_grad:
        x.requires_grad_(True)
    return x


def close(p, t, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(p.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)


def copy_weights(pm, tm):
    """Loads torch module tm's state into prism module pm (the same names)."""
    pm.load_state_dict({k: P(v) for k, v in tm.state_dict().items()})


class MLP(nn.Module):
    def __init__(self, i, h, o):
        super().__init__()
        self.fc1 = nn.Linear(i, h)
        self.fc2 = nn.Linear(h, o)
        self.dropout = nn.Dropout(p=0.1)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = self.dropout(x)
        return self.fc2(x)


class TMLP(torch.nn.Module):
    def __init__(self, i, h, o):
        super().__init__()
        self.fc1 = torch.nn.Linear(i, h)
        self.fc2 = torch.nn.Linear(h, o)
        self.dropout = torch.nn.Dropout(p=0.1)

    def forward(self, x):
        x = torch.nn.functional.relu(self.fc1(x))
        x = self.dropout(x)
        return self.fc2(x)


# ------------------------------------------------------------------ Module
def test_registration_matches_torch():
    pm, tm = MLP(784, 256, 10), TMLP(784, 256, 10)
    assert [n for n, _ in pm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [tuple(p.shape) for p in pm.parameters()] == [tuple(p.shape) for p in tm.parameters()]
    assert list(pm.state_dict().keys()) == list(tm.state_dict().keys())
    assert [n for n, _ in pm.named_children()] == ["fc1", "fc2", "dropout"]
    assert [n for n, _ in pm.named_modules()] == [n for n, _ in tm.named_modules()]
    assert sum(p.numel() for p in pm.parameters() if p.requires_grad) == 784 * 256 + 256 + 2570
    assert all(isinstance(p, nn.Parameter) and isinstance(p, prism.Tensor) for p in pm.parameters())
    assert all(p.requires_grad and p.is_leaf for p in pm.parameters())


def test_forward_backward_matches_torch_with_same_weights():
    pm, tm = MLP(20, 16, 5), TMLP(20, 16, 5)
    copy_weights(pm, tm)
    pm.eval()
    tm.eval()
    x = torch.randn(8, 20)
    close(pm(P(x)), tm(x))
    y = torch.randint(0, 5, (8,))
    lp = F.cross_entropy(pm(P(x)), P(y))
    lt = torch.nn.functional.cross_entropy(tm(x), y)
    close(lp, lt)
    lp.backward()
    lt.backward()
    for (n, p), (_, t) in zip(pm.named_parameters(), tm.named_parameters()):
        close(p.grad, t.grad, rtol=1e-4, atol=1e-6)


def test_parameter_aliases_its_data_and_reprs():
    t = prism.zeros(3)
    p = nn.Parameter(t)
    assert p.requires_grad and p.is_leaf
    with prism.no_grad():
        p.add_(1.0)
    assert t.tolist() == [1.0, 1.0, 1.0]
    assert repr(p).startswith("Parameter containing:")
    q = nn.Parameter(prism.ones(2), requires_grad=False)
    assert not q.requires_grad


def test_setattr_routing_buffers_and_errors():
    m = nn.Module()
    m.w = nn.Parameter(prism.ones(2))
    m.register_buffer("running", prism.zeros(2))
    m.register_buffer("scratch", prism.zeros(1), persistent=False)
    m.sub = nn.Linear(2, 2)
    m.plain = 5
    assert set(dict(m.named_parameters())) == {"w", "sub.weight", "sub.bias"}
    assert set(dict(m.named_buffers())) == {"running", "scratch"}
    assert set(m.state_dict()) == {"w", "running", "sub.weight", "sub.bias"}
    m.running = prism.ones(2)  # assigning a tensor to a buffer name replaces the buffer
    assert m.state_dict()["running"].tolist() == [1.0, 1.0]
    with pytest.raises(TypeError):
        m.w = prism.ones(2)  # a plain tensor cannot replace a parameter
    with pytest.raises(KeyError):
        m.register_buffer("a.b", prism.ones(1))
    del m.sub
    assert "sub.weight" not in m.state_dict()
    with pytest.raises(AttributeError):
        m.nothing


def test_train_eval_requires_grad_zero_grad_apply():
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Dropout(0.5), nn.Linear(3, 2))
    assert all(x.training for x in m.modules())
    m.eval()
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    out = m(prism.randn(5, 4)).sum()
    out.backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and float(p.grad.abs().sum()) == 0.0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m[0].requires_grad_(False)
    assert [p.requires_grad for p in m.parameters()] == [False, False, True, True]
    seen = []

    def init_weights(mod):
        seen.append(type(mod).__name__)
        if isinstance(mod, nn.Linear):
            nn.init.xavier_uniform_(mod.weight)
            nn.init.zeros_(mod.bias)
    assert m.apply(init_weights) is m
    assert seen == ["Linear", "ReLU", "Dropout", "Linear", "Sequential"]
    assert m[3].bias.tolist() == [0.0, 0.0]


def test_to_dtype_and_device_keep_working():
    m = nn.Linear(3, 2)
    w = m.weight
    opt = prism.optim.SGD(m.parameters(), lr=0.1)  # built before the move, as often in ported code
    m.to(prism.float64)
    assert m.weight is w  # the same Parameter object, rebound to the cast data
    assert m.weight.dtype == prism.float64 and isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    m(prism.ones(1, 3, dtype=prism.float64)).sum().backward()
    before = m.weight.detach().clone()
    opt.step()
    assert not prism.equal(before, m.weight)
    assert m(prism.ones(1, 3, dtype=prism.float64)).dtype == prism.float64
    m.to("cpu")
    assert str(m.weight.device).startswith("cpu")
    bn = nn.BatchNorm1d(3).double()
    assert bn.num_batches_tracked.dtype == prism.int64  # integer buffers keep their dtype
    with pytest.raises(TypeError):
        m.to(prism.int32)


def test_state_dict_roundtrip_and_strict_errors():
    a, b = MLP(6, 5, 4), MLP(6, 5, 4)
    b.load_state_dict(a.state_dict())
    for x, y in zip(a.parameters(), b.parameters()):
        assert x.tolist() == y.tolist()
    sd = a.state_dict()
    sd.pop("fc2.bias")
    sd["extra"] = prism.ones(1)
    with pytest.raises(RuntimeError, match="Missing key.*fc2.bias"):
        b.load_state_dict(sd)
    res = b.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["fc2.bias"] and res.unexpected_keys == ["extra"]
    bad = a.state_dict()
    bad["fc1.weight"] = prism.ones(2, 2)
    with pytest.raises(RuntimeError, match="size mismatch for fc1.weight"):
        b.load_state_dict(bad)
    # state_dict values are detached aliases: no grad, same storage
    sd = a.state_dict()
    assert not sd["fc1.weight"].requires_grad
    with prism.no_grad():
        a.fc1.weight.fill_(3.0)
    assert float(sd["fc1.weight"][0, 0]) == 3.0


def test_repr_like_torch():
    m = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    t = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 256), torch.nn.ReLU(),
                            torch.nn.Linear(256, 10))
    assert repr(m) == repr(t)


def test_forward_hooks():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, inp: calls.append("pre"))
    h2 = m.register_forward_hook(lambda mod, inp, out: out * 0)
    out = m(prism.ones(1, 2))
    assert calls == ["pre"] and out.tolist() == [[0.0, 0.0]]
    h1.remove()
    h2.remove()
    expected = F.linear(prism.ones(1, 2), m.weight, m.bias)
    assert m(prism.ones(1, 2)).tolist() == expected.tolist()
    assert calls == ["pre"]


def test_containers():
    s = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(s) == 3 and isinstance(s[0], nn.Linear) and isinstance(s[-1], nn.Linear)
    assert isinstance(s[1:], nn.Sequential) and len(s[1:]) == 2
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Linear(2, 1))
    assert len(ml) == 4 and len(list(ml.parameters())) == 8
    md = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.ReLU()})
    assert list(md.keys()) == ["a", "b"] and len(list(md.parameters())) == 2

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
            self.plain = [nn.Linear(2, 2)]  # a plain list stays invisible, as in PyTorch
    assert len(list(Holder().parameters())) == 4
    pl = nn.ParameterList([nn.Parameter(prism.ones(2)), prism.zeros(1)])
    assert len(list(pl.parameters())) == 2


# ------------------------------------------------------------------ layers
def test_linear_conv_pool_match_torch():
    torch.manual_seed(0)
    tl = torch.nn.Linear(7, 3)
    pl = nn.Linear(7, 3)
    copy_weights(pl, tl)
    x = torch.randn(2, 4, 7)
    close(pl(P(x)), tl(x))
    for kw in [dict(stride=1, padding=1), dict(stride=2, padding=0), dict(stride=1, padding="same", dilation=2),
               dict(stride=1, padding=1, groups=2)]:
        tc = torch.nn.Conv2d(4, 6, 3, **kw)
        pc = nn.Conv2d(4, 6, 3, **kw)
        copy_weights(pc, tc)
        x = torch.randn(2, 4, 9, 9, requires_grad=True)
        px = P(x, requires_grad=True)
        yt, yp = tc(x), pc(px)
        close(yp, yt, rtol=1e-4, atol=1e-5)
        g = torch.randn(yt.shape)
        yt.backward(g)
        yp.backward(P(g))
        close(px.grad, x.grad, rtol=1e-4, atol=1e-4)
        close(pc.weight.grad, tc.weight.grad, rtol=1e-4, atol=1e-4)
    x = torch.randn(2, 3, 8, 8)
    close(nn.MaxPool2d(2)(P(x)), torch.nn.MaxPool2d(2)(x))
    close(nn.MaxPool2d(3, 2, 1)(P(x)), torch.nn.MaxPool2d(3, 2, 1)(x))
    close(nn.AvgPool2d(2)(P(x)), torch.nn.AvgPool2d(2)(x))
    close(nn.AvgPool2d(3, 1, 1, count_include_pad=False)(P(x)),
          torch.nn.AvgPool2d(3, 1, 1, count_include_pad=False)(x))


def test_batchnorm_running_stats_match_torch():
    for pcls, tcls, shape in [(nn.BatchNorm2d, torch.nn.BatchNorm2d, (4, 3, 5, 5)),
                              (nn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 3))]:
        for momentum in (0.1, None):
            pb, tb = pcls(3, momentum=momentum), tcls(3, momentum=momentum)
            for _ in range(3):
                x = torch.randn(*shape) * 2 + 1
                close(pb(P(x)), tb(x), rtol=1e-4, atol=1e-5)
            close(pb.running_mean, tb.running_mean, rtol=1e-5, atol=1e-6)
            close(pb.running_var, tb.running_var, rtol=1e-5, atol=1e-6)
            assert int(pb.num_batches_tracked.item()) == 3
            assert list(pb.state_dict()) == list(tb.state_dict())
            pb.eval()
            tb.eval()
            x = torch.randn(*shape)
            close(pb(P(x)), tb(x), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(prism.ones(2, 3))


def test_layernorm_embedding_dropout():
    tl, pl = torch.nn.LayerNorm([4, 5]), nn.LayerNorm([4, 5])
    with torch.no_grad():
        tl.weight.uniform_()
        tl.bias.uniform_()
    copy_weights(pl, tl)
    x = torch.randn(3, 4, 5)
    close(pl(P(x)), tl(x), rtol=1e-4, atol=1e-5)

    te, pe = torch.nn.Embedding(10, 3, padding_idx=0), nn.Embedding(10, 3, padding_idx=0)
    copy_weights(pe, te)
    idx = torch.tensor([[0, 2, 4], [4, 3, 0]])
    yp, yt = pe(P(idx)), te(idx)
    close(yp, yt)
    yp.sum().backward()
    yt.sum().backward()
    close(pe.weight.grad, te.weight.grad)
    assert pe.weight.grad[0].abs().sum().item() == 0.0
    assert nn.Embedding(5, 2, padding_idx=1).weight[1].tolist() == [0.0, 0.0]

    d = nn.Dropout(0.5)
    x = prism.ones(10000)
    y = d(x)
    zeros = (y == 0).sum().item()
    assert 4500 < zeros < 5500
    assert set(np.unique(y.numpy()).tolist()) <= {0.0, 2.0}
    d.eval()
    assert d(x) is x or d(x).tolist() == x.tolist()


def test_activations_match_torch():
    x = torch.randn(4, 6) * 3
    pairs = [(nn.ReLU(), torch.nn.ReLU()), (nn.GELU(), torch.nn.GELU()),
             (nn.GELU("tanh"), torch.nn.GELU("tanh")), (nn.SiLU(), torch.nn.SiLU()), (nn.Tanh(), torch.nn.Tanh()),
             (nn.Sigmoid(), torch.nn.Sigmoid()), (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
             (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)), (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
             (nn.ELU(), torch.nn.ELU()), (nn.ReLU6(), torch.nn.ReLU6()), (nn.Softplus(), torch.nn.Softplus()),
             (nn.Flatten(0), torch.nn.Flatten(0)), (nn.Identity(), torch.nn.Identity())]
    for pm, tm in pairs:
        close(pm(P(x)), tm(x), rtol=1e-4, atol=1e-5)
    close(F.normalize(P(x), dim=1), torch.nn.functional.normalize(x, dim=1), rtol=1e-5)


# ------------------------------------------------------------------ losses
def _loss_pair(pl, tl, pin, tin, ptarget, ttarget):
    px = P(tin, requires_grad=True)
    tx = tin.detach().clone().requires_grad_(True)
    lp, lt = pl(px, ptarget), tl(tx, ttarget)
    close(lp, lt, rtol=1e-4, atol=1e-6)
    (lp.sum() if lp.ndim else lp).backward()
    (lt.sum() if lt.ndim else lt).backward()
    close(px.grad, tx.grad, rtol=1e-4, atol=1e-6)


def test_losses_match_torch():
    torch.manual_seed(1)
    logits = torch.randn(8, 5)
    y = torch.randint(0, 5, (8,))
    y_ign = y.clone()
    y_ign[2] = -100
    w = torch.rand(5) + 0.5
    for kw in [{}, {"weight": w}, {"label_smoothing": 0.1}, {"reduction": "sum"}, {"reduction": "none"},
               {"weight": w, "label_smoothing": 0.2}]:
        pkw = {k: (P(v) if hasattr(v, "numpy") else v) for k, v in kw.items()}
        _loss_pair(nn.CrossEntropyLoss(**pkw), torch.nn.CrossEntropyLoss(**kw), None, logits, P(y), y)
    _loss_pair(nn.CrossEntropyLoss(ignore_index=-100), torch.nn.CrossEntropyLoss(ignore_index=-100), None, logits,
               P(y_ign), y_ign)
    probs = torch.softmax(torch.randn(8, 5), 1)
    _loss_pair(nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), None, logits, P(probs), probs)
    logp = torch.log_softmax(logits, 1)
    _loss_pair(nn.NLLLoss(weight=P(w)), torch.nn.NLLLoss(weight=w), None, logp, P(y), y)
    z = torch.randn(6, 3)
    t = (torch.rand(6, 3) > 0.5).float()
    pw = torch.rand(3) + 0.5
    _loss_pair(nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss(), None, z, P(t), t)
    _loss_pair(nn.BCEWithLogitsLoss(pos_weight=P(pw)), torch.nn.BCEWithLogitsLoss(pos_weight=pw), None, z, P(t), t)
    _loss_pair(nn.BCELoss(), torch.nn.BCELoss(), None, torch.sigmoid(z), P(t), t)
    a, b = torch.randn(5, 4) * 2, torch.randn(5, 4)
    for pl, tl in [(nn.MSELoss(), torch.nn.MSELoss()), (nn.L1Loss(), torch.nn.L1Loss()),
                   (nn.HuberLoss(delta=0.7), torch.nn.HuberLoss(delta=0.7)),
                   (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5)),
                   (nn.MSELoss(reduction="sum"), torch.nn.MSELoss(reduction="sum")),
                   (nn.L1Loss(reduction="none"), torch.nn.L1Loss(reduction="none"))]:
        _loss_pair(pl, tl, None, a, P(b), b)


def test_loss_errors_are_clear():
    with pytest.raises(ValueError):
        nn.CrossEntropyLoss(reduction="avg")
    with pytest.raises(RuntimeError, match="out of bounds"):
        F.cross_entropy(prism.randn(2, 3), prism.tensor([0, 7]))
    with pytest.raises(ValueError, match="Target size"):
        F.binary_cross_entropy_with_logits(prism.randn(2, 3), prism.randn(3, 2))


# ------------------------------------------------------------------ init and utils
def test_init_bounds_and_gains():
    assert nn.init.calculate_gain("relu") == torch.nn.init.calculate_gain("relu")
    assert nn.init.calculate_gain("leaky_relu", 0.2) == torch.nn.init.calculate_gain("leaky_relu", 0.2)
    assert nn.init.calculate_gain("tanh") == torch.nn.init.calculate_gain("tanh")
    w = prism.empty(200, 300)
    nn.init.xavier_uniform_(w)
    a = math.sqrt(6.0 / 500)
    arr = w.numpy()
    assert arr.max() <= a and arr.min() >= -a and arr.std() > 0.5 * a / math.sqrt(3)
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2.0 / 300)) < 0.01
    nn.init.normal_(w, mean=1.0, std=0.02)
    assert abs(w.numpy().mean() - 1.0) < 0.01 and abs(w.numpy().std() - 0.02) < 0.002
    nn.init.trunc_normal_(w, std=1.0, a=-1.0, b=1.0)
    assert w.numpy().max() <= 1.0 and w.numpy().min() >= -1.0
    nn.init.constant_(w, 0.5)
    assert float(w.sum()) == pytest.approx(0.5 * 200 * 300)
    nn.init.ones_(w)
    nn.init.zeros_(w)
    assert float(w.abs().sum()) == 0.0
    e = prism.empty(3, 4)
    nn.init.eye_(e)
    assert e.tolist() == torch.eye(3, 4).tolist()
    prism.manual_seed(5)
    x = nn.init.uniform_(prism.empty(4))
    prism.manual_seed(5)
    assert nn.init.uniform_(prism.empty(4)).tolist() == x.tolist()


def test_clip_grad_norm_matches_torch():
    torch.manual_seed(0)
    for norm_type in (2.0, 1.0, float("inf")):
        grads = [torch.randn(3, 4) * 5, torch.randn(7) * 5]
        tps = [torch.zeros_like(g, requires_grad=True) for g in grads]
        pps = [nn.Parameter(prism.zeros(*g.shape)) for g in grads]
        for tp, pp, g in zip(tps, pps, grads):
            tp.grad = g.clone()
            pp.grad = P(g)
        nt = torch.nn.utils.clip_grad_norm_(tps, 1.0, norm_type=norm_type)
        npn = nn.utils.clip_grad_norm_(pps, 1.0, norm_type=norm_type)
        assert float(npn) == pytest.approx(float(nt), rel=1e-5)
        for tp, pp in zip(tps, pps):
            close(pp.grad, tp.grad, rtol=1e-5)
    pp = nn.Parameter(prism.zeros(3))
    pp.grad = prism.tensor([-3.0, 0.5, 2.0])
    nn.utils.clip_grad_value_([pp], 1.0)
    assert pp.grad.tolist() == [-1.0, 0.5, 1.0]
    v = nn.utils.parameters_to_vector([nn.Parameter(prism.ones(2, 2)), nn.Parameter(prism.zeros(3))])
    assert v.tolist() == [1, 1, 1, 1, 0, 0, 0]


# ------------------------------------------------------------------ other devices
def _other_devices():
    return [str(d) for d in prism.devices() if not str(d).startswith("cpu")]


def test_training_on_every_loaded_device_matches_cpu(tmp_path):
    devices = _other_devices()
    if not devices:
        pytest.skip("skipped: no device other than the CPU is loaded")
    x = prism.randn(16, 6)
    y = prism.randint(0, 3, (16,))
    ref = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    init = {k: v.clone() for k, v in ref.state_dict().items()}

    def train(model, dev):
        opt = prism.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        xd, yd = x.to(dev), y.to(dev)
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(xd), yd).backward()
            opt.step()
        return opt
    train(ref, "cpu")
    for dev in devices:
        m = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
        m.load_state_dict(init)
        w0 = m[0].weight
        m.to(dev)
        assert m[0].weight is w0
        assert all(str(p.device) == dev and isinstance(p, nn.Parameter) for p in m.parameters())
        opt = train(m, dev)
        for a, b in zip(m.parameters(), ref.parameters()):
            np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-5)
        path = tmp_path / "dev.pt"
        prism.save({"model": m.state_dict(), "opt": opt.state_dict()}, path)
        back = prism.load(path)  # each tensor returns to the device it was saved from
        assert str(back["model"]["0.weight"].device) == dev
        assert str(back["opt"]["state"][0]["momentum_buffer"].device) == dev
        on_cpu = prism.load(path, map_location="cpu")
        assert str(on_cpu["model"]["0.weight"].device).startswith("cpu")
        assert on_cpu["model"]["0.weight"].tolist() == m[0].weight.detach().cpu().tolist()
        loader = prism.utils.data.DataLoader(prism.utils.data.TensorDataset(x, y), batch_size=8, pin_memory=True,
                                             pin_memory_device=dev)
        xb, yb = next(iter(loader))
        assert xb.is_pinned() and xb.to(dev).tolist() == x[:8].tolist()


def test_deepcopy_and_pickle_keep_parameters_and_buffers():
    import copy
    import pickle
    m = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    m(prism.randn(4, 3))  # running stats move
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert isinstance(clone[0].weight, nn.Parameter) and clone[0].weight.requires_grad
        assert clone[0].weight is not m[0].weight
        for (k, a), (_, b) in zip(clone.state_dict().items(), m.state_dict().items()):
            assert a.dtype == b.dtype and a.tolist() == b.tolist(), k
        with prism.no_grad():
            clone[0].weight.fill_(0.0)
        assert m[0].weight.abs().sum().item() > 0
