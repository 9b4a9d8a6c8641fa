"""prism.distributed: collectives across processes and hosts, spelled as torch.distributed (prism.h "Distributed").

Start the processes with ``prism run -n N python train.py`` (or any launcher that sets PRISM_RANK /
PRISM_WORLD_SIZE / PRISM_MASTER_ADDR / PRISM_MASTER_PORT, RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT,
mpirun's or Slurm's variables), then::

    import prism.distributed as dist
    dist.init_process_group()          # "gloo" unless PRISM_DIST_BACKEND says otherwise
    dist.all_reduce(t)                 # t becomes the sum over the ranks
"""

# Note [torch.distributed conventions in prism.distributed]
# ---------------------------------------------------------
# The C ABI takes ranks of the group a collective runs on; this module takes
# global (world) ranks for `src` / `dst`, as torch.distributed does, and
# translates them (a rank outside the group is an InvalidArgumentError).
# new_group() returns a ProcessGroup on its members and the sentinel
# GroupMember.NON_GROUP_MEMBER elsewhere (torch's choice; None would mean "the
# world" to every collective, and a non-member passing it on would silently
# join a world collective that the members never issue). A collective on the
# sentinel does nothing and returns None; get_rank / get_world_size of it
# return -1. Every blocking call (init, collectives, barrier, Work.wait)
# releases the GIL while it waits (Note [The GIL around collectives] in
# python/src/distributed.cpp). Tensors of any dtype, device and layout are
# accepted; the C layer stages non-contiguous and device tensors.

from __future__ import annotations

import datetime
import enum
import pickle
import weakref

from . import _C
from ._C import DTypeError, InvalidArgumentError

__all__ = [
    "Backend", "GroupMember", "ProcessGroup", "ReduceOp", "Work", "all_gather", "all_gather_into_tensor",
    "all_gather_object", "all_reduce", "barrier", "broadcast", "broadcast_object_list", "destroy_process_group",
    "get_backend", "get_rank", "get_world_size", "init_process_group", "irecv", "is_available", "is_initialized",
    "isend", "new_group", "recv", "reduce_scatter", "reduce_scatter_tensor", "send",
]


def is_available() -> bool:
    """True: the package always carries the distributed runtime (the Gloo plugin where it was built)."""
    return True


class ReduceOp(enum.IntEnum):
    """Reduction operators (values are prism.h's prism_reduce_op). AVG divides the sum by the group size
    (integer dtypes: truncating; bool: refused). On bool tensors SUM and MAX are logical or, PRODUCT and MIN
    logical and."""

    SUM = 0
    AVG = 1
    MAX = 2
    MIN = 3
    PRODUCT = 4


class Backend:
    """Names of the communicator plugins (libprism-comm-<name>.so)."""

    GLOO = "gloo"
    MPI = "mpi"
    NCCL = "nccl"
    RCCL = "rccl"


class ProcessGroup:
    """A group of ranks: the world (made by init_process_group) or a sub-group (new_group)."""

    __slots__ = ("_handle", "_ranks", "__weakref__")

    def __init__(self, handle, ranks):
        self._handle = handle  # _C._GroupHandle, None for the world
        self._ranks = tuple(ranks)  # the members' global ranks, ascending

    def rank(self) -> int:
        """This process's rank in the group."""
        return _C._dist_rank(self._live("get_rank"))

    def size(self) -> int:
        """The number of ranks in the group."""
        return len(self._ranks)

    @property
    def ranks(self) -> tuple:
        """The members' global ranks, ascending (group rank i is ranks[i])."""
        return self._ranks

    def _live(self, op):
        if self._handle is None:
            if self is not _state.world:
                raise InvalidArgumentError(f"{op}: the process group was destroyed (destroy_process_group)")
        elif self._handle.released:
            raise InvalidArgumentError(f"{op}: the process group was destroyed (destroy_process_group)")
        return self._handle

    def _group_rank(self, global_rank, op, what):
        # World: the C layer checks the range and names the op; a sub-group translates global -> group rank.
        if not isinstance(global_rank, int) or isinstance(global_rank, bool):
            raise TypeError(f"{op}: {what} must be an int (a global rank), not {type(global_rank).__name__}")
        if self._handle is None:
            return global_rank
        try:
            return self._ranks.index(global_rank)
        except ValueError:
            raise InvalidArgumentError(f"{op}: {what} {global_rank} is not a member of the group "
                                       f"(global ranks {list(self._ranks)})") from None

    def __repr__(self) -> str:
        kind = "world" if self._handle is None else "group"
        return f"<prism.distributed.ProcessGroup {kind} ranks={list(self._ranks)}>"


class _NonGroupMember:
    """new_group()'s result on ranks that are not in the group: collectives on it do nothing."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "GroupMember.NON_GROUP_MEMBER"


class GroupMember:
    """GroupMember.WORLD: the world group once initialized (None before); GroupMember.NON_GROUP_MEMBER: what
    new_group() returns on ranks outside the group."""

    WORLD = None
    NON_GROUP_MEMBER = _NonGroupMember()


class _State:
    def __init__(self):
        self.world = None  # the world ProcessGroup
        self.groups = []  # weak references to the sub-groups made by new_group (released by destroy)


_state = _State()


def _ms(timeout, what):
    """Milliseconds of a timeout given as a timedelta or seconds; None -> 0 (the default)."""
    if timeout is None:
        return 0
    if isinstance(timeout, datetime.timedelta):
        seconds = timeout.total_seconds()
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        seconds = float(timeout)
    else:
        raise TypeError(f"{what}: timeout must be a datetime.timedelta or seconds, not {type(timeout).__name__}")
    if not seconds > 0:
        raise InvalidArgumentError(f"{what}: timeout must be positive, got {seconds} s")
    return max(1, int(round(seconds * 1000)))


def _world(op):
    if _state.world is None:
        if not _C._dist_is_initialized():
            raise InvalidArgumentError(f"prism.distributed.{op}: the default process group is not initialized; "
                                       "call prism.distributed.init_process_group() first")
        _adopt_world()  # initialized from C or C++ in this process
    return _state.world


def _adopt_world():
    _state.world = ProcessGroup(None, range(_C._dist_world_size(None)))
    GroupMember.WORLD = _state.world


def _group(group, op):
    """The ProcessGroup a collective runs on, or None on a non-member (the collective is then a no-op)."""
    if group is None:
        return _world(op)
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"{op}: group must be a prism.distributed.ProcessGroup or None, not {type(group).__name__}")
    group._live(op)
    return group


def _tensor(t, op, what="tensor"):
    if not isinstance(t, _C.TensorBase):
        raise TypeError(f"{op}: {what} must be a prism.Tensor, not {type(t).__name__}")
    return t


def _op(op, name):
    if isinstance(op, ReduceOp):
        return int(op)
    if isinstance(op, int) and not isinstance(op, bool) and 0 <= op <= 4:
        return op
    raise TypeError(f"{name}: op must be a prism.distributed.ReduceOp, not {op!r}")


class Work:
    """An issued collective (async_op=True, isend, irecv). wait() blocks until it completed on this rank."""

    __slots__ = ("_handle", "_finish", "_outputs")

    def __init__(self, handle, finish=None, outputs=()):
        self._handle = handle
        self._finish = finish  # runs once after the first successful wait (e.g. all_gather's list copies)
        self._outputs = list(outputs)

    def wait(self, timeout=None) -> bool:
        """Blocks (without the GIL) until the collective completed and its result is in its tensors.

        timeout: a datetime.timedelta or seconds; None: the group's timeout. Raises prism.UnavailableError
        on timeout and the collective's own error if it failed. Returns True."""
        self._handle.wait(_ms(timeout, "Work.wait"))
        if self._finish is not None:
            finish, self._finish = self._finish, None
            finish()
        return True

    def is_completed(self) -> bool:
        """True when the collective finished (successfully or not); never blocks. wait() still has to be
        called to copy a staged result back and to raise its error."""
        return self._handle.is_completed()

    def is_success(self) -> bool:
        """True when the collective completed; it may still raise in wait() if it failed."""
        return self.is_completed()

    def result(self) -> list:
        """The output tensors of the collective."""
        return list(self._outputs)


def _issue(handle, async_op, finish=None, outputs=()):
    if not async_op:
        if finish is not None:
            finish()
        return None
    return Work(handle, finish, outputs)


# ---- initialization --------------------------------------------------------------------------------------


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, *, master_addr=None, master_port=0) -> None:
    """Joins the world group (prism_dist_init_with); blocks (without the GIL) until every rank joined.

    backend: "gloo" (default), "mpi", "nccl", "rccl"; None reads PRISM_DIST_BACKEND. rank / world_size < 0,
    master_addr None and master_port 0 come from the environment: PRISM_RANK / PRISM_WORLD_SIZE (else
    OMPI_COMM_WORLD_*, PMI_*, SLURM_*, RANK / WORLD_SIZE), PRISM_MASTER_ADDR / PRISM_MASTER_PORT (else
    MASTER_ADDR / MASTER_PORT, else 127.0.0.1:29500). init_method: None, "env://" or "tcp://host:port".
    timeout (timedelta or seconds; None: PRISM_DIST_TIMEOUT, default 300 s) bounds the rendezvous and every
    later collective. ``store``, ``group_name`` and ``pg_options`` are not supported (must be left out).
    """
    if store is not None or pg_options is not None or group_name:
        raise InvalidArgumentError("init_process_group: store, group_name and pg_options are not supported; "
                                   "the rendezvous is master_addr:master_port (or init_method='tcp://host:port')")
    if init_method is not None and init_method != "env://":
        if not isinstance(init_method, str) or not init_method.startswith("tcp://"):
            raise InvalidArgumentError(f"init_process_group: init_method must be None, 'env://' or "
                                       f"'tcp://host:port', got {init_method!r}")
        host, _, port = init_method[len("tcp://"):].rpartition(":")
        if not host or not port.isdigit():
            raise InvalidArgumentError(f"init_process_group: init_method {init_method!r} is not 'tcp://host:port'")
        master_addr = master_addr or host.strip("[]")
        master_port = master_port or int(port)
    if backend is not None and not isinstance(backend, str):
        raise TypeError(f"init_process_group: backend must be a str or None, not {type(backend).__name__}")
    _C._dist_init((backend or "").lower(), int(rank), int(world_size), master_addr or "", int(master_port),
                  _ms(timeout, "init_process_group"))
    _adopt_world()


def is_initialized() -> bool:
    """True after init_process_group and before destroy_process_group."""
    return _C._dist_is_initialized()


def destroy_process_group(group=None) -> None:
    """group None: releases every sub-group made by new_group, then leaves the world (waits for the issued
    collectives). A sub-group: releases that group only. A no-op when not initialized."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return
    if group is not None and group is not _state.world:
        if not isinstance(group, ProcessGroup):
            raise TypeError(f"destroy_process_group: group must be a ProcessGroup or None, not "
                            f"{type(group).__name__}")
        if group._handle is not None and not group._handle.released:
            group._handle.release()
        return
    for ref in _state.groups:
        g = ref()
        if g is not None and not g._handle.released:
            g._handle.release()
    _state.groups = []
    _state.world = None
    GroupMember.WORLD = None
    _C._dist_finalize()


def get_rank(group=None) -> int:
    """This process's rank in `group` (None: the world); -1 on GroupMember.NON_GROUP_MEMBER."""
    g = _group(group, "get_rank")
    return -1 if g is None else _C._dist_rank(g._handle)


def get_world_size(group=None) -> int:
    """The number of ranks in `group` (None: the world); -1 on GroupMember.NON_GROUP_MEMBER."""
    g = _group(group, "get_world_size")
    return -1 if g is None else g.size()


def get_backend(group=None) -> str:
    """The communicator plugin's name ("gloo", "mpi", ...); every group uses the world's."""
    _group(group, "get_backend")
    return _C._dist_backend()


def new_group(ranks=None, timeout=None, backend=None, pg_options=None):
    """A group of the listed global ranks (None: all). Collective over the world: every rank calls it with
    the same list, members or not. Returns a ProcessGroup on members and GroupMember.NON_GROUP_MEMBER on the
    other ranks (Note [torch.distributed conventions in prism.distributed]). The group uses the world's
    backend and timeout; ``timeout`` and ``pg_options`` must be left out, ``backend`` None or the world's."""
    world = _world("new_group")
    if timeout is not None or pg_options is not None:
        raise InvalidArgumentError("new_group: a sub-group uses the world's timeout; timeout and pg_options "
                                   "are not supported")
    if backend is not None and str(backend).lower() != _C._dist_backend():
        raise InvalidArgumentError(f"new_group: backend {backend!r} differs from the world's "
                                   f"'{_C._dist_backend()}'; a sub-group uses the world's")
    members = list(world.ranks) if ranks is None else [int(r) for r in ranks]
    if len(set(members)) != len(members):
        raise InvalidArgumentError(f"new_group: ranks {members} has duplicates")
    members.sort()
    handle = _C._dist_new_group(members)
    if handle is None:
        return GroupMember.NON_GROUP_MEMBER
    g = ProcessGroup(handle, members)
    _state.groups = [r for r in _state.groups if r() is not None] + [weakref.ref(g)]
    return g


# ---- collectives -----------------------------------------------------------------------------------------


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """In place: tensor becomes the reduction of every rank's tensor. async_op=True returns a Work."""
    g = _group(group, "all_reduce")
    if g is None:
        return None
    _tensor(tensor, "all_reduce")
    return _issue(_C._dist_all_reduce(tensor, _op(op, "all_reduce"), g._handle, async_op), async_op,
                  outputs=[tensor])


def broadcast(tensor, src, group=None, async_op=False):
    """In place: every rank's tensor becomes global rank `src`'s."""
    g = _group(group, "broadcast")
    if g is None:
        return None
    _tensor(tensor, "broadcast")
    root = g._group_rank(src, "broadcast", "src")
    return _issue(_C._dist_broadcast(tensor, root, g._handle, async_op), async_op, outputs=[tensor])


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """output_tensor (group size x numel(input) elements, same dtype, any shape) = every rank's input
    concatenated in group-rank order."""
    g = _group(group, "all_gather_into_tensor")
    if g is None:
        return None
    _tensor(output_tensor, "all_gather_into_tensor", "output_tensor")
    _tensor(input_tensor, "all_gather_into_tensor", "input_tensor")
    return _issue(_C._dist_all_gather(output_tensor, input_tensor, g._handle, async_op), async_op,
                  outputs=[output_tensor])


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[i] = group rank i's tensor. tensor_list holds group-size tensors of tensor's shape and
    dtype (any device and layout)."""
    from . import _factories, autograd

    g = _group(group, "all_gather")
    if g is None:
        return None
    _tensor(tensor, "all_gather")
    n = g.size()
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != n:
        got = len(tensor_list) if isinstance(tensor_list, (list, tuple)) else type(tensor_list).__name__
        raise InvalidArgumentError(f"all_gather: tensor_list must be a list of {n} tensors (the group size), "
                                   f"got {got}")
    for i, t in enumerate(tensor_list):
        _tensor(t, "all_gather", f"tensor_list[{i}]")
        if t.dtype != tensor.dtype:
            raise DTypeError(f"all_gather: tensor_list[{i}] has dtype {t.dtype.name} but tensor has "
                             f"{tensor.dtype.name}")
        if tuple(t.shape) != tuple(tensor.shape):
            raise InvalidArgumentError(f"all_gather: tensor_list[{i}] has shape {list(t.shape)} but tensor has "
                                       f"{list(tensor.shape)}")
    k = tensor.numel()
    flat = _factories.empty(n * k, dtype=tensor.dtype, device=tensor.device)
    handle = _C._dist_all_gather(flat, tensor, g._handle, async_op)

    def finish():
        with autograd.no_grad():
            for i, t in enumerate(tensor_list):
                t.copy_(flat.narrow(0, i * k, k).view(tuple(t.shape)))

    return _issue(handle, async_op, finish, outputs=tensor_list)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):  # noqa: A002
    """output (numel(input) / group size elements) = this rank's chunk (flat order) of the reduction of every
    rank's input."""
    g = _group(group, "reduce_scatter_tensor")
    if g is None:
        return None
    _tensor(output, "reduce_scatter_tensor", "output")
    _tensor(input, "reduce_scatter_tensor", "input")
    return _issue(_C._dist_reduce_scatter(output, input, _op(op, "reduce_scatter_tensor"), g._handle, async_op),
                  async_op, outputs=[output])


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """output = the reduction over the ranks of their input_list[group rank] (input_list: group-size tensors
    of output's shape and dtype)."""
    g = _group(group, "reduce_scatter")
    if g is None:
        return None
    _tensor(output, "reduce_scatter", "output")
    if not isinstance(input_list, (list, tuple)) or len(input_list) != g.size():
        raise InvalidArgumentError(f"reduce_scatter: input_list must be a list of {g.size()} tensors (the group "
                                   "size)")
    for i, t in enumerate(input_list):
        _tensor(t, "reduce_scatter", f"input_list[{i}]")
    flat = _C.cat([t.detach().reshape(-1) for t in input_list]) if input_list else output.new_empty(0)
    return reduce_scatter_tensor(output, flat, op, group, async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Returns (or, with async_op, its Work completes) once every rank of the group reached it."""
    g = _group(group, "barrier")
    if g is None:
        return None
    return _issue(_C._dist_barrier(g._handle, async_op), async_op)


def _p2p(fn, name, tensor, peer, what, group, tag, async_op):
    g = _group(group, name)
    if g is None:
        return None
    _tensor(tensor, name)
    if not isinstance(tag, int) or isinstance(tag, bool):
        raise TypeError(f"{name}: tag must be an int, not {type(tag).__name__}")
    return _issue(fn(tensor, g._group_rank(peer, name, what), g._handle, tag, async_op), async_op,
                  outputs=[tensor])


def send(tensor, dst, group=None, tag=0) -> None:
    """Sends tensor's elements to global rank `dst` (matched by `tag` with its recv of the same byte size)."""
    _p2p(_C._dist_send, "send", tensor, dst, "dst", group, tag, False)


def recv(tensor, src=None, group=None, tag=0) -> int:
    """Receives into tensor from global rank `src` (required: no receive from any source); returns src."""
    if src is None:
        raise InvalidArgumentError("recv: src is required (receiving from any source is not supported)")
    _p2p(_C._dist_recv, "recv", tensor, src, "src", group, tag, False)
    return src


def isend(tensor, dst, group=None, tag=0):
    """send() without blocking: returns a Work (None on a non-member group)."""
    return _p2p(_C._dist_send, "isend", tensor, dst, "dst", group, tag, True)


def irecv(tensor, src=None, group=None, tag=0):
    """recv() without blocking: returns a Work (None on a non-member group)."""
    if src is None:
        raise InvalidArgumentError("irecv: src is required (receiving from any source is not supported)")
    return _p2p(_C._dist_recv, "irecv", tensor, src, "src", group, tag, True)


# ---- picklable objects -----------------------------------------------------------------------------------


def _object_bytes(obj):
    from . import _factories

    data = pickle.dumps(obj)
    return _factories.tensor(list(data), dtype=_uint8()) if data else _factories.empty(0, dtype=_uint8())


def _uint8():
    from ._dtype import _dtype_by_name

    return _dtype_by_name("uint8")


def all_gather_object(object_list, obj, group=None) -> None:
    """object_list[i] = group rank i's obj (pickled; object_list holds group-size entries, overwritten)."""
    from . import _factories
    from ._dtype import _dtype_by_name

    g = _group(group, "all_gather_object")
    if g is None:
        return
    n = g.size()
    if not isinstance(object_list, list) or len(object_list) != n:
        raise InvalidArgumentError(f"all_gather_object: object_list must be a list of {n} entries (the group "
                                   "size)")
    data = _object_bytes(obj)
    i64 = _dtype_by_name("int64")
    sizes = _factories.zeros(n, dtype=i64)
    all_gather_into_tensor(sizes, _factories.tensor([data.numel()], dtype=i64), group)
    sizes = sizes.tolist()
    width = max(sizes)
    padded = _factories.zeros(width, dtype=_uint8())
    if data.numel():
        padded.narrow(0, 0, data.numel()).copy_(data)
    out = _factories.empty(n * width, dtype=_uint8())
    all_gather_into_tensor(out, padded, group)
    raw = bytes(out.tolist())
    for i in range(n):
        object_list[i] = pickle.loads(raw[i * width:i * width + sizes[i]])


def broadcast_object_list(object_list, src=0, group=None) -> None:
    """In place: every rank's object_list entries become global rank src's (pickled)."""
    from . import _factories
    from ._dtype import _dtype_by_name

    g = _group(group, "broadcast_object_list")
    if g is None:
        return
    i64 = _dtype_by_name("int64")
    mine = g.rank() == g._group_rank(src, "broadcast_object_list", "src")
    data = _object_bytes(list(object_list)) if mine else None
    size = _factories.tensor([data.numel() if mine else 0], dtype=i64)
    broadcast(size, src, group)
    buf = data if mine else _factories.empty(int(size.item()), dtype=_uint8())
    broadcast(buf, src, group)
    if not mine:
        object_list[:] = pickle.loads(bytes(buf.tolist()))
