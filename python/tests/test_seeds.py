"""The seeds' Python examples (../shared/seeds) rewritten with `import prism`, checked against PyTorch's results.

Each test walks one chapter's snippets: tensors and creation, indexing, broadcasting, views and memory,
NumPy sharing, autograd, nn.Module, losses, optimizers and schedulers, DataLoader, checkpoints. Where the
seeds only print, the test compares the value with what torch gives for the same input.
"""
import numpy as np
import pytest

import prism
import prism.nn as nn
import prism.nn.functional as F
import prism.optim as optim
from prism.utils.data import DataLoader, TensorDataset

# The seed's Dataset lives in test_data.py so that DataLoader worker processes import a light module.
from test_data import ImageDataset, flip_image  # noqa: E402

torch = pytest.importorskip("torch")


def same(p, t):
    """prism tensor p holds the same values (and shape) as torch tensor t."""
    pa = p.detach().numpy() if isinstance(p, prism.Tensor) else np.asarray(p)
    ta = t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    assert pa.shape == ta.shape, (pa.shape, ta.shape)
    np.testing.assert_allclose(pa, ta, rtol=1e-5, atol=1e-6)


def P(t):
    return prism.from_numpy(t.detach().numpy().copy())


# ------------------------------------------------------------------ tensors and creation
def test_tensors_creation_and_shapes():
    x = prism.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.tolist() == torch.tensor([[1.0, 2.0], [3.0, 4.0]]).tolist()
    assert tuple(prism.zeros(3, 4).shape) == (3, 4)
    same(prism.arange(0, 10, 2), torch.arange(0, 10, 2))
    same(prism.linspace(0, 1, steps=5), torch.linspace(0, 1, steps=5))
    x = prism.randn(2, 3, 4)
    assert tuple(x.shape) == (2, 3, 4) and x.ndim == 3 and x.numel() == 24
    assert x.shape == prism.Size([2, 3, 4]) and x.size() == (2, 3, 4)
    x = prism.randn(6, 4)
    assert tuple(x.view(24).shape) == (24,) and tuple(x.reshape(24).shape) == (24,)
    assert tuple(x.unsqueeze(0).shape) == (1, 6, 4)
    assert tuple(prism.ones(1, 3, 1).squeeze().shape) == (3,)
    assert tuple(x.permute(1, 0).shape) == (4, 6) and tuple(x.transpose(0, 1).shape) == (4, 6)
    ones = prism.ones(2, 3, 4, dtype=prism.int)
    assert ones.dtype == prism.int32
    assert prism.ones(2, 3, 4, dtype=prism.double).dtype == prism.float64
    assert prism.ones(2, 3, 4, dtype=prism.float32).dtype == prism.float32
    x = prism.randn(3, 3)
    assert x.dtype == prism.float32
    assert x.to(prism.float16).dtype == prism.float16 and x.half().dtype == prism.float16
    assert x.bfloat16().dtype == prism.bfloat16 and x.long().dtype == prism.int64
    assert x.cpu().tolist() == x.tolist()
    # arithmetic spellings (seed 002)
    a = prism.rand(2, 2)
    b = prism.rand(2, 2)
    ta, tb = torch.from_numpy(a.numpy().copy()), torch.from_numpy(b.numpy().copy())
    same(a + b, ta + tb)
    same(prism.add(a, b), torch.add(ta, tb))
    same(a - b, ta - tb)
    same(prism.sub(a, b), torch.sub(ta, tb))
    same(a * b, ta * tb)
    same(prism.mul(a, b), torch.mul(ta, tb))
    same(a / b, ta / tb)
    same(prism.div(a, b), torch.div(ta, tb))
    b.add_(a)
    tb.add_(ta)
    same(b, tb)
    a1 = a
    a.sub_(b)
    assert a1 is a
    # matmul, batched matmul and reductions (seed 004)
    x, w = torch.randn(3, 4), torch.randn(4, 5)
    same(P(x) @ P(w), x @ w)
    A, B = torch.randn(8, 3, 4), torch.randn(8, 4, 5)
    same(P(A) @ P(B), A @ B)
    a = torch.randn(3, 4)
    same(P(a).sum(), a.sum())
    same(P(a).sum(dim=0), a.sum(dim=0))
    same(P(a).sum(dim=1, keepdim=True), a.sum(dim=1, keepdim=True))
    same(P(a).argmax(dim=1), a.argmax(dim=1))
    res = prism.tensor([[1, 9, 3], [4, 6, 2]])
    flat_idx = res.argmax()
    assert divmod(flat_idx.item(), res.shape[1]) == (0, 1)
    # comparisons (seed 001)
    a, b = prism.tensor([1.0, 2.0, 3.0]), prism.tensor([1.0, 2.0000001, 3.0])
    ta, tb = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0000001, 3.0])
    assert (a == b).tolist() == (ta == tb).tolist()
    assert prism.equal(a, b) == torch.equal(ta, tb)
    assert prism.allclose(a, b) == torch.allclose(ta, tb)
    x, y = prism.tensor([1, 2]), prism.tensor([3, 4])
    assert prism.cat((x, y)).tolist() == [1, 2, 3, 4]


def test_mixed_devices_raise_runtime_error():
    others = [str(d) for d in prism.devices() if not str(d).startswith("cpu")]
    if not others:
        pytest.skip("skipped: only the CPU device is loaded")
    a = prism.randn(3).to(others[0])
    b = prism.randn(3)
    with pytest.raises(RuntimeError):
        a + b


# ------------------------------------------------------------------ indexing
def test_indexing_chapter():
    t = prism.tensor([[1, 2, 3], [4, 5, 6]])
    assert t[1, 2].item() == 6
    t[0, 1] = 99
    assert t.tolist() == [[1, 99, 3], [4, 5, 6]]
    x, tx = prism.arange(9).view(3, 3), torch.arange(9).view(3, 3)
    same(x[:2, -2:], tx[:2, -2:])
    same(x[::2, :], tx[::2, :])
    same(x[x > 4], tx[tx > 4])
    rows, cols = [0, 2], [1, 0]
    same(x[prism.tensor(rows), prism.tensor(cols)], tx[torch.tensor(rows), torch.tensor(cols)])
    same(x[x[:, 0] > 1, 0], tx[tx[:, 0] > 1, 0])
    same(prism.where(x > 2, x, prism.tensor(-1)), torch.where(tx > 2, tx, torch.tensor(-1)))
    same(x.masked_select(x > 2), torch.masked_select(tx, tx > 2))
    same(x.take(prism.tensor([2, 5])), tx.take(torch.tensor([2, 5])))
    x[x > 4] = 0
    tx[tx > 4] = 0
    same(x, tx)
    x[1:, 1:] += 10
    tx[1:, 1:] += 10
    same(x, tx)
    image = prism.rand(3, 256, 256)
    assert tuple(image[:, 50:200, 30:-30].shape) == (3, 150, 196)
    assert tuple(prism.rand(32, 10)[:5].shape) == (5, 10)
    mask = prism.ones(50, 50).triu(diagonal=1).bool()
    same(mask, torch.triu(torch.ones(50, 50), diagonal=1).bool())
    x = prism.arange(9).view(3, 3)
    same(x[[0, 0], [1, 2]], torch.arange(9).view(3, 3)[[0, 0], [1, 2]])
    M, tM = prism.arange(1, 13).reshape(3, 4), torch.arange(1, 13).reshape(3, 4)
    same(M[1, :], tM[1, :])
    same(M[:, 2], tM[:, 2])
    same(M[[0, 2], :], tM[[0, 2], :])
    same(M[M % 2 == 0], tM[tM % 2 == 0])
    assert tuple(M[0:1, :].shape) == (1, 4)
    x = prism.randn(4, 8)
    assert tuple(x[0].shape) == (8,) and tuple(x[:, 2].shape) == (4,) and tuple(x[1:3, 4:6].shape) == (2, 2)


def test_index_fill_seed_snippet():
    x, tx = prism.arange(9).view(3, 3), torch.arange(9).view(3, 3)
    x.index_fill_(1, prism.tensor([0, 2]), -1)
    tx.index_fill_(1, torch.tensor([0, 2]), -1)
    same(x, tx)


# ------------------------------------------------------------------ broadcasting
def test_broadcasting_chapter():
    same(prism.tensor([1, 2, 3]) + 5, torch.tensor([1, 2, 3]) + 5)
    a, b = torch.rand(3, 4), torch.rand(4)
    same(P(a) + P(b), a + b)
    with pytest.raises(RuntimeError):
        prism.rand(3, 4, 5) + prism.rand(3, 5)
    with pytest.raises(RuntimeError):
        prism.rand(2, 3) + prism.rand(3, 2)
    same(P(a) + P(b).unsqueeze(0).expand(3, 4), a + b.unsqueeze(0).expand(3, 4))
    assert prism.tensor([1, 2, 3]).expand(2, 3).tolist() == [[1, 2, 3], [1, 2, 3]]
    images = torch.rand(4, 3, 8, 8)
    mean = torch.tensor([0.5, 0.5, 0.5])
    same(P(images) - P(mean).view(1, 3, 1, 1), images - mean.view(1, 3, 1, 1))
    out, bias = torch.rand(10, 50), torch.rand(50)
    pout = P(out)
    pout += P(bias)
    out += bias
    same(pout, out)
    a, b = prism.rand(3, 1), prism.rand(3, 4)
    assert tuple((a + b).shape) == (3, 4)
    assert tuple((prism.tensor([1.0, 2.0, 3.0]) + 10).shape) == (3,)
    b = prism.rand(3, 5)
    assert tuple(b[:, :4].shape) == (3, 4) and tuple(b.unsqueeze(1).expand(3, 4, 5).shape) == (3, 4, 5)


# ------------------------------------------------------------------ views and memory
def test_views_memory_and_strides():
    a = prism.tensor([[1, 2], [3, 4]])
    b = a.view(4)
    a[0, 0] = 99
    assert b.tolist() == [99, 2, 3, 4]
    c = a.clone()
    a[0, 0] = 0
    assert c[0, 0].item() == 99
    a = prism.rand(3, 3)
    assert a.is_contiguous() and not a.t().is_contiguous()
    x = prism.rand(3, 4)
    assert x.stride() == (4, 1)
    y = x.t()
    assert y.stride() == (1, 4) and not y.is_contiguous()
    z = y.contiguous()
    assert z.stride() == (3, 1) and z.is_contiguous()
    t = prism.arange(6)
    v = t.view(2, 3)
    v[0, 0] = 99
    assert t[0].item() == 99
    v_copy = v.clone()
    v_copy[0, 0] = -1
    assert t[0].item() == 99
    x = prism.arange(6).reshape(2, 3).transpose(0, 1)
    with pytest.raises(RuntimeError):
        x.view(6)
    assert x.contiguous().view(3, 2).tolist() == torch.arange(6).reshape(2, 3).transpose(0, 1).tolist()
    assert x.reshape(-1).tolist() == [0, 3, 1, 4, 2, 5]
    tx = torch.rand(2, 3, 4)
    px = P(tx)
    same(px.unfold(1, 2, 1), tx.unfold(1, 2, 1))
    same(px.as_strided((2, 6), (12, 2)), tx.as_strided(size=(2, 6), stride=(12, 2)))
    with prism.no_grad():
        y = nn.Linear(3, 2)(prism.randn(4, 3))
    assert not y.requires_grad
    # x.data += 1 bypasses autograd
    x = prism.rand(3, 3, requires_grad=True)
    before = x.detach().clone()
    x.data += 1
    np.testing.assert_allclose((x.detach() - before).numpy(), np.ones((3, 3), np.float32), rtol=1e-6)


# ------------------------------------------------------------------ NumPy sharing
def test_numpy_shares_memory():
    a = prism.ones(5)
    b = a.numpy()
    assert isinstance(b, np.ndarray) and b.tolist() == [1.0] * 5
    a[0] = 2
    assert b.tolist() == [2.0, 1, 1, 1, 1]
    a.add_(1)
    assert b.tolist() == [3.0, 2, 2, 2, 2]
    x = np.ones(5)
    y = prism.from_numpy(x)
    x += 1
    assert y.tolist() == [2.0] * 5 and y.dtype == prism.float64
    x = np.ones(5)
    y = prism.tensor(x)
    x += 1
    assert y.tolist() == [1.0] * 5
    a = prism.ones(5)
    b = a.clone().numpy()
    a[0] = 9
    assert b.tolist() == [1.0] * 5
    arr = np.arange(5)
    t = prism.from_numpy(arr)
    arr[0] = 99
    assert t[0].item() == 99
    a = np.arange(3, dtype=np.int64)
    t = prism.from_numpy(a)
    assert t.dtype == prism.int64 and t.float().mean().item() == 1.0
    x = prism.rand(3, 4)
    assert x.numpy().shape == (3, 4) and x[1, 2].item() == pytest.approx(float(x.numpy()[1, 2]))


# ------------------------------------------------------------------ autograd
def test_autograd_chapter():
    x = prism.tensor(2.0, requires_grad=True)
    y = x ** 2 + 3 * x + 1
    y.backward()
    assert x.grad.item() == 7.0
    a = prism.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = prism.tensor([4.0, 5.0, 6.0], requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.tolist() == [4.0, 5.0, 6.0] and b.grad.tolist() == [1.0, 2.0, 3.0]
    z = (x ** 2).sum()
    assert "SumBackward" in z.grad_fn.name() and "PowBackward" in z.grad_fn.next_functions[0][0].name()
    x = prism.ones(5, requires_grad=True)
    y = x + 2
    assert y.requires_grad and "AddBackward" in repr(y.grad_fn)
    y.sum().backward()
    assert x.grad.tolist() == [1.0] * 5
    # gradients accumulate until zeroed
    w = prism.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(3):
        (w * w).sum().backward()
    assert w.grad.tolist() == [6.0, 12.0]
    # detach and no_grad
    d = (w * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    with prism.no_grad():
        assert not (w * 2).requires_grad

    @prism.no_grad()
    def evaluate(t):
        return t * 3
    assert not evaluate(w).requires_grad
    with pytest.raises(RuntimeError):
        w.numpy()  # needs detach() first, as in PyTorch
    assert w.detach().cpu().numpy().tolist() == [1.0, 2.0]
    # freezing parameters
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1))
    for p in model[0].parameters():
        p.requires_grad_(False)
    opt = optim.AdamW(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-3)
    assert sum(len(g["params"]) for g in opt.param_groups) == 2
    model(prism.randn(2, 3)).sum().backward()
    assert model[0].weight.grad is None and model[1].weight.grad is not None


def test_nan_hook_and_anomaly_from_seed():
    model = nn.Linear(2, 1)

    def nan_hook(grad):
        if prism.isnan(grad).any():
            raise RuntimeError(f"NaN gradient detected: {grad}")
    for param in model.parameters():
        param.register_hook(nan_hook)
    out = model(prism.tensor([[float("nan"), 1.0]])).sum()
    with pytest.raises(RuntimeError, match="NaN"):
        out.backward()


# ------------------------------------------------------------------ nn.Module
class MLP(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim):
        super().__init__()
        self.fc1 = nn.Linear(input_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, output_dim)
        self.dropout = nn.Dropout(p=0.1)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = self.dropout(x)
        return self.fc2(x)


def test_module_chapter():
    model = MLP(784, 256, 10)
    logits = model(prism.randn(32, 784))
    assert tuple(logits.shape) == (32, 10)
    names = [(n, tuple(p.shape), p.requires_grad) for n, p in model.named_parameters()]
    assert names == [("fc1.weight", (256, 784), True), ("fc1.bias", (256,), True), ("fc2.weight", (10, 256), True),
                     ("fc2.bias", (10,), True)]
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 203530
    model.eval()
    a, b = model(prism.ones(2, 784)), model(prism.ones(2, 784))
    assert a.tolist() == b.tolist()  # dropout off in eval
    model.train()
    encoder = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.1), nn.Linear(256, 128), nn.ReLU())
    assert tuple(encoder(prism.randn(4, 784)).shape) == (4, 128)

    class Stack(nn.Module):
        def __init__(self, num_layers, d_model):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(d_model, d_model) for _ in range(num_layers)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x
    s = Stack(3, 8)
    assert len(list(s.parameters())) == 6 and tuple(s(prism.randn(2, 8)).shape) == (2, 8)

    def init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    net = nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    net.apply(init_weights)
    assert net[2].bias.tolist() == [0.0, 0.0] and net[1].weight.tolist() == [1.0] * 4
    assert net[0].weight.detach().numpy().std() < 0.05

    # DebugLayer and forward hooks from the debugging chapter
    lines = []

    class DebugLayer(nn.Module):
        def __init__(self, name):
            super().__init__()
            self.name = name

        def forward(self, x):
            lines.append(f"[{self.name}] shape={tuple(x.shape)}, dtype={x.dtype}")
            return x
    m = nn.Sequential(nn.Linear(3, 2), DebugLayer("after fc"))
    hooks = [layer.register_forward_hook(lambda mod, inp, out, n=name: lines.append(f"{n}: {tuple(out.shape)}"))
             for name, layer in m.named_modules()]
    m(prism.randn(5, 3))
    for h in hooks:
        h.remove()
    m(prism.randn(5, 3))
    assert lines[:4] == ["0: (5, 2)", "[after fc] shape=(5, 2), dtype=prism.float32", "1: (5, 2)", ": (5, 2)"]
    assert len(lines) == 5


# ------------------------------------------------------------------ losses
def test_loss_chapter_against_torch():
    torch.manual_seed(0)
    logits, labels = torch.randn(6, 3), torch.randint(0, 3, (6,))
    same(nn.CrossEntropyLoss()(P(logits), P(labels)), torch.nn.CrossEntropyLoss()(logits, labels))
    w = torch.tensor([1.0, 2.0, 5.0])
    same(nn.CrossEntropyLoss(weight=P(w))(P(logits), P(labels)), torch.nn.CrossEntropyLoss(weight=w)(logits, labels))
    bl, by = torch.randn(6, 1), torch.randint(0, 2, (6,))
    same(nn.BCEWithLogitsLoss()(P(bl).squeeze(), P(by).float()),
         torch.nn.BCEWithLogitsLoss()(bl.squeeze(), by.float()))
    a, b = torch.randn(4, 2), torch.randn(4, 2)
    same(nn.MSELoss()(P(a), P(b)), torch.nn.MSELoss()(a, b))
    same(nn.L1Loss()(P(a), P(b)), torch.nn.L1Loss()(a, b))
    same(nn.HuberLoss(delta=1.0)(P(a), P(b)), torch.nn.HuberLoss(delta=1.0)(a, b))
    seq = labels.clone()
    seq[0] = -100
    same(nn.CrossEntropyLoss(ignore_index=-100)(P(logits), P(seq)),
         torch.nn.CrossEntropyLoss(ignore_index=-100)(logits, seq))
    same(nn.CrossEntropyLoss(label_smoothing=0.1)(P(logits), P(labels)),
         torch.nn.CrossEntropyLoss(label_smoothing=0.1)(logits, labels))
    current, target = torch.randn(5), torch.randn(5)
    same(F.mse_loss(P(current), P(target).detach()), torch.nn.functional.mse_loss(current, target.detach()))


# ------------------------------------------------------------------ optimizers and schedulers
def test_optimizer_chapter():
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    for opt in (optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4),
                optim.Adam(model.parameters(), lr=3e-4, betas=(0.9, 0.999), eps=1e-8),
                optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1)):
        opt.zero_grad()
        model(prism.randn(3, 4)).sum().backward()
        before = [p.detach().clone() for p in model.parameters()]
        opt.step()
        assert all(not prism.equal(a, p) for a, p in zip(before, model.parameters()))
    opt = optim.AdamW([{"params": model[0].parameters(), "lr": 1e-5}, {"params": model[1].parameters(), "lr": 1e-3}],
                      weight_decay=0.01)
    assert [g["lr"] for g in opt.param_groups] == [1e-5, 1e-3]
    assert all(g["weight_decay"] == 0.01 for g in opt.param_groups)
    total_steps, warmup = 20, 5
    for make in (lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max=total_steps),
                 lambda o: optim.lr_scheduler.OneCycleLR(o, max_lr=3e-4, total_steps=total_steps),
                 lambda o: optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=warmup)):
        o = optim.AdamW(model.parameters(), lr=3e-4)
        s = make(o)
        tp = torch.nn.Parameter(torch.zeros(1))
        to = torch.optim.AdamW([tp], lr=3e-4)
        ts = {"CosineAnnealingLR": lambda: torch.optim.lr_scheduler.CosineAnnealingLR(to, T_max=total_steps),
              "OneCycleLR": lambda: torch.optim.lr_scheduler.OneCycleLR(to, max_lr=3e-4, total_steps=total_steps),
              "LinearLR": lambda: torch.optim.lr_scheduler.LinearLR(to, start_factor=0.1, total_iters=warmup)}[
            type(s).__name__]()
        for _ in range(total_steps - 1):
            o.step()
            to.step()
            s.step()
            ts.step()
            assert s.get_last_lr()[0] == pytest.approx(ts.get_last_lr()[0], rel=1e-12)
    o = optim.SGD(model.parameters(), lr=0.1)
    s = optim.lr_scheduler.ReduceLROnPlateau(o, patience=5, factor=0.5)
    for _ in range(7):
        s.step(1.0)
    assert o.param_groups[0]["lr"] == 0.05


def test_training_loop_with_clipping_and_accumulation():
    prism.manual_seed(0)
    x = prism.randn(64, 10)
    y = (x[:, 0] > 0).to(prism.int64)
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))
    optimizer = optim.AdamW(model.parameters(), lr=3e-2, weight_decay=0.01)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=100)
    criterion = nn.CrossEntropyLoss()
    device = prism.device("cpu")

    def train_epoch():
        model.train()
        total = 0.0
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            loss = criterion(model(inputs), targets)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            total += loss.item()
        return total / len(loader)

    @prism.no_grad()
    def evaluate():
        model.eval()
        correct, total = 0, 0
        for inputs, targets in loader:
            preds = model(inputs).argmax(dim=1)
            correct += (preds == targets).sum().item()
            total += targets.size(0)
        return correct / total
    first = train_epoch()
    for _ in range(11):
        last = train_epoch()
    assert last < 0.5 * first and evaluate() > 0.85
    # gradient accumulation equals one big batch
    m1 = nn.Linear(10, 2)
    m2 = nn.Linear(10, 2)
    m2.load_state_dict(m1.state_dict())
    yb = y[:16]
    criterion(m1(x[:16]), yb).backward()
    for i in range(0, 16, 4):
        (criterion(m2(x[i:i + 4]), yb[i:i + 4]) / 4).backward()
    np.testing.assert_allclose(m1.weight.grad.numpy(), m2.weight.grad.numpy(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ DataLoader
def test_dataloader_chapter():
    rng = np.random.default_rng(0)
    images = [rng.random((1, 4, 4)).astype(np.float32) for _ in range(40)]
    labels = list(rng.integers(0, 3, 40))
    ds = ImageDataset(images, [int(v) for v in labels], transform=flip_image)
    loader = DataLoader(ds, batch_size=32, shuffle=False, num_workers=2, pin_memory=True, drop_last=True,
                        prefetch_factor=2, persistent_workers=True)
    tloader = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=False, num_workers=0, drop_last=True)
    got = [(x.numpy(), y.tolist()) for x, y in loader]
    want = [(x.numpy(), y.tolist()) for x, y in tloader]
    assert len(got) == len(want) == 1
    np.testing.assert_array_equal(got[0][0], want[0][0])
    assert got[0][1] == want[0][1]


# ------------------------------------------------------------------ checkpoints
def test_checkpoint_chapter(tmp_path):
    model = MLP(8, 6, 3)
    optimizer = optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)
    model(prism.randn(4, 8)).sum().backward()
    optimizer.step()
    scheduler.step()
    epoch, val_loss = 3, 0.2
    checkpoint = {"epoch": epoch, "model_state_dict": model.state_dict(),
                  "optimizer_state_dict": optimizer.state_dict(), "scheduler_state_dict": scheduler.state_dict(),
                  "val_loss": val_loss}
    prism.save(checkpoint, tmp_path / "checkpoint.pt")
    device = prism.device("cpu")
    checkpoint = prism.load(tmp_path / "checkpoint.pt", map_location=device)
    model2 = MLP(8, 6, 3)
    opt2 = optim.AdamW(model2.parameters(), lr=3e-4, weight_decay=0.01)
    model2.load_state_dict(checkpoint["model_state_dict"])
    opt2.load_state_dict(checkpoint["optimizer_state_dict"])
    start_epoch = checkpoint["epoch"] + 1
    assert start_epoch == 4 and checkpoint["val_loss"] == 0.2
    for a, b in zip(model.parameters(), model2.parameters()):
        assert a.tolist() == b.tolist()
    # the tensor part is a plain safetensors file (what safetensors.torch.load_file reads)
    import json
    import struct
    raw = (tmp_path / "checkpoint.pt").read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    info = header["model_state_dict.fc1.weight"]
    a, b = info["data_offsets"]
    w = np.frombuffer(raw[8 + n + a:8 + n + b], np.float32).reshape(info["shape"])
    t = torch.from_numpy(w.copy())
    same(model.fc1.weight, t)


def test_reproducibility_seed():
    def set_seed(seed=42):
        import random
        random.seed(seed)
        np.random.seed(seed)
        prism.manual_seed(seed)
    set_seed(42)
    a = prism.rand(3, 3)
    set_seed(42)
    b = prism.rand(3, 3)
    assert a.tolist() == b.tolist()
