"""prism.utils.data: datasets, samplers and the DataLoader (torch.utils.data's spelling)."""
from prism.utils.data.dataset import (ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset,  # noqa: F401
                                      random_split)
from prism.utils.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,  # noqa: F401
                                      SubsetRandomSampler, WeightedRandomSampler)
from prism.utils.data.distributed import DistributedSampler  # noqa: F401,E402
from prism.utils.data.dataloader import (DataLoader, WorkerInfo, default_collate, default_convert,  # noqa: F401
                                         get_worker_info)


def load_idx(path, device=None):
    """Reads an IDX file (MNIST / Fashion-MNIST format, plain or .gz) into a tensor with the file's dtype and sizes.

    prism_load_idx: big-endian data is converted; a truncated or malformed file raises naming it.
    """
    import os

    from prism import _C
    return _C.load_idx(os.fspath(path), device)
