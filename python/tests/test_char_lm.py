"""The character-level language model example (examples/python/char_lm.py) against PyTorch from the same weights."""
import importlib.util
import os

import numpy as np
import pytest

import prism

from _helpers import extra_devices

torch = pytest.importorskip("torch")

_EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python", "char_lm.py")
_spec = importlib.util.spec_from_file_location("char_lm", _EXAMPLE)
char_lm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(char_lm)

D_MODEL, HEADS, LAYERS, BLOCK, BATCH, LR, SEED = 32, 4, 2, 32, 16, 3e-3, 0


class TorchCharLM(torch.nn.Module):
    """The example's model in PyTorch 1.13 (same module names, so the state dicts match)."""

    def __init__(self, vocab):
        super().__init__()
        self.tok = torch.nn.Embedding(vocab, D_MODEL)
        self.pos = torch.nn.Embedding(BLOCK, D_MODEL)
        self.layers = torch.nn.ModuleList([
            torch.nn.TransformerEncoderLayer(D_MODEL, HEADS, 4 * D_MODEL, dropout=0.0, activation="gelu",
                                             batch_first=True, norm_first=True) for _ in range(LAYERS)])
        self.norm = torch.nn.LayerNorm(D_MODEL)
        self.head = torch.nn.Linear(D_MODEL, vocab)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(T))
        mask = torch.nn.Transformer.generate_square_subsequent_mask(T)
        for layer in self.layers:
            x = layer(x, src_mask=mask)
        return self.head(self.norm(x))


def torch_losses(model, data, steps):
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    out = []
    for x, y in char_lm.batches(data, steps, BATCH, BLOCK, SEED):
        logits = model(torch.from_numpy(x))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(y).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append(float(loss.item()))
    return out


@pytest.fixture(scope="module")
def reference():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    chars, _ = char_lm.vocabulary()
    tm = TorchCharLM(len(chars))
    state = {k: v.detach().clone() for k, v in tm.state_dict().items()}
    losses = torch_losses(tm, char_lm.encode(), 100)
    return len(chars), state, losses


def prism_model(vocab, state, device):
    pm = char_lm.CharLM(vocab, D_MODEL, HEADS, LAYERS, BLOCK, 0.0)
    assert sorted(pm.state_dict().keys()) == sorted(state.keys())
    pm.load_state_dict({k: prism.tensor(v.numpy()) for k, v in state.items()})
    return pm.to(device)


def test_first_100_losses_match_pytorch(reference):
    vocab, state, want = reference
    got = char_lm.train(prism_model(vocab, state, "cpu"), char_lm.encode(), 100, BATCH, BLOCK, LR, SEED)
    np.testing.assert_allclose(got, want, rtol=1e-4)
    assert got[-1] < 0.8 * got[0]  # it learns


@pytest.mark.parametrize("device", extra_devices())
def test_first_losses_match_pytorch_on_other_devices(reference, device):
    vocab, state, want = reference
    got = char_lm.train(prism_model(vocab, state, device), char_lm.encode(), 5, BATCH, BLOCK, LR, SEED, device)
    np.testing.assert_allclose(got, want[:5], rtol=1e-4)


def test_example_runs_with_dropout_and_generates(capsys):
    assert char_lm.main(["--steps", "30", "--dropout", "0.1", "--sample", "20", "--layers", "1"]) == 0
    out = capsys.readouterr().out
    assert "step   29" in out and "'Prism " in out
