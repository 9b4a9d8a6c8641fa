# allreduce_torch.py — the torch.distributed (gloo) peer of allreduce_prism.cpp: same sizes, rounds, timing rule,
# turn taking (Note [Interleaved blocks] there) and JSON lines.
import json
import os
import sys
import time

import torch
import torch.distributed as dist


def arg(name, default, cast):
    args = sys.argv[1:]
    return cast(args[args.index(name) + 1]) if name in args else default


def main():
    max_bytes = arg("--max-bytes", 256 << 20, int)
    min_s = arg("--min-seconds", 0.1, float)
    rounds = arg("--rounds", 1, int)
    turn_in, turn_out = arg("--turn-in", "", str), arg("--turn-out", "", str)
    # The launcher (prism run) sets PRISM_*; torch reads the same values.
    os.environ.setdefault("MASTER_ADDR", os.environ.get("PRISM_MASTER_ADDR", "127.0.0.1"))
    os.environ.setdefault("MASTER_PORT", os.environ.get("PRISM_MASTER_PORT", "29500"))
    rank = int(os.environ["PRISM_RANK"])
    n = int(os.environ["PRISM_WORLD_SIZE"])
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    dist.init_process_group("gloo", rank=rank, world_size=n)
    fd_in = os.open(f"{turn_in}.{rank}", os.O_RDWR) if turn_in else -1
    fd_ranks = [os.open(f"{turn_in}.{r}", os.O_RDWR) for r in range(1, n)] if rank == 0 and turn_in else []
    fd_out = os.open(f"{turn_out}.0", os.O_RDWR) if rank == 0 and turn_out else -1
    nbytes = 1024
    while nbytes <= max_bytes:
        t = torch.ones(nbytes // 4, dtype=torch.float32)
        for r in range(rounds):
            if fd_in >= 0:
                os.read(fd_in, 1)
            for fd in fd_ranks:
                os.write(fd, b"x")
            dist.barrier()
            if r == 0:
                dist.all_reduce(t)  # warm-up
            times = []
            total = 0.0
            while total < min_s or len(times) < 3:
                dist.barrier()
                t0 = time.perf_counter()
                dist.all_reduce(t)
                s = time.perf_counter() - t0
                times.append(s)
                total += s
                flag = torch.tensor([total], dtype=torch.float64)
                dist.broadcast(flag, 0)
                total = float(flag[0])
                if len(times) >= 200:
                    break
            dist.barrier()
            if rank == 0:
                print(json.dumps({"impl": "torch", "bytes": nbytes, "round": r, "times": times}), flush=True)
                if fd_out >= 0:
                    os.write(fd_out, b"x")
        nbytes *= 4
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
