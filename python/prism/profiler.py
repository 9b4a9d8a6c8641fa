"""prism.profiler: records every op Prism dispatches, spelled as torch.autograd.profiler.

    with prism.profiler.profile(record_shapes=True) as prof:
        loss = model(x).sum(); loss.backward()
    print(prof.key_averages().table(sort_by="cpu_time_total"))
    prof.export_chrome_trace("trace.json")   # chrome://tracing, ui.perfetto.dev

Times are host times of the dispatching thread ("cpu_time"); "device_time" is measured with the
device's events where it has them (opencl), else 0. Memory is the bytes the caching allocator
handed out for each op. Composite ops appear as the kernels they dispatch; wrap code in
record_function("name") to group it.
"""

from __future__ import annotations

import functools
from collections import OrderedDict

from . import _C

__all__ = ["profile", "record_function", "FunctionEvent", "FunctionEventAvg", "EventList"]

_generation = 0  # increases with every profile started; export needs the latest one


class FunctionEvent:
    """One recorded op or user range. Times in microseconds."""

    __slots__ = ("name", "device", "dtype", "fallback", "input_shapes", "time_range_start", "cpu_time",
                 "self_cpu_time", "device_time", "cpu_memory_usage", "thread", "is_user_range")

    def __init__(self, row):
        (name, device, dtype, fallback, shapes, start_ns, host_ns, self_ns, device_ns, nbytes, thread,
         is_range) = row
        self.name = name
        self.device = device
        self.dtype = dtype
        self.fallback = fallback or None
        self.input_shapes = _parse_shapes(shapes)
        self.time_range_start = start_ns / 1000.0
        self.cpu_time = host_ns / 1000.0
        self.self_cpu_time = self_ns / 1000.0
        self.device_time = device_ns / 1000.0 if device_ns >= 0 else 0.0
        self.cpu_memory_usage = nbytes
        self.thread = thread
        self.is_user_range = is_range

    @property
    def key(self):
        return self.name

    @property
    def count(self):
        return 1

    # torch spellings of the totals of one event
    cpu_time_total = property(lambda self: self.cpu_time)
    self_cpu_time_total = property(lambda self: self.self_cpu_time)
    device_time_total = property(lambda self: self.device_time)

    def __repr__(self):
        return (f"<FunctionEvent name={self.name!r} device={self.device!r} cpu_time={self.cpu_time:.3f}us "
                f"input_shapes={self.input_shapes}>")


class FunctionEventAvg:
    """The events of one key (name, and input shapes when grouped by them), summed."""

    def __init__(self, key, input_shapes=None):
        self.key = key
        self.input_shapes = input_shapes
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.device_time_total = 0.0
        self.cpu_memory_usage = 0
        self.fallbacks = 0
        self.devices = []
        self.is_user_range = False

    def add(self, e):
        self.count += 1
        self.cpu_time_total += e.cpu_time
        self.self_cpu_time_total += e.self_cpu_time
        self.device_time_total += e.device_time
        self.cpu_memory_usage += e.cpu_memory_usage
        self.fallbacks += 1 if e.fallback else 0
        self.is_user_range = e.is_user_range
        if e.device and e.device not in self.devices:
            self.devices.append(e.device)
        return self

    @property
    def cpu_time(self):
        return self.cpu_time_total / self.count if self.count else 0.0

    @property
    def self_cpu_time(self):
        return self.self_cpu_time_total / self.count if self.count else 0.0

    @property
    def device_time(self):
        return self.device_time_total / self.count if self.count else 0.0

    # torch's CUDA spellings
    cuda_time_total = property(lambda self: self.device_time_total)
    cuda_time = property(lambda self: self.device_time)

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key!r} count={self.count} "
                f"cpu_time_total={self.cpu_time_total:.3f}us>")


_SORT_KEYS = {
    "cpu_time_total", "self_cpu_time_total", "cpu_time", "self_cpu_time", "count", "device_time_total",
    "device_time", "cuda_time_total", "cuda_time", "cpu_memory_usage", "self_cpu_memory_usage",
}


def _fmt_us(us):
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


class EventList(list):
    """A list of FunctionEvent (or FunctionEventAvg) with torch's helpers."""

    def key_averages(self, group_by_input_shape=False):
        groups = OrderedDict()
        for e in self:
            shapes = str(e.input_shapes) if group_by_input_shape else None
            k = (e.key, shapes)
            if k not in groups:
                groups[k] = FunctionEventAvg(e.key, e.input_shapes if group_by_input_shape else None)
            groups[k].add(e)
        return EventList(groups.values())

    def total_average(self):
        total = FunctionEventAvg("Total")
        for e in self:
            if not e.is_user_range:
                total.count += e.count
                total.cpu_time_total += e.cpu_time_total
                total.self_cpu_time_total += e.self_cpu_time_total
                total.device_time_total += e.device_time_total
                total.cpu_memory_usage += e.cpu_memory_usage
        return total

    def table(self, sort_by=None, row_limit=100, header=None):
        """The rows as text; sort_by one of cpu_time_total, self_cpu_time_total, cpu_time, count,
        device_time_total (or cuda_time_total), cpu_memory_usage (largest first)."""
        rows = list(self)
        if sort_by is not None:
            if sort_by == "self_cpu_memory_usage":
                sort_by = "cpu_memory_usage"
            if sort_by not in _SORT_KEYS:
                raise ValueError(f"table: unknown sort_by {sort_by!r}; expected one of {sorted(_SORT_KEYS)}")
            rows.sort(key=lambda e: getattr(e, sort_by), reverse=True)
        if row_limit is not None and row_limit > 0:
            rows = rows[:row_limit]
        grouped_shapes = any(getattr(e, "input_shapes", None) is not None for e in rows)
        cols = ["Name", "Self CPU total", "CPU total", "CPU time avg", "Device total", "CPU Mem", "# of Calls",
                "Fallbacks", "Device"]
        if grouped_shapes:
            cols.append("Input Shapes")
        body = []
        self_total = 0.0
        for e in rows:
            devices = getattr(e, "devices", None)
            device = ",".join(devices) if devices is not None else (e.device or "")
            fallbacks = getattr(e, "fallbacks", 1 if getattr(e, "fallback", None) else 0)
            r = [e.key, _fmt_us(e.self_cpu_time_total), _fmt_us(e.cpu_time_total), _fmt_us(e.cpu_time),
                 _fmt_us(e.device_time_total), f"{e.cpu_memory_usage}", f"{e.count}", f"{fallbacks}",
                 "(range)" if e.is_user_range else device]
            if grouped_shapes:
                r.append(str(e.input_shapes))
            if not e.is_user_range:
                self_total += e.self_cpu_time_total
            body.append(r)
        widths = [max(len(c), *(len(r[i]) for r in body)) if body else len(c) for i, c in enumerate(cols)]
        line = "  ".join("-" * w for w in widths)
        out = []
        if header:
            out.append(header)
        out.append(line)
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cols, widths))))
        out.append(line)
        for r in body:
            out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        out.append(line)
        out.append(f"Self CPU time total: {_fmt_us(self_total)}")
        return "\n".join(out) + "\n"

    def __str__(self):
        return self.table()


def _parse_shapes(text):
    """'[2, 3], [3]' -> [[2, 3], [3]]."""
    shapes = []
    if not text:
        return shapes
    for part in text.split("]"):
        part = part.strip().lstrip(",").strip()
        if not part:
            continue
        inner = part.lstrip("[").strip()
        shapes.append([int(v) for v in inner.split(",")] if inner else [])
    return shapes


class profile:
    """Records every op dispatched while active (torch.autograd.profiler.profile).

    enabled: False makes the context manager a no-op. record_shapes: record input shapes.
    use_device: measure device time with the device's events (serialises each op on devices with
    events). Events are read when the block exits; export_chrome_trace needs this to be the most
    recent profile (the process has one profiler)."""

    def __init__(self, enabled=True, *, record_shapes=True, use_device=True, use_cuda=None,
                 profile_memory=True, with_stack=False):
        self.enabled = enabled
        self.record_shapes = record_shapes
        self.use_device = use_device if use_cuda is None else bool(use_cuda)
        self.function_events = None
        self._generation = None
        self._entered = False

    def __enter__(self):
        global _generation
        if not self.enabled:
            return self
        if self._entered:
            raise RuntimeError("profiler context manager is not reentrant")
        if _C._profiler_is_enabled():
            raise RuntimeError("another profiler is already running in this process")
        self._entered = True
        _generation += 1
        self._generation = _generation
        _C._profiler_start(self.record_shapes, self.use_device)
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self.enabled:
            return False
        _C._profiler_stop()
        self.function_events = EventList(FunctionEvent(r) for r in _C._profiler_events())
        return False

    def _check_finished(self):
        if self.function_events is None:
            raise RuntimeError("profiler results are only available after the profile block exits")

    def events(self):
        self._check_finished()
        return self.function_events

    def key_averages(self, group_by_input_shape=False):
        return self.events().key_averages(group_by_input_shape)

    def total_average(self):
        return self.key_averages().total_average()

    def table(self, sort_by=None, row_limit=100, header=None):
        return self.key_averages().table(sort_by=sort_by, row_limit=row_limit, header=header)

    def export_chrome_trace(self, path):
        """Writes the events as Chrome-trace JSON (chrome://tracing, ui.perfetto.dev)."""
        self._check_finished()
        if self._generation != _generation:
            raise RuntimeError("export_chrome_trace: a later profile replaced this one's events in the core; "
                               "export before starting another profile")
        _C._profiler_export_chrome_trace(str(path))

    def __str__(self):
        return self.table() if self.function_events is not None else "<unfinished prism.profiler.profile>"


class record_function:
    """Groups the ops inside under `name` in the trace and tables (a context manager and decorator)."""

    def __init__(self, name):
        self.name = name
        self._pushed = False

    def __enter__(self):
        _C._profiler_range_push(self.name)
        self._pushed = True
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._pushed:
            self._pushed = False
            _C._profiler_range_pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with record_function(self.name):
                return fn(*args, **kwargs)

        return wrapper


def _alias_in_autograd():
    """torch spells it torch.autograd.profiler: make prism.autograd.profiler this module too."""
    import sys

    from . import autograd

    autograd.profiler = sys.modules[__name__]


_alias_in_autograd()
