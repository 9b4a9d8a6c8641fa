"""prism.optim against torch.optim: SGD / Adam / AdamW updates, param groups, state dicts and LR schedulers."""
import math

import numpy as np
import pytest

import prism
import prism.nn as nn
import prism.optim as optim

torch = pytest.importorskip("torch")


def P(a):
    return prism.tensor(np.array(a.detach().numpy() if hasattr(a, "detach") else a))


def run_both(popt_cls, topt_cls, steps=5, groups=False, **kw):
    """Same initial params, same gradients each step; returns (prism params, torch params)."""
    rng = np.random.default_rng(0)
    init = [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(5).astype(np.float32)]
    pp = [nn.Parameter(prism.tensor(a.copy())) for a in init]
    tp = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
    if groups:
        popt = popt_cls([{"params": [pp[0]]}, {"params": [pp[1]], "lr": 0.003}], **kw)
        topt = topt_cls([{"params": [tp[0]]}, {"params": [tp[1]], "lr": 0.003}], **kw)
    else:
        popt, topt = popt_cls(pp, **kw), topt_cls(tp, **kw)
    for _ in range(steps):
        grads = [rng.standard_normal(a.shape).astype(np.float32) for a in init]
        popt.zero_grad()
        topt.zero_grad()
        for p, t, g in zip(pp, tp, grads):
            p.grad = prism.tensor(g.copy())
            t.grad = torch.from_numpy(g.copy())
        popt.step()
        topt.step()
    return pp, tp, popt, topt


def assert_params_close(pp, tp, rtol=1e-5, atol=1e-6):
    for p, t in zip(pp, tp):
        np.testing.assert_allclose(p.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("kw", [
    dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.9, nesterov=True), dict(lr=0.1, weight_decay=0.01),
    dict(lr=0.1, momentum=0.8, weight_decay=1e-3, maximize=True),
])
def test_sgd_matches_torch(kw):
    pp, tp, _, _ = run_both(optim.SGD, torch.optim.SGD, **kw)
    assert_params_close(pp, tp)


@pytest.mark.parametrize("kw", [
    dict(), dict(lr=3e-4, betas=(0.9, 0.95), eps=1e-6), dict(lr=1e-2, weight_decay=0.1),
    dict(lr=1e-2, amsgrad=True), dict(lr=1e-2, maximize=True),
])
def test_adam_and_adamw_match_torch(kw):
    pp, tp, _, _ = run_both(optim.Adam, torch.optim.Adam, **kw)
    assert_params_close(pp, tp, rtol=1e-4, atol=1e-6)
    pp, tp, _, _ = run_both(optim.AdamW, torch.optim.AdamW, **kw)
    assert_params_close(pp, tp, rtol=1e-4, atol=1e-6)


def test_param_groups_and_repr():
    pp, tp, popt, topt = run_both(optim.SGD, torch.optim.SGD, groups=True, lr=0.1, momentum=0.9)
    assert_params_close(pp, tp)
    assert [g["lr"] for g in popt.param_groups] == [0.1, 0.003]
    popt.add_param_group({"params": [nn.Parameter(prism.ones(2))], "lr": 1.0})
    assert len(popt.param_groups) == 3 and popt.param_groups[2]["momentum"] == 0.9
    with pytest.raises(ValueError, match="more than one parameter group"):
        popt.add_param_group({"params": [pp[0]]})
    assert "Parameter Group 0" in repr(popt)


def test_state_dict_layout_like_torch_and_resume():
    pp, tp, popt, topt = run_both(optim.Adam, torch.optim.Adam, steps=3, lr=0.01)
    psd, tsd = popt.state_dict(), topt.state_dict()
    assert sorted(psd["state"]) == sorted(tsd["state"]) == [0, 1]
    assert set(psd["state"][0]) == set(tsd["state"][0])
    assert psd["state"][0]["step"] == 3
    assert [g["params"] for g in psd["param_groups"]] == [g["params"] for g in tsd["param_groups"]]
    np.testing.assert_allclose(psd["state"][0]["exp_avg"].numpy(), tsd["state"][0]["exp_avg"].numpy(), rtol=1e-5)

    # Resuming from a state dict continues exactly as the uninterrupted optimizer.
    def make():
        p = nn.Parameter(prism.tensor([1.0, -2.0, 3.0]))
        return p, optim.Adam([p], lr=0.1)
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal(3).astype(np.float32) for _ in range(6)]
    a, oa = make()
    for g in grads:
        a.grad = prism.tensor(g)
        oa.step()
    b, ob = make()
    for g in grads[:3]:
        b.grad = prism.tensor(g)
        ob.step()
    c, oc = make()
    with prism.no_grad():
        c.copy_(b)
    saved = ob.state_dict()
    before = saved["state"][0]["exp_avg"].tolist()
    oc.load_state_dict(saved)
    for g in grads[3:]:
        c.grad = prism.tensor(g)
        oc.step()
    assert c.tolist() == a.tolist()
    assert saved["state"][0]["exp_avg"].tolist() == before  # loading copied the state, as PyTorch does
    with pytest.raises(ValueError):
        optim.Adam([nn.Parameter(prism.ones(1)), nn.Parameter(prism.ones(1))]).load_state_dict(ob.state_dict())


def test_zero_grad_and_errors():
    p = nn.Parameter(prism.ones(3))
    opt = optim.SGD([p], lr=0.1)
    (p * 2).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0, 0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None
    opt.step()  # no gradient: nothing happens
    assert p.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(TypeError):
        optim.SGD(p, lr=0.1)


def test_closure_and_training_converges():
    prism.manual_seed(0)
    x = prism.randn(64, 3)
    w_true = prism.tensor([[1.5], [-2.0], [0.5]])
    y = x @ w_true
    model = nn.Linear(3, 1)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.MSELoss()

    def closure():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss
    first = opt.step(closure).item()
    for _ in range(100):
        last = opt.step(closure).item()
    assert last < first * 1e-3


# ------------------------------------------------------------------ schedulers
def _sched_pair(make_p, make_t, steps=25, opt="sgd", metric=None):
    pp, tp = nn.Parameter(prism.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    if opt == "sgd":
        po, to = optim.SGD([pp], lr=0.1, momentum=0.9), torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    else:
        po, to = optim.Adam([pp], lr=0.1), torch.optim.Adam([tp], lr=0.1)
    ps, ts = make_p(po), make_t(to)
    seq_p, seq_t = [], []
    for i in range(steps):
        po.step()
        to.step()
        if metric is None:
            ps.step()
            ts.step()
        else:
            ps.step(metric(i))
            ts.step(metric(i))
        seq_p.append((po.param_groups[0]["lr"], po.param_groups[0].get("momentum"),
                      po.param_groups[0].get("betas")))
        seq_t.append((to.param_groups[0]["lr"], to.param_groups[0].get("momentum"),
                      to.param_groups[0].get("betas")))
    for a, b in zip(seq_p, seq_t):
        assert a[0] == pytest.approx(b[0], rel=1e-12, abs=1e-15)
        if b[1] is not None:
            assert a[1] == pytest.approx(b[1], rel=1e-12)
        if b[2] is not None:
            assert a[2][0] == pytest.approx(b[2][0], rel=1e-12)
    return ps, ts


S, TS = optim.lr_scheduler, torch.optim.lr_scheduler


@pytest.mark.parametrize("name,args,kwargs", [
    ("StepLR", (), dict(step_size=4, gamma=0.5)),
    ("MultiStepLR", (), dict(milestones=[3, 7, 7, 12], gamma=0.3)),
    ("ExponentialLR", (), dict(gamma=0.9)),
    ("CosineAnnealingLR", (), dict(T_max=10, eta_min=0.001)),
    ("LinearLR", (), dict(start_factor=0.1, total_iters=8)),
    ("ConstantLR", (), dict(factor=0.5, total_iters=4)),
    ("PolynomialLR", (), dict(total_iters=10, power=2.0)),
    ("CosineAnnealingWarmRestarts", (), dict(T_0=5, T_mult=2, eta_min=0.01)),
])
def test_schedulers_match_torch(name, args, kwargs):
    _sched_pair(lambda o: getattr(S, name)(o, *args, **kwargs), lambda o: getattr(TS, name)(o, *args, **kwargs))


def test_lambda_multiplicative_onecycle_plateau_sequential():
    _sched_pair(lambda o: S.LambdaLR(o, lambda e: 0.95 ** e), lambda o: TS.LambdaLR(o, lambda e: 0.95 ** e))
    _sched_pair(lambda o: S.MultiplicativeLR(o, lambda e: 0.9), lambda o: TS.MultiplicativeLR(o, lambda e: 0.9))
    for three_phase in (False, True):
        for strategy in ("cos", "linear"):
            _sched_pair(lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=30, three_phase=three_phase,
                                               anneal_strategy=strategy),
                        lambda o: TS.OneCycleLR(o, max_lr=1.0, total_steps=30, three_phase=three_phase,
                                                anneal_strategy=strategy), steps=30)
    _sched_pair(lambda o: S.OneCycleLR(o, max_lr=0.5, epochs=3, steps_per_epoch=10),
                lambda o: TS.OneCycleLR(o, max_lr=0.5, epochs=3, steps_per_epoch=10), steps=30, opt="adam")
    losses = [1.0, 0.9, 0.95, 0.96, 0.97, 0.99, 0.98, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2]
    _sched_pair(lambda o: S.ReduceLROnPlateau(o, patience=2, factor=0.5, cooldown=1),
                lambda o: TS.ReduceLROnPlateau(o, patience=2, factor=0.5, cooldown=1), steps=len(losses),
                metric=lambda i: losses[i])
    _sched_pair(lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5),
                                             S.CosineAnnealingLR(o, T_max=10)], milestones=[5]),
                lambda o: TS.SequentialLR(o, [TS.LinearLR(o, start_factor=0.1, total_iters=5),
                                              TS.CosineAnnealingLR(o, T_max=10)], milestones=[5]), steps=15)


def test_scheduler_state_dict_and_closed_form():
    p = nn.Parameter(prism.zeros(1))
    o = optim.SGD([p], lr=1.0)
    s = S.StepLR(o, step_size=3, gamma=0.1)
    for _ in range(4):
        s.step()
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 4
    o2 = optim.SGD([nn.Parameter(prism.zeros(1))], lr=1.0)
    s2 = S.StepLR(o2, step_size=3, gamma=0.1)
    s2.load_state_dict(sd)
    o2.load_state_dict(o.state_dict())  # the current lr lives in the optimizer's state, as in PyTorch
    s.step()
    s2.step()
    assert s.get_last_lr() == s2.get_last_lr()
    s.step(9)  # closed form
    assert s.get_last_lr()[0] == pytest.approx(1.0 * 0.1 ** 3)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(optim.SGD([nn.Parameter(prism.zeros(1))], lr=1.0), 3, last_epoch=5)
    assert math.isfinite(s.get_last_lr()[0])
