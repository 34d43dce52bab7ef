"""Every op on every device: the same results and gradients as on the CPU.

Each test takes the ``device`` fixture (conftest.py), so it runs on the CPU, on the
strict CuPy stand-in (``cupy_standin.py``, the "cuda" path on every CI run) and on real
CuPy when a GPU is present. A test is written once, never copy-pasted per device.

Parity tests run one function on CPU tensors and on device tensors made from the same
arrays (tinygrad's ``helper_test_op`` shape), then compare the outputs, the gradient
of sum(out * w) for a fixed random w with respect to every float input, shapes,
dtypes, and where everything lives.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad import backend

# float32 on a real GPU rounds differently (fused multiply-adds, other reduction orders)
ATOL, RTOL = 1e-5, 1e-4
# The tolerance of the newer device tests (test_devices_*.py): float32 sums taken in
# another order (CuPy's atomic scatter-add, cuBLAS's blocked products) differ by a few
# units in the last place, about 1e-7 relative; 1e-5 leaves room for a hundred of them.
FLOAT32 = {"rtol": 1e-5, "atol": 1e-6}


def array_type(device: str) -> type:
    """The class of a Tensor's ``.data`` on ``device``."""
    return np.ndarray if device == "cpu" else backend.cuda_module().ndarray


def assert_on(t: mg.Tensor, device: str) -> None:
    assert t.device == device, f"tensor on {t.device!r}, expected {device!r}"
    assert type(t.data) is array_type(device), f"data is {type(t.data)}, expected {array_type(device)}"


def assert_matches_cpu(got: dict, expected: dict, device: str, tolerance: dict = FLOAT32) -> None:
    """``got`` (name -> Tensor on ``device``) holds the tensors of ``expected`` (name ->
    CPU Tensor, the same computation on the CPU): the same names, each on ``device``
    with the same shape, dtype and values (to ``tolerance``)."""
    assert list(got) == list(expected), "different tensors on the two devices"
    for name, t in got.items():
        reference = expected[name]
        assert_on(t, device)
        assert (t.shape, t.dtype) == (reference.shape, reference.dtype), name
        np.testing.assert_allclose(t.numpy(), reference.numpy(), **tolerance, err_msg=name)


# -------------------------------------------------------------------------------------
# The table of ops. Inputs are NumPy arrays; float ones require grad, except those
# wrapped in Const (batch norm's running statistics, for instance).

_rng = np.random.default_rng(0)


class Const:
    """An input that does not require grad (its final value is compared too)."""

    def __init__(self, array):
        self.array = array


def randn(*shape):
    return _rng.standard_normal(shape).astype(np.float32)


def positive(*shape):
    return _rng.uniform(0.5, 2.0, shape).astype(np.float32)


def with_ties(*shape):
    return _rng.integers(0, 3, shape).astype(np.float32)  # many equal entries


def ints(high, *shape):
    return _rng.integers(0, high, shape)


def mask(*shape):
    return _rng.random(shape) > 0.4


def dropout_seeded(x):
    mg.manual_seed(0)  # the mask is drawn on the host, so every device gets the same one
    return F.dropout(x, p=0.5, training=True)


CASES = [
    # operators, with broadcasting and Python scalars on either side
    ("add", lambda x, y: x + y, [randn(3, 4), randn(4)]),
    ("sub", lambda x, y: x - y, [randn(3, 1), randn(3, 4)]),
    ("mul", lambda x, y: x * y, [randn(3, 4), randn(3, 4)]),
    ("div", lambda x, y: x / y, [randn(3, 4), positive(3, 4)]),
    ("scalars", lambda x: (2.0 - x) * 3 / 4 + 1, [randn(3, 4)]),
    ("pow_scalar", lambda x: x**3, [randn(3, 4)]),
    ("pow_tensor", lambda x, y: x**y, [positive(3, 4), randn(3, 4)]),
    ("rpow", lambda x: 2.0**x, [randn(3, 4)]),
    ("matmul", lambda a, b: a @ b, [randn(3, 4), randn(4, 5)]),
    ("matmul_batched", lambda a, b: a @ b, [randn(2, 3, 4), randn(4, 5)]),
    ("matmul_vector", lambda a, b: a @ b, [randn(4), randn(4, 5)]),
    ("neg", lambda x: -x, [randn(3, 4)]),
    # elementwise functions
    ("exp", lambda x: x.exp(), [randn(3, 4)]),
    ("log", lambda x: x.log(), [positive(3, 4)]),
    ("sqrt", lambda x: x.sqrt(), [positive(3, 4)]),
    ("tanh", lambda x: x.tanh(), [randn(3, 4)]),
    ("sigmoid", lambda x: x.sigmoid(), [randn(3, 4) * 10]),
    ("relu", lambda x: x.relu(), [randn(3, 4)]),
    ("abs", lambda x: x.abs(), [randn(3, 4)]),
    ("clip", lambda x: x.clip(-0.5, 0.5), [randn(3, 4)]),
    ("clip_lo", lambda x: x.clip(lo=0.0), [randn(3, 4)]),
    # reductions, with axes
    ("sum", lambda x: x.sum(), [randn(2, 3, 4)]),
    ("sum_axis", lambda x: x.sum(axis=1), [randn(2, 3, 4)]),
    ("sum_axes_keepdims", lambda x: x.sum(axis=(0, 2), keepdims=True), [randn(2, 3, 4)]),
    ("mean", lambda x: x.mean(axis=0), [randn(2, 3, 4)]),
    ("max", lambda x: x.max(), [with_ties(3, 4)]),
    ("max_axis_ties", lambda x: x.max(axis=1), [with_ties(3, 4)]),
    ("min_axis", lambda x: x.min(axis=0, keepdims=True), [with_ties(3, 4)]),
    ("var", lambda x: x.var(axis=1, ddof=1), [randn(3, 4)]),
    ("logsumexp", lambda x: x.logsumexp(), [randn(3, 4)]),
    ("logsumexp_axis", lambda x: x.logsumexp(axis=-1, keepdims=True), [randn(3, 4) * 100]),
    ("softmax", lambda x: x.softmax(axis=-1), [randn(3, 4)]),
    ("log_softmax", lambda x: x.log_softmax(axis=0), [randn(3, 4)]),
    # no-gradient results
    ("compare", lambda x, y: (x < y) | (x >= 1.0), [randn(3, 4), randn(3, 4)]),
    ("argmax", lambda x: x.argmax(axis=1), [randn(3, 4)]),
    ("any_all", lambda x: mg.stack([(x > 0).any(), (x > -5).all()]), [randn(3, 4)]),
    # shape ops and indexing
    ("reshape", lambda x: x.reshape(4, -1), [randn(2, 3, 4)]),
    ("transpose", lambda x: x.transpose(1, 0, 2), [randn(2, 3, 4)]),
    ("T", lambda x: x.T, [randn(2, 3, 4)]),
    ("flatten", lambda x: x.flatten(1), [randn(2, 3, 4)]),
    ("getitem_slices", lambda x: x[1:, ::2, None], [randn(3, 4)]),
    ("getitem_int", lambda x: x[-1], [randn(3, 4)]),
    ("getitem_list_repeats", lambda x: x[[0, 2, 2, 1]], [randn(3, 4)]),
    ("getitem_numpy_repeats", lambda x: x[np.array([1, 1, 0]), 1:], [randn(3, 4)]),
    ("getitem_tensor_index", lambda x, i: x[i], [randn(5, 2), ints(5, 7)]),
    ("getitem_pairs", lambda x, i, j: x[i, j], [randn(3, 4), ints(3, 6), ints(4, 6)]),
    ("getitem_mask", lambda x, m: x[m], [randn(3, 4), mask(3, 4)]),
    ("getitem_mask_from_x", lambda x: x[x > 0], [randn(3, 4)]),
    # combinators
    ("cat", lambda a, b: mg.cat([a, b], axis=1), [randn(2, 3), randn(2, 2)]),
    ("stack", lambda a, b: mg.stack([a, b], axis=-1), [randn(2, 3), randn(2, 3)]),
    ("unbind_some_unused", lambda x: mg.unbind(x, axis=1)[0] * mg.unbind(x, axis=1)[2], [randn(2, 4, 3)]),
    ("split", lambda x: mg.cat(mg.split(x, [1, 3], axis=-1)[::-1], axis=-1), [randn(3, 5)]),
    ("where", lambda c, a, b: mg.where(c, a, b), [mask(3, 4), randn(3, 4), randn(4)]),
    ("maximum_ties", lambda a, b: mg.maximum(a, b), [with_ties(3, 4), with_ties(3, 4)]),
    ("minimum_ties", lambda a, b: mg.minimum(a, b), [with_ties(3, 4), with_ties(1, 4)]),
    ("pad", lambda x: F.pad(x, ((1, 0), (2, 1)), value=0.5), [randn(3, 4)]),
    # functional
    ("linear", lambda x, w, b: F.linear(x, w, b), [randn(5, 4), randn(3, 4), randn(3)]),
    ("linear_no_bias", lambda x, w: F.linear(x, w), [randn(2, 5, 4), randn(3, 4)]),
    ("leaky_relu", lambda x: F.leaky_relu(x, negative_slope=0.1), [randn(3, 4)]),
    ("functional_sigmoid_tanh", lambda x: F.sigmoid(x) * F.tanh(x), [randn(3, 4)]),
    # NumPy scalars are numbers: they follow the tensor to its device
    ("numpy_scalars", lambda x: (x * np.float32(2) - np.int64(1)) ** np.float32(2), [randn(3, 4)]),
    ("where_numpy_scalar", lambda x: mg.where(x > np.float32(0), x, np.float32(0.5)), [randn(3, 4)]),
    # convolution and pooling
    (
        "conv2d",
        lambda x, w, b: F.conv2d(x, w, b, padding=1),
        [randn(2, 3, 6, 6), randn(4, 3, 3, 3), randn(4)],
    ),
    (
        "conv2d_stride",
        lambda x, w: F.conv2d(x, w, stride=2, padding=(0, 1)),
        [randn(1, 2, 7, 6), randn(3, 2, 3, 2)],
    ),
    ("max_pool2d", lambda x: F.max_pool2d(x, 2), [randn(2, 3, 6, 6)]),
    ("max_pool2d_ties", lambda x: F.max_pool2d(x, 3, stride=2, padding=1), [with_ties(2, 2, 7, 7)]),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 2), [randn(2, 3, 6, 6)]),
    ("avg_pool2d_padded", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1), [randn(2, 3, 7, 7)]),
    # embedding, normalisation, dropout
    ("embedding", lambda i, w: F.embedding(i, w), [ints(5, 2, 6), randn(5, 3)]),
    ("embedding_list", lambda w: F.embedding([[0, 4], [4, 4]], w), [randn(5, 3)]),
    ("embedding_numpy", lambda w: F.embedding(np.array([3, 1, 3]), w), [randn(5, 3)]),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (4,), w, b), [randn(2, 3, 4), randn(4), randn(4)]),
    ("layer_norm_2d", lambda x: F.layer_norm(x, (3, 4)), [randn(2, 3, 4)]),
    (
        "batch_norm_train",
        lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b, training=True),
        [randn(6, 3), Const(randn(3)), Const(positive(3)), randn(3), randn(3)],
    ),
    (
        "batch_norm_train_2d",
        lambda x, rm, rv: F.batch_norm(x, rm, rv, training=True, momentum=0.2),
        [randn(4, 3, 2, 2), Const(randn(3)), Const(positive(3))],
    ),
    (
        "batch_norm_eval",
        lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b, training=False),
        [randn(6, 3), Const(randn(3)), Const(positive(3)), randn(3), randn(3)],
    ),
    ("dropout_eval", lambda x: F.dropout(x, p=0.5, training=False), [randn(3, 4)]),
    ("dropout_seeded", dropout_seeded, [randn(20, 30)]),
]


def _params(cases):
    return [pytest.param(fn, inputs, id=name) for name, fn, inputs in cases]


def run(fn, inputs, device):
    """fn on tensors made from ``inputs`` on ``device``; backward of sum(out * w) when
    the output has a graph. Returns the output and the input tensors."""
    tensors = []
    for item in inputs:
        array = item.array if isinstance(item, Const) else item
        wants_grad = array.dtype.kind == "f" and not isinstance(item, Const)
        tensors.append(mg.tensor(array, requires_grad=wants_grad, device=device))
    out = fn(*tensors)
    if out.requires_grad:
        w = np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype)
        (out * mg.tensor(w, device=device)).sum().backward()
    return out, tensors


@pytest.mark.parametrize(("fn", "inputs"), _params(CASES))
def test_op_matches_cpu(device, fn, inputs):
    expected, expected_inputs = run(fn, inputs, "cpu")
    out, tensors = run(fn, inputs, device)

    assert_on(out, device)
    assert (out.shape, out.dtype) == (expected.shape, expected.dtype)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=ATOL, rtol=RTOL, err_msg="forward")
    for i, (t, reference) in enumerate(zip(tensors, expected_inputs)):
        assert_on(t, device)  # in-place updates (running statistics) stayed on the device
        np.testing.assert_allclose(t.numpy(), reference.numpy(), atol=ATOL, rtol=RTOL, err_msg=f"input {i}")
        assert (t.grad is None) == (reference.grad is None), f"input {i}: gradient present on one device only"
        if t.grad is not None:
            assert_on(t.grad, device)
            assert t.grad.dtype == t.dtype
            np.testing.assert_allclose(
                t.grad.numpy(), reference.grad.numpy(), atol=ATOL, rtol=RTOL, err_msg=f"gradient of input {i}"
            )


# -------------------------------------------------------------------------------------
# Gradients of gradients, and gradcheck, on the device.


def test_second_derivative_on_device(device):
    x = mg.tensor([0.5, -1.0, 2.0], requires_grad=True, device=device)
    (first,) = mg.grad((x**3).sum(), [x], create_graph=True)  # 3 x^2
    assert_on(first, device)
    first.sum().backward()  # d/dx sum(3 x^2) = 6 x
    assert_on(x.grad, device)
    np.testing.assert_allclose(x.grad.numpy(), [3.0, -6.0, 12.0], **FLOAT32)


def test_gradcheck_on_device(device):
    x = mg.tensor(np.random.default_rng(3).standard_normal((2, 3)), requires_grad=True, device=device)
    assert mg.gradcheck(lambda t: (t.tanh() * t).softmax(axis=1).log().sum(axis=0), [x])


# -------------------------------------------------------------------------------------
# Training: a two-layer MLP, SGD done by hand on .data.


def train_mlp(device, steps=3, lr=0.5):
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((8, 4)).astype(np.float32), device=device)
    target = mg.tensor(rng.integers(0, 3, 8), device=device)
    rows = mg.arange(8, device=device)
    params = [
        mg.tensor(a.astype(np.float32), requires_grad=True, device=device)
        for a in (
            rng.standard_normal((5, 4)) * 0.5,
            np.zeros(5),
            rng.standard_normal((3, 5)) * 0.5,
            np.zeros(3),
        )
    ]
    w1, b1, w2, b2 = params
    losses = []
    for _ in range(steps):
        logits = F.linear(F.relu(F.linear(x, w1, b1)), w2, b2)
        loss = -logits.log_softmax(axis=1)[rows, target].mean()
        for p in params:
            p.grad = None
        loss.backward()
        with mg.no_grad():
            for p in params:
                p.data -= lr * p.grad.data
        losses.append(loss.item())
    return losses, params


def test_training_step_matches_cpu(device):
    expected_losses, expected_params = train_mlp("cpu")
    losses, params = train_mlp(device)
    assert losses[-1] < losses[0]
    np.testing.assert_allclose(losses, expected_losses, atol=ATOL, rtol=RTOL)
    for p, reference in zip(params, expected_params):
        assert_on(p, device)
        assert_on(p.grad, device)
        np.testing.assert_allclose(p.numpy(), reference.numpy(), atol=ATOL, rtol=RTOL)


# -------------------------------------------------------------------------------------
# Moving data: .to(), numpy(), item(), factories, DLPack, checkpoints.


@pytest.mark.parametrize(
    "array",
    [
        np.arange(6, dtype=np.float32).reshape(2, 3),
        np.linspace(0, 1, 5),
        np.arange(4),
        np.array([True, False]),
    ],
    ids=["float32", "float64", "int64", "bool"],
)
def test_to_round_trip(device, array):
    t = mg.tensor(array)
    moved = t.to(device)
    assert_on(moved, device)
    assert moved.dtype == array.dtype
    assert moved.to(device) is moved  # already there: the same tensor
    back = moved.to("cpu")
    assert_on(back, "cpu")
    assert back.dtype == array.dtype
    np.testing.assert_array_equal(back.numpy(), array)


def test_gradient_flows_back_across_to(device):
    x = mg.tensor([1.0, -2.0, 3.0], requires_grad=True)  # a CPU leaf
    y = x.to(device)
    assert y.requires_grad and y.is_leaf == (device == "cpu")  # .to(its own device) is itself
    ((y * y).sum() * 0.5).to("cpu").backward()
    assert_on(x.grad, "cpu")
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, -2.0, 3.0])

    z = mg.tensor([1.0, 2.0], requires_grad=True, device=device)  # a device leaf
    (z.to("cpu") * mg.tensor([3.0, 4.0])).sum().backward()
    assert_on(z.grad, device)
    np.testing.assert_array_equal(z.grad.numpy(), [3.0, 4.0])


def test_numpy_item_and_python_numbers(device):
    t = mg.tensor([[1.5, 2.5]], device=device)
    host = t.numpy()
    assert type(host) is np.ndarray
    np.testing.assert_array_equal(host, [[1.5, 2.5]])
    if device != "cpu":  # a copy from the device: writing to it leaves the tensor alone
        host[0, 0] = 100.0
        assert t.numpy()[0, 0] == 1.5
    s = t.sum()
    assert_on(s, device)
    assert s.item() == 4.0 and type(s.item()) is float
    assert type(mg.tensor(3, device=device).item()) is int
    assert float(s) == 4.0 and int(s) == 4 and bool(s)
    assert t.tolist() == [[1.5, 2.5]]
    assert (f"device='{device}'" in repr(t)) == (device != "cpu")


def test_no_implicit_conversion_to_numpy(device):
    if device == "cpu":
        pytest.skip("a CPU tensor converts to NumPy implicitly by design")
    with pytest.raises(TypeError, match="numpy"):
        np.asarray(mg.ones(2, device=device))


@pytest.mark.parametrize(
    ("make", "dtype"),
    [
        (lambda d: mg.tensor([1.0, 2.0], device=d), mg.float32),
        (lambda d: mg.zeros(2, 3, device=d), mg.float32),
        (lambda d: mg.ones((2, 3), dtype=mg.float64, device=d), mg.float64),
        (lambda d: mg.full((2,), 7, device=d), mg.int64),
        (lambda d: mg.arange(0.0, 1.0, 0.25, device=d), mg.float32),
        (lambda d: mg.zeros_like(mg.ones(3, dtype=mg.int64, device=d)), mg.int64),
        (lambda d: mg.ones_like(mg.zeros(3), device=d), mg.float32),
        (lambda d: mg.randn(2, 3, device=d, requires_grad=True), mg.float32),
        (lambda d: mg.rand(4, device=d), mg.float32),
    ],
    ids=["tensor", "zeros", "ones", "full", "arange", "zeros_like", "ones_like", "randn", "rand"],
)
def test_factories(device, make, dtype):
    mg.manual_seed(0)
    expected = make("cpu")
    mg.manual_seed(0)
    t = make(device)
    assert_on(t, device)
    assert t.dtype == dtype == expected.dtype
    assert t.requires_grad == expected.requires_grad
    np.testing.assert_array_equal(t.numpy(), expected.numpy())  # same seed, same numbers


def test_from_dlpack_shares_memory(device):
    t = mg.tensor([1.0, 2.0, 3.0], device=device)
    shared = mg.from_dlpack(t)
    assert_on(shared, device)
    t.data[0] = 10.0
    assert shared.numpy()[0] == 10.0


def test_save_and_load_device_tensors(device, tmp_path):
    weight = mg.randn(3, 2, device=device)
    state = {"weight": weight, "nested": {"bias": mg.arange(3, device=device), "step": 7}}
    path = tmp_path / "checkpoint.npz"
    mg.save(state, path)
    loaded = mg.load(path)
    assert type(loaded["weight"]) is np.ndarray
    np.testing.assert_array_equal(loaded["weight"], weight.numpy())
    np.testing.assert_array_equal(loaded["nested"]["bias"], [0, 1, 2])
    assert loaded["nested"]["bias"].dtype == np.int64
    assert loaded["nested"]["step"] == 7


# -------------------------------------------------------------------------------------
# Mixing devices is an error that names both.

MIXED = {
    "add": lambda c, d: c + d,
    "matmul": lambda c, d: c @ d.T,
    "compare": lambda c, d: c < d,
    "cat": lambda c, d: mg.cat([c, d]),
    "stack": lambda c, d: mg.stack([d, c]),
    "where": lambda c, d: mg.where(c > 0, d, d),
    "maximum": lambda c, d: mg.maximum(d, c),
    "linear": lambda c, d: F.linear(c, d),
    "index": lambda c, d: d[mg.tensor([0, 1])],
}


@pytest.mark.parametrize("op", MIXED.values(), ids=MIXED.keys())
def test_mixing_devices_raises(device, op):
    if device == "cpu":
        pytest.skip("needs a second device")
    on_cpu = mg.ones(2, 2, requires_grad=True)
    on_device = mg.ones(2, 2, device=device)
    with pytest.raises(RuntimeError) as error:
        op(on_cpu, on_device)
    assert "'cpu'" in str(error.value) and "'cuda'" in str(error.value), str(error.value)
