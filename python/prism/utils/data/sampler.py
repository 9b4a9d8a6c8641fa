"""prism.utils.data samplers: Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler, WeightedRandomSampler, BatchSampler."""
import numbers

import prism

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]


def _permutation(n, generator=None):
    """A random permutation of range(n) as a list of ints.

    generator None: prism.randperm on the global generator (prism.manual_seed reproduces it);
    an int: a seed for numpy's PCG64; a numpy Generator; or anything with a permutation(n) method.
    """
    if generator is None:
        return prism.randperm(n).tolist() if n > 0 else []
    if isinstance(generator, numbers.Integral):
        import numpy as np
        return np.random.default_rng(int(generator)).permutation(n).tolist()
    if hasattr(generator, "permutation"):
        return [int(i) for i in generator.permutation(n)]
    raise TypeError(f"generator must be None, an int seed or a numpy Generator, not {type(generator).__name__}")


def _advancing(generator):
    # An int seed becomes one NumPy generator that advances every epoch (a new order each epoch, the
    # same sequence of orders for the same seed), as a seeded torch.Generator does.
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        import numpy as np
        return np.random.default_rng(int(generator))
    return generator


class Sampler:
    """Base class: an iterable over dataset indices."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A new random order each epoch (or num_samples draws with replacement)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        # An int seed becomes one generator that advances every epoch (a new order each epoch,
        # the same sequence of orders for the same seed), as a seeded torch.Generator does.
        self.generator = _advancing(generator)
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        if self.replacement:
            if self.generator is None:
                return iter(prism.randint(0, n, (self.num_samples,), dtype=prism.int64).tolist())
            return iter(self.generator.integers(0, n, self.num_samples).tolist())
        out = []
        while len(out) < self.num_samples:
            out.extend(_permutation(n, self.generator))
        return iter(out[:self.num_samples])

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order each epoch."""

    def __init__(self, indices, generator=None):
        self.indices = list(indices)
        self.generator = _advancing(generator)

    def __iter__(self):
        return iter([self.indices[i] for i in _permutation(len(self.indices), self.generator)])

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """num_samples indices drawn with probabilities proportional to weights (numpy's generator)."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        import numpy as np
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        w = np.asarray(weights.tolist() if isinstance(weights, prism.Tensor) else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = _advancing(generator)

    def __iter__(self):
        import numpy as np
        if self.generator is None:
            seed = int(prism.randint(0, 2 ** 62, (1,), dtype=prism.int64).item())
            rng = np.random.default_rng(seed)
        else:
            rng = self.generator
        p = self.weights / self.weights.sum()
        return iter(rng.choice(len(p), self.num_samples, replace=self.replacement, p=p).tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of `sampler` into lists of batch_size (the last may be shorter unless drop_last)."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else (n + self.batch_size - 1) // self.batch_size
