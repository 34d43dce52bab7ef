"""Dataset, TensorDataset, DataLoader: coverage per epoch, shuffling, seeds, dtypes,
checkpoints of the shuffling state, and the one-index-per-batch fast path."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import random as mg_random
from minigrad.data import DataLoader, Dataset, TensorDataset


@pytest.fixture(autouse=True)
def _keep_the_global_generator():
    """Some tests reseed minigrad's one generator; give the other tests theirs back."""
    state = mg_random.get_state()
    yield
    mg_random.set_state(state)


def numbered(n, features=3):
    """A data set whose example i has features i*features ... and label i, so a batch
    tells which examples it holds."""
    x = np.arange(n * features, dtype=np.float32).reshape(n, features)
    y = np.arange(n, dtype=np.int64)
    return TensorDataset(x, y)


def epoch_labels(loader):
    """The label batches of one epoch, as NumPy arrays."""
    return [y.numpy() for _, y in loader]


def order(loader):
    return np.concatenate(epoch_labels(loader))


# -- one epoch covers the data set -------------------------------------------------------


@pytest.mark.parametrize("n", [1, 7, 10, 12])
@pytest.mark.parametrize("batch_size", [1, 3, 5, 64])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_every_example_once_per_epoch(n, batch_size, shuffle, drop_last):
    loader = DataLoader(numbered(n), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=0)
    full, rest = divmod(n, batch_size)
    expected_batches = full if drop_last else full + (rest > 0)
    assert len(loader) == expected_batches
    for _ in range(2):  # two epochs
        batches = list(loader)
        assert len(batches) == expected_batches
        sizes = [len(y) for _, y in batches]
        assert all(size == batch_size for size in sizes[:full])
        labels = np.concatenate([y.numpy() for _, y in batches]) if batches else np.zeros(0, np.int64)
        # no example twice; every example exactly once unless a short last batch was dropped
        assert len(set(labels.tolist())) == len(labels)
        if drop_last:
            assert len(labels) == full * batch_size
        else:
            assert sorted(labels.tolist()) == list(range(n))
        if not shuffle:
            np.testing.assert_array_equal(labels, np.arange(len(labels)))
        for x, y in batches:  # features stay with their labels
            np.testing.assert_array_equal(x.numpy()[:, 0], y.numpy() * 3)


def test_len_is_ceil_or_floor():
    for n, batch_size in [(10, 3), (9, 3), (2, 5), (0, 4)]:
        x = np.zeros((n, 2), np.float32)
        assert len(DataLoader(TensorDataset(x), batch_size=batch_size)) == math.ceil(n / batch_size)
        assert len(DataLoader(TensorDataset(x), batch_size=batch_size, drop_last=True)) == n // batch_size


# -- shuffling and seeds -----------------------------------------------------------------


def test_order_changes_between_epochs():
    loader = DataLoader(numbered(50), batch_size=8, shuffle=True, seed=3)
    first, second = order(loader), order(loader)
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(50))
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, np.arange(50))


def test_same_seed_same_orders():
    a = DataLoader(numbered(40), batch_size=6, shuffle=True, seed=11)
    b = DataLoader(numbered(40), batch_size=6, shuffle=True, seed=11)
    for _ in range(3):
        np.testing.assert_array_equal(order(a), order(b))
    c = DataLoader(numbered(40), batch_size=6, shuffle=True, seed=12)
    assert not np.array_equal(order(DataLoader(numbered(40), batch_size=6, shuffle=True, seed=11)), order(c))


def test_manual_seed_makes_shuffling_reproducible():
    mg.manual_seed(5)
    a = DataLoader(numbered(40), batch_size=6, shuffle=True)
    first_run = [order(a) for _ in range(2)]
    mg.manual_seed(5)
    b = DataLoader(numbered(40), batch_size=6, shuffle=True)
    second_run = [order(b) for _ in range(2)]
    for x, y in zip(first_run, second_run):
        np.testing.assert_array_equal(x, y)
    mg.manual_seed(6)
    assert not np.array_equal(order(DataLoader(numbered(40), batch_size=6, shuffle=True)), first_run[0])


def test_seed_wins_over_manual_seed():
    mg.manual_seed(1)
    a = order(DataLoader(numbered(40), batch_size=6, shuffle=True, seed=9))
    mg.manual_seed(2)
    b = order(DataLoader(numbered(40), batch_size=6, shuffle=True, seed=9))
    np.testing.assert_array_equal(a, b)


def test_loader_generator_is_its_own():
    """Drawing from minigrad's global generator between epochs does not change the order."""
    a = DataLoader(numbered(30), batch_size=4, shuffle=True, seed=0)
    b = DataLoader(numbered(30), batch_size=4, shuffle=True, seed=0)
    order(a)
    order(b)
    mg.randn(100)  # e.g. dropout in between
    np.testing.assert_array_equal(order(a), order(b))


# -- batch contents ----------------------------------------------------------------------


@pytest.mark.parametrize("shuffle", [False, True])
def test_batch_types_dtypes_shapes(shuffle):
    rng = np.random.default_rng(0)
    images = rng.standard_normal((10, 1, 4, 4)).astype(np.float32)
    doubles = rng.standard_normal((10, 2))  # float64 stays float64
    labels = rng.integers(0, 5, 10).astype(np.uint8)  # integer labels become int64
    small = rng.integers(0, 5, 10).astype(np.int32)
    flags = rng.random(10) < 0.5
    loader = DataLoader(
        TensorDataset(images, doubles, labels, small, flags), batch_size=4, shuffle=shuffle, seed=0
    )
    batch = next(iter(loader))
    assert isinstance(batch, tuple) and len(batch) == 5
    assert all(isinstance(t, mg.Tensor) and t.device == "cpu" and not t.requires_grad for t in batch)
    x, d, y, s, f = batch
    assert x.shape == (4, 1, 4, 4) and x.dtype == mg.float32
    assert d.shape == (4, 2) and d.dtype == mg.float64
    assert y.shape == (4,) and y.dtype == mg.int64
    assert s.dtype == mg.int64
    assert f.dtype == mg.bool_


def test_batches_do_not_share_memory_with_the_data_set():
    x = np.zeros((6, 2), np.float32)
    for shuffle in (False, True):
        for (batch,) in DataLoader(TensorDataset(x), batch_size=3, shuffle=shuffle, seed=0):
            batch.data += 1
    assert not x.any()


def test_tensor_dataset_accepts_tensors_and_indexes():
    x = mg.tensor(np.arange(12, dtype=np.float32).reshape(6, 2))
    y = np.arange(6)
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    xi, yi = ds[2]
    np.testing.assert_array_equal(xi, [4, 5])
    assert yi == 2
    xs, ys = ds[np.array([5, 0])]
    np.testing.assert_array_equal(xs, [[10, 11], [0, 1]])
    np.testing.assert_array_equal(ys, [5, 0])
    xb, _ = next(iter(DataLoader(ds, batch_size=6)))
    np.testing.assert_array_equal(xb.numpy(), x.numpy())


def test_tensor_dataset_on_device(device):
    x = mg.tensor(np.arange(8, dtype=np.float32).reshape(4, 2), device=device)
    y = mg.tensor(np.arange(4), device=device)
    xb, yb = next(iter(DataLoader(TensorDataset(x, y), batch_size=4)))
    assert xb.device == "cpu" and yb.device == "cpu"
    np.testing.assert_array_equal(xb.numpy(), x.numpy())


def test_tensor_dataset_length_mismatch_names_the_lengths():
    with pytest.raises(ValueError, match=r"5.*4"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError):
        TensorDataset()


@pytest.mark.parametrize("batch_size", [0, -1, 2.0, True, "4", None])
def test_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match=repr(batch_size).replace("(", r"\(").replace(".", r"\.")):
        DataLoader(numbered(4), batch_size=batch_size)


def test_numpy_integer_batch_size_is_accepted():
    assert len(DataLoader(numbered(10), batch_size=np.int64(4))) == 3


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_bad_seed(seed):
    with pytest.raises(ValueError):
        DataLoader(numbered(4), seed=seed)


# -- generic data sets: the per-sample path ----------------------------------------------


class Squares(Dataset):
    """Computed examples: (x, x**2 as a Python float, label as a Python int)."""

    def __init__(self, n):
        self.n = n
        self.calls = 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.calls += 1
        return np.array([i, i + 1], dtype=np.float32), float(i * i), i % 3


class Single(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return mg.tensor([float(i)] * 2)


@pytest.mark.parametrize("shuffle", [False, True])
def test_generic_dataset_is_collated(shuffle):
    ds = Squares(7)
    loader = DataLoader(ds, batch_size=3, shuffle=shuffle, seed=0)
    batches = list(loader)
    assert len(batches) == len(loader) == 3
    assert ds.calls == 7
    x, sq, label = batches[0]
    assert x.shape == (3, 2) and x.dtype == mg.float32
    assert sq.shape == (3,) and sq.dtype == mg.float32
    assert label.shape == (3,) and label.dtype == mg.int64
    seen = np.concatenate([b[0].numpy()[:, 0] for b in batches]).astype(int)
    assert sorted(seen.tolist()) == list(range(7))
    for x, sq, label in batches:
        i = x.numpy()[:, 0]
        np.testing.assert_array_equal(sq.numpy(), i * i)
        np.testing.assert_array_equal(label.numpy(), i.astype(int) % 3)


def test_generic_dataset_single_field_and_tensors():
    (batch,) = next(iter(DataLoader(Single(), batch_size=2)))
    assert isinstance(batch, mg.Tensor) and batch.shape == (2, 2) and batch.dtype == mg.float32
    np.testing.assert_array_equal(batch.numpy(), [[0, 0], [1, 1]])


def test_base_dataset_is_abstract():
    with pytest.raises(NotImplementedError):
        len(Dataset())
    with pytest.raises(NotImplementedError):
        Dataset()[0]


# -- the fast path -----------------------------------------------------------------------


class CountingArray(np.ndarray):
    """An ndarray that counts how often it is indexed."""

    calls = 0

    def __getitem__(self, index):
        CountingArray.calls += 1
        return np.asarray(self)[index]


class CountingDataset(TensorDataset):
    calls = 0

    def __getitem__(self, index):
        CountingDataset.calls += 1
        return super().__getitem__(index)


@pytest.mark.parametrize("shuffle", [False, True])
def test_one_index_per_array_per_batch(shuffle):
    n, batch_size = 1000, 32
    x = np.zeros((n, 4), np.float32).view(CountingArray)
    y = np.zeros(n, np.int64).view(CountingArray)
    ds = CountingDataset(x, y)
    CountingArray.calls = CountingDataset.calls = 0
    loader = DataLoader(ds, batch_size=batch_size, shuffle=shuffle, seed=0)
    batches = list(loader)
    assert len(batches) == len(loader) == math.ceil(n / batch_size)
    assert CountingDataset.calls == len(loader)  # one request per batch, never per example
    assert CountingArray.calls == 2 * len(loader)  # one index per array per batch
    assert all(type(t.data) is np.ndarray for batch in batches for t in batch)


# -- checkpoints of the shuffling state ---------------------------------------------------


def run(loader, epochs):
    return [epoch_labels(loader) for _ in range(epochs)]


def assert_same_batches(a, b):
    assert len(a) == len(b)
    for epoch_a, epoch_b in zip(a, b):
        assert len(epoch_a) == len(epoch_b)
        for x, y in zip(epoch_a, epoch_b):
            np.testing.assert_array_equal(x, y)


def make_loader(seed=4, **kwargs):
    return DataLoader(numbered(23), batch_size=5, shuffle=True, seed=seed, **kwargs)


def test_state_dict_between_epochs_resumes_the_same_permutations(tmp_path):
    uninterrupted = run(make_loader(), 5)

    loader = make_loader()
    first = run(loader, 2)
    mg.save({"loader": loader.state_dict()}, tmp_path / "checkpoint.npz")
    state = mg.load(tmp_path / "checkpoint.npz")["loader"]
    assert state["epoch"] == 2 and state["batch"] == 0

    resumed = make_loader(seed=99)  # a different seed: the state must overwrite it
    resumed.load_state_dict(state)
    assert_same_batches(first + run(resumed, 3), uninterrupted)
    assert resumed.state_dict()["epoch"] == 5


def test_state_dict_mid_epoch_resumes_at_the_next_batch():
    uninterrupted = run(make_loader(), 3)

    loader = make_loader()
    first = run(loader, 1)
    partial = []
    for _, y in loader:
        partial.append(y.numpy())
        if len(partial) == 2:
            state = loader.state_dict()
            break
    assert state["epoch"] == 1 and state["batch"] == 2

    resumed = make_loader(seed=0)
    resumed.load_state_dict(state)
    rest_of_epoch = epoch_labels(resumed)
    assert len(rest_of_epoch) == len(loader) - 2
    assert_same_batches(first + [partial + rest_of_epoch] + run(resumed, 1), uninterrupted)


def test_state_dict_after_the_last_batch_points_to_the_next_epoch():
    uninterrupted = run(make_loader(), 2)
    loader = make_loader()
    for _ in loader:
        state = loader.state_dict()  # taken inside the loop, after the last batch
    assert state["epoch"] == 1 and state["batch"] == 0
    resumed = make_loader(seed=0)
    resumed.load_state_dict(state)
    assert_same_batches(run(resumed, 1), uninterrupted[1:])


def test_state_dict_is_a_copy():
    loader = make_loader()
    state = loader.state_dict()
    run(loader, 1)
    assert state != loader.state_dict()
    other = make_loader(seed=0)
    other.load_state_dict(state)
    assert_same_batches(run(other, 1), run(make_loader(), 1))


def test_load_state_dict_rejects_bad_states():
    loader = make_loader()
    with pytest.raises(ValueError, match="generator"):
        loader.load_state_dict({"epoch": 0, "batch": 0})
    state = loader.state_dict()
    state["batch"] = len(loader) + 1
    with pytest.raises(ValueError, match=str(len(loader) + 1)):
        loader.load_state_dict(state)
