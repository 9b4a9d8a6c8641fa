"""prism.Stream / prism.Event / prism.stream(s): torch.cuda's stream API on every device."""

import pytest

import prism

from _helpers import all_devices, close

DEVICES = ["cpu", "opencl:0", "emu:0"]


def _need(dev):
    if dev != "cpu" and dev not in all_devices():
        pytest.skip(f"skipped: {dev} is not loaded")


@pytest.mark.parametrize("dev", DEVICES)
def test_stream_context_sets_and_restores_the_current_stream(dev):
    _need(dev)
    s = prism.Stream(dev)
    assert s.stream_id != 0
    assert prism.current_stream(dev) == prism.default_stream(dev)
    x = prism.arange(16, dtype=prism.float32, device=dev)
    s.wait_stream(prism.default_stream(dev))  # x was made on the default stream
    with prism.stream(s):
        assert prism.current_stream(dev) == s
        assert prism.current_stream() == s  # the device of the innermost block
        y = x * 2 + 1
    assert prism.current_stream(dev) == prism.default_stream(dev)
    s.synchronize()
    assert s.query()
    assert close(y, [2 * i + 1 for i in range(16)])
    with prism.stream(None):  # a no-op, as in PyTorch
        pass


@pytest.mark.parametrize("dev", DEVICES)
def test_events_order_streams_and_time_them(dev):
    _need(dev)
    producer, consumer = prism.Stream(dev), prism.Stream(dev)
    start, made, used = (prism.Event(enable_timing=True) for _ in range(3))
    a = prism.ones(64, 64, device=dev)
    # `a` was filled on the default stream; a new stream does not wait for it
    # by itself (as in PyTorch), so the producer waits explicitly.
    producer.wait_stream(prism.default_stream(dev))
    with prism.stream(producer):
        start.record()
        b = a @ a  # every element 64
        made.record()
    with prism.stream(consumer):
        consumer.wait_event(made)
        c = b + 1
        used.record()
    used.synchronize()
    assert used.query() and made.query()
    assert close(c.sum(), 64 * 64 * 65)
    assert start.elapsed_time(made) >= 0
    assert made.elapsed_time(used) >= 0
    with pytest.raises(prism.Error, match="enable_timing"):
        prism.Event().elapsed_time(used)


@pytest.mark.parametrize("dev", DEVICES)
def test_non_blocking_copy_from_pinned_memory(dev):
    _need(dev)
    src = prism.arange(4096, dtype=prism.float32)
    pinned = src.pin_memory(dev) if dev != "cpu" else src
    copies = prism.Stream(dev)
    with prism.stream(copies):
        d = pinned.to(dev, non_blocking=True)
    del pinned  # the copy keeps its source alive
    copies.synchronize()
    assert close(d, list(range(4096)))
    prism.synchronize(dev)


@pytest.mark.parametrize("dev", DEVICES)
def test_record_stream_keeps_values(dev):
    _need(dev)
    s1, s2 = prism.Stream(dev), prism.Stream(dev)
    with prism.stream(s1):
        t = prism.full((4096,), 3.0, device=dev)
        t.record_stream(s2)
        with prism.stream(s2):
            s2.wait_stream(s1)
            keep = t * 2
        del t
        prism.full((4096,), -1.0, device=dev)
    prism.synchronize(dev)
    assert close(keep.sum(), 6.0 * 4096)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(prism.Error):
        prism.Stream("nosuchdevice:0")
    s = prism.Stream("cpu")
    with pytest.raises(TypeError):
        prism.zeros(2).record_stream("not a stream")
    assert repr(s).startswith("<prism.Stream device=cpu:0")
