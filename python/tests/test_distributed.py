"""prism.distributed, DistributedDataParallel and DistributedSampler: multi-process jobs on the Gloo plugin.

Note [Launching ranks in the Python tests]
------------------------------------------
The installed package does not carry the `prism` executable, so most jobs are
started by the test itself, as `prism run` would: one subprocess per rank of
_dist_worker.py with PRISM_RANK / PRISM_WORLD_SIZE / PRISM_MASTER_ADDR /
PRISM_MASTER_PORT set, the port picked free by binding port 0 (tests can run
side by side). One job of 2 ranks runs every check of the "main" scenario and
each test below asserts the outcome of its checks on every rank; a world of 3
checks sub-groups. One more job goes through `prism run -n 2` itself when the
CLI is found: PRISM_CLI (scripts/test.sh sets it to the ci build's
bin/prism), else `prism` on PATH; otherwise that test says "skipped".
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

import prism
import prism.distributed as dist
from prism import nn

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "_dist_worker.py")


def _gloo_loaded():
    return any(r["plugin"] == "gloo" and r["loaded"] for r in prism.load_report())


# Where scripts/test.sh runs (PRISM_REQUIRE_DEVICES set, install-deps.sh installed libgloo-dev) the plugin
# must be in the package: a missing one fails instead of skipping (Note [Required devices]).
if not _gloo_loaded() and os.environ.get("PRISM_REQUIRE_DEVICES"):
    raise RuntimeError("the Gloo communicator plugin is not in the package (libprism-comm-gloo.so); "
                       "PRISM_REQUIRE_DEVICES is set, so test_distributed.py does not skip")
pytestmark = pytest.mark.skipif(not _gloo_loaded(), reason="skipped: the Gloo communicator plugin is not built "
                                "(libgloo-dev missing) or not in the package")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_env(rank, world, port):
    env = dict(os.environ)
    env.update(PRISM_RANK=str(rank), PRISM_LOCAL_RANK=str(rank), PRISM_WORLD_SIZE=str(world),
               PRISM_MASTER_ADDR="127.0.0.1", PRISM_MASTER_PORT=str(port), PRISM_DIST_TIMEOUT="30",
               OMP_NUM_THREADS="1")
    env.pop("PRISM_DIST_DEBUG", None)
    return env


def read_results(out, world, logs):
    results = []
    for r in range(world):
        path = os.path.join(out, f"rank{r}.json")
        if not os.path.exists(path):
            pytest.fail(f"rank {r} wrote no results\n{logs}")
        with open(path) as f:
            results.append(json.load(f))
    return results


def launch(scenario, world, tmp_dir, timeout=90):
    """Starts `world` ranks of _dist_worker.py SCENARIO; returns each rank's {check: outcome}. When a rank
    fails the others are stopped after a grace period (as `prism run` does)."""
    out = str(tmp_dir)
    port = free_port()
    logs = [open(os.path.join(out, f"rank{r}.log"), "w+") for r in range(world)]
    procs = [subprocess.Popen([sys.executable, WORKER, scenario, out], env=rank_env(r, world, port),
                              stdout=logs[r], stderr=subprocess.STDOUT) for r in range(world)]
    deadline = time.monotonic() + timeout
    failed_at = None
    while any(p.poll() is None for p in procs):
        now = time.monotonic()
        if failed_at is None and any(p.returncode not in (None, 0) for p in procs):
            failed_at = now
        if now > deadline or (failed_at is not None and now > failed_at + 5):
            for p in procs:
                if p.poll() is None:
                    p.kill()
            break
        time.sleep(0.05)
    text = []
    for r, (p, f) in enumerate(zip(procs, logs)):
        p.wait()
        f.seek(0)
        text.append(f"--- rank {r} (exit {p.returncode}):\n{f.read()}")
        f.close()
    log = "\n".join(text)
    if any(p.returncode != 0 for p in procs):
        pytest.fail(f"a rank failed or timed out ({timeout} s)\n{log}")
    return read_results(out, world, log)


@pytest.fixture(scope="module")
def world2(tmp_path_factory):
    return launch("main", 2, tmp_path_factory.mktemp("dist2"))


@pytest.fixture(scope="module")
def world3(tmp_path_factory):
    return launch("subgroups", 3, tmp_path_factory.mktemp("dist3"))


def assert_checks(results, *names):
    for name in names:
        for r, res in enumerate(results):
            assert name in res, f"rank {r} did not run {name}"
            assert res[name] == "ok", f"rank {r}, {name}:\n{res[name]}"


def test_init_releases_gil_and_queries(world2):
    assert_checks(world2, "init_with_gil_check", "query_functions")


def test_all_reduce_every_dtype_and_op(world2):
    assert_checks(world2, "all_reduce_every_dtype_and_op")


def test_non_contiguous_0d_and_empty(world2):
    assert_checks(world2, "all_reduce_non_contiguous_and_empty")


def test_broadcast(world2):
    assert_checks(world2, "broadcast_checks")


def test_all_gather(world2):
    assert_checks(world2, "all_gather_checks")


def test_reduce_scatter(world2):
    assert_checks(world2, "reduce_scatter_checks")


def test_async_work(world2):
    assert_checks(world2, "async_work")


def test_send_recv(world2):
    assert_checks(world2, "send_recv")


def test_device_tensors(world2):
    assert_checks(world2, "devices")


def test_objects(world2):
    assert_checks(world2, "objects")


def test_sampler_reads_world(world2):
    assert_checks(world2, "sampler_in_world")


def test_blocking_calls_release_gil(world2):
    assert_checks(world2, "gil_released")


def test_errors_are_exceptions_with_messages(world2):
    assert_checks(world2, "errors")


def test_ddp_training_matches_one_process(world2):
    assert_checks(world2, "ddp_training_matches_one_process")


def test_ddp_no_sync(world2):
    assert_checks(world2, "ddp_no_sync_accumulates")


def test_ddp_errors(world2):
    assert_checks(world2, "ddp_errors", "destroyed")


def test_subgroups_world_of_3(world3):
    assert_checks(world3, "subgroups")


def test_prism_run_launcher(tmp_path):
    cli = os.environ.get("PRISM_CLI")
    if cli:
        assert os.access(cli, os.X_OK), f"PRISM_CLI={cli} is not an executable"
    else:
        cli = shutil.which("prism")
        if not cli:
            pytest.skip("skipped: no prism CLI (set PRISM_CLI to build/<preset>/bin/prism)")
    port = free_port()
    env = dict(os.environ, PRISM_DIST_TIMEOUT="30")
    p = subprocess.run([cli, "run", "-n", "2", "--master-port", str(port), sys.executable, WORKER, "cli",
                        str(tmp_path)], env=env, capture_output=True, text=True, timeout=90)
    log = f"exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    assert p.returncode == 0, log
    assert "[0] rank 0: 1 of 1 checks ok" in p.stdout and "[1] rank 1: 1 of 1 checks ok" in p.stdout, log
    assert_checks(read_results(str(tmp_path), 2, log), "cli_scenario")


# ---- in this process: not initialized, world of 1 ---------------------------------------------------------
def test_not_initialized_is_a_clear_error():
    assert not dist.is_initialized()
    for fn in (lambda: dist.all_reduce(prism.ones(2)), lambda: dist.get_rank(), lambda: dist.barrier(),
               lambda: dist.new_group([0]), lambda: nn.parallel.DistributedDataParallel(nn.Linear(2, 2))):
        with pytest.raises(prism.InvalidArgumentError, match="not initialized.*init_process_group"):
            fn()
    dist.destroy_process_group()  # a no-op


def test_init_bad_arguments():
    with pytest.raises(prism.InvalidArgumentError, match="rank"):
        dist.init_process_group(rank=3, world_size=2, master_port=free_port(), timeout=5)
    with pytest.raises(prism.InvalidArgumentError, match="init_method"):
        dist.init_process_group(init_method="file:///tmp/x", rank=0, world_size=1)
    with pytest.raises(prism.Error, match="nosuch"):
        dist.init_process_group("nosuch", rank=0, world_size=1, master_port=free_port(), timeout=5)
    assert not dist.is_initialized()


def test_world_of_one_ddp_registers_no_hooks():
    import datetime

    dist.init_process_group("gloo", rank=0, world_size=1, master_addr="127.0.0.1", master_port=free_port(),
                            timeout=datetime.timedelta(seconds=20))
    try:
        assert dist.get_world_size() == 1 and dist.get_rank() == 0
        prism.manual_seed(3)
        model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
        plain = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
        plain.load_state_dict(model.state_dict())
        ddp = nn.parallel.DistributedDataParallel(model)
        assert ddp._hooks == [] and isinstance(ddp.module, nn.Sequential)
        assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]
        x = prism.randn(5, 4)
        ddp(x).pow(2).sum().backward()
        plain(x).pow(2).sum().backward()
        for a, b in zip(model.parameters(), plain.parameters()):
            assert a.grad.tolist() == b.grad.tolist()
        t = prism.tensor([1.0, 2.0])
        dist.all_reduce(t, op=dist.ReduceOp.AVG)
        assert t.tolist() == [1.0, 2.0]
    finally:
        dist.destroy_process_group()
    assert not dist.is_initialized() and dist.GroupMember.WORLD is None


# ---- DistributedSampler ------------------------------------------------------------------------------------
def test_distributed_sampler_matches_torch():
    torch = pytest.importorskip("torch", reason="skipped: torch is not installed")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    from prism.utils.data import DistributedSampler

    for n, replicas in ((10, 3), (12, 4), (5, 2), (3, 4), (1, 2), (17, 5), (0, 2)):
        for drop_last in (False, True):
            for rank in range(replicas):
                ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
                theirs = TorchSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
                if n == 0 and not drop_last:
                    assert list(ours) == [] and len(ours) == 0
                    continue
                assert list(ours) == list(theirs), (n, replicas, rank, drop_last)
                assert len(ours) == len(theirs)
    del torch


def test_distributed_sampler_shuffle():
    from prism.utils.data import DistributedSampler

    n, replicas = 23, 4
    for epoch in (0, 1):
        shares = []
        for rank in range(replicas):
            s = DistributedSampler(range(n), replicas, rank, shuffle=True, seed=5)
            s.set_epoch(epoch)
            shares.append(list(s))
            assert len(shares[-1]) == len(s) == 6
        flat = [i for share in shares for i in share]
        assert sorted(set(flat)) == list(range(n))  # every example is read
        assert len(flat) == 24  # one repeated to pad 23 to 24
    e0 = DistributedSampler(range(n), replicas, 0, seed=5)
    e1 = DistributedSampler(range(n), replicas, 0, seed=5)
    e1.set_epoch(1)
    assert list(e0) != list(e1)
    # a DataLoader reads the sampler's order
    from prism.utils.data import DataLoader, TensorDataset

    ds = TensorDataset(prism.arange(n).float())
    s = DistributedSampler(ds, replicas, 2, seed=5)
    assert [v for (b,) in DataLoader(ds, batch_size=4, sampler=s) for v in b.tolist()] == list(s)
    # drop_last: disjoint shares
    shares = [list(DistributedSampler(range(n), replicas, r, seed=9, drop_last=True)) for r in range(replicas)]
    flat = [i for share in shares for i in share]
    assert len(flat) == len(set(flat)) == 20
    # The order is the C++ prism::data::DistributedSampler's (splitmix64 Fisher-Yates): indices() of
    # DistributedSampler(10, 2, 0, true, 7) after set_epoch(3), printed by a C++ program against api/prism/data.hpp.
    s = DistributedSampler(range(10), 2, 0, shuffle=True, seed=7)
    s.set_epoch(3)
    assert list(s) == [2, 9, 6, 5, 7]
    s = DistributedSampler(range(10), 2, 1, shuffle=True, seed=7)
    s.set_epoch(3)
    assert list(s) == [4, 8, 0, 1, 3]


def test_distributed_sampler_errors():
    from prism.utils.data import DistributedSampler

    with pytest.raises(ValueError, match="rank"):
        DistributedSampler(range(4), 2, 2)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(range(4), 0, 0)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))
