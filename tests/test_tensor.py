"""Tensor itself: dtype rules (API.md, "Details"), attributes, conversions, factories,
mixing with NumPy arrays and Python scalars, and the messages of bad input."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import needs_torch, torch

import minigrad as mg
import minigrad.functional as F
from minigrad.ops.shape import pad

# -------------------------------------------------------------------------------------
# Dtype rules


@pytest.mark.parametrize(
    "data, dtype",
    [
        (1.5, mg.float32),
        ([1.0, 2.5], mg.float32),
        ([[1.0], [2.0]], mg.float32),
        (3, mg.int64),
        ([1, 2], mg.int64),
        ([1, 2.5], mg.float32),  # a list with a float is a float list
        (True, mg.bool_),
        ([True, False], mg.bool_),
        (np.array([1.0, 2.0]), mg.float64),  # NumPy arrays keep their dtype
        (np.array([1, 2], dtype=np.int32), np.dtype("int32")),
        (np.array([1.0], dtype=np.float16), np.dtype("float16")),
        (np.float64(2.5), mg.float64),
    ],
)
def test_dtype_of_new_tensors(data, dtype):
    t = mg.tensor(data)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))


@needs_torch
@pytest.mark.parametrize("data", [1.5, [1.0, 2.5], 3, [1, 2], True, np.array([1.0]), np.array([1], dtype=np.int32)])
def test_dtype_of_new_tensors_matches_torch(data):
    assert str(mg.tensor(data).dtype) == str(torch.tensor(data).dtype).replace("torch.", "")


def test_dtype_argument_overrides():
    assert mg.tensor([1, 2], dtype=mg.float64).dtype == mg.float64
    assert mg.tensor(np.array([1.0, 2.0]), dtype=mg.float32).dtype == mg.float32
    assert mg.tensor(1.5, dtype="float64").dtype == mg.float64
    assert mg.tensor([1.7, 2.2], dtype=mg.int64).numpy().tolist() == [1, 2]


def test_dtype_aliases_are_numpy_dtypes():
    assert mg.tensor(1.0).dtype == mg.float32 == np.float32 == np.dtype("float32")
    assert (mg.float64, mg.int64, mg.bool_) == (np.dtype("float64"), np.dtype("int64"), np.dtype("bool"))
    assert isinstance(mg.tensor(1.0).dtype, np.dtype)


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (np.float32, np.float64, mg.float64),
        (np.float64, np.float32, mg.float64),
        (np.float32, np.float32, mg.float32),
        (np.float32, np.bool_, mg.float32),
        (np.int64, np.int64, mg.int64),
    ],
)
def test_tensor_tensor_promotion_follows_numpy(a, b, expected):
    x, y = mg.tensor(np.ones(2, dtype=a)), mg.tensor(np.ones(2, dtype=b))
    for out in (x + y, x * y, y - x, mg.maximum(x, y)):
        assert out.dtype == expected == np.result_type(a, b)


@pytest.mark.parametrize("scalar", [2, 2.5, -1e-3, True, np.float64(0.5)])
@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_python_scalar_never_upcasts_a_float_tensor(scalar, dtype):
    x = mg.tensor([1.0, 2.0], dtype=dtype)
    for out in (x + scalar, scalar + x, x * scalar, scalar * x, x - scalar, scalar - x, x / scalar,
                x**2, mg.maximum(x, scalar), mg.where(x > 1.5, x, scalar), mg.where(x > 1.5, scalar, x)):
        assert out.dtype == dtype


@needs_torch
@pytest.mark.parametrize(
    "fn",
    [lambda t: t * 2.5, lambda t: 2.5 + t, lambda t: t / 2, lambda t: t / t, lambda t: t * 2, lambda t: t - 1,
     lambda t: t**0.5, lambda t: t**2, lambda t: 1.5**t, lambda t: t < 2.5],
    ids=["mul_float", "radd_float", "div_int", "div_tensor", "mul_int", "sub_int", "pow_float", "pow_int",
         "rpow_float", "compare_float"],
)
def test_integer_tensor_with_python_scalars_follows_torch(fn):
    """Our choice (API.md: Python floats are float32; scalars never upcast): an int64
    tensor combined with a Python float, or divided, gives float32, as PyTorch does
    (NumPy alone would give float64). Integer results stay int64."""
    data = np.array([1, 4, 9])
    expected, ours = fn(torch.tensor(data)), fn(mg.tensor(data))
    assert str(ours.dtype) == str(expected.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.numpy(), expected.numpy(), rtol=1e-6)


def test_arange_dtypes():
    assert mg.arange(5).dtype == mg.int64
    assert mg.arange(0, 1, 0.25).dtype == mg.float32
    assert mg.arange(2.0).dtype == mg.float32
    assert mg.arange(3, dtype=mg.float64).dtype == mg.float64
    np.testing.assert_array_equal(mg.arange(1, 7, 2).numpy(), [1, 3, 5])
    np.testing.assert_allclose(mg.arange(0, 1, 0.25).numpy(), [0, 0.25, 0.5, 0.75])


# float32 in => float32 out, for every op and every gradient
F32_OPS = [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / (b * b + 1.0),
    lambda a, b: (a * a + 1.0) ** b, lambda a, b: a**2 + 2.0**b + (a * a + 1.0) ** 0.5,
    lambda a, b: -a + b.exp() + (a * a + 1.0).log() + (b * b + 1.0).sqrt(),
    lambda a, b: a.tanh() + b.sigmoid() + a.relu() + F.leaky_relu(b) + a.abs() + b.clip(-0.5, 0.5),
    lambda a, b: mg.maximum(a, b) + mg.minimum(a, 0.0) + mg.where(a > b, a, 1.0),
    lambda a, b: a.sum(axis=0) + b.mean(axis=0) + a.max(axis=0) + b.min(axis=0) + a.var(axis=0, ddof=1),
    lambda a, b: a.logsumexp(axis=1) + b.var() + a.sum() + b.mean(),
    lambda a, b: a.reshape(6) + b.T.flatten() + a.transpose(1, 0).reshape(-1),
    lambda a, b: a[1, [0, 0]] + b[b > 0].sum() + a[None, ..., ::-1][0, 0, :2],
    lambda a, b: mg.cat([a, b]).sum(axis=0) + mg.stack([a, b]).sum(axis=(0, 1)) + pad(a, 1)[0, 1:-1],
    lambda a, b: (a @ b.T).sum(axis=0) + a[0] @ b[0] + a @ b[0],
    lambda a, b: a.softmax() + b.log_softmax(axis=0),
    lambda a, b: a.astype(mg.float64).astype(mg.float32) + b,
]


@pytest.mark.parametrize("i", range(len(F32_OPS)))
def test_float32_in_float32_out_and_gradients(i):
    rng = np.random.default_rng(i)
    a = mg.tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    b = mg.tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    out = F32_OPS[i](a, b)
    assert out.dtype == mg.float32
    out.sum().backward()
    for t in (a, b):
        assert t.grad is not None and t.grad.dtype == mg.float32


def test_mixed_precision_gradients_keep_each_inputs_dtype():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor(np.array([3.0, 4.0]), requires_grad=True)
    out = a * b
    assert out.dtype == mg.float64
    out.sum().backward()
    assert a.grad.dtype == mg.float32 and b.grad.dtype == mg.float64
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 4.0])


# -------------------------------------------------------------------------------------
# Attributes and conversions


def test_data_is_the_stored_array_and_assignable():
    array = np.array([1.0, 2.0], dtype=np.float32)
    t = mg.Tensor._make(array)
    assert t.data is array
    t2 = mg.tensor([1.0, 2.0])
    assert t2.data is t2.data and isinstance(t2.data, np.ndarray)
    t2.data[0] = 5.0
    assert t2.numpy()[0] == 5.0
    t2.data = np.zeros(3, dtype=np.float32)
    assert t2.shape == (3,)
    # tensor() copies its input (as torch.tensor)
    source = np.ones(2)
    mg.tensor(source).data[0] = 7
    assert source[0] == 1


def test_data_of_results_is_an_ndarray_even_for_scalars():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    for out in (x.sum(), x.max(), x[0] * x[1], mg.tensor(2.0) + 1.0, x @ x, x.sum() > 1):
        assert isinstance(out.data, np.ndarray) and out.shape == ()
    s = x.sum()
    s.data[()] = 10.0  # writable like any array
    assert s.item() == 10.0


def test_grad_is_assignable():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    x.grad = mg.tensor([5.0, 5.0])
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [7.0, 7.0])
    x.grad = None
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_T_reverses_all_axes():
    x = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(mg.tensor(x).T.numpy(), x.T)
    assert mg.tensor(x).T.shape == (4, 3, 2)
    np.testing.assert_array_equal(mg.tensor([1.0, 2.0]).T.numpy(), [1.0, 2.0])


def test_shapes_as_varargs_or_tuples():
    assert mg.zeros(2, 3).shape == mg.zeros((2, 3)).shape == mg.zeros([2, 3]).shape == (2, 3)
    assert mg.ones(4).shape == (4,) and mg.zeros().shape == ()
    assert mg.randn(2, 3).shape == mg.rand((2, 3)).shape == (2, 3)
    x = mg.tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.reshape((2, -1)).shape == x.reshape(2, -1).shape == (2, 12)
    assert x.reshape([4, 6]).shape == (4, 6)
    np.testing.assert_array_equal(x.sum(axis=(0, 2)).numpy(), x.numpy().sum(axis=(0, 2)))
    np.testing.assert_array_equal(x.sum(axis=[0, 2]).numpy(), x.numpy().sum(axis=(0, 2)))
    assert x.transpose((2, 0, 1)).shape == x.transpose(2, 0, 1).shape == (4, 2, 3)


def test_indices_may_be_python_lists():
    x = mg.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    np.testing.assert_array_equal(x[[2, 0]].numpy(), x.numpy()[[2, 0]])
    np.testing.assert_array_equal(x[[0, 0], [1, 3]].numpy(), [1.0, 3.0])
    np.testing.assert_array_equal(x[:, [True, False, False, True]].numpy(), x.numpy()[:, [0, 3]])
    x[[1, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.array([[0] * 4, [2] * 4, [0] * 4]))
    with pytest.raises(IndexError, match="integer or boolean"):
        x[[0.5]]


def test_len_item_numpy_tolist():
    x = mg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert len(x) == 2
    with pytest.raises(TypeError, match="0-d"):
        len(mg.tensor(1.0))
    assert mg.tensor([2.5]).item() == 2.5 and isinstance(mg.tensor(3).item(), int)
    with pytest.raises(ValueError, match="one element"):
        x.item()
    assert isinstance(x.numpy(), np.ndarray) and x.numpy() is x.data
    assert x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert float(mg.tensor(1.5)) == 1.5 and int(mg.tensor(3)) == 3
    assert (x.shape, x.ndim, x.size, x.device) == ((2, 3), 2, 6, "cpu")


def test_repr():
    assert repr(mg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(mg.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(mg.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(mg.tensor([1.0], dtype=mg.float64)) == "tensor([1.], dtype=float64)"
    y = mg.tensor([1.0], requires_grad=True) * 2.0
    assert repr(y).startswith("tensor([2.], grad_fn=")


def test_comparisons_return_bool_tensors_without_grad():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = np.array([3.0, 2.0, 1.0], dtype=np.float32)
    cases = [(x < 2, x.numpy() < 2), (x <= 2.0, x.numpy() <= 2), (x > y, x.numpy() > y), (x >= y, x.numpy() >= y),
             (x == 2, x.numpy() == 2), (x != y, x.numpy() != y), (2 < x, 2 < x.numpy()), (y == x, y == x.numpy())]
    for got, expected in cases:
        assert isinstance(got, mg.Tensor)
        assert got.dtype == mg.bool_ and not got.requires_grad and got.grad_fn is None
        np.testing.assert_array_equal(got.numpy(), expected)


def test_argmax():
    data = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    x = mg.tensor(data, requires_grad=True)
    assert x.argmax().item() == 3
    np.testing.assert_array_equal(x.argmax(axis=1).numpy(), [1, 0])
    np.testing.assert_array_equal(x.argmax(axis=0).numpy(), [1, 0, 1])
    assert x.argmax(axis=1).dtype == mg.int64 and not x.argmax().requires_grad


@pytest.mark.parametrize(
    "factory",
    [
        lambda **kw: mg.zeros(2, 3, **kw),
        lambda **kw: mg.ones((2, 3), **kw),
        lambda **kw: mg.full((2, 3), 1.5, **kw),
        lambda **kw: mg.randn(2, 3, **kw),
        lambda **kw: mg.rand(2, 3, **kw),
        lambda **kw: mg.arange(6.0, **kw),
        lambda **kw: mg.tensor([[1.0, 2.0]], **kw),
        lambda **kw: mg.zeros_like(mg.ones(2, dtype=mg.int64), **kw),
        lambda **kw: mg.ones_like(mg.ones(2), **kw),
    ],
    ids=["zeros", "ones", "full", "randn", "rand", "arange", "tensor", "zeros_like", "ones_like"],
)
def test_factories_take_dtype_device_requires_grad(factory):
    default = factory()
    assert not default.requires_grad and default.device == "cpu" and default.is_leaf
    t = factory(dtype=mg.float64, device="cpu", requires_grad=True)
    assert t.dtype == mg.float64 and t.device == "cpu" and t.requires_grad and t.is_leaf
    assert factory(dtype=mg.float32).dtype == mg.float32
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        factory(device="tpu")


def test_factory_values():
    np.testing.assert_array_equal(mg.full((2, 2), 7).numpy(), np.full((2, 2), 7))
    assert mg.full((2,), 7).dtype == mg.int64 and mg.full(3, 0.5).dtype == mg.float32
    assert mg.zeros(2).dtype == mg.ones(2).dtype == mg.randn(2).dtype == mg.float32
    assert mg.zeros_like(mg.ones(2, dtype=mg.int64)).dtype == mg.int64
    r = mg.rand(1000).numpy()
    assert 0 <= r.min() and r.max() < 1


def test_manual_seed_makes_random_factories_reproducible():
    mg.manual_seed(3)
    a = mg.randn(5).numpy()
    mg.manual_seed(3)
    np.testing.assert_array_equal(a, mg.randn(5).numpy())


# -------------------------------------------------------------------------------------
# NumPy arrays and Python scalars on either side of every operator

OPERATORS = [
    ("+", lambda p, q: p + q),
    ("-", lambda p, q: p - q),
    ("*", lambda p, q: p * q),
    ("/", lambda p, q: p / q),
    ("**", lambda p, q: p**q),
    ("@", lambda p, q: p @ q),
]


MIXES = [(name, op, kind) for name, op in OPERATORS for kind in ("numpy", "scalar") if (name, kind) != ("@", "scalar")]


@pytest.mark.parametrize("name, op, other_kind", MIXES, ids=[f"{n}-{k}" for n, _, k in MIXES])
@pytest.mark.parametrize("tensor_on_left", [True, False], ids=["tensor_left", "tensor_right"])
def test_arrays_and_scalars_mix_on_either_side(name, op, other_kind, tensor_on_left):
    rng = np.random.default_rng(0)
    t_np = rng.uniform(0.5, 2.0, (3, 3))
    other = 1.5 if other_kind == "scalar" else rng.uniform(0.5, 2.0, (3, 3))
    t = mg.tensor(t_np, requires_grad=True)
    out = op(t, other) if tensor_on_left else op(other, t)
    assert isinstance(out, mg.Tensor) and out.requires_grad
    expected = op(t_np, other) if tensor_on_left else op(other, t_np)
    np.testing.assert_allclose(out.numpy(), expected)
    # the gradient flows to t: compare with central differences of the NumPy expression
    w = rng.standard_normal(expected.shape)
    (out * w).sum().backward()
    numeric = np.zeros_like(t_np)
    for index in np.ndindex(*t_np.shape):
        step = np.zeros_like(t_np)
        step[index] = 1e-6
        plus = op(t_np + step, other) if tensor_on_left else op(other, t_np + step)
        minus = op(t_np - step, other) if tensor_on_left else op(other, t_np - step)
        numeric[index] = ((plus - minus) * w).sum() / 2e-6
    np.testing.assert_allclose(t.grad.numpy(), numeric, rtol=1e-5, atol=1e-7)


def test_numpy_array_on_the_left_keeps_its_dtype_rules():
    t = mg.tensor([1.0, 2.0], requires_grad=True)
    out = np.array([1.0, 1.0]) + t  # float64 array + float32 tensor -> float64, as NumPy
    assert isinstance(out, mg.Tensor) and out.dtype == mg.float64
    out.sum().backward()
    assert t.grad.dtype == mg.float32


def test_unary_operators():
    x = mg.tensor([-1.5, 2.0], requires_grad=True)
    np.testing.assert_array_equal((-x).numpy(), [1.5, -2.0])
    assert (+x) is x
    np.testing.assert_array_equal(abs(x).numpy(), [1.5, 2.0])


# -------------------------------------------------------------------------------------
# Bad input: clear messages that name the shapes


@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b, lambda a, b: a / b,
                                lambda a, b: a**b, mg.maximum, mg.minimum,
                                lambda a, b: mg.where(mg.ones(2, 3) > 0, a, b)])
def test_mismatched_shapes_name_both_shapes(op):
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        op(mg.ones(2, 3), mg.ones(4, 5))


def test_mismatched_shapes_with_numpy_array():
    with pytest.raises(ValueError, match=r"\(3,\) and \(4,\)"):
        mg.ones(3) * np.ones(4)


def test_matmul_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) @ \(4, 5\)"):
        mg.ones(2, 3) @ mg.ones(4, 5)
    with pytest.raises(ValueError, match=r"\(3,\) @ \(4,\)"):
        mg.ones(3) @ mg.ones(4)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\) @ \(3, 4, 5\).*batch"):
        mg.ones(2, 3, 4) @ mg.ones(3, 4, 5)
    with pytest.raises(ValueError, match="at least 1 axis"):
        mg.tensor(2.0) @ mg.ones(2)


def test_reshape_to_impossible_shape_names_the_shapes():
    x = mg.ones(2, 3, 4)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\).*\(5, 5\)"):
        x.reshape(5, 5)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\).*\(5, -1\)"):
        x.reshape(5, -1)
    with pytest.raises(ValueError, match=r"\(-1, -1\)"):
        x.reshape(-1, -1)


def test_unknown_device_raises_value_error():
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        mg.tensor([1.0], device="gpu")
    with pytest.raises(ValueError, match="unknown device"):
        mg.ones(2).to("tpu")


def test_bool_of_tensor():
    assert bool(mg.tensor([1.0]))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(mg.ones(2))


@needs_torch
@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "tanh", "sigmoid"])
def test_float_functions_of_integer_tensors_are_float32_as_torch(name):
    data = np.array([1, 2, 3])
    ours, theirs = getattr(mg.tensor(data), name)(), getattr(torch.tensor(data), name)()
    assert ours.dtype == mg.float32 and theirs.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_where_with_two_python_scalars():
    cond = mg.tensor([True, False, True])
    out = mg.where(cond, 1.0, -1.0)
    assert out.dtype == mg.float32
    np.testing.assert_array_equal(out.numpy(), [1.0, -1.0, 1.0])
    assert mg.where(cond, 1, 0).dtype == mg.int64
    assert mg.where(cond, mg.tensor([1, 2, 3]), 0.5).dtype == mg.float32  # int branch + float: float32


@needs_torch
def test_zero_dim_reductions_accept_axis_0_and_minus_1():
    x = mg.tensor(2.5, requires_grad=True)
    for axis in (0, -1):
        for name in ("sum", "mean", "max", "min", "logsumexp"):
            got = getattr(x, name)(axis=axis)
            expected = {"max": torch.amax, "min": torch.amin}.get(name, getattr(torch, name))(
                torch.tensor(2.5), dim=axis)
            assert got.shape == tuple(expected.shape)
            np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)
    x.sum(axis=0).backward()
    assert x.grad.item() == 1.0
    with pytest.raises(ValueError, match="out of range"):
        x.sum(axis=1)


def test_empty_list_index_selects_nothing():
    x = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x[[]]
    assert y.shape == (0, 3) == np.arange(6.0).reshape(2, 3)[[]].shape
    (y.sum() + x.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_from_numpy_shares_memory_and_keeps_the_dtype(dtype):
    array = np.zeros((2, 3), dtype=dtype)
    t = mg.from_numpy(array)
    assert t.dtype == dtype and t.shape == (2, 3) and not t.requires_grad
    array[0, 1] = 1
    assert t.numpy()[0, 1] == 1  # the same memory, as torch.from_numpy
    t.data[1, 2] = 1
    assert array[1, 2] == 1


def test_from_numpy_refuses_anything_but_an_ndarray():
    with pytest.raises(TypeError, match="expects a numpy.ndarray, got list"):
        mg.from_numpy([1.0, 2.0])
