"""prism.nn.parallel: data-parallel training across processes (torch.nn.parallel's spelling)."""
from prism.nn.parallel.distributed import DistributedDataParallel  # noqa: F401

__all__ = ["DistributedDataParallel"]
