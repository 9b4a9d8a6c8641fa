"""prism.utils.data datasets: Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset and random_split."""
import bisect
import math

import prism

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split"]


class Dataset:
    """A map-style dataset: implement __getitem__(index) and __len__()."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream-style dataset: implement __iter__()."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other):
        raise TypeError("IterableDataset cannot be concatenated with +")


class TensorDataset(Dataset):
    """Examples are the rows of each tensor along dim 0: dataset[i] = (t0[i], t1[i], ...)."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        n = int(tensors[0].shape[0]) if tensors[0].ndim > 0 else None
        for t in tensors:
            if not isinstance(t, prism.Tensor):
                raise TypeError(f"TensorDataset: expected prism.Tensor, got {type(t).__name__}")
            if t.ndim == 0 or int(t.shape[0]) != n:
                raise ValueError("Size mismatch between tensors: every tensor needs the same size in dim 0")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return int(self.tensors[0].shape[0])

    def _get_batch(self, indices):
        # Note [Batched fetch]: one index_select per field instead of one
        # indexing call per example plus a stack; the result equals
        # default_collate([self[i] for i in indices]).
        idx = prism.tensor(list(indices), dtype=prism.int64)
        return [t.index_select(0, idx if t.is_cpu else idx.to(t.device)) for t in self.tensors]


class Subset(Dataset):
    """The examples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = list(indices)

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self):
        return len(self.indices)

    @property
    def _get_batch(self):
        # Present only when the underlying dataset fetches whole batches (Note [Batched fetch]).
        inner = self.dataset._get_batch
        return lambda indices: inner([self.indices[i] for i in indices])


class ConcatDataset(Dataset):
    """The concatenation of several map-style datasets."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        sample = idx if d == 0 else idx - self.cumulative_sizes[d - 1]
        return self.datasets[d][sample]


def random_split(dataset, lengths, generator=None):
    """Splits a dataset into non-overlapping Subsets of the given lengths (or fractions summing to 1).

    The permutation comes from prism.randperm (prism.manual_seed makes it reproducible), or from
    `generator` when given (an int seed or a numpy Generator).
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        subset_lengths = [int(math.floor(n * frac)) for frac in lengths]
        remainder = n - sum(subset_lengths)
        for i in range(remainder):
            subset_lengths[i % len(subset_lengths)] += 1
        lengths = subset_lengths
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    from prism.utils.data.sampler import _permutation
    perm = _permutation(n, generator)
    out, offset = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset:offset + length]))
        offset += length
    return out
