"""prism.utils.data.DataLoader: batching, shuffling, collation, pinned memory and worker processes."""
import collections.abc
import itertools
import multiprocessing
import multiprocessing.reduction
import numbers
import os
import queue
import random
import sys
import time
import traceback

import prism
from prism.utils.data.dataset import IterableDataset
from prism.utils.data.sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info", "WorkerInfo"]

# Note [DataLoader worker processes]
# ----------------------------------
# num_workers > 0 runs dataset[i] and collate_fn in worker processes, as
# torch.utils.data does, and yields the batches in sampler order (each batch
# is numbered; out-of-order arrivals wait in a dict), so a loader gives the
# same batches with any number of workers.
#
# Workers are started with the "spawn" method by default, not "fork". The CPU
# plugin runs its kernels on GNU OpenMP (libgomp), which is not fork-safe:
# once the parent has used its thread pool, a forked child that runs an
# OpenMP region can hang forever on the parent's pool state. A spawned worker
# is a fresh interpreter that imports prism and loads its plugins itself, so
# any tensor code in __getitem__ or collate_fn is safe there. The cost is the
# start-up (about a second per worker, once per epoch unless
# persistent_workers=True) and that the dataset, collate_fn and
# worker_init_fn must be picklable (module-level functions and classes; the
# script needs the usual `if __name__ == "__main__":` guard).
# multiprocessing_context="fork" (or "forkserver") is accepted for datasets
# that produce only NumPy / plain Python data in the workers.
#
# Tensors cross process boundaries as NumPy arrays: a reducer registered
# with multiprocessing's pickler turns a prism.Tensor into (array, dtype,
# device) and rebuilds it with prism.from_numpy on the other side (batches are
# built in host memory, then copied to their device in the parent). Each
# worker runs its ops on one thread (OMP_NUM_THREADS=1 before the plugin
# loads, as PyTorch sets torch.set_num_threads(1) in workers) and is seeded
# with base_seed + worker_id for prism, random and numpy; base_seed is drawn
# from prism's generator each epoch, so prism.manual_seed reproduces it.


# --------------------------------------------------------------- collation
def _np():
    import numpy
    return numpy


def default_convert(data):
    """Converts NumPy arrays (and containers of them) to prism tensors; leaves everything else alone."""
    if isinstance(data, prism.Tensor):
        return data
    np = _np()
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return prism.from_numpy(np.ascontiguousarray(data))
    if isinstance(data, np.number):
        return prism.tensor(data.item())
    if isinstance(data, collections.abc.Mapping):
        return type(data)({k: default_convert(v) for k, v in data.items()}) if not isinstance(data, dict) else \
            {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return [default_convert(d) for d in data]
    return data


def default_collate(batch):
    """Stacks a list of examples into a batch, recursively (torch's default_collate rules).

    Tensors are stacked along a new dim 0; NumPy arrays become tensors first; Python floats, ints and
    bools become float64 / int64 / bool tensors; strings stay a list; dicts, namedtuples, tuples and
    lists are collated field by field (tuples and lists give lists).
    """
    elem = batch[0]
    if isinstance(elem, prism.Tensor):
        return prism.stack(list(batch), 0)
    np = _np()
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind not in "biuf":
            raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                            f"found numpy dtype {elem.dtype}")
        return prism.from_numpy(np.ascontiguousarray(np.stack(batch)))
    if isinstance(elem, np.number) or (isinstance(elem, np.ndarray) and elem.shape == ()):
        return prism.from_numpy(np.array(batch))
    if isinstance(elem, bool):
        return prism.tensor(list(batch), dtype=prism.bool)
    if isinstance(elem, numbers.Integral):
        return prism.tensor(list(batch), dtype=prism.int64)
    if isinstance(elem, float):
        return prism.tensor(list(batch), dtype=prism.float64)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}")


# ------------------------------------------------------- tensor transport
def _rebuild_tensor(array, dtype_name, device, requires_grad):
    t = prism.from_numpy(array)
    dtype = getattr(prism, dtype_name)
    if t.dtype != dtype:
        t = t.to(dtype)
    if device is not None:
        t = t.to(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _reduce_tensor(t):
    # Note [DataLoader worker processes]: tensors travel as NumPy arrays.
    dtype_name = str(t.dtype).replace("prism.", "")
    host = t.detach()
    if dtype_name == "bfloat16":  # NumPy has no bfloat16: travel as float32, exact
        host = host.to(prism.float32)
    host = host.cpu().contiguous()
    device = str(t.device)
    return (_rebuild_tensor, (host.numpy(), dtype_name, None if device.startswith("cpu") else device,
                              bool(t.requires_grad)))


_registered = False


def _register_reducers():
    global _registered
    if not _registered:
        multiprocessing.reduction.ForkingPickler.register(prism.Tensor, _reduce_tensor)
        _registered = True


class WorkerInfo:
    """What get_worker_info() returns inside a worker: id, num_workers, seed, dataset."""

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


_worker_info = None


def get_worker_info():
    """The WorkerInfo of the current worker process, or None in the main process."""
    return _worker_info


class _ExceptionWrapper:
    def __init__(self, where):
        exc_type, exc, _ = sys.exc_info()
        self.exc_type = exc_type
        self.msg = f"Caught {exc_type.__name__} {where}.\nOriginal {''.join(traceback.format_exception(*sys.exc_info()))}"

    def reraise(self):
        try:
            err = self.exc_type(self.msg)
        except Exception:
            err = RuntimeError(self.msg)
        raise err


def _fetch(dataset, indices, auto_collation, collate_fn, fast_batch):
    if not auto_collation:
        return collate_fn(dataset[indices])
    if fast_batch:
        return fast_batch(indices)
    if hasattr(dataset, "__getitems__"):
        return collate_fn(dataset.__getitems__(indices))
    return collate_fn([dataset[i] for i in indices])


def _fast_batch(dataset, collate_fn):
    if collate_fn is default_collate:
        return getattr(dataset, "_get_batch", None)
    return None


def _worker_loop(dataset, index_queue, result_queue, collate_fn, auto_collation, worker_id, num_workers, seed,
                 init_fn):
    global _worker_info
    try:
        prism.manual_seed(seed)
        random.seed(seed)
        try:
            _np().random.seed(seed % (2 ** 32))
        except ImportError:
            pass
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        if init_fn is not None:
            init_fn(worker_id)
        fast = _fast_batch(dataset, collate_fn)
    except Exception:
        result_queue.put((None, None, _ExceptionWrapper(f"in DataLoader worker process {worker_id} at start-up")))
        return
    while True:
        try:
            task = index_queue.get(timeout=5.0)
        except queue.Empty:
            if os.getppid() == 1:  # the parent is gone
                return
            continue
        if task is None:
            # Results still queued are not wanted any more: exit without waiting to flush them.
            result_queue.cancel_join_thread()
            break
        epoch, idx, indices = task
        try:
            data = _fetch(dataset, indices, auto_collation, collate_fn, fast)
        except Exception:
            data = _ExceptionWrapper(f"in DataLoader worker process {worker_id}")
        # Serialised here, so the queue's buffer never holds tensors (a worker leaving with results
        # still queued would otherwise keep them alive past the interpreter's shutdown).
        payload = bytes(multiprocessing.reduction.ForkingPickler.dumps(data))
        del data
        result_queue.put((epoch, idx, payload))


def _worker_main(payload, index_queue, result_queue, worker_id, num_workers, seed):
    # Runs in the child, started with OMP_NUM_THREADS=1 (one thread per worker).
    _register_reducers()
    global _worker_info
    args = multiprocessing.reduction.ForkingPickler.loads(payload)
    del payload
    dataset, collate_fn, auto_collation, init_fn = args
    del args
    _worker_loop(dataset, index_queue, result_queue, collate_fn, auto_collation, worker_id, num_workers, seed,
                 init_fn)
    # Drop the worker's tensors before the interpreter shuts down (nothing of prism outlives it).
    _worker_info = None
    del dataset, collate_fn, init_fn
    import gc
    gc.collect()


# ---------------------------------------------------------------- loader
class DataLoader:
    """Iterates over a dataset in batches (torch.utils.data.DataLoader's arguments and behaviour).

    batch_size=None disables batching; shuffle draws a new order each epoch from prism's generator
    (or `generator`); drop_last drops the last short batch; collate_fn builds a batch from a list of
    examples; pin_memory stages tensors in pinned host memory for the first accelerator (a no-op when
    only the CPU is loaded); num_workers > 0 loads in worker processes (Note [DataLoader worker
    processes]); persistent_workers keeps them across epochs.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device=""):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing. Let num_workers "
                             "> 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers > 0 else prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers = persistent_workers
        self.generator = generator
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler / batch_sampler")
            if num_workers > 0:
                raise NotImplementedError("DataLoader: num_workers > 0 with an IterableDataset is not supported; "
                                          "use num_workers=0")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._workers = None

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

    def _pin_device(self):
        if not self.pin_memory:
            return None
        if self.pin_memory_device:
            return self.pin_memory_device
        for d in prism.devices():
            name = str(getattr(d, "device", d))
            if not name.startswith("cpu"):
                return name
        return None

    def __iter__(self):
        if self._iterable:
            return _IterableIter(self)
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if self.persistent_workers:
            if self._workers is None:
                self._workers = _MultiProcessIter(self)
            else:
                self._workers._reset()
            return self._workers
        return _MultiProcessIter(self)

    def __del__(self):
        w = getattr(self, "_workers", None)
        if w is not None:
            w._shutdown()


def _pin(data, device):
    if device is None:
        return data
    if isinstance(data, prism.Tensor):
        return data.pin_memory(device) if hasattr(data, "pin_memory") else data
    if isinstance(data, dict):
        return {k: _pin(v, device) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_pin(v, device) for v in data))
    if isinstance(data, (list, tuple)):
        return type(data)(_pin(v, device) for v in data)
    return data


def _base_seed():
    # Every iterator draws one seed from prism's generator when it starts, with
    # or without workers, so the shuffle order is the same either way (as in PyTorch).
    return int(prism.randint(0, 2 ** 62, (1,), dtype=prism.int64).item())


class _SingleProcessIter:
    def __init__(self, loader):
        self._loader = loader
        self._base_seed = _base_seed()
        self._indices = iter(loader._index_sampler)
        self._pin_device = loader._pin_device()
        self._auto = loader._auto_collation
        self._fast = _fast_batch(loader.dataset, loader.collate_fn) if self._auto else None

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._loader)

    def __next__(self):
        indices = next(self._indices)
        data = _fetch(self._loader.dataset, indices, self._auto, self._loader.collate_fn, self._fast)
        return _pin(data, self._pin_device)


class _IterableIter:
    def __init__(self, loader):
        self._loader = loader
        self._it = iter(loader.dataset)
        self._pin_device = loader._pin_device()

    def __iter__(self):
        return self

    def __next__(self):
        loader = self._loader
        if loader.batch_size is None:
            return _pin(loader.collate_fn(next(self._it)), self._pin_device)
        batch = list(itertools.islice(self._it, loader.batch_size))
        if not batch or (loader.drop_last and len(batch) < loader.batch_size):
            raise StopIteration
        return _pin(loader.collate_fn(batch), self._pin_device)


class _MultiProcessIter:
    def __init__(self, loader):
        _register_reducers()
        self._loader = loader
        self._pin_device = loader._pin_device()
        ctx = loader.multiprocessing_context or "spawn"
        ctx = multiprocessing.get_context(ctx) if isinstance(ctx, str) else ctx
        n = loader.num_workers
        seed = _base_seed()
        payload = bytes(multiprocessing.reduction.ForkingPickler.dumps(
            (loader.dataset, loader.collate_fn, loader._auto_collation, loader.worker_init_fn)))
        self._result_queue = ctx.Queue()
        self._index_queues = []
        self._workers = []
        # The children read OMP_NUM_THREADS when their plugins load (spawn copies the environment).
        saved = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = "1"
        try:
            for i in range(n):
                iq = ctx.Queue()
                w = ctx.Process(target=_worker_main, args=(payload, iq, self._result_queue, i, n, seed + i),
                                daemon=True)
                w.start()
                self._index_queues.append(iq)
                self._workers.append(w)
        finally:
            if saved is None:
                del os.environ["OMP_NUM_THREADS"]
            else:
                os.environ["OMP_NUM_THREADS"] = saved
        self._epoch = -1
        self._shut = False
        self._reset()

    def _reset(self):
        self._epoch += 1
        self._indices = iter(self._loader._index_sampler)
        self._send_idx = 0
        self._rcvd_idx = 0
        self._buffer = {}
        self._outstanding = 0
        self._exhausted = False
        for _ in range(self._loader.prefetch_factor * self._loader.num_workers):
            self._send()

    def _send(self):
        if self._exhausted:
            return
        try:
            indices = next(self._indices)
        except StopIteration:
            self._exhausted = True
            return
        w = self._send_idx % len(self._workers)
        self._index_queues[w].put((self._epoch, self._send_idx, indices))
        self._send_idx += 1
        self._outstanding += 1

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._loader)

    def _get(self):
        timeout = self._loader.timeout
        waited = 0.0
        while True:
            try:
                return self._result_queue.get(timeout=1.0)
            except queue.Empty:
                waited += 1.0
                dead = [w for w in self._workers if not w.is_alive()]
                if dead:
                    pids = ", ".join(f"{w.pid} (exit code {w.exitcode})" for w in dead)
                    self._shutdown()
                    raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly") from None
                if timeout and waited >= timeout:
                    self._shutdown()
                    raise RuntimeError(f"DataLoader timed out after {timeout} seconds") from None

    def __next__(self):
        while True:
            if self._rcvd_idx in self._buffer:
                data = self._buffer.pop(self._rcvd_idx)
                self._rcvd_idx += 1
                self._outstanding -= 1
                self._send()
                if isinstance(data, _ExceptionWrapper):
                    self._shutdown()
                    data.reraise()
                return _pin(data, self._pin_device)
            if self._outstanding == 0:
                if not self._loader.persistent_workers:
                    self._shutdown()
                raise StopIteration
            epoch, idx, data = self._get()
            if epoch is None:  # a worker failed at start-up
                self._shutdown()
                data.reraise()
            if epoch == self._epoch:
                self._buffer[idx] = multiprocessing.reduction.ForkingPickler.loads(data)

    def _shutdown(self):
        if self._shut:
            return
        self._shut = True
        for q in self._index_queues:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 5.0  # one grace period for all workers, then terminate
        for w in self._workers:
            w.join(timeout=max(0.0, deadline - time.monotonic()))
        for w in self._workers:
            if w.is_alive():
                w.terminate()
                w.join(timeout=1.0)
        # Index queues: flush their feeder threads (the tasks are small) before closing, so no
        # feeder is left writing to a closed pipe. The result queue is only read here.
        for q in self._index_queues:
            q.close()
            q.join_thread()
        self._result_queue.cancel_join_thread()
        self._result_queue.close()

    def __del__(self):
        try:
            self._shutdown()
        except Exception:
            pass
