"""Property tests (minitorch style): random shapes and values, invariants checked
against NumPy. Kept small (max_examples) so the file runs in a few seconds."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def broadcastable_shapes(draw):
    """Two shapes that broadcast together: a common shape, then per input some axes set
    to 1 and some leading axes dropped."""
    ndim = draw(st.integers(0, 4))
    common = draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim))

    def derive():
        shape = [1 if draw(st.booleans()) else n for n in common]
        return tuple(shape[draw(st.integers(0, ndim)):])

    return derive(), derive()


def values(shape, seed, positive=False):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 2.0, shape) if positive else rng.standard_normal(shape)


def reduce_to(grad, shape):
    """NumPy's own undoing of broadcasting: sum the leading axes, then the stretched ones."""
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
    return grad.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True).reshape(shape)


# For each op: the forward in NumPy, and d(a op b)/da, d(a op b)/db in NumPy (elementwise).
BINARY = {
    "add": (np.add, lambda a, b: np.ones_like(a + b), lambda a, b: np.ones_like(a + b)),
    "sub": (np.subtract, lambda a, b: np.ones_like(a + b), lambda a, b: -np.ones_like(a + b)),
    "mul": (np.multiply, lambda a, b: b + 0 * a, lambda a, b: a + 0 * b),
    "div": (np.divide, lambda a, b: 1 / b + 0 * a, lambda a, b: -a / b**2),
    "pow": (np.power, lambda a, b: b * a ** (b - 1), lambda a, b: a**b * np.log(a)),
    "maximum": (np.maximum, lambda a, b: (a > b) + 0 * b, lambda a, b: (b > a) + 0 * a),
}
MG_BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "maximum": mg.maximum,
}


@SETTINGS
@given(shapes=broadcastable_shapes(), name=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2**16))
def test_gradient_of_broadcast_binary_op_has_input_shapes(shapes, name, seed):
    shape_a, shape_b = shapes
    positive = name in ("div", "pow")
    a_np, b_np = values(shape_a, seed, positive), values(shape_b, seed + 1, positive)
    a = mg.tensor(a_np, requires_grad=True)
    b = mg.tensor(b_np, requires_grad=True)
    out = MG_BINARY[name](a, b)
    forward, d_a, d_b = BINARY[name]
    np.testing.assert_allclose(out.numpy(), forward(a_np, b_np), rtol=1e-12)
    out.sum().backward()
    assert a.grad.shape == shape_a and b.grad.shape == shape_b
    np.testing.assert_allclose(a.grad.numpy(), reduce_to(d_a(a_np, b_np), shape_a), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), reduce_to(d_b(a_np, b_np), shape_b), rtol=1e-10, atol=1e-12)


shapes_strategy = st.lists(st.integers(1, 4), min_size=0, max_size=4).map(tuple)


@SETTINGS
@given(shape=shapes_strategy, seed=st.integers(0, 2**16), data=st.data())
def test_sum_over_random_axes_matches_numpy(shape, seed, data):
    x_np = values(shape, seed)
    ndim = len(shape)
    axes = data.draw(st.one_of(
        st.none(),
        st.lists(st.integers(-ndim, ndim - 1), unique_by=lambda a: a % ndim, max_size=ndim).map(tuple)
        if ndim else st.just(()),
    ))
    keepdims = data.draw(st.booleans())
    x = mg.tensor(x_np, requires_grad=True)
    for reduce, np_reduce in ((mg.Tensor.sum, np.sum), (mg.Tensor.mean, np.mean)):
        if axes == () and reduce is mg.Tensor.mean:
            continue
        out = reduce(x, axis=axes, keepdims=keepdims)
        expected = np_reduce(x_np, axis=axes, keepdims=keepdims)
        assert out.shape == np.shape(expected)
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    # d sum / dx = 1 everywhere, in x's shape
    x.sum(axis=axes, keepdims=keepdims).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(shape))


@SETTINGS
@given(shape=shapes_strategy, seed=st.integers(0, 2**16), data=st.data())
def test_transpose_round_trip(shape, seed, data):
    x_np = values(shape, seed)
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    x = mg.tensor(x_np, requires_grad=True)
    y = x.transpose(*perm)
    np.testing.assert_array_equal(y.numpy(), x_np.transpose(perm))
    back = y.transpose(*np.argsort(perm).tolist())
    np.testing.assert_array_equal(back.numpy(), x_np)
    w = values(shape, seed + 1)
    (back * w).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), w)


@SETTINGS
@given(shape=shapes_strategy, seed=st.integers(0, 2**16), data=st.data())
def test_reshape_round_trip(shape, seed, data):
    x_np = values(shape, seed)
    size = x_np.size
    first = data.draw(st.sampled_from([d for d in range(1, size + 1) if size % d == 0]))
    x = mg.tensor(x_np, requires_grad=True)
    y = x.reshape(first, -1)
    np.testing.assert_array_equal(y.numpy(), x_np.reshape(first, -1))
    back = y.reshape(shape)
    assert back.shape == shape
    w = values(shape, seed + 1)
    (back * w).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), w)
    assert x.flatten().shape == (size,)
