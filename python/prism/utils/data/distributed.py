"""prism.utils.data.DistributedSampler: each rank of a data-parallel job reads a disjoint share of the dataset."""
import math

from prism.utils.data.sampler import Sampler

__all__ = ["DistributedSampler"]

_MASK = 0xFFFFFFFFFFFFFFFF
_GOLDEN = 0x9E3779B97F4A7C15


def _shuffled(n, seed, epoch):
    """range(n) shuffled exactly as the C++ prism::data::DistributedSampler does (Note [DistributedSampler] in
    api/prism/data.hpp): Fisher-Yates driven by splitmix64 from seed + epoch * golden ratio, the same order on
    every rank, platform and language."""
    order = list(range(n))
    state = (seed + epoch * _GOLDEN) & _MASK
    for i in range(n - 1, 0, -1):
        state = (state + _GOLDEN) & _MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        z ^= z >> 31
        j = z % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order


class DistributedSampler(Sampler):
    """As torch.utils.data.distributed.DistributedSampler: rank r reads indices r, r + R, r + 2R, ... of the
    (optionally shuffled) order, padded by repeating its head to a multiple of R = num_replicas (or cut with
    drop_last), so every rank gets len(sampler) examples and runs the same number of steps.

    num_replicas / rank None: prism.distributed's world size / rank. With shuffle, every rank draws the same
    permutation from (seed, epoch): call set_epoch(e) on every rank at the start of each epoch. The
    permutation is the C++ sampler's (splitmix64 Fisher-Yates), so Python and C++ ranks agree; it differs
    from torch's randperm-based one. Without shuffle the indices are torch's.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            from prism import distributed as dist

            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: num_replicas and rank are needed when "
                                   "prism.distributed is not initialized (call init_process_group first)")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if not isinstance(num_replicas, int) or num_replicas <= 0:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got {num_replicas!r}")
        if not isinstance(rank, int) or rank < 0 or rank >= num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"DistributedSampler: seed must be a non-negative int, got {seed!r}")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.drop_last = bool(drop_last)
        n = len(dataset)
        self.num_samples = n // num_replicas if drop_last else math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        n = len(self.dataset)
        order = _shuffled(n, self.seed, self.epoch) if self.shuffle else list(range(n))
        if self.drop_last:
            order = order[:self.total_size]
        elif n > 0:
            order += [order[(i - n) % n] for i in range(n, self.total_size)]
        return iter(order[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Sets the epoch the shuffled order derives from (call on every rank before each epoch)."""
        if not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"DistributedSampler.set_epoch: epoch must be a non-negative int, got {epoch!r}")
        self.epoch = epoch
