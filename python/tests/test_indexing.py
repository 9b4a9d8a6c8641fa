"""Indexing from Python: ints, slices with steps, negative indices, None, ..., masks, index tensors/lists, assignment."""

import pytest

import prism
from _helpers import close, extra_devices, np, torch


def grid():
    return prism.arange(24).reshape(2, 3, 4)


CASES = [
    (0,), (-1,), (slice(None),), (slice(1, None),), (slice(None, None, 2),), (Ellipsis,), (None,),
    (0, 1), (0, -1, 2), (slice(None), 1), (Ellipsis, 1), (Ellipsis, slice(1, 3)), (None, 0, None),
    (slice(0, 2), slice(None, None, 2), slice(1, 4, 2)), (1, Ellipsis, None), (slice(-2, None), 0),
    (slice(5, 10),), (0, slice(None), -1),
]


@pytest.mark.parametrize("key", CASES, ids=[repr(c) for c in CASES])
def test_basic_indexing_matches_torch(key):
    t = grid()
    got = t[key if len(key) > 1 else key[0]]
    if torch is not None:
        tt = torch.arange(24).reshape(2, 3, 4)
        want = tt[key if len(key) > 1 else key[0]]
        assert tuple(got.shape) == tuple(want.shape)
        assert got.tolist() == want.tolist()


def test_basic_indexing_gives_views():
    t = prism.zeros(3, 4)
    t[1][2] = 5
    assert t[1, 2].item() == 5
    v = t[:, 1]
    v += 1
    assert t[:, 1].tolist() == [1, 1, 1]
    s = t[::2]
    s.fill_(9)
    assert t[0].tolist() == [9] * 4 and t[2].tolist() == [9] * 4


def test_advanced_indexing_copies():
    t = prism.arange(12).reshape(3, 4)
    assert t[[0, 2]].tolist() == [[0, 1, 2, 3], [8, 9, 10, 11]]
    assert t[prism.tensor([2, 0])].tolist() == [[8, 9, 10, 11], [0, 1, 2, 3]]
    assert t[[0, 1], [1, 2]].tolist() == [1, 6]
    assert t[1, [0, 3]].tolist() == [4, 7]
    assert t[:, [0, 3]].tolist() == [[0, 3], [4, 7], [8, 11]]
    c = t[[0]]
    c.fill_(-1)
    assert t[0, 0].item() == 0  # a copy


def test_mask_indexing():
    t = prism.arange(6).reshape(2, 3)
    m = t % 2 == 0
    assert t[m].tolist() == [0, 2, 4]
    assert t[prism.tensor([True, False])].tolist() == [[0, 1, 2]]
    assert t[:, prism.tensor([False, True, True])].tolist() == [[1, 2], [4, 5]]
    if torch is not None:
        tt = torch.arange(6).reshape(2, 3)
        assert t[t > 2].tolist() == tt[tt > 2].tolist()


def test_setitem_forms():
    t = prism.zeros(3, 4)
    t[0] = 1
    t[1, 1:3] = prism.tensor([2.0, 3.0])
    t[-1, ::2] = 7
    t[t > 6] = 8
    t[[0, 2], [3, 3]] = 4
    t[..., 0] = prism.tensor([-1.0, -2.0, -3.0])
    want = [[-1, 1, 1, 4], [-2, 2, 3, 0], [-3, 0, 8, 4]]
    assert t.tolist() == want
    if torch is not None:
        tt = torch.zeros(3, 4)
        tt[0] = 1
        tt[1, 1:3] = torch.tensor([2.0, 3.0])
        tt[-1, ::2] = 7
        tt[tt > 6] = 8
        tt[[0, 2], [3, 3]] = 4
        tt[..., 0] = torch.tensor([-1.0, -2.0, -3.0])
        assert tt.tolist() == want


def test_setitem_casts_values():
    t = prism.zeros(3, dtype=prism.int32)
    t[0] = 2.7
    t[1:] = prism.tensor([5.0, 6.0])
    assert t.dtype is prism.int32 and t.tolist() == [2, 5, 6]


@pytest.mark.skipif(np is None, reason="skipped: numpy not installed")
def test_numpy_index_arrays():
    t = prism.arange(5)
    assert t[np.array([4, 0])].tolist() == [4, 0]
    assert t[np.int64(2)].item() == 2


@pytest.mark.parametrize("dev", extra_devices())
def test_indexing_on_extra_devices(dev):
    t = prism.arange(12, dtype=prism.float32).reshape(3, 4).to(dev)
    assert t[1, ::2].tolist() == [4, 6]
    assert t[[0, 2], 1].tolist() == [1, 9]
    t[t > 9] = 0
    assert str(t.device) == dev and t[2].tolist() == [8, 9, 0, 0]


def test_index_ops_methods():
    x = prism.arange(6, dtype=prism.float32).reshape(2, 3)
    idx = prism.tensor([2, 0])
    assert x.index_select(1, idx).tolist() == [[2, 0], [5, 3]]
    assert x.gather(1, prism.tensor([[0, 0], [1, 2]])).tolist() == [[0, 0], [4, 5]]
    assert x.masked_fill(x > 3, -1).tolist() == [[0, 1, 2], [3, -1, -1]]
    assert x.take(prism.tensor([0, 5])).tolist() == [0, 5]
    assert prism.tensor([0, 3, 0, 4]).nonzero().tolist() == [[1], [3]]
    assert x.tril().tolist() == [[0, 0, 0], [3, 4, 0]]
    z = prism.zeros(3).scatter(0, prism.tensor([2, 0]), prism.tensor([5.0, 6.0]))
    assert z.tolist() == [6, 0, 5]
    assert close(prism.zeros(3).index_put((prism.tensor([1, 1]),), prism.tensor([1.0, 2.0]), accumulate=True),
                 [0, 3, 0])


def test_index_fill_and_index_add():
    x = prism.zeros(2, 3)
    assert x.index_fill(1, prism.tensor([0, 2]), 5.0).tolist() == [[5, 0, 5], [5, 0, 5]]
    x.index_fill_(0, prism.tensor([1]), -1.0)
    assert x.tolist() == [[0, 0, 0], [-1, -1, -1]]
    y = prism.zeros(3).index_add(0, prism.tensor([0, 0, 2]), prism.tensor([1.0, 2.0, 3.0]))
    assert y.tolist() == [3, 0, 3]
