"""scaled_dot_product_attention through the CPU plugin's fused kernel against torch 1.13's explicit formula."""
import numpy as np
import pytest

import prism
import prism.nn.functional as F
from prism.profiler import profile

torch = pytest.importorskip("torch")


def P(a, requires_grad=False):
    t = prism.tensor(np.array(a.detach().numpy()))
    if requires_grad:
        t.requires_grad_(True)
    return t


def N(t):
    return np.array(t.detach().numpy(), copy=True)


def explicit(q, k, v, mask, causal):
    s = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    if causal:
        s = s.masked_fill(torch.ones(s.shape[-2], s.shape[-1]).tril() == 0, float("-inf"))
    if mask is not None:
        s = s + mask
    return torch.softmax(s, -1) @ v


def op_names(fn):
    with profile() as prof:
        out = fn()
    return out, [e.name for e in prof.events()]


@pytest.mark.parametrize("kind", ["none", "float", "causal"])
def test_fused_kernel_matches_torch_without_grad(kind):
    g = torch.Generator().manual_seed(1)
    q = torch.randn(2, 4, 9, 16, generator=g)
    k = torch.randn(2, 4, 16, 70, generator=g).transpose(-2, -1)
    v = torch.randn(2, 4, 70, 8, generator=g)
    mask = torch.randn(9, 70, generator=g) if kind == "float" else None
    ref = explicit(q, k, v, mask, kind == "causal")
    with prism.no_grad():
        out, names = op_names(lambda: F.scaled_dot_product_attention(
            P(q), P(k), P(v), attn_mask=None if mask is None else P(mask), is_causal=kind == "causal"))
    assert "scaled_dot_product_attention" in names and "bmm" not in names
    np.testing.assert_allclose(N(out), ref.numpy(), rtol=2e-5, atol=2e-5)


def test_fused_forward_with_recomputing_backward_matches_torch(monkeypatch):
    monkeypatch.setenv("PRISM_ATTENTION_RECOMPUTE_ELEMENTS", "0")
    g = torch.Generator().manual_seed(2)
    q = torch.randn(2, 3, 5, 8, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.randn(1, 3, 7, 8, generator=g, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, 3, 7, 4, generator=g, dtype=torch.float64, requires_grad=True)
    mask = torch.randn(5, 7, generator=g, dtype=torch.float64, requires_grad=True)
    ref = explicit(q, k, v, mask, False)
    gout = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    ref.backward(gout)
    pq, pk, pv, pm = P(q, True), P(k, True), P(v, True), P(mask, True)
    out, names = op_names(lambda: F.scaled_dot_product_attention(pq, pk, pv, attn_mask=pm))
    assert "scaled_dot_product_attention" in names
    np.testing.assert_allclose(N(out), ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    out.backward(prism.tensor(gout.numpy()))
    for p, t in ((pq, q), (pk, k), (pv, v), (pm, mask)):
        assert tuple(p.grad.shape) == tuple(t.shape)
        np.testing.assert_allclose(N(p.grad), t.grad.numpy(), rtol=1e-9, atol=1e-9)
