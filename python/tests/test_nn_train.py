"""Short Fashion-MNIST training through examples/python/train_fashion_mnist.py: the loss falls, accuracy rises."""
import functools
import importlib.util
import os
import pathlib

import pytest

import prism

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = "/usr/share/datasets/fashion-mnist"
pytestmark = pytest.mark.skipif(not os.path.isdir(DATA), reason=f"skipped: {DATA} not found (dataset-fashion-mnist)")


@functools.lru_cache(maxsize=None)
def load_example():
    spec = importlib.util.spec_from_file_location("train_fashion_mnist",
                                                  ROOT / "examples" / "python" / "train_fashion_mnist.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_few_hundred_steps_learn():
    ex = load_example()
    prism.manual_seed(0)
    x, y = ex.load_split(DATA, "train", limit=19200)
    tx, ty = ex.load_split(DATA, "t10k")
    tx, ty = tx[:2000], ty[:2000]
    model = ex.make_mlp()
    opt = prism.optim.Adam(model.parameters(), lr=1e-3)
    loader = prism.utils.data.DataLoader(prism.utils.data.TensorDataset(x, y), batch_size=64, shuffle=True)
    losses = []
    for xb, yb in loader:
        opt.zero_grad()
        loss = prism.nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert len(losses) == 300
    first, last = sum(losses[:30]) / 30, sum(losses[-30:]) / 30
    assert last < 0.6 * first, (first, last)
    assert ex.accuracy(model, tx, ty, "cpu") > 0.78


def test_example_script_end_to_end(tmp_path, capsys):
    ex = load_example()
    rc = ex.main(["--epochs", "1", "--limit", "1280", "--checkpoint", str(tmp_path), "--device", "cpu"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "epoch 1: " in out and "test accuracy" in out and "reloaded accuracy" in out
    ckpt = prism.load(tmp_path / "fashion_mnist_mlp_python.safetensors")
    assert ckpt["epoch"] == 1 and set(ckpt) == {"epoch", "model_state_dict", "optimizer_state_dict",
                                                "test_accuracy"}
    assert ckpt["test_accuracy"] > 0.5
