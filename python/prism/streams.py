"""Streams and events for every device, spelled as ``torch.cuda``'s: ``Stream``, ``Event``, ``stream(s)``,
``current_stream()``, ``default_stream()``; ``synchronize()`` is ``prism.synchronize``.

A stream is an ordered queue of work on one device; each thread has a current stream per device (its default
stream unless a ``with prism.stream(s):`` block says otherwise), and every kernel and copy issued for that
device goes to it. Devices whose plugin has no streams of its own (cpu, emu) give streams that alias the
default stream. Events on devices without event support complete when recorded and are timed on the host.
"""
from __future__ import annotations

import threading

from . import _C
from ._dtype import device as _device

__all__ = ["Stream", "Event", "stream", "current_stream", "default_stream", "StreamContext"]

_local = threading.local()  # stack of streams entered by `with stream(...)` on this thread


def _dev(device) -> str:
    if device is None:
        entered = getattr(_local, "stack", None)
        return entered[-1].device if entered else "cpu:0"
    if isinstance(device, Stream):
        return device.device
    d = device if isinstance(device, _device) else _device(device)
    return d._prism_device


class Stream:
    """A stream of ``device`` (default: the device of the innermost ``with prism.stream(...)`` block, else cpu).

    ``priority`` is accepted for PyTorch compatibility and ignored."""

    def __init__(self, device=None, priority: int = 0, *, _handle=None):
        self._h = _handle if _handle is not None else _C._stream_create(_dev(device))

    @property
    def device(self) -> str:
        """The stream's device, e.g. ``'opencl:0'``."""
        return self._h.device

    @property
    def stream_id(self) -> int:
        """0 for a default stream, else a number unique to this stream."""
        return self._h.id

    def synchronize(self) -> None:
        """Blocks until all work queued on this stream completed."""
        self._h.synchronize()

    def query(self) -> bool:
        """True when all work queued on this stream completed."""
        return self._h.query()

    def wait_event(self, event: "Event") -> None:
        """Work queued on this stream afterwards waits for ``event``."""
        event.wait(self)

    def wait_stream(self, stream: "Stream") -> None:
        """Work queued on this stream afterwards waits for the work queued on ``stream`` so far."""
        e = Event()
        e.record(stream)
        e.wait(self)

    def record_event(self, event: "Event | None" = None) -> "Event":
        """Records ``event`` (a new one when None) on this stream and returns it."""
        event = Event() if event is None else event
        event.record(self)
        return event

    def __eq__(self, other) -> bool:
        return isinstance(other, Stream) and self.device == other.device and self.stream_id == other.stream_id

    def __hash__(self) -> int:
        return hash((self.device, self.stream_id))

    def __repr__(self) -> str:
        return f"<prism.Stream device={self.device} stream_id={self.stream_id}>"


class Event:
    """An event: marks a point in a stream's work. ``blocking`` and ``interprocess`` are accepted for PyTorch
    compatibility and ignored."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False):
        self.enable_timing = bool(enable_timing)
        self._h = _C._EventHandle(self.enable_timing)

    def record(self, stream: Stream | None = None) -> None:
        """Captures the work queued so far on ``stream`` (default: ``current_stream()``)."""
        self._h.record((stream if stream is not None else current_stream())._h)

    def wait(self, stream: Stream | None = None) -> None:
        """Work queued on ``stream`` (default: ``current_stream()``) afterwards waits for the captured work."""
        self._h.wait((stream if stream is not None else current_stream())._h)

    def query(self) -> bool:
        """True when the captured work completed (or the event was never recorded)."""
        return self._h.query()

    def synchronize(self) -> None:
        """Blocks until the captured work completed."""
        self._h.synchronize()

    def elapsed_time(self, end_event: "Event") -> float:
        """Milliseconds from this event to ``end_event`` (both created with ``enable_timing=True``)."""
        return self._h.elapsed_time(end_event._h)

    def __repr__(self) -> str:
        return f"<prism.Event enable_timing={self.enable_timing}>"


def current_stream(device=None) -> Stream:
    """This thread's current stream of ``device``."""
    return Stream(_handle=_C._stream_current(_dev(device)))


def default_stream(device=None) -> Stream:
    """The default stream of ``device``."""
    return Stream(_handle=_C._stream_default(_dev(device)))


class StreamContext:
    """Makes ``stream`` current for its device inside a ``with`` block, restoring the previous one after
    (``torch.cuda.StreamContext``). ``None`` makes the block a no-op."""

    def __init__(self, stream: Stream | None):
        self.stream = stream
        self._prev = None

    def __enter__(self):
        if self.stream is None:
            return self.stream
        self._prev = current_stream(self.stream.device)
        self.stream._h.set_current()
        stack = getattr(_local, "stack", None)
        if stack is None:
            stack = _local.stack = []
        stack.append(self.stream)
        return self.stream

    def __exit__(self, *exc):
        if self.stream is None:
            return False
        _local.stack.pop()
        self._prev._h.set_current()
        return False


def stream(stream: Stream | None) -> StreamContext:  # noqa: F811 - PyTorch's spelling
    """``with prism.stream(s):`` — work issued inside goes to ``s``."""
    return StreamContext(stream)
