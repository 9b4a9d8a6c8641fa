"""Autograd from Python over the C ABI: backward, grad, grad_fn, hooks, no_grad/enable_grad, anomaly mode."""

import math

import pytest

import prism
from _helpers import close, extra_devices, torch


def test_backward_accumulates():
    x = prism.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    assert y.requires_grad and not y.is_leaf and x.is_leaf
    y.backward()
    assert x.grad.tolist() == [2, 4, 6]
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5, 7, 9]
    x.grad = None
    assert x.grad is None
    x.grad = prism.ones(3)
    assert x.grad.tolist() == [1, 1, 1]


def test_backward_with_gradient_and_retain_graph():
    x = prism.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    y.backward(prism.tensor([1.0, 0.5]), retain_graph=True)
    assert x.grad.tolist() == [2, 2]
    y.backward(gradient=prism.tensor([1.0, 1.0]))
    assert x.grad.tolist() == [4, 6]
    with pytest.raises(prism.Error):
        prism.tensor([1.0, 2.0], requires_grad=True).mul(2).backward()  # non-scalar needs a gradient


def test_grad_fn_names_and_next_functions():
    a = prism.ones(2, requires_grad=True)
    b = prism.ones(2)
    c = a * b + a
    assert c.grad_fn.name() == "AddBackward"
    names = [n.name() if n is not None else None for n, _ in c.grad_fn.next_functions]
    assert "MulBackward" in names and "AccumulateGrad" in names
    assert a.grad_fn is None


def test_retain_grad_and_hooks():
    x = prism.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.tolist()))
    (h * h).sum().backward()
    assert h.grad.tolist() == [4, 8]
    assert seen == [[8, 16]]
    handle.remove()
    x.grad = None
    doubled = x.register_hook(lambda g: g * 2)
    (x * 1).sum().backward()
    assert x.grad.tolist() == [2, 2]
    doubled.remove()


def test_hook_exception_propagates():
    x = prism.ones(2, requires_grad=True)

    def bad(g):
        raise KeyError("from hook")

    x.register_hook(bad)
    with pytest.raises(KeyError, match="from hook"):
        (x * 2).sum().backward()


def test_no_grad_and_enable_grad():
    x = prism.ones(2, requires_grad=True)
    with prism.no_grad():
        y = x * 2
        assert not prism.is_grad_enabled()
        with prism.enable_grad():
            z = x * 2
            assert prism.is_grad_enabled()
        assert not prism.is_grad_enabled()
    assert prism.is_grad_enabled()
    assert not y.requires_grad and z.requires_grad

    @prism.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad
    with prism.set_grad_enabled(False):
        assert not (x * 1).requires_grad
    assert (x * 1).requires_grad


def test_autograd_grad_and_detach():
    x = prism.tensor([1.0, 2.0], requires_grad=True)
    y = (x ** 3).sum()
    (g,) = prism.autograd.grad(y, x)
    assert close(g, [3, 12]) and x.grad is None
    d = x.detach()
    assert not d.requires_grad
    d[0] = 10
    assert x[0].item() == 10  # shares storage
    u = prism.ones(1, requires_grad=True)
    assert prism.autograd.grad((x * 2).sum(), [x, u], allow_unused=True)[1] is None


def test_anomaly_mode_names_the_op():
    x = prism.tensor([0.0], requires_grad=True)
    with prism.autograd.detect_anomaly():
        y = x.sqrt() * 0.0
        with pytest.raises(prism.Error, match="(?i)sqrt|nan"):
            (x.sqrt() / x).sum().backward()
    assert not prism.autograd.is_anomaly_enabled()


def test_requires_grad_rules():
    with pytest.raises(prism.Error):
        prism.tensor([1, 2]).requires_grad_()
    t = prism.ones(2).requires_grad_()
    assert t.requires_grad


def test_training_step_matches_torch():
    if torch is None:
        pytest.skip("skipped: torch not installed")
    prism.manual_seed(1)
    w = prism.randn(3, 2, requires_grad=True)
    xb = prism.randn(5, 3)
    tw = torch.tensor(w.tolist(), requires_grad=True)
    tx = torch.tensor(xb.tolist())
    loss = ((xb @ w).tanh() ** 2).mean()
    tloss = ((tx @ tw).tanh() ** 2).mean()
    loss.backward()
    tloss.backward()
    assert close(loss, tloss, 1e-5) and close(w.grad, tw.grad, 1e-4)


@pytest.mark.parametrize("dev", extra_devices())
def test_backward_on_extra_devices(dev):
    x = prism.tensor([1.0, 2.0], device=dev, requires_grad=True)
    (x * x).sum().backward()
    assert str(x.grad.device) == dev and x.grad.tolist() == [2, 4]
