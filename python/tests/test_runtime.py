"""Runtime from Python: devices, plugins and the load report, seeds, fallback policy and counters, memory stats."""

import glob
import os

import pytest

import prism
from _helpers import extra_devices


def test_devices_and_load_report():
    devs = prism.devices()
    assert prism.device("cpu") in devs
    rows = prism.load_report()
    assert rows and all({"path", "plugin", "loaded", "abi", "device_count", "reason"} <= set(r) for r in rows)
    cpu = [r for r in rows if r["plugin"] == "cpu"]
    assert cpu and cpu[0]["loaded"] and cpu[0]["device_count"] >= 1
    # the installed package finds its plugins next to libprism (relocatable layout)
    assert any("plugins" in r["path"] or "lib" in r["path"] for r in rows)


def test_load_plugin_errors_are_unavailable():
    with pytest.raises(prism.UnavailableError) as e:
        prism.load_plugin("/nonexistent/libprism-nothing.so")
    assert "/nonexistent/libprism-nothing.so" in str(e.value)
    assert isinstance(e.value, prism.Error) and isinstance(e.value, RuntimeError)
    rows = prism.load_report()
    assert any(r["path"] == "/nonexistent/libprism-nothing.so" and not r["loaded"] for r in rows)


def test_load_plugin_explicit_path_is_noop_twice():
    cpu = [r["path"] for r in prism.load_report() if r["plugin"] == "cpu" and r["loaded"]][0]
    prism.load_plugin(cpu)
    prism.load_plugin(cpu)


def test_manual_seed_same_values_on_every_device():
    ref = None
    for dev in ["cpu"] + extra_devices():
        prism.manual_seed(123)
        r = prism.rand(8, device=dev).cpu().tolist()
        if ref is None:
            ref = r
        assert r == ref, dev


def test_fallback_policy_and_counters():
    old = prism.get_fallback_policy()
    try:
        prism.set_fallback_policy("allow")
        assert prism.get_fallback_policy() == "allow"
        prism.fallback_reset()
        assert prism.fallback_count() == 0
        with pytest.raises(ValueError):
            prism.set_fallback_policy("sometimes")
    finally:
        prism.set_fallback_policy(old)


def test_memory_stats():
    s = prism.memory_stats("cpu")
    assert {"allocated_bytes", "reserved_bytes", "peak_allocated_bytes"} <= set(s)
    before = s["allocated_bytes"]
    t = prism.empty(1 << 20, dtype=prism.uint8)
    assert prism.memory_stats()["allocated_bytes"] >= before + (1 << 20)
    del t
    prism.empty_cache("cpu")
    prism.reset_peak_memory_stats()


def test_version_and_promote_types():
    assert prism.__version__.count(".") == 2
    assert prism.promote_types(prism.int32, prism.float16) is prism.float16
    assert prism.promote_types(prism.uint8, prism.int8) is prism.int16
