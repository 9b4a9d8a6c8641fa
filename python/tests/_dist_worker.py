"""One rank of the multi-process prism.distributed tests (test_distributed.py starts it N times).

Usage: python _dist_worker.py SCENARIO OUT_DIR. The rank, world size and rendezvous come from the PRISM_*
environment (set by the test or by `prism run`). Each check runs in turn and its outcome ("ok" or the
failure) is written to OUT_DIR/rank<R>.json after every check, so the test names what failed on which rank.
Checks compare against host references computed with numpy from every rank's (deterministic) inputs.
"""
import copy
import json
import os
import sys
import threading
import time
import traceback

import numpy as np

import prism
import prism.distributed as dist
from prism import nn

RANK = int(os.environ["PRISM_RANK"])
WORLD = int(os.environ["PRISM_WORLD_SIZE"])
OUT = sys.argv[2]
results = {}


def record(name, outcome):
    results[name] = outcome
    path = os.path.join(OUT, f"rank{RANK}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(results, f)
    os.replace(path + ".tmp", path)


def check(fn):
    try:
        fn()
        record(fn.__name__, "ok")
    except Exception:  # noqa: BLE001 - reported to the test
        record(fn.__name__, traceback.format_exc())
    return fn


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def raises(exc, fn, *words):
    try:
        fn()
    except exc as e:
        for w in words:
            expect(w in str(e), f"message {str(e)!r} lacks {w!r}")
        return str(e)
    raise AssertionError(f"no {exc.__name__} raised")

class Ticker:
    """A second thread that records the time every 2 ms while a `with` block runs: a blocking call
    that keeps the GIL leaves no ticks inside its interval. `check(name, t0, t1)` asserts on rank 0."""

    def __init__(self):
        self.ticks, self._stop = [], threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.ticks.append(time.monotonic())
            time.sleep(0.002)

    def __enter__(self):
        self._th.start()
        return self

    def __exit__(self, *exc):  # a failed call must not leave the thread keeping the process alive
        self._stop.set()
        self._th.join()

    def check(self, name, t0, t1):
        if RANK == 0:
            inside = [x for x in self.ticks if t0 + 0.05 < x < t1 - 0.05]
            expect(t1 - t0 > 0.3, f"{name}: rank 0 did not wait for rank 1 ({t1 - t0:.3f} s)")
            expect(len(inside) >= 10, f"{name}: the other thread ticked {len(inside)} times in {t1 - t0:.2f} s "
                   "of blocking: the GIL was held")


# ---- inputs and references -------------------------------------------------------------------------------
DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"]


def is_float(dtype):
    return dtype in ("float16", "bfloat16", "float32", "float64")


def values(rank, shape, dtype, seed=0):
    rng = np.random.default_rng(1000 * seed + rank)
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    lo = 0 if dtype == "uint8" else -3
    return rng.integers(lo, 4, size=shape).astype(np.float64 if is_float(dtype) else np.int64)


def as_prism(a, dtype, device="cpu"):
    return prism.tensor(a.tolist(), dtype=getattr(prism, dtype), device=device)


def reference(op, arrays, dtype):
    s = np.stack(arrays)
    if dtype == "bool":
        return s.any(0) if op in ("SUM", "MAX") else s.all(0)
    if op == "SUM":
        return s.sum(0)
    if op == "MAX":
        return s.max(0)
    if op == "MIN":
        return s.min(0)
    if op == "PRODUCT":
        return s.prod(0)
    if is_float(dtype):
        return s.sum(0) / len(arrays)
    return np.fix(s.sum(0) / len(arrays)).astype(np.int64)  # truncating integer division


def same(t, ref, tol=0.0):
    got = np.array(t.tolist(), dtype=np.float64).reshape(-1)
    want = np.array(ref, dtype=np.float64).reshape(-1)
    expect(got.shape == want.shape, f"shape {got.shape} != {want.shape}")
    expect(np.all(np.abs(got - want) <= tol * (1 + np.abs(want))), f"got {got.tolist()} want {want.tolist()}")


# ---- collectives -----------------------------------------------------------------------------------------
def all_reduce_every_dtype_and_op():
    for dtype in DTYPES:
        for op in ("SUM", "AVG", "MAX", "MIN", "PRODUCT"):
            if dtype == "bool" and op == "AVG":
                continue
            arrays = [values(r, (3, 5), dtype, seed=len(op)) for r in range(WORLD)]
            t = as_prism(arrays[RANK], dtype)
            dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
            expect(t.dtype == getattr(prism, dtype), f"dtype changed to {t.dtype}")
            try:
                same(t, reference(op, arrays, dtype), 1e-2 if dtype in ("float16", "bfloat16") else 1e-6)
            except AssertionError as e:
                raise AssertionError(f"all_reduce {op} {dtype}: {e}") from None
    # complex travels as its real view (Note [Complex collectives]): sum, avg, broadcast and all_gather
    # are exact; max, min and product are refused, as torch.distributed refuses them
    for dtype, npdt in (("complex64", np.complex64), ("complex128", np.complex128)):
        mine = np.array([1 + 2j, 3 - 1j, -0.5j], dtype=npdt) * (RANK + 1)
        want = sum(np.array([1 + 2j, 3 - 1j, -0.5j]) * (r + 1) for r in range(WORLD))
        z = prism.tensor(mine.tolist(), dtype=getattr(prism, dtype))
        dist.all_reduce(z)
        expect(np.allclose(np.array(z.tolist()), want), f"complex sum {dtype}: {z.tolist()} != {want}")
        z = prism.tensor(mine.tolist(), dtype=getattr(prism, dtype))
        dist.all_reduce(z, op=dist.ReduceOp.AVG)
        expect(np.allclose(np.array(z.tolist()), want / WORLD), f"complex avg {dtype}: {z.tolist()}")
        b = prism.tensor(mine.tolist(), dtype=getattr(prism, dtype))
        dist.broadcast(b, WORLD - 1)
        expect(np.allclose(np.array(b.tolist()), mine / (RANK + 1) * WORLD), f"complex broadcast {dtype}")
        outs = [prism.zeros(3, dtype=getattr(prism, dtype)) for _ in range(WORLD)]
        dist.all_gather(outs, prism.tensor(mine.tolist(), dtype=getattr(prism, dtype)))
        for r in range(WORLD):
            expect(np.allclose(np.array(outs[r].tolist()), mine / (RANK + 1) * (r + 1)), f"complex gather {r}")
        for op in ("MAX", "MIN", "PRODUCT"):
            z = prism.tensor(mine.tolist(), dtype=getattr(prism, dtype))
            raises(prism.DTypeError, lambda: dist.all_reduce(z, op=getattr(dist.ReduceOp, op)), dtype, "complex")


def all_reduce_non_contiguous_and_empty():
    arrays = [values(r, (6, 4), "float32", seed=7) for r in range(WORLD)]
    base = as_prism(arrays[RANK], "float32")
    view = base.t()[::2]  # non-contiguous, half the elements
    expect(not view.is_contiguous(), "the view should be non-contiguous")
    dist.all_reduce(view, op=dist.ReduceOp.MAX)
    want = np.array(arrays[RANK]).T.copy()
    want[::2] = np.stack(arrays).max(0).T[::2]
    same(base.t(), want)  # the reduced half changed, the other half kept this rank's values
    for dtype in ("float32", "int64"):
        e = prism.zeros(0, 3, dtype=getattr(prism, dtype))
        dist.all_reduce(e)
        expect(tuple(e.shape) == (0, 3), "size-0 all_reduce changed the shape")
    s = prism.tensor(float(RANK + 1))  # 0-d
    dist.all_reduce(s, op=dist.ReduceOp.PRODUCT)
    same(s, [float(np.prod(np.arange(1, WORLD + 1)))])


def broadcast_checks():
    for dtype in ("float32", "int32", "bool", "float64"):
        for src in range(WORLD):
            arrays = [values(r, (4, 3), dtype, seed=11) for r in range(WORLD)]
            t = as_prism(arrays[RANK], dtype)
            dist.broadcast(t, src=src)
            same(t, arrays[src])
    base = as_prism(values(RANK, (5, 4), "float64", 3), "float64")
    view = base[:, 1:3]
    dist.broadcast(view, src=WORLD - 1)
    want = values(RANK, (5, 4), "float64", 3)
    want[:, 1:3] = values(WORLD - 1, (5, 4), "float64", 3)[:, 1:3]
    same(base, want)
    e = prism.empty(0)
    dist.broadcast(e, src=0)


def all_gather_checks():
    for dtype in ("float32", "int64", "uint8", "bool"):
        arrays = [values(r, (2, 3), dtype, seed=5) for r in range(WORLD)]
        outs = [prism.zeros(2, 3, dtype=getattr(prism, dtype)) for _ in range(WORLD)]
        dist.all_gather(outs, as_prism(arrays[RANK], dtype))
        for r in range(WORLD):
            same(outs[r], arrays[r])
    # non-contiguous input and outputs
    arrays = [values(r, (3, 4), "float32", seed=6) for r in range(WORLD)]
    inp = as_prism(arrays[RANK], "float32").t()
    outs = [prism.zeros(3, 4).t() for _ in range(WORLD)]
    dist.all_gather(outs, inp)
    for r in range(WORLD):
        same(outs[r], arrays[r].T)
    # into one tensor, any output shape
    out = prism.zeros(WORLD, 4, 3)
    dist.all_gather_into_tensor(out, inp)
    same(out, np.stack([a.T for a in arrays]))
    out = prism.zeros(WORLD * 12, dtype=prism.float32)
    dist.all_gather_into_tensor(out, inp.contiguous())
    same(out, np.concatenate([a.T.reshape(-1) for a in arrays]))
    empties = [prism.empty(0) for _ in range(WORLD)]
    dist.all_gather(empties, prism.empty(0))
    dist.all_gather_into_tensor(prism.empty(0), prism.empty(0))


def reduce_scatter_checks():
    for dtype, op in (("float32", "SUM"), ("int64", "MAX"), ("float64", "AVG")):
        arrays = [values(r, (WORLD * 3,), dtype, seed=9) for r in range(WORLD)]
        out = prism.zeros(3, dtype=getattr(prism, dtype))
        dist.reduce_scatter_tensor(out, as_prism(arrays[RANK], dtype), op=getattr(dist.ReduceOp, op))
        same(out, reference(op, arrays, dtype)[RANK * 3:(RANK + 1) * 3], 1e-6)
    arrays = [values(r, (WORLD, 2), "float32", seed=10) for r in range(WORLD)]
    inp = as_prism(arrays[RANK], "float32")
    out = prism.zeros(2)
    dist.reduce_scatter(out, [inp[i] for i in range(WORLD)])
    same(out, np.stack(arrays).sum(0)[RANK])
    dist.reduce_scatter_tensor(prism.empty(0), prism.empty(0))


def async_work():
    arrays = [values(r, (64,), "float32", seed=12) for r in range(WORLD)]
    t = as_prism(arrays[RANK], "float32")
    w = dist.all_reduce(t, async_op=True)
    expect(isinstance(w, dist.Work), f"async_op returned {type(w).__name__}")
    expect(w.wait(timeout=30) is True, "wait() should return True")
    expect(w.is_completed(), "a waited work is completed")
    same(t, np.stack(arrays).sum(0))
    expect(w.result()[0] is t, "result() holds the tensor")
    # several in flight, waited in reverse order
    ts = [prism.full((8,), float(RANK + k)) for k in range(4)]
    works = [dist.all_reduce(x, op=dist.ReduceOp.MAX, async_op=True) for x in ts]
    for w in reversed(works):
        w.wait()
    for k, x in enumerate(ts):
        same(x, [WORLD - 1 + k] * 8)
    outs = [prism.zeros(2) for _ in range(WORLD)]
    w = dist.all_gather(outs, prism.full((2,), float(RANK)), async_op=True)
    w.wait()
    for r in range(WORLD):
        same(outs[r], [r, r])
    b = prism.full((3,), float(RANK))
    dist.broadcast(b, src=1, async_op=True).wait()
    same(b, [1, 1, 1])
    dist.barrier(async_op=True).wait()
    dist.barrier()


def send_recv():
    if RANK == 0:
        dist.send(prism.arange(6, dtype=prism.float64).view(2, 3), dst=1)
        got = prism.zeros(3, 2, dtype=prism.float64).t()  # a non-contiguous receive buffer
        expect(dist.recv(got, src=1, tag=3) == 1, "recv returns the source rank")
        same(got, [[10, 11, 12], [13, 14, 15]])
    else:
        got = prism.zeros(2, 3, dtype=prism.float64)
        dist.recv(got, src=0)
        same(got, [[0, 1, 2], [3, 4, 5]])
        dist.send(got + 10, dst=0, tag=3)
    # isend / irecv: several in flight, waited in reverse order. Point-to-point work of a group runs in
    # issue order on the group's worker, so the matching operations are issued in the same order on both
    # sides (rank 0 sends first, rank 1 receives first).
    a, b = prism.zeros(4, dtype=prism.int32), prism.zeros(4, dtype=prism.int32)
    if RANK == 0:
        works = [dist.isend(prism.full((4,), 10, dtype=prism.int32), dst=1, tag=1),
                 dist.irecv(a, src=1, tag=2),
                 dist.isend(prism.full((4,), 30, dtype=prism.int32), dst=1, tag=3)]
    else:
        works = [dist.irecv(a, src=0, tag=1),
                 dist.isend(prism.full((4,), 21, dtype=prism.int32), dst=0, tag=2),
                 dist.irecv(b, src=0, tag=3)]
    for w in reversed(works):
        expect(isinstance(w, dist.Work), f"isend/irecv returned {type(w).__name__}")
        w.wait()
    same(a, [21] * 4 if RANK == 0 else [10] * 4)
    same(b, [0] * 4 if RANK == 0 else [30] * 4)


def devices():
    # every extra device (emu, opencl): staged through host memory by the C layer
    for dev in [str(d) for d in prism.devices() if d.type != "cpu"]:
        arrays = [values(r, (4, 4), "float32", seed=13) for r in range(WORLD)]
        t = as_prism(arrays[RANK], "float32", dev)
        dist.all_reduce(t)
        expect(str(t.device) == dev, f"device changed to {t.device}")
        same(t.cpu(), np.stack(arrays).sum(0))
        dist.broadcast(t, src=0)
        same(t.cpu(), np.stack(arrays).sum(0))
        outs = [prism.zeros(4, 4, device=dev) for _ in range(WORLD)]
        dist.all_gather(outs, as_prism(arrays[RANK], "float32", dev).t())
        for r in range(WORLD):
            same(outs[r].cpu(), arrays[r].T)
        # DDP on the device: one step's gradients are the average of the CPU gradients of every rank's batch
        model = mlp(40 + RANK)
        ref = copy.deepcopy(model)
        ddp = nn.parallel.DistributedDataParallel(model.to(dev))
        x = [values(r, (3, 8), "float32", 14) for r in range(WORLD)]
        ddp(as_prism(x[RANK], "float32", dev)).pow(2).sum().backward()
        got = prism.cat([p.grad.cpu().reshape(-1) for p in model.parameters()])
        identical_across_ranks(got, f"{dev} DDP gradients")
        ref_params = list(ref.parameters())
        if RANK == 0:
            for r in range(WORLD):
                ref(as_prism(x[r], "float32")).pow(2).sum().backward()
            want = prism.cat([p.grad.reshape(-1) for p in ref_params]) / WORLD
            same(got, want.tolist(), 1e-4)


def query_functions():
    expect(dist.is_initialized(), "is_initialized")
    expect(dist.get_rank() == RANK and dist.get_world_size() == WORLD, "rank / world size")
    expect(dist.get_backend() == "gloo", f"backend {dist.get_backend()}")
    expect(dist.GroupMember.WORLD is not None and dist.GroupMember.WORLD.size() == WORLD, "GroupMember.WORLD")
    expect(dist.get_rank(dist.GroupMember.WORLD) == RANK, "get_rank(WORLD)")
    expect(dist.is_available(), "is_available")


def objects():
    got = [None] * WORLD
    dist.all_gather_object(got, {"rank": RANK, "pad": "x" * (10 * RANK)})
    expect(got == [{"rank": r, "pad": "x" * (10 * r)} for r in range(WORLD)], f"all_gather_object {got}")
    lst = [RANK, "mine"] if RANK == 1 else [None, None]
    dist.broadcast_object_list(lst, src=1)
    expect(lst == [1, "mine"], f"broadcast_object_list {lst}")


def sampler_in_world():
    s = prism.utils.data.DistributedSampler(list(range(11)), shuffle=False)
    expect(s.num_replicas == WORLD and s.rank == RANK, "sampler takes the world size and rank")
    expect(list(s) == [(RANK + WORLD * i) % 11 for i in range(len(s))], f"indices {list(s)}")


def errors():
    n = WORLD
    t = prism.ones(4)
    raises(prism.InvalidArgumentError, lambda: dist.broadcast(t, src=n + 3), "broadcast", str(n + 3))
    raises(prism.InvalidArgumentError, lambda: dist.send(t, dst=-1), "send")
    raises(prism.InvalidArgumentError, lambda: dist.recv(t, src=n + 5), "recv")
    raises(TypeError, lambda: dist.all_reduce(t, op="sum"), "op")
    raises(TypeError, lambda: dist.all_reduce([1.0, 2.0]), "prism.Tensor")
    # local mismatches: output dtype / size
    raises(prism.Error, lambda: dist.all_gather_into_tensor(prism.zeros(n * 4, dtype=prism.int32), t), "all_gather")
    raises(prism.Error, lambda: dist.all_gather_into_tensor(prism.zeros(n * 4 + 1), t), "all_gather")
    raises(prism.DTypeError, lambda: dist.all_gather([prism.zeros(4, dtype=prism.int64)] * n, t), "dtype")
    raises(prism.InvalidArgumentError, lambda: dist.all_gather([prism.zeros(4)], t) if n != 1 else None, "list")
    raises(prism.Error, lambda: dist.reduce_scatter_tensor(prism.zeros(3), prism.zeros(n * 4)), "reduce_scatter")
    raises(prism.DTypeError, lambda: dist.all_reduce(prism.ones(2, dtype=prism.bool), op=dist.ReduceOp.AVG), "bool")
    raises(prism.InvalidArgumentError, lambda: dist.init_process_group(), "already")
    # dtypes that differ across ranks: a group in debug mode names both calls on every rank
    os.environ["PRISM_DIST_DEBUG"] = "1"
    try:
        g = dist.new_group(list(range(n)))
    finally:
        del os.environ["PRISM_DIST_DEBUG"]
    mine = prism.ones(4, dtype=prism.float32 if RANK == 0 else prism.int32)
    raises(prism.Error, lambda: dist.all_reduce(mine, group=g), "mismatch", "float32", "int32")
    dist.destroy_process_group(g)
    raises(prism.InvalidArgumentError, lambda: dist.all_reduce(t, group=g), "destroyed")
    dist.barrier()  # the world is still usable


def gil_released():
    # A second thread keeps running while this one blocks in init-free collectives: rank 0 waits for
    # rank 1, which arrives 0.6 s late, in a blocking barrier and in Work.wait.
    for mode in ("barrier", "all_reduce", "wait"):
        dist.barrier()  # start together
        with Ticker() as ticker:
            time.sleep(0.05)
            if RANK != 0:
                time.sleep(0.6)
            t0 = time.monotonic()
            try:
                if mode == "barrier":
                    dist.barrier()
                elif mode == "all_reduce":
                    dist.all_reduce(prism.ones(1000))
                else:
                    w = dist.all_reduce(prism.ones(10), async_op=True)
                    w.wait()
            finally:
                t1 = time.monotonic()
        ticker.check(mode, t0, t1)


# ---- DDP -------------------------------------------------------------------------------------------------
def mlp(seed, out=4):
    prism.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, out))


def flat_params(model):
    return prism.cat([p.detach().reshape(-1) for p in model.parameters()])


def identical_across_ranks(vec, what):
    everyone = prism.zeros(WORLD * vec.numel(), dtype=vec.dtype)
    dist.all_gather_into_tensor(everyone, vec)
    rows = np.array(everyone.tolist()).reshape(WORLD, -1)
    for r in range(1, WORLD):
        expect(rows[r].tobytes() == rows[0].tobytes(), f"{what}: rank {r} differs from rank 0 "
               f"(max |diff| {np.abs(rows[r] - rows[0]).max()})")


def global_batch(step, rows=8):
    rng = np.random.default_rng(500 + step)
    return rng.standard_normal((rows, 8)), rng.standard_normal((rows, 4))


def ddp_training_matches_one_process():
    model = mlp(100 + RANK)  # different initial values on each rank: construction broadcasts rank 0's
    ref = copy.deepcopy(model) if RANK == 0 else None
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.0005, first_bucket_mb=0.0005)
    expect(ddp.module is model, ".module is the wrapped module")
    expect(len(ddp.bucket_sizes) > 1, f"small caps should give several buckets, got {ddp.bucket_sizes}")
    identical_across_ranks(flat_params(model), "parameters after construction")
    if RANK == 0:
        same(flat_params(model), flat_params(ref).tolist())
    # A spy on the gradient hooks: some bucket's all-reduce starts before the last gradient arrives.
    probe, on_grad = [], ddp._on_grad

    def spy(i, g):
        out = on_grad(i, g)
        probe.append((ddp._pending, ddp._next_launch))
        return out

    ddp._on_grad = spy
    opt = prism.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ref_opt = prism.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9) if ref is not None else None
    per = 8 // WORLD
    for step in range(4):
        x, y = global_batch(step)
        xs, ys = x[RANK * per:(RANK + 1) * per], y[RANK * per:(RANK + 1) * per]
        opt.zero_grad()
        loss = nn.functional.mse_loss(ddp(prism.tensor(xs.tolist())), prism.tensor(ys.tolist()))
        loss.backward()
        identical_across_ranks(prism.cat([p.grad.reshape(-1) for p in model.parameters()]), f"step {step} grads")
        opt.step()
        identical_across_ranks(flat_params(model), f"step {step} parameters")
        if ref is not None:
            ref_opt.zero_grad()
            nn.functional.mse_loss(ref(prism.tensor(x.tolist())), prism.tensor(y.tolist())).backward()
            ref_opt.step()
            same(flat_params(model), flat_params(ref).tolist(), 1e-5)
    # (after the first step the buckets follow the observed gradient order: every step overlaps)
    expect(len(probe) == 4 * 6, f"{len(probe)} hook calls")
    for step in range(1, 4):
        early = [launched for pending, launched in probe[6 * step:6 * step + 6] if pending > 0 and launched >= 1]
        expect(early, f"step {step}: no bucket was launched before the last gradient: {probe}")


def ddp_no_sync_accumulates():
    model = mlp(7)
    ref = copy.deepcopy(model)
    ddp = nn.parallel.DistributedDataParallel(model)
    per = 8 // WORLD
    batches = [global_batch(10 + k) for k in range(3)]
    with ddp.no_sync():
        for x, y in batches[:2]:
            xs, ys = x[RANK * per:(RANK + 1) * per], y[RANK * per:(RANK + 1) * per]
            nn.functional.mse_loss(ddp(prism.tensor(xs.tolist())), prism.tensor(ys.tolist())).backward()
    local = prism.cat([p.grad.reshape(-1) for p in model.parameters()])
    everyone = prism.zeros(WORLD * local.numel())
    dist.all_gather_into_tensor(everyone, local)
    rows = np.array(everyone.tolist()).reshape(WORLD, -1)
    expect(WORLD == 1 or not np.array_equal(rows[0], rows[1]), "no_sync gradients were synchronised")
    x, y = batches[2]
    xs, ys = x[RANK * per:(RANK + 1) * per], y[RANK * per:(RANK + 1) * per]
    nn.functional.mse_loss(ddp(prism.tensor(xs.tolist())), prism.tensor(ys.tolist())).backward()
    synced = prism.cat([p.grad.reshape(-1) for p in model.parameters()])
    identical_across_ranks(synced, "accumulated gradients")
    for x, y in batches:
        nn.functional.mse_loss(ref(prism.tensor(x.tolist())), prism.tensor(y.tolist())).backward()
    same(synced, prism.cat([p.grad.reshape(-1) for p in ref.parameters()]).tolist(), 1e-5)


def ddp_errors():
    # a model that differs across ranks: both ranks raise naming the parameter
    msg = raises(prism.InvalidArgumentError,
                 lambda: nn.parallel.DistributedDataParallel(mlp(1, out=4 if RANK == 0 else 5)),
                 "differs across ranks", "4.weight", "[4, 16]", "[5, 16]")
    expect(f"rank {WORLD - 1}" in msg, msg)

    # a parameter left out of the loss: the next forward names it
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Linear(3, 2), nn.Linear(3, 2)

        def forward(self, x):
            return self.used(x)

    ddp = nn.parallel.DistributedDataParallel(TwoHeads())
    ddp(prism.ones(2, 3)).sum().backward()
    raises(prism.InvalidArgumentError, lambda: ddp(prism.ones(2, 3)), "unused.weight", "no gradient")
    raises(prism.InvalidArgumentError, lambda: nn.parallel.DistributedDataParallel(TwoHeads(),
                                                                                   find_unused_parameters=True))
    dist.barrier()


# ---- scenarios -------------------------------------------------------------------------------------------
def init_with_gil_check():
    # Rank 0 waits in init for rank 1 (0.6 s late) while a second thread keeps ticking.
    flag = os.path.join(OUT, "rank0-in-init")
    with Ticker() as ticker:
        if RANK != 0:  # join 0.6 s after rank 0 started waiting, however late it started
            deadline = time.monotonic() + 20
            while not os.path.exists(flag) and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.6)
        else:
            open(flag, "w").close()
        t0 = time.monotonic()
        try:
            dist.init_process_group(timeout=30)
        finally:
            t1 = time.monotonic()
    ticker.check("init", t0, t1)


def main_scenario():
    check(init_with_gil_check)
    if results.get("init_with_gil_check") != "ok" and not dist.is_initialized():
        return
    for fn in (query_functions, all_reduce_every_dtype_and_op, all_reduce_non_contiguous_and_empty,
               broadcast_checks, all_gather_checks, reduce_scatter_checks, async_work, send_recv, devices,
               objects, sampler_in_world, gil_released, ddp_training_matches_one_process,
               ddp_no_sync_accumulates, ddp_errors, errors):
        check(fn)
    dist.destroy_process_group()
    record("destroyed", "ok" if not dist.is_initialized() else "still initialized")


def subgroups():
    # World of 3: group [0, 2] (rank 1 is not a member), singleton groups, AVG over 3, p2p in a group.
    g02 = dist.new_group([2, 0])  # any order: sorted
    singles = [dist.new_group([r]) for r in range(WORLD)]
    t = prism.full((4,), float(RANK + 1))
    if RANK == 1:
        expect(g02 is dist.GroupMember.NON_GROUP_MEMBER, f"non-member got {g02!r}")
        expect(dist.get_rank(g02) == -1 and dist.get_world_size(g02) == -1, "non-member rank / size")
        expect(dist.all_reduce(t, group=g02) is None, "a collective on a non-member group returns None")
        same(t, [2.0] * 4)  # untouched
        expect(dist.broadcast(t, src=0, group=g02) is None and dist.barrier(group=g02) is None, "no-ops")
    else:
        expect(g02.ranks == (0, 2) and g02.size() == 2, f"group {g02!r}")
        expect(dist.get_rank(g02) == RANK // 2 and dist.get_world_size(g02) == 2, "group rank / size")
        dist.all_reduce(t, group=g02)
        same(t, [4.0] * 4)  # 1 + 3
        b = prism.full((2,), float(RANK))
        dist.broadcast(b, src=2, group=g02)  # src is a global rank
        same(b, [2.0, 2.0])
        outs = [prism.zeros(1) for _ in range(2)]
        dist.all_gather(outs, prism.full((1,), float(RANK)), group=g02)
        same(prism.cat(outs), [0.0, 2.0])
        raises(prism.InvalidArgumentError, lambda: dist.broadcast(b, src=1, group=g02), "not a member")
        if RANK == 0:
            dist.send(prism.full((3,), 7.0), dst=2, group=g02)
        else:
            r = prism.zeros(3)
            dist.recv(r, src=0, group=g02)
            same(r, [7.0] * 3)
        dist.barrier(group=g02)
    mine = singles[RANK]
    expect(dist.get_world_size(mine) == 1 and dist.get_rank(mine) == 0, "singleton group")
    s = prism.full((2,), 5.0)
    dist.all_reduce(s, op=dist.ReduceOp.AVG, group=mine)
    same(s, [5.0, 5.0])
    for r in range(WORLD):
        if r != RANK:
            expect(singles[r] is dist.GroupMember.NON_GROUP_MEMBER, "other singletons are non-member sentinels")
    a = prism.tensor([float(RANK), 1.0])
    dist.all_reduce(a, op=dist.ReduceOp.AVG)
    same(a, [1.0, 1.0], 1e-6)  # (0 + 1 + 2) / 3
    ai = prism.tensor([RANK * 2 + 1, -(RANK * 2 + 1)], dtype=prism.int64)
    dist.all_reduce(ai, op=dist.ReduceOp.AVG)
    same(ai, [3, -3])  # (1 + 3 + 5) / 3, truncating
    ddp = nn.parallel.DistributedDataParallel(mlp(3 + RANK), process_group=g02) if RANK != 1 else None
    if ddp is not None:
        ddp(prism.ones(2, 8) * (RANK + 1)).sum().backward()
        identical_in_group = [prism.zeros(1) for _ in range(2)]
        gsum = prism.tensor([float(sum(p.grad.sum().item() for p in ddp.parameters()))])
        dist.all_gather(identical_in_group, gsum, group=g02)
        same(identical_in_group[0], identical_in_group[1].tolist())
    raises(prism.Error, lambda: dist.new_group([0, WORLD + 4]), "new_group")
    dist.barrier()


def cli_scenario():
    expect(os.environ.get("PRISM_LOCAL_RANK") == str(RANK), "prism run sets PRISM_LOCAL_RANK")
    dist.init_process_group(timeout=30)
    t = prism.tensor([float(RANK + 1)])
    dist.all_reduce(t)
    same(t, [WORLD * (WORLD + 1) / 2])
    dist.destroy_process_group()


if __name__ == "__main__":
    scenario = sys.argv[1]
    if scenario == "main":
        main_scenario()
    elif scenario == "cli":
        check(cli_scenario)
    else:
        dist.init_process_group(timeout=30)
        check(subgroups)
        dist.destroy_process_group()
    print(f"rank {RANK}: {sum(v == 'ok' for v in results.values())} of {len(results)} checks ok", flush=True)
