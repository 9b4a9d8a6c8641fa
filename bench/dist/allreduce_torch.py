# allreduce_torch.py — the torch.distributed (gloo) peer of allreduce_prism.cpp: same sizes, same timing rule, same JSON lines.
import json
import os
import sys
import time

import torch
import torch.distributed as dist


def main():
    max_bytes = 256 << 20
    min_s = 0.3
    args = sys.argv[1:]
    if "--max-bytes" in args:
        max_bytes = int(args[args.index("--max-bytes") + 1])
    if "--min-seconds" in args:
        min_s = float(args[args.index("--min-seconds") + 1])
    # The launcher (prism run) sets PRISM_*; torch reads the same values.
    os.environ.setdefault("MASTER_ADDR", os.environ.get("PRISM_MASTER_ADDR", "127.0.0.1"))
    os.environ.setdefault("MASTER_PORT", os.environ.get("PRISM_MASTER_PORT", "29500"))
    rank = int(os.environ["PRISM_RANK"])
    n = int(os.environ["PRISM_WORLD_SIZE"])
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    dist.init_process_group("gloo", rank=rank, world_size=n)
    nbytes = 1024
    while nbytes <= max_bytes:
        t = torch.ones(nbytes // 4, dtype=torch.float32)
        dist.all_reduce(t)
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
        times.sort()
        med = times[len(times) // 2]
        busbw = nbytes * 2.0 * (n - 1) / n / med / 1e9
        if rank == 0:
            print(json.dumps({"impl": "torch", "bytes": nbytes, "seconds": med, "busbw_GBps": round(busbw, 4),
                              "reps": len(times)}), flush=True)
        nbytes *= 4
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
