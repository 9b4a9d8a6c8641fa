"""Attention and transformer layers against torch 1.13 (same weights), BCELoss, ignore_index, and checkpointing."""
import math

import numpy as np
import pytest

import prism
import prism.nn as nn
import prism.nn.functional as F
from prism.utils.checkpoint import checkpoint, checkpoint_sequential

from _helpers import all_devices

torch = pytest.importorskip("torch")


def P(a, device="cpu", requires_grad=False):
    if hasattr(a, "detach"):
        a = a.detach().numpy()
    t = prism.tensor(np.array(a)).to(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def N(t):
    return np.array(t.detach().to("cpu").numpy(), copy=True)


def close(p, t, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(N(p), t.detach().numpy(), rtol=rtol, atol=atol)


def explicit_attention(q, k, v, mask=None, scale=None):
    """torch: softmax(Q K^T * scale + M) V, written out (torch 1.13 has no scaled_dot_product_attention)."""
    s = q @ k.transpose(-2, -1) * (scale if scale is not None else 1 / math.sqrt(q.shape[-1]))
    if mask is not None:
        s = s + mask
    return torch.softmax(s, -1) @ v


@pytest.mark.parametrize("device", all_devices())
@pytest.mark.parametrize("kind", ["none", "float", "bool", "causal"])
def test_sdpa_matches_explicit_formula_and_gradients(device, kind):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 3, 5, 8, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 3, 7, 8, generator=g, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, 3, 7, 4, generator=g, dtype=torch.float64, requires_grad=True)
    mask = pm = None
    causal = kind == "causal"
    if kind == "float":
        mask = torch.randn(5, 7, generator=g, dtype=torch.float64)
        pm = P(mask, device)
    elif kind == "bool":
        keep = torch.rand(5, 7, generator=g) > 0.4
        keep[:, 0] = True
        mask = torch.zeros(5, 7, dtype=torch.float64).masked_fill(~keep, float("-inf"))
        pm = P(keep, device)
    elif causal:
        mask = torch.zeros(5, 7, dtype=torch.float64).masked_fill(torch.ones(5, 7).tril() == 0, float("-inf"))
    ref = explicit_attention(q, k, v, mask)
    gout = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    ref.backward(gout)
    pq, pk, pv = (P(t, device, True) for t in (q, k, v))
    out = F.scaled_dot_product_attention(pq, pk, pv, attn_mask=pm, is_causal=causal)
    assert out.device == prism.device(device)
    close(out, ref, 1e-10, 1e-10)
    out.backward(P(gout, device))
    for p, t in ((pq, q), (pk, k), (pv, v)):
        close(p.grad, t.grad, 1e-9, 1e-9)


def test_sdpa_scale_dropout_and_errors():
    q, k, v = (prism.randn(1, 4, 8) for _ in range(3))
    a = F.scaled_dot_product_attention(q, k, v, scale=0.3)
    b = explicit_attention(*(torch.from_numpy(N(t)) for t in (q, k, v)), scale=0.3)
    close(a, b)
    prism.manual_seed(3)
    d1 = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    prism.manual_seed(3)
    d2 = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    np.testing.assert_array_equal(N(d1), N(d2))
    with pytest.raises(prism.Error, match="is_causal"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=prism.zeros(4, 4), is_causal=True)
    with pytest.raises(prism.Error, match="scaled_dot_product_attention"):
        F.scaled_dot_product_attention(q, prism.randn(1, 4, 7), v)


def copy_mha(pm, tm, device):
    pm.load_state_dict({k: P(v) for k, v in tm.state_dict().items()})
    pm.to(device)


@pytest.mark.parametrize("device", all_devices())
@pytest.mark.parametrize("batch_first", [False, True])
def test_multihead_attention_matches_torch(device, batch_first):
    torch.manual_seed(0)
    E, H, L, S, B = 8, 2, 4, 6, 3
    tm = torch.nn.MultiheadAttention(E, H, batch_first=batch_first).double()
    pm = nn.MultiheadAttention(E, H, batch_first=batch_first)
    assert sorted(pm.state_dict().keys()) == sorted(tm.state_dict().keys())
    pm = pm.double()
    copy_mha(pm, tm, device)
    shape_q = (B, L, E) if batch_first else (L, B, E)
    shape_k = (B, S, E) if batch_first else (S, B, E)
    q = torch.randn(shape_q, dtype=torch.float64, requires_grad=True)
    k = torch.randn(shape_k, dtype=torch.float64, requires_grad=True)
    v = torch.randn(shape_k, dtype=torch.float64, requires_grad=True)
    kpm = torch.zeros(B, S, dtype=torch.bool)
    kpm[0, -2:] = True
    attn_bool = torch.zeros(L, S, dtype=torch.bool)
    attn_bool[1, 3] = True
    attn_float = torch.randn(B * H, L, S, dtype=torch.float64)
    for kw_t, need, avg in (
        ({}, True, True),
        ({"key_padding_mask": kpm}, True, False),
        ({"attn_mask": attn_bool, "key_padding_mask": kpm}, False, True),
        ({"attn_mask": attn_float}, True, True),
    ):
        for t in (q, k, v):
            t.grad = None
        tm.zero_grad()
        pm.zero_grad()
        to, tw = tm(q, k, v, need_weights=need, average_attn_weights=avg, **kw_t)
        pq, pk, pv = (P(t, device, True) for t in (q, k, v))
        kw_p = {n: P(m, device) for n, m in kw_t.items()}
        po, pw = pm(pq, pk, pv, need_weights=need, average_attn_weights=avg, **kw_p)
        close(po, to, 1e-9, 1e-9)
        if need:
            close(pw, tw, 1e-9, 1e-9)
        else:
            assert pw is None
        gout = torch.randn(to.shape, dtype=torch.float64)
        to.backward(gout)
        po.backward(P(gout, device))
        for p, t in ((pq, q), (pk, k), (pv, v)):
            close(p.grad, t.grad, 1e-8, 1e-8)
        pgrads = dict(pm.named_parameters())
        for n, tp in tm.named_parameters():
            close(pgrads[n].grad, tp.grad, 1e-8, 1e-8)


@pytest.mark.parametrize("device", all_devices())
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_encoder_layer_matches_torch(device, norm_first, activation):
    torch.manual_seed(1)
    tl = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=activation, batch_first=True,
                                          norm_first=norm_first).double()
    pl = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=activation, batch_first=True,
                                    norm_first=norm_first)
    assert sorted(pl.state_dict().keys()) == sorted(tl.state_dict().keys())
    pl.load_state_dict({k: P(v) for k, v in tl.state_dict().items()})
    pl.double()
    pl.to(device)
    x = torch.randn(3, 5, 8, dtype=torch.float64, requires_grad=True)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5).double()
    kpm = torch.zeros(3, 5, dtype=torch.bool)
    kpm[2, -1] = True
    ty = tl(x, src_mask=mask, src_key_padding_mask=kpm)
    px = P(x, device, True)
    py = pl(px, src_mask=P(mask, device), src_key_padding_mask=P(kpm, device))
    close(py, ty, 1e-9, 1e-9)
    gout = torch.randn(ty.shape, dtype=torch.float64)
    ty.backward(gout)
    py.backward(P(gout, device))
    close(px.grad, x.grad, 1e-8, 1e-8)
    pgrads = dict(pl.named_parameters())
    for n, tp in tl.named_parameters():
        close(pgrads[n].grad, tp.grad, 1e-8, 1e-8)
    # is_causal builds the same mask.
    close(pl(P(x, device), is_causal=True), tl(x, src_mask=mask), 1e-9, 1e-9)


def test_transformer_encoder_layer_dropout_modes():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.2)
    x = prism.randn(4, 2, 8)
    layer.train()
    assert not np.allclose(N(layer(x)), N(layer(x)))
    layer.eval()
    np.testing.assert_array_equal(N(layer(x)), N(layer(x)))
    with pytest.raises(RuntimeError, match="relu/gelu"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def test_bce_loss_matches_torch():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(4, 5, generator=g, dtype=torch.float64).clamp(0.01, 0.99).requires_grad_(True)
    y = (torch.rand(4, 5, generator=g) > 0.5).double()
    w = torch.rand(5, generator=g, dtype=torch.float64)
    for reduction in ("none", "mean", "sum"):
        x.grad = None
        t = torch.nn.BCELoss(weight=w, reduction=reduction)(x, y)
        px = P(x, requires_grad=True)
        p = nn.BCELoss(weight=P(w), reduction=reduction)(px, P(y))
        close(p, t, 1e-10, 1e-12)
        t.sum().backward()
        p.sum().backward()
        close(px.grad, x.grad, 1e-9, 1e-12)
    with pytest.raises(prism.Error, match="between 0 and 1"):
        F.binary_cross_entropy(prism.tensor([1.5]), prism.tensor([1.0]))


def test_sequence_losses_with_ignore_index_match_torch():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 6, 7, generator=g, dtype=torch.float64, requires_grad=True)  # (N, C, T)
    target = torch.randint(0, 6, (2, 7), generator=g)
    target[0, :3] = -1
    target[1, 5] = -1
    for fn in ("cross_entropy", "nll_loss"):
        logits.grad = None
        inp = logits if fn == "cross_entropy" else torch.log_softmax(logits, 1)
        t = getattr(torch.nn.functional, fn)(inp, target, ignore_index=-1)
        pl = P(logits, requires_grad=True)
        pin = pl if fn == "cross_entropy" else F.log_softmax(pl, 1)
        p = getattr(F, fn)(pin, P(target), ignore_index=-1)
        close(p, t, 1e-10, 1e-12)
        t.backward()
        p.backward()
        close(pl.grad, logits.grad, 1e-10, 1e-12)


# ---- gradient checkpointing ---------------------------------------------------------------


def _mlp(p):
    layers = []
    for _ in range(6):
        layers += [nn.Linear(16, 16), nn.ReLU(), nn.Dropout(p)]
    return nn.Sequential(*layers)


@pytest.mark.parametrize("device", all_devices())
def test_checkpoint_gradients_equal_plain_run_with_dropout(device):
    prism.manual_seed(0)
    model = _mlp(0.3).to(device)
    x = prism.randn(4, 16).to(device)

    def run(mode):
        model.zero_grad()
        prism.manual_seed(42)
        if mode == "plain":
            y = model(x)
        elif mode == "sequential":
            y = checkpoint_sequential(model, 3, x)
        else:
            h = checkpoint(lambda t, scale: model[:9](t) * scale, x, 1.0)  # a non-tensor argument
            y = model[9:](h)
        loss = (y * y).sum()
        loss.backward()
        return float(loss.item()), [N(p.grad) for p in model.parameters()]

    plain_loss, plain = run("plain")
    for mode in ("sequential", "function"):
        loss, grads = run(mode)
        assert loss == plain_loss
        for a, b in zip(grads, plain):
            np.testing.assert_array_equal(a, b)


def test_checkpoint_outputs_inputs_and_errors():
    w = prism.randn(3, 3, requires_grad=True)
    x = prism.randn(2, 3, requires_grad=True)
    a, b = checkpoint(lambda t: ((t @ w).tanh(), t * 2.0), x)
    assert a.grad_fn is not None
    (a.sum() + b.sum()).backward()
    gx, gw = N(x.grad), N(w.grad)
    x.grad = None
    w.grad = None
    a2, b2 = (x @ w).tanh(), x * 2.0
    (a2.sum() + b2.sum()).backward()
    np.testing.assert_allclose(gx, N(x.grad), rtol=1e-6)
    np.testing.assert_allclose(gw, N(w.grad), rtol=1e-6)

    class Boom(Exception):
        pass

    def bad(t):
        raise Boom("segment failed")

    with pytest.raises(Boom, match="segment failed"):
        checkpoint(bad, x)
    calls = []

    def flaky(t):
        calls.append(1)
        if len(calls) == 2:
            raise Boom("recompute failed")
        return t * 3.0

    y = checkpoint(flaky, x)
    with pytest.raises(prism.Error, match="checkpoint"):
        y.sum().backward()
    with prism.no_grad():
        z = checkpoint(lambda t: t * 2.0, x)
    assert z.grad_fn is None


def test_checkpoint_saves_memory_on_a_deep_mlp():
    width, depth, batch, segments = 128, 64, 128, 8
    prism.manual_seed(1)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.ReLU()]
    model = nn.Sequential(*layers)
    x = prism.randn(batch, width)

    def peak(ckpt):
        model.zero_grad(set_to_none=False)  # .grad kept: the peak above `base` is activations and temporaries
        prism.empty_cache("cpu")
        prism.reset_peak_memory_stats("cpu")
        base = prism.memory_stats("cpu")["allocated_bytes"]
        y = checkpoint_sequential(model, segments, x) if ckpt else model(x)
        y.sum().backward()
        del y
        return prism.memory_stats("cpu")["peak_allocated_bytes"] - base

    peak(False)
    plain, ck = peak(False), peak(True)
    print(f"deep MLP peak: {plain / 2**20:.2f} MiB plain, {ck / 2**20:.2f} MiB checkpointed")
    assert ck < 0.5 * plain
