"""manual_seed, randn, rand: reproducible draws with the requested shape and dtype."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import random as mg_random


@pytest.fixture(autouse=True)
def _keep_the_global_generator():
    """These tests reseed minigrad's one generator; give the other tests theirs back."""
    state = mg_random.get_state()
    yield
    mg_random.set_state(state)


def draws(seed):
    mg.manual_seed(seed)
    return mg.randn(3, 4).numpy(), mg.rand(5).numpy(), mg.randn(2, dtype=mg.float64).numpy()


def test_the_same_seed_gives_the_same_numbers():
    first, second = draws(0), draws(0)
    for a, b in zip(first, second):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_different_seeds_give_different_numbers():
    for a, b in zip(draws(0), draws(1)):
        assert not np.array_equal(a, b)


def test_successive_draws_differ():
    mg.manual_seed(0)
    assert not np.array_equal(mg.randn(10).numpy(), mg.randn(10).numpy())


def test_numpy_integer_seeds_work_like_python_ints():
    for a, b in zip(draws(7), draws(np.int64(7))):
        np.testing.assert_array_equal(a, b)
    draws(2**40)  # large seeds are fine


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None, [1, 2], True])
def test_invalid_seeds_raise_value_error(seed):
    with pytest.raises(ValueError, match="seed"):
        mg.manual_seed(seed)


@pytest.mark.parametrize("factory", [mg.randn, mg.rand], ids=["randn", "rand"])
@pytest.mark.parametrize("shape", [(), (5,), (2, 3), (2, 1, 4)], ids=str)
def test_shape_from_varargs_or_a_tuple_and_float32_by_default(factory, shape):
    for t in (factory(*shape), factory(shape)):
        assert isinstance(t, mg.Tensor)
        assert t.shape == shape
        assert t.dtype == mg.float32
        assert t.device == "cpu" and t.is_leaf and not t.requires_grad


@pytest.mark.parametrize("factory", [mg.randn, mg.rand], ids=["randn", "rand"])
def test_dtype_float64_is_respected(factory):
    t = factory(1000, dtype=mg.float64)
    assert t.dtype == mg.float64
    # real float64 draws, not float32 numbers widened: most do not survive a float32 trip
    assert (t.numpy().astype(np.float32).astype(np.float64) != t.numpy()).any()


@pytest.mark.parametrize("factory", [mg.randn, mg.rand], ids=["randn", "rand"])
def test_requires_grad_gives_a_leaf_that_requires_grad(factory):
    t = factory(2, 2, requires_grad=True)
    assert t.requires_grad and t.is_leaf
    t.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.ones((2, 2), dtype=np.float32))


def test_randn_is_standard_normal():
    mg.manual_seed(0)
    x = mg.randn(200_000, dtype=mg.float64).numpy()
    # the standard error of the mean is 1/sqrt(200000) ~ 0.0022; these bounds are ~10 of them
    assert abs(x.mean()) < 0.02
    assert abs(x.std() - 1.0) < 0.02
    assert np.isfinite(x).all()


def test_rand_is_uniform_on_zero_one():
    mg.manual_seed(0)
    x = mg.rand(200_000).numpy()
    assert x.min() >= 0.0 and x.max() < 1.0
    assert abs(x.mean() - 0.5) < 0.01
    assert abs(x.var() - 1 / 12) < 0.005


def test_the_seed_also_fixes_dropout():
    x = mg.ones(1000)
    mg.manual_seed(3)
    a = mg.functional.dropout(x, p=0.5).numpy()
    mg.manual_seed(3)
    b = mg.functional.dropout(x, p=0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert 0 < (a == 0).sum() < 1000
