"""prism.profiler: a CNN training step recorded on every device, its Chrome trace validated as JSON against
the Trace Event Format (the same checks accept PyTorch's own trace), and the summary against the trace."""

import collections
import json

import pytest

import prism
from prism import nn
from _helpers import all_devices, torch


def check_chrome_trace(doc, tol=1e-3):
    """Schema checks of the Trace Event Format (what chrome://tracing and Perfetto load): the JSON object
    form {"traceEvents": [...]} or the array form (PyTorch 1.13 writes that one). Returns the complete ("X")
    events. tol: microseconds a child may overrun its parent by rounding (PyTorch writes whole ones)."""
    events = doc if isinstance(doc, list) else doc["traceEvents"]
    assert isinstance(events, list)
    complete = []
    for e in events:
        assert isinstance(e, dict)
        assert isinstance(e.get("name"), str) and e["name"], e
        assert isinstance(e.get("ph"), str), e
        if e["ph"] != "X":
            continue
        for key in ("ts", "dur"):
            assert isinstance(e[key], (int, float)) and not isinstance(e[key], bool) and e[key] >= 0, e
        assert isinstance(e["pid"], (int, str)) and isinstance(e["tid"], (int, str)), e
        assert isinstance(e.get("args", {}), dict), e
        complete.append(e)
    # complete events of one thread nest properly (no partial overlap), as the viewers require
    by_tid = collections.defaultdict(list)
    for e in complete:
        by_tid[(e["pid"], e["tid"])].append(e)
    for evs in by_tid.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []
        for e in evs:
            while stack and e["ts"] >= stack[-1]["ts"] + stack[-1]["dur"] - tol:
                stack.pop()
            if stack:
                assert e["ts"] + e["dur"] <= stack[-1]["ts"] + stack[-1]["dur"] + tol, (e, stack[-1])
            stack.append(e)
    return complete


def small_cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10))


@pytest.fixture(autouse=True)
def _allow_fallback():
    old = prism.get_fallback_policy()
    prism.set_fallback_policy("allow")
    yield
    prism.set_fallback_policy(old)


@pytest.mark.parametrize("device", all_devices())
def test_training_step_trace_and_summary(device, tmp_path):
    prism.manual_seed(0)
    model = small_cnn().to(device)
    opt = prism.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = prism.randn(2, 1, 8, 8).to(device)
    y = prism.tensor([3, 7]).to(device)
    with prism.profiler.profile(record_shapes=True) as prof:
        with prism.profiler.record_function("train_step"):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    with open(path) as f:
        doc = json.load(f)
    assert isinstance(doc, dict) and doc["displayTimeUnit"] == "ms"
    complete = check_chrome_trace(doc)
    assert all(isinstance(e["pid"], int) and isinstance(e["tid"], int) for e in complete)
    assert {e["name"] for e in doc["traceEvents"] if e["ph"] == "M"} >= {"process_name", "thread_name"}
    ops = [e for e in complete if e["cat"] == "op"]
    ranges = [e for e in complete if e["cat"] == "user_range"]
    assert [r["name"] for r in ranges] == ["train_step"]
    for e in ops:
        a = e["args"]
        assert a["device"] in (prism.device(device).__str__(), "cpu:0")
        assert isinstance(a["input_shapes"], list) and all(isinstance(s, list) for s in a["input_shapes"])
        assert isinstance(a["bytes_allocated"], int) and a["bytes_allocated"] >= 0
        assert ranges[0]["ts"] <= e["ts"] + 1e-3 and e["ts"] + e["dur"] <= ranges[0]["ts"] + ranges[0]["dur"] + 1e-3
    conv = [e for e in ops if e["name"] == "conv2d"]
    assert len(conv) == 1 and conv[0]["args"]["input_shapes"][:2] == [[2, 1, 8, 8], [4, 1, 3, 3]]
    # the summary (key_averages) lists every op of the trace with its count
    counts = collections.Counter(e["name"] for e in ops)
    averages = {a.key: a for a in prof.key_averages() if not a.is_user_range}
    assert {k: a.count for k, a in averages.items()} == dict(counts)
    for name in ("conv2d", "max_pool2d", "max_pool2d_backward", "conv2d_backward_weight"):
        assert counts[name] == 1, name
    table = prof.key_averages().table(sort_by="cpu_time_total", row_limit=0)
    rows = [line.split() for line in table.splitlines()[3:-2]]
    assert {r[0] for r in rows} == set(counts) | {"train_step"}
    totals = [a.cpu_time_total for a in sorted(prof.key_averages(), key=lambda a: -a.cpu_time_total)]
    assert [r[0] for r in rows] == [a.key for a in sorted(prof.key_averages(), key=lambda a: -a.cpu_time_total)]
    assert totals == sorted(totals, reverse=True)
    for r in rows:
        if r[0] in counts:
            assert int(r[6]) == counts[r[0]], r
    if device.startswith("emu"):  # no conv2d kernel on emu: it ran on the CPU plugin
        assert conv[0]["args"]["fallback"] == "cpu:0"
        assert averages["conv2d"].fallbacks == 1
    if device.startswith("opencl"):  # events: device time measured
        assert all("device_time_us" in e["args"] for e in ops if "fallback" not in e["args"])


def test_known_op_sequence():
    a = prism.tensor([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]])
    b = prism.ones(2, 3)
    with prism.profiler.profile() as prof:
        c = prism.relu(a + b * a)
    assert [e.name for e in prof.events()] == ["mul", "add", "relu"]
    e = prof.events()[0]
    assert e.input_shapes == [[2, 3], [2, 3]] and e.device == "cpu:0" and e.dtype == "float32"
    assert e.cpu_memory_usage >= 24 and e.cpu_time > 0
    assert c.tolist() == [[2.0, 0.0, 6.0], [0.0, 10.0, 0.0]]
    averages = prof.key_averages()
    assert [(a.key, a.count) for a in averages] == [("mul", 1), ("add", 1), ("relu", 1)]
    assert "relu" in str(prof) and "# of Calls" in prof.table()


def test_group_by_input_shape_and_sorting():
    with prism.profiler.profile(record_shapes=True) as prof:
        for n in (2, 2, 3):
            prism.ones(n) + prism.ones(n)
    adds = [a for a in prof.key_averages(group_by_input_shape=True) if a.key == "add"]
    assert sorted((a.input_shapes, a.count) for a in adds) == [([[2], [2]], 2), ([[3], [3]], 1)]
    with pytest.raises(ValueError, match="sort_by"):
        prof.key_averages().table(sort_by="nonsense")
    t = prof.key_averages().table(sort_by="count")
    lines = t.splitlines()[3:-2]
    assert lines[0].split()[0] == "fill"  # ones -> fill, 6 calls, the most


def test_disabled_and_errors(tmp_path):
    with prism.profiler.profile(enabled=False) as prof:
        prism.ones(3) + 1
    with pytest.raises(RuntimeError, match="after the profile block"):
        prof.key_averages()
    p1 = prism.profiler.profile()
    with p1:
        prism.ones(2) * 2
    with prism.profiler.profile():
        pass
    with pytest.raises(RuntimeError, match="later profile"):
        p1.export_chrome_trace(str(tmp_path / "x.json"))
    assert len(p1.events()) >= 1  # the snapshot taken at exit stays
    with pytest.raises(prism.FileError):
        with prism.profiler.profile() as p2:
            pass
        p2.export_chrome_trace("/nonexistent-dir/trace.json")
    with pytest.raises(prism.InvalidArgumentError, match="no range is open"):
        prism._C._profiler_range_pop()
    assert prism.autograd.profiler.profile is prism.profiler.profile
    assert not prism._C._profiler_is_enabled()


@pytest.mark.skipif(torch is None, reason="skipped: torch not installed")
def test_checker_accepts_pytorch_trace(tmp_path):
    """The schema checks above accept PyTorch 1.13's own Chrome trace (so they check the format, not Prism)."""
    with torch.autograd.profiler.profile() as prof:
        torch.relu(torch.ones(4) + 1)
    path = tmp_path / "torch.json"
    prof.export_chrome_trace(str(path))
    with open(path) as f:
        complete = check_chrome_trace(json.load(f), tol=1.0)
    assert any("add" in e["name"] for e in complete)
