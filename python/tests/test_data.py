"""prism.utils.data: datasets, samplers, collation, DataLoader options and worker processes."""
from collections import namedtuple

import numpy as np
import pytest

import prism
from prism.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset, RandomSampler,
                              SequentialSampler, Subset, TensorDataset, default_collate, get_worker_info,
                              random_split)


class Squares(Dataset):
    """Module-level (picklable) dataset for worker tests: (x, x^2 as a tensor, a dict, a string)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i >= self.n:
            raise IndexError(i)
        return {"x": prism.tensor([float(i), float(i) * i]), "label": i % 3, "arr": np.full(2, i, np.int32)}


class WorkerIds(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return prism.tensor([i, -1 if info is None else info.id, 0 if info is None else info.num_workers])


class Failing(Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == 5:
            raise ValueError("bad example 5")
        return prism.tensor([float(i)])


# The seeds' custom Dataset (used by test_seeds.py; here so that worker processes import a light module).
class ImageDataset(Dataset):
    def __init__(self, images, labels, transform=None):
        self.images = images
        self.labels = labels
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, idx):
        image = self.images[idx]
        label = self.labels[idx]
        if self.transform:
            image = self.transform(image)
        return image, label


def flip_image(image):
    return image.flip(-1) if hasattr(image, "flip") else image[..., ::-1].copy()


def batches_equal(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x["x"].tolist() == y["x"].tolist()
        assert x["label"].tolist() == y["label"].tolist()
        assert x["arr"].tolist() == y["arr"].tolist()


def test_tensor_dataset_and_sequential_batches():
    x = prism.arange(20, dtype=prism.float32).reshape(10, 2)
    y = prism.arange(10)
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[3]
    assert xi.tolist() == [6.0, 7.0] and yi.item() == 3
    loader = DataLoader(ds, batch_size=4)
    assert len(loader) == 3
    got = list(loader)
    assert [tuple(b[0].shape) for b in got] == [(4, 2), (4, 2), (2, 2)]
    assert got[1][1].tolist() == [4, 5, 6, 7]
    assert got[2][0].tolist() == x[8:].tolist()
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    assert [len(b[1]) for b in DataLoader(ds, batch_size=4, drop_last=True)] == [4, 4]
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(x, prism.arange(3))


def test_shuffle_covers_everything_and_is_seeded():
    ds = TensorDataset(prism.arange(100))
    prism.manual_seed(7)
    a = [b[0].tolist() for b in DataLoader(ds, batch_size=16, shuffle=True)]
    prism.manual_seed(7)
    b = [b[0].tolist() for b in DataLoader(ds, batch_size=16, shuffle=True)]
    assert a == b
    flat = sorted(v for batch in a for v in batch)
    assert flat == list(range(100))
    assert [v for batch in a for v in batch] != list(range(100))
    loader = DataLoader(ds, batch_size=100, shuffle=True)
    assert next(iter(loader))[0].tolist() != next(iter(loader))[0].tolist()  # a new order each epoch
    l1 = DataLoader(ds, batch_size=10, shuffle=True, generator=123)
    l2 = DataLoader(ds, batch_size=10, shuffle=True, generator=123)
    e1 = [[b[0].tolist() for b in l1] for _ in range(2)]
    e2 = [[b[0].tolist() for b in l2] for _ in range(2)]
    assert e1 == e2 and e1[0] != e1[1]  # the same seed, the same sequence of epochs; each epoch new


def test_default_collate_rules():
    b = default_collate([(prism.ones(2), 1, 0.5, "a", True), (prism.zeros(2), 2, 1.5, "b", False)])
    assert b[0].tolist() == [[1, 1], [0, 0]]
    assert b[1].dtype == prism.int64 and b[1].tolist() == [1, 2]
    assert b[2].dtype == prism.float64 and b[3] == ["a", "b"] and b[4].dtype == prism.bool
    d = default_collate([{"a": np.ones(3, np.float32)}, {"a": np.zeros(3, np.float32)}])
    assert isinstance(d["a"], prism.Tensor) and tuple(d["a"].shape) == (2, 3)
    Point = namedtuple("Point", "x y")
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point) and p.x.tolist() == [1, 3]
    with pytest.raises(TypeError):
        default_collate([object(), object()])


def test_custom_collate_samplers_and_no_batching():
    ds = Squares(6)
    loader = DataLoader(ds, batch_size=2, collate_fn=lambda batch: [s["label"] for s in batch])
    assert list(loader) == [[0, 1], [2, 0], [1, 2]]
    one = list(DataLoader(ds, batch_size=None))
    assert len(one) == 6 and one[2]["x"].tolist() == [2.0, 4.0]
    bs = BatchSampler(SequentialSampler(range(7)), 3, drop_last=False)
    assert list(bs) == [[0, 1, 2], [3, 4, 5], [6]] and len(bs) == 3
    loader = DataLoader(ds, batch_sampler=[[5, 0], [1]])
    assert [b["label"].tolist() for b in loader] == [[2, 0], [1]]
    rs = RandomSampler(range(10), replacement=True, num_samples=25)
    assert len(list(rs)) == 25 and all(0 <= i < 10 for i in rs)
    with pytest.raises(ValueError):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)
    with pytest.raises(ValueError):
        DataLoader(ds, batch_size=0)


def test_random_split_subset_concat():
    ds = TensorDataset(prism.arange(10))
    prism.manual_seed(0)
    a, b = random_split(ds, [7, 3])
    idx = sorted(a.indices + b.indices)
    assert idx == list(range(10)) and len(a) == 7 and len(b) == 3
    c, d = random_split(ds, [0.5, 0.5])
    assert len(c) == len(d) == 5
    with pytest.raises(ValueError):
        random_split(ds, [3, 3])
    sub = Subset(ds, [9, 0])
    assert sub[0][0].item() == 9 and [x[0].tolist() for x in DataLoader(sub, batch_size=2)] == [[9, 0]]
    cat = ConcatDataset([ds, Subset(ds, [1, 2])])
    assert len(cat) == 12 and cat[11][0].item() == 2 and cat[-1][0].item() == 2
    assert len(ds + ds) == 20


def test_iterable_dataset():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(prism.tensor([float(i)]) for i in range(7))
    got = [b.tolist() for b in DataLoader(Stream(), batch_size=3)]
    assert got == [[[0.0], [1.0], [2.0]], [[3.0], [4.0], [5.0]], [[6.0]]]
    assert len([b for b in DataLoader(Stream(), batch_size=3, drop_last=True)]) == 2


def test_pin_memory_is_safe_on_every_device():
    ds = TensorDataset(prism.randn(8, 3), prism.arange(8))
    ref = [[t.tolist() for t in b] for b in DataLoader(ds, batch_size=4)]
    got = [[t.tolist() for t in b] for b in DataLoader(ds, batch_size=4, pin_memory=True)]
    assert got == ref


def test_workers_give_the_same_batches_as_the_main_process():
    ds = Squares(23)
    ref = list(DataLoader(ds, batch_size=4))
    batches_equal(list(DataLoader(ds, batch_size=4, num_workers=2)), ref)
    prism.manual_seed(3)
    ref_shuffled = list(DataLoader(ds, batch_size=5, shuffle=True, drop_last=True))
    prism.manual_seed(3)
    got = list(DataLoader(ds, batch_size=5, shuffle=True, drop_last=True, num_workers=3))
    batches_equal(got, ref_shuffled)
    tds = TensorDataset(prism.randn(50, 4), prism.arange(50))
    a = [[t.tolist() for t in b] for b in DataLoader(tds, batch_size=8)]
    b = [[t.tolist() for t in b] for b in DataLoader(tds, batch_size=8, num_workers=2)]
    assert a == b


def test_worker_info_persistent_workers_and_errors():
    loader = DataLoader(WorkerIds(), batch_size=2, num_workers=2, persistent_workers=True)
    for _ in range(2):  # two epochs on the same workers
        rows = [r for b in loader for r in b.tolist()]
        assert [r[0] for r in rows] == list(range(8))
        assert {r[1] for r in rows} == {0, 1} and all(r[2] == 2 for r in rows)
    assert get_worker_info() is None
    with pytest.raises(ValueError, match="bad example 5"):
        list(DataLoader(Failing(), batch_size=2, num_workers=2))
    with pytest.raises(ValueError):
        DataLoader(Squares(3), num_workers=-1)


def test_breaking_out_of_a_worker_epoch_shuts_the_workers_down():
    import gc
    loader = DataLoader(Squares(200), batch_size=2, num_workers=2)
    it = iter(loader)
    first = next(it)
    assert first["label"].tolist() == [0, 1]
    workers = list(it._workers)
    del it  # must return (workers told to stop, or terminated after a grace period), never hang
    gc.collect()
    assert all(not w.is_alive() for w in workers)
