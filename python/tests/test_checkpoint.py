"""prism.save / prism.load: nested checkpoints in one safetensors file, readable by any safetensors reader."""
from collections import Counter, OrderedDict
import io
import json
import math
import struct

import numpy as np
import pytest

import prism
import prism.nn as nn
import prism.optim as optim


def read_safetensors(path):
    """A reader written from the format's spec alone: 8-byte LE header size, JSON header, raw LE data."""
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8,
              "BOOL": np.bool_, "F16": np.float16, "I16": np.int16, "I8": np.int8}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return header, out


def make_training_state():
    prism.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 3))
    opt = optim.AdamW(model.parameters(), lr=1e-2)
    sched = optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 4], gamma=0.5)
    x, y = prism.randn(16, 4), prism.randint(0, 3, (16,))
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        sched.step()
    return model, opt, sched, x, y


def test_seed_checkpoint_round_trip(tmp_path):
    model, opt, sched, x, y = make_training_state()
    ckpt = {"epoch": 3, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
            "scheduler_state_dict": sched.state_dict(), "val_loss": 0.2}
    path = tmp_path / "checkpoint.pt"
    prism.save(ckpt, path)
    back = prism.load(path, map_location="cpu")
    assert back["epoch"] == 3 and back["val_loss"] == 0.2
    assert isinstance(back["model_state_dict"], OrderedDict)
    assert list(back["model_state_dict"]) == list(ckpt["model_state_dict"])
    for k, v in ckpt["model_state_dict"].items():
        assert back["model_state_dict"][k].dtype == v.dtype
        assert back["model_state_dict"][k].tolist() == v.tolist()
    osd = back["optimizer_state_dict"]
    assert sorted(osd["state"]) == sorted(ckpt["optimizer_state_dict"]["state"])  # int keys come back as ints
    assert all(isinstance(k, int) for k in osd["state"])
    assert osd["state"][0]["step"] == 3
    assert osd["param_groups"][0]["betas"] == (0.9, 0.999)  # tuples stay tuples
    assert isinstance(back["scheduler_state_dict"]["milestones"], Counter)

    # Resume: a fresh model / optimizer / scheduler loaded from the file continues exactly like the original.
    model2 = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 3))
    opt2 = optim.AdamW(model2.parameters(), lr=1e-2)
    sched2 = optim.lr_scheduler.MultiStepLR(opt2, milestones=[2, 4], gamma=0.5)
    model2.load_state_dict(back["model_state_dict"])
    opt2.load_state_dict(back["optimizer_state_dict"])
    sched2.load_state_dict(back["scheduler_state_dict"])
    for m, o, s in ((model, opt, sched), (model2, opt2, sched2)):
        for _ in range(2):
            o.zero_grad()
            nn.functional.cross_entropy(m(x), y).backward()
            o.step()
            s.step()
    for a, b in zip(model.parameters(), model2.parameters()):
        assert a.tolist() == b.tolist()
    assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]


def test_file_is_plain_safetensors(tmp_path):
    model, opt, _, _, _ = make_training_state()
    path = tmp_path / "ck.safetensors"
    prism.save({"model": model.state_dict(), "opt": opt.state_dict(), "note": "hi"}, path)
    header, tensors = read_safetensors(path)
    assert header["__metadata__"]["format"] == "pt"
    assert json.loads(header["__metadata__"]["prism.structure"])["note"] == "hi"
    assert "model.0.weight" in tensors and "opt.state.0.exp_avg" in tensors
    np.testing.assert_array_equal(tensors["model.0.weight"], model[0].weight.detach().numpy())
    np.testing.assert_array_equal(tensors["opt.state.1.exp_avg_sq"], opt.state[model[0].bias]["exp_avg_sq"].numpy())
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(tensors["model.3.weight"].copy())
    assert t.shape == torch.Size([3, 8])


def test_python_values_and_sharing(tmp_path):
    t = prism.arange(6, dtype=prism.float32).reshape(2, 3)
    obj = {"a": [1, 2.5, None, True, "s", (3, t)], "b": {1: "one", (2, 3): t}, "c": float("inf"),
           "d": float("nan"), "e": {"__tensor__": "not a tensor"}, "f": b"\x00\xff", "g": {1, 2},
           "h": prism.int64, "i": np.arange(4, dtype=np.int16), "j": t}
    path = tmp_path / "misc.pt"
    prism.save(obj, path)
    back = prism.load(path)
    assert back["a"][:5] == [1, 2.5, None, True, "s"]
    assert isinstance(back["a"][5], tuple) and back["a"][5][1].tolist() == t.tolist()
    assert back["b"][1] == "one" and back["b"][(2, 3)].tolist() == t.tolist()
    assert back["c"] == math.inf and math.isnan(back["d"])
    assert back["e"] == {"__tensor__": "not a tensor"}
    assert back["f"] == b"\x00\xff" and back["g"] == {1, 2} and back["h"] is prism.int64
    assert isinstance(back["i"], np.ndarray) and back["i"].dtype == np.int16 and back["i"].tolist() == [0, 1, 2, 3]
    # the same tensor object saved three times is stored once and comes back shared
    _, tensors = read_safetensors(path)
    assert len(tensors) == 2
    with prism.no_grad():
        back["j"].fill_(0.0)
    assert back["b"][(2, 3)].tolist() == [[0.0] * 3] * 2
    prism.save(t, path)
    assert prism.load(path).tolist() == t.tolist()


def test_parameters_requires_grad_and_file_objects(tmp_path):
    p = nn.Parameter(prism.ones(2))
    g = prism.zeros(3, requires_grad=True)
    buf = io.BytesIO()
    prism.save({"p": p, "g": g}, buf)
    buf.seek(0)
    back = prism.load(buf)
    assert isinstance(back["p"], nn.Parameter) and back["p"].requires_grad
    assert back["g"].requires_grad and not isinstance(back["g"], nn.Parameter)


def test_plain_safetensors_without_structure_loads_flat(tmp_path):
    # written by hand (as PyTorch's safetensors package would): a flat name -> tensor dict comes back
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1, 2], dtype=np.int64)
    header = {"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
              "b": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]}}
    raw = json.dumps(header).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    path = tmp_path / "plain.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + a.tobytes() + b.tobytes())
    back = prism.load(path)
    assert set(back) == {"a", "b"} and back["a"].tolist() == a.tolist() and back["b"].dtype == prism.int64


def test_errors(tmp_path):
    with pytest.raises(TypeError, match="cannot store an object of type object"):
        prism.save({"x": object()}, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()
    with pytest.raises(FileNotFoundError):
        prism.load(tmp_path / "missing.pt")
    with pytest.raises(FileNotFoundError):
        prism.save({"a": prism.ones(1)}, tmp_path / "no" / "such" / "dir.pt")
    prism.save({"only": [1, "two", None]}, tmp_path / "no_tensors.pt")  # a checkpoint without tensors
    assert prism.load(tmp_path / "no_tensors.pt") == {"only": [1, "two", None]}
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(RuntimeError):
        prism.load(bad)
