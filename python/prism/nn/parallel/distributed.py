"""prism.nn.parallel.DistributedDataParallel: gradients averaged across ranks in buckets, overlapping backward."""
import contextlib
import weakref

import prism
from prism import _C
from prism import distributed as dist
from prism.nn.modules.module import Module

__all__ = ["DistributedDataParallel"]

# Note [DistributedDataParallel in Python]
# ----------------------------------------
# The same algorithm as the C++ class (Note [DistributedDataParallel] in
# api/prism/nn.hpp), so Python and C++ jobs behave alike:
# - Construction checks that every rank holds the same parameters (count,
#   names, shapes, dtypes), failing on every rank with a message naming the
#   first difference, then broadcasts parameters and buffers from group rank 0.
# - Parameters that require grad, in reverse registration order (roughly the
#   order backward produces their gradients), are packed into flat buckets of
#   about bucket_cap_mb (the first about first_bucket_mb). A gradient hook on
#   each parameter (Tensor.register_hook) copies its gradient, plus what is
#   already accumulated in .grad (so no_sync() accumulation is synchronised
#   too), into its bucket slot; a full bucket starts an async all-reduce (avg)
#   at once, in bucket order on every rank, while backward goes on: the
#   communication overlaps the rest of backward.
# - The hook of the last parameter to get its gradient waits for every bucket
#   (without the GIL) and writes the averages into every .grad (its own
#   parameter's .grad is set and the engine is handed a zero gradient to add),
#   so after loss.backward() returns .grad holds the average, bitwise equal on
#   every rank.
# - Unlike the C++ class, and as torch does, the buckets are rebuilt once,
#   at the forward after the first synchronised backward, in the order the
#   gradients actually arrived (rank 0's order, broadcast so every rank packs
#   the same buckets): autograd does not produce them in exact reverse
#   registration order (a Linear's bias gradient comes before its weight's),
#   and a bucket holding the last-arriving gradient cannot start early.
# - no_sync(): backward only accumulates locally; the next synchronised
#   backward averages the accumulated gradients.
# - Every parameter that requires grad must get a gradient in each
#   synchronised backward (find_unused_parameters=False); forward() refuses to
#   start when the previous backward left some without one.
# - World size 1 registers no hooks: backward runs exactly as without DDP.
# The hooks hold only a weak reference to the DDP object, and its finalizer
# removes them, so a dropped DDP neither stays alive nor acts on later
# backward passes of the module.


def _fnv(h, v):
    return ((h ^ (v & 0xFFFFFFFFFFFFFFFF)) * 1099511628211) & 0xFFFFFFFFFFFFFFFF


def _signed(v):
    return v - (1 << 64) if v >= (1 << 63) else v


def _remove_hooks(handles):
    for h in handles:
        try:
            h.remove()
        except Exception:  # noqa: BLE001 - a finalizer never raises
            pass
    handles.clear()


class _Bucket:
    __slots__ = ("flat", "params", "filled", "work")

    def __init__(self, flat, params):
        self.flat, self.params, self.filled, self.work = flat, params, 0, None


class DistributedDataParallel(Module):
    """Wraps `module` for data-parallel training: every rank runs the same model on its share of the batch;
    after ``loss.backward()`` each parameter's ``.grad`` is the average over the ranks (bitwise equal on
    all of them), so identical optimizer steps keep the replicas identical.

    Call prism.distributed.init_process_group() first. ``process_group``: the group to average over (None:
    the world). ``broadcast_buffers``: buffers (e.g. BatchNorm statistics) are broadcast from rank 0 at every
    forward. ``bucket_cap_mb`` / ``first_bucket_mb``: bucket sizes. ``device_ids``, ``output_device``,
    ``dim``, ``check_reduction``, ``gradient_as_bucket_view`` and ``static_graph`` are accepted for
    torch compatibility and have no effect (the module runs where its parameters are);
    ``find_unused_parameters=True`` is not supported. ``.module`` is the wrapped module.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=25, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, first_bucket_mb=1.0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a prism.nn.Module, not "
                            f"{type(module).__name__}")
        if find_unused_parameters:
            raise prism.InvalidArgumentError(
                "DistributedDataParallel: find_unused_parameters=True is not supported; every parameter that "
                "requires grad must take part in the loss")
        if not (bucket_cap_mb > 0 and first_bucket_mb > 0):
            raise prism.InvalidArgumentError(f"DistributedDataParallel: bucket sizes must be positive, got "
                                             f"bucket_cap_mb={bucket_cap_mb}, first_bucket_mb={first_bucket_mb}")
        group = dist._group(process_group, "DistributedDataParallel")
        if group is None:
            raise prism.InvalidArgumentError("DistributedDataParallel: this rank is not a member of "
                                             "process_group (GroupMember.NON_GROUP_MEMBER)")
        self.module = module
        d = self.__dict__
        d["process_group"] = process_group
        d["broadcast_buffers"] = bool(broadcast_buffers)
        d["_group"] = group
        d["_size"] = group.size()
        d["_rank"] = group.rank()
        d["_params"] = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        d["_sync"] = True
        d["_hooks"] = []
        self._check_same_parameters()
        with prism.no_grad():
            for _, p in module.named_parameters():
                _C._dist_broadcast(p, 0, group._handle, False)
            self._broadcast_buffers()
        d["_caps"] = (bucket_cap_mb * 1048576.0, first_bucket_mb * 1048576.0)
        d["_arrival"] = []  # gradient arrival order of the first synchronised backward (then None)
        self._build_buckets(list(range(len(self._params) - 1, -1, -1)))
        if self._size == 1:
            return  # no hooks: the average over one rank is the gradient itself
        ref = weakref.ref(self)
        for i, (_, p) in enumerate(self._params):
            self._hooks.append(p.register_hook(_make_hook(ref, i)))
        d["_finalizer"] = weakref.finalize(self, _remove_hooks, self._hooks)

    # ---- construction ----------------------------------------------------------------------------------
    def _signature(self):
        sig_count, total, h = len(self._params), 0, 1469598103934665603
        for _, p in self._params:
            total += p.numel()
            h = _fnv(h, p.dtype._prism_code)
            for s in p.shape:
                h = _fnv(h, s)
            h = _fnv(h, -1)
        return [sig_count, total, _signed(h)]

    def _check_same_parameters(self):
        if self._size == 1:
            return
        i64 = prism.int64
        mine = self._signature()
        everyone = prism.zeros(3 * self._size, dtype=i64)
        _C._dist_all_gather(everyone, prism.tensor(mine, dtype=i64), self._group._handle, False)
        got = everyone.tolist()
        if all(got[3 * r:3 * r + 3] == mine for r in range(self._size)):
            return
        # Some rank differs (every rank sees it): exchange the descriptions to name the first difference.
        desc = [(n, list(p.shape), p.dtype.name) for n, p in self._params]
        all_desc = [None] * self._size
        dist.all_gather_object(all_desc, desc, group=self._group)
        raise prism.InvalidArgumentError("DistributedDataParallel: the model differs across ranks: "
                                         + _first_difference(all_desc) + "; every rank must build the same model")

    def _broadcast_buffers(self):
        for _, b in self.module.named_buffers():
            if b is not None:
                _C._dist_broadcast(b, 0, self._group._handle, False)

    def _build_buckets(self, order):
        cap, cap0 = self._caps
        d = self.__dict__
        buckets, slot, cur = [], [None] * len(self._params), []
        size = [0.0]

        def close():
            if not cur:
                return
            total = 0
            for i in cur:
                slot[i] = (len(buckets), total)
                total += self._params[i][1].numel()
            p0 = self._params[cur[0]][1]
            buckets.append(_Bucket(prism.zeros(total, dtype=p0.dtype, device=p0.device), list(cur)))
            cur.clear()
            size[0] = 0.0

        for k in order:
            p = self._params[k][1]
            if cur:
                q = self._params[cur[0]][1]
                if q.dtype != p.dtype or str(q.device) != str(p.device):
                    close()
            cur.append(k)
            size[0] += p.numel() * p.element_size()
            if size[0] >= (cap0 if not buckets else cap):
                close()
        close()
        d["_buckets"], d["_slot"] = buckets, slot
        self._reset_round()

    def _reset_round(self):
        d = self.__dict__
        d["_pending"] = len(self._params)
        d["_ready"] = [False] * len(self._params)
        d["_next_launch"] = 0
        for b in self._buckets:
            b.filled, b.work = 0, None

    # ---- use ----------------------------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        if self._pending not in (0, len(self._params)):
            missing = ", ".join(n for (n, _), r in zip(self._params, self._ready) if not r)
            raise prism.InvalidArgumentError(
                f"DistributedDataParallel: the previous backward produced no gradient for parameter(s) {missing}; "
                "every parameter that requires grad must take part in the loss")
        if self._arrival is not None and len(self._arrival) == len(self._params) and self._size > 1:
            order = prism.tensor(self._arrival, dtype=prism.int64)
            _C._dist_broadcast(order, 0, self._group._handle, False)
            self.__dict__["_arrival"] = None
            self._build_buckets(order.tolist())
        self._reset_round()
        if self.broadcast_buffers and self._size > 1:
            with prism.no_grad():
                self._broadcast_buffers()
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Within the context, backward only accumulates gradients locally; the first synchronised backward
        afterwards averages the accumulated gradients."""
        prev = self._sync
        self.__dict__["_sync"] = False
        try:
            yield
        finally:
            self.__dict__["_sync"] = prev

    @property
    def bucket_sizes(self):
        """Elements per bucket, in launch order."""
        return [b.flat.numel() for b in self._buckets]

    def _on_grad(self, i, g):
        if not self._sync or self._ready[i]:
            return None
        with prism.no_grad():
            p = self._params[i][1]
            b_index, off = self._slot[i]
            bucket = self._buckets[b_index]
            dst = bucket.flat.narrow(0, off, p.numel()).view(tuple(p.shape))
            acc = p.grad
            if acc is not None:
                dst.copy_(acc)
                dst.add_(g)
            else:
                dst.copy_(g)
            self._ready[i] = True
            if self._arrival is not None:
                self._arrival.append(i)
            bucket.filled += 1
            d = self.__dict__
            d["_pending"] -= 1
            self._launch_ready()
            if self._pending > 0:
                return None
            # The last gradient of this backward: wait for every bucket and write every average.
            for bk in self._buckets:
                if bk.work is not None:
                    bk.work.wait()
            for k, (_, pk) in enumerate(self._params):
                bk_index, offk = self._slot[k]
                v = self._buckets[bk_index].flat.narrow(0, offk, pk.numel()).view(tuple(pk.shape))
                gk = pk.grad
                if k != i and gk is not None:
                    gk.copy_(v)
                else:
                    pk.grad = v.clone()
            d["_pending"] = 0
            return prism.zeros_like(g)

    def _launch_ready(self):
        d = self.__dict__
        while self._next_launch < len(self._buckets):
            b = self._buckets[self._next_launch]
            if b.filled != len(b.params):
                break
            d["_next_launch"] += 1
            b.work = _C._dist_all_reduce(b.flat, int(dist.ReduceOp.AVG), self._group._handle, True)

    def extra_repr(self):
        return f"world_size={self._size}, buckets={len(self._buckets)}"


def _make_hook(ref, i):
    def hook(grad):
        ddp = ref()
        return None if ddp is None else ddp._on_grad(i, grad)

    return hook


def _first_difference(all_desc):
    """'rank 0 has ... but rank 1 has ...' for the first rank whose parameter list differs from rank 0's."""
    base = all_desc[0]
    for r in range(1, len(all_desc)):
        other = all_desc[r]
        if other == base:
            continue
        for (n0, s0, d0), (n1, s1, d1) in zip(base, other):
            if (n0, s0, d0) != (n1, s1, d1):
                return (f"rank 0 has parameter '{n0}' of shape {s0} and dtype {d0} but rank {r} has '{n1}' of "
                        f"shape {s1} and dtype {d1}")
        return f"rank 0 has {len(base)} parameters that require grad but rank {r} has {len(other)}"
    return "the ranks' parameter lists differ"
