"""Tests for minigrad/ops/nn.py: softmax, log_softmax, dropout, embedding, batch_norm, layer_norm.

Expected values come from three independent sources: finite differences (gradcheck),
PyTorch (parity, skipped when torch is missing) and formulas written here in NumPy.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import compare_with_torch, gradcheck_second, leaf64, needs_torch

import minigrad as mg
from minigrad import functional as F

try:
    import torch
    import torch.nn.functional as TF
except ImportError:
    torch = TF = None


def float32(*shape, seed=0, low=None, high=None):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return data.astype(np.float32)


def numpy_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def numpy_normalize(x, axes, eps):
    """(x - mean) / sqrt(biased var + eps) over ``axes``, in float64."""
    x = x.astype(np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


# -------------------------------------------------------------------------------------
# softmax / log_softmax

AXES = [0, 1, 2, -1, -2]


@pytest.mark.parametrize("axis", AXES)
def test_softmax_gradcheck(axis):
    assert mg.gradcheck(lambda x: F.softmax(x, axis=axis), [leaf64(2, 3, 4)])


@pytest.mark.parametrize("axis", AXES)
def test_log_softmax_gradcheck(axis):
    assert mg.gradcheck(lambda x: F.log_softmax(x, axis=axis), [leaf64(2, 3, 4)])


@pytest.mark.parametrize("axis", [0, -1])
def test_softmax_second_derivative(axis):
    assert gradcheck_second(lambda x: F.softmax(x, axis=axis), leaf64(3, 4))


@pytest.mark.parametrize("axis", [0, -1])
def test_log_softmax_second_derivative(axis):
    assert gradcheck_second(lambda x: F.log_softmax(x, axis=axis), leaf64(3, 4))


@pytest.mark.parametrize("axis", AXES)
def test_softmax_matches_formula(axis):
    x = float32(2, 3, 4)
    y = F.softmax(mg.tensor(x), axis=axis)
    assert y.dtype == mg.float32
    np.testing.assert_allclose(y.numpy(), numpy_softmax(x, axis), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        F.log_softmax(mg.tensor(x), axis=axis).numpy(), np.log(numpy_softmax(x, axis)), rtol=1e-5, atol=1e-6
    )


def test_softmax_methods_are_the_functions():
    x = mg.tensor(float32(3, 4))
    np.testing.assert_array_equal(x.softmax(0).numpy(), F.softmax(x, axis=0).numpy())
    np.testing.assert_array_equal(x.log_softmax().numpy(), F.log_softmax(x).numpy())


@needs_torch
@pytest.mark.parametrize("axis", AXES)
def test_softmax_log_softmax_match_torch(axis):
    x = float32(2, 3, 4)
    compare_with_torch(lambda t: F.softmax(t, axis=axis), lambda t: torch.softmax(t, dim=axis), x)
    compare_with_torch(lambda t: F.log_softmax(t, axis=axis), lambda t: torch.log_softmax(t, dim=axis), x)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_of_huge_logits_is_finite(fn):
    logits = mg.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], requires_grad=True)
    out = fn(logits, axis=-1)
    (out * mg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    assert np.isfinite(out.numpy()).all()
    assert np.isfinite(logits.grad.numpy()).all()
    # the big logit takes all the mass; the all-equal row is uniform
    probs = out.numpy() if fn is F.softmax else np.exp(out.numpy())
    np.testing.assert_allclose(probs, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-6)


@needs_torch
def test_softmax_of_huge_logits_matches_torch():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [5e3, 5e3 + 1, -3e3]], dtype=np.float32)
    compare_with_torch(lambda t: F.softmax(t, axis=-1), lambda t: torch.softmax(t, dim=-1), x)
    compare_with_torch(lambda t: F.log_softmax(t, axis=-1), lambda t: torch.log_softmax(t, dim=-1), x)


@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("name, value", [("softmax", 1.0), ("log_softmax", 0.0)])
def test_softmax_of_a_0d_tensor(name, value, axis):
    """A 0-d tensor is a distribution over one value: softmax 1, log_softmax 0, and
    nothing the input can change, so gradient 0 (as PyTorch, whose 0-d tensors accept
    dim 0 and -1). Functions and methods alike, with the default axis too."""
    function = getattr(F, name)
    for make in (lambda x: function(x, axis=axis), lambda x: getattr(x, name)(axis), getattr(mg.Tensor, name)):
        x = mg.tensor(2.5, requires_grad=True)
        y = make(x)
        assert y.shape == () and y.dtype == mg.float32
        assert y.item() == value
        y.backward()
        assert x.grad.item() == 0.0


def test_softmax_bad_axis():
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        F.softmax(mg.tensor(float32(3, 4)), axis=2)
    with pytest.raises(ValueError, match="axis -3 is out of range"):
        F.log_softmax(mg.tensor(float32(3, 4)), axis=-3)
    with pytest.raises(ValueError, match="axis 1 is out of range for a tensor with 0 dimensions"):
        F.softmax(mg.tensor(1.0), axis=1)
    with pytest.raises(ValueError, match="axis -2 is out of range"):
        mg.tensor(1.0).log_softmax(-2)
    with pytest.raises(TypeError, match="one axis"):
        F.softmax(mg.tensor(float32(3, 4)), axis=(0, 1))  # as PyTorch's dim: one int


# -------------------------------------------------------------------------------------
# dropout


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_gradcheck(p):
    def fn(x):
        mg.manual_seed(7)  # the same mask on every call of the finite differences
        return F.dropout(x, p=p)

    x = leaf64(4, 5)
    out = fn(x).numpy()
    assert (out == 0).any() and (out != 0).any(), "the mask should drop some entries and keep some"
    assert mg.gradcheck(fn, [x])


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_statistics(p):
    mg.manual_seed(0)
    n = 200_000
    x = float32(n, seed=1, low=1.0, high=2.0)  # no zeros of its own
    out = F.dropout(mg.tensor(x), p=p).numpy()
    dropped = out == 0
    # fraction dropped ~ p: the standard deviation of the fraction is sqrt(p(1-p)/n) ~ 1e-3
    assert abs(dropped.mean() - p) < 5 * np.sqrt(p * (1 - p) / n)
    # survivors are scaled by exactly 1/(1-p), in float32
    np.testing.assert_allclose(out[~dropped], x[~dropped] * np.float32(1 / (1 - p)), rtol=1e-6)
    # the mean is preserved (inverted dropout): E[y] = x
    ones = F.dropout(mg.ones(n), p=p).numpy()
    assert abs(ones.mean() - 1) < 5 * np.sqrt(p / (1 - p) / n)


def test_dropout_gradient_is_the_mask():
    mg.manual_seed(3)
    p = 0.3
    x = mg.tensor(float32(50, 40), requires_grad=True)
    out = F.dropout(x, p=p)
    out.sum().backward()
    kept = out.numpy() != 0
    expected = np.where(kept, np.float32(1 / (1 - p)), np.float32(0))
    assert x.grad.dtype == mg.float32
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)


def test_dropout_identity_at_eval_and_p0():
    x = mg.tensor(float32(3, 4), requires_grad=True)
    assert F.dropout(x, p=0.5, training=False) is x
    assert F.dropout(x, p=0.0) is x


def test_dropout_p1_gives_zeros_and_zero_gradient():
    x = mg.tensor(float32(3, 4), requires_grad=True)
    out = F.dropout(x, p=1.0)
    out.sum().backward()
    np.testing.assert_array_equal(out.numpy(), np.zeros((3, 4)))
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4)))
    assert out.dtype == mg.float32


def test_dropout_is_reproducible_under_manual_seed():
    x = mg.ones(1000)
    mg.manual_seed(42)
    first = F.dropout(x, p=0.5).numpy()
    second = F.dropout(x, p=0.5).numpy()
    mg.manual_seed(42)
    again = F.dropout(x, p=0.5).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second), "consecutive calls draw new masks"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_keeps_dtype(dtype):
    x = mg.tensor(np.ones((10, 10), dtype=dtype))
    assert F.dropout(x, p=0.3).dtype == dtype


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_bad_p(p):
    with pytest.raises(ValueError, match=f"p={p}"):
        F.dropout(mg.ones(3), p=p)


def test_dropout_integer_tensor():
    with pytest.raises(TypeError, match="floating point"):
        F.dropout(mg.tensor([1, 2, 3]), p=0.5)


# -------------------------------------------------------------------------------------
# embedding

INDICES_2D = np.array([[0, 2, 2], [4, 0, 2]], dtype=np.int64)  # 2 and 0 repeat


def test_embedding_gradcheck_with_repeated_indices():
    assert mg.gradcheck(lambda w: F.embedding(mg.tensor(INDICES_2D), w), [leaf64(5, 3)])


def test_embedding_values_shape_and_scatter_add():
    weight_np = float32(5, 3)
    weight = mg.tensor(weight_np, requires_grad=True)
    out = F.embedding(mg.tensor(INDICES_2D), weight)
    assert out.shape == (2, 3, 3) and out.dtype == mg.float32
    np.testing.assert_array_equal(out.numpy(), weight_np[INDICES_2D])
    upstream = float32(2, 3, 3, seed=1)
    out.backward(mg.tensor(upstream))
    # independent formula: grad[k] = sum of upstream rows at positions where index == k
    expected = np.zeros((5, 3), dtype=np.float32)
    for position in np.ndindex(*INDICES_2D.shape):
        expected[INDICES_2D[position]] += upstream[position]
    np.testing.assert_allclose(weight.grad.numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(weight.grad.numpy()[3], 0)  # row 3 was never used


@pytest.mark.parametrize(
    "indices", [[1, 3, 1], np.array([1, 3, 1]), np.array([1, 3, 1], dtype=np.int32), mg.tensor([1, 3, 1])]
)
def test_embedding_accepts_lists_arrays_and_tensors(indices):
    weight_np = float32(4, 2)
    out = F.embedding(indices, mg.tensor(weight_np))
    np.testing.assert_array_equal(out.numpy(), weight_np[[1, 3, 1]])


def test_embedding_scalar_index():
    weight_np = float32(4, 2)
    out = F.embedding(mg.tensor(2), mg.tensor(weight_np))
    assert out.shape == (2,)
    np.testing.assert_array_equal(out.numpy(), weight_np[2])


@needs_torch
@pytest.mark.parametrize("indices", [INDICES_2D, np.array([3, 3, 3, 1]), np.array([[[1], [0]]])])
def test_embedding_matches_torch(indices):
    compare_with_torch(F.embedding, TF.embedding, indices, float32(5, 4))


@pytest.mark.parametrize("indices", [[0.0, 1.0], np.array([True, False]), mg.tensor([1.0])])
def test_embedding_non_integer_indices(indices):
    with pytest.raises(TypeError, match="integers"):
        F.embedding(indices, mg.tensor(float32(4, 2)))


@pytest.mark.parametrize("bad", [5, 7, -1])
def test_embedding_out_of_range(bad):
    with pytest.raises(ValueError, match=rf"index {bad} is out of range.*\[0, 5\)"):
        F.embedding(mg.tensor([0, bad, 1]), mg.tensor(float32(5, 2)))


def test_embedding_weight_must_be_2d():
    with pytest.raises(ValueError, match="2-D"):
        F.embedding([0], mg.tensor(float32(5)))


# -------------------------------------------------------------------------------------
# batch_norm

BN_SHAPES = [(6, 3), (4, 3, 5), (2, 3, 3, 3)]


def channel_axes(shape):
    return (0, *range(2, len(shape)))


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_training_gradcheck(shape, affine):
    inputs = [leaf64(*shape)] + ([leaf64(3, seed=1), leaf64(3, seed=2)] if affine else [])
    assert mg.gradcheck(lambda x, *wb: F.batch_norm(x, None, None, *wb, training=True), inputs)


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 3, 3)])
def test_batch_norm_training_with_running_stats_gradcheck(shape):
    # updating the running statistics must not disturb the gradient
    running_mean, running_var = mg.zeros(3), mg.ones(3)
    inputs = [leaf64(*shape), leaf64(3, seed=1), leaf64(3, seed=2)]

    def fn(x, w, b):
        return F.batch_norm(x, running_mean, running_var, w, b, training=True)

    assert mg.gradcheck(fn, inputs)


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 3, 3)])
@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_eval_gradcheck(shape, affine):
    running_mean = mg.tensor(float32(3, seed=5))
    running_var = mg.tensor(float32(3, seed=6, low=0.5, high=2.0))
    inputs = [leaf64(*shape)] + ([leaf64(3, seed=1), leaf64(3, seed=2)] if affine else [])
    assert mg.gradcheck(lambda x, *wb: F.batch_norm(x, running_mean, running_var, *wb), inputs)


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 2, 2)])
def test_batch_norm_training_second_derivative(shape):
    def fn(x, w, b):
        return F.batch_norm(x, None, None, w, b, training=True)

    assert gradcheck_second(fn, leaf64(*shape), leaf64(3, seed=1), leaf64(3, seed=2))


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_training_matches_formula(shape):
    x = float32(*shape)
    weight, bias = float32(3, seed=1), float32(3, seed=2)
    running_mean, running_var = mg.tensor(float32(3, seed=3)), mg.tensor(float32(3, seed=4, low=0.5, high=2))
    old_mean, old_var = running_mean.numpy().copy(), running_var.numpy().copy()
    mean_array, var_array = running_mean.data, running_var.data
    momentum, eps = 0.3, 1e-3
    out = F.batch_norm(
        mg.tensor(x),
        running_mean,
        running_var,
        mg.tensor(weight),
        mg.tensor(bias),
        training=True,
        momentum=momentum,
        eps=eps,
    )
    axes = channel_axes(shape)
    per_channel = (1, 3) + (1,) * (len(shape) - 2)
    expected = numpy_normalize(x, axes, eps) * weight.reshape(per_channel) + bias.reshape(per_channel)
    assert out.dtype == mg.float32 and out.shape == shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)
    # running statistics: updated in place, with the unbiased variance
    x64 = x.astype(np.float64)
    batch_mean = x64.mean(axis=axes)
    batch_var_unbiased = x64.var(axis=axes, ddof=1)
    assert running_mean.data is mean_array and running_var.data is var_array
    assert running_mean.dtype == mg.float32 and running_var.dtype == mg.float32
    np.testing.assert_allclose(
        running_mean.numpy(), (1 - momentum) * old_mean + momentum * batch_mean, rtol=1e-5
    )
    np.testing.assert_allclose(
        running_var.numpy(), (1 - momentum) * old_var + momentum * batch_var_unbiased, rtol=1e-5
    )


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_eval_matches_formula_and_leaves_running_stats(shape):
    x = float32(*shape)
    mean, var = float32(3, seed=3), float32(3, seed=4, low=0.5, high=2)
    running_mean, running_var = mg.tensor(mean), mg.tensor(var)
    out = F.batch_norm(mg.tensor(x), running_mean, running_var, eps=1e-5)
    per_channel = (1, 3) + (1,) * (len(shape) - 2)
    expected = (x - mean.reshape(per_channel)) / np.sqrt(var.reshape(per_channel).astype(np.float64) + 1e-5)
    assert out.dtype == mg.float32
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(running_mean.numpy(), mean)
    np.testing.assert_array_equal(running_var.numpy(), var)


@needs_torch
@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_training_matches_torch(shape, affine):
    ours_mean, ours_var = mg.tensor(float32(3, seed=3)), mg.tensor(float32(3, seed=4, low=0.5, high=2))
    torch_mean, torch_var = torch.tensor(ours_mean.numpy()), torch.tensor(ours_var.numpy())
    arrays = [float32(*shape)] + ([float32(3, seed=1), float32(3, seed=2)] if affine else [])
    compare_with_torch(
        lambda x, *wb: F.batch_norm(x, ours_mean, ours_var, *wb, training=True, momentum=0.2),
        lambda x, *wb: TF.batch_norm(x, torch_mean, torch_var, *wb, training=True, momentum=0.2),
        *arrays,
    )
    assert ours_mean.dtype == mg.float32 and ours_var.dtype == mg.float32
    np.testing.assert_allclose(ours_mean.numpy(), torch_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours_var.numpy(), torch_var.numpy(), rtol=1e-5, atol=1e-6)


@needs_torch
@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_eval_matches_torch(shape, affine):
    mean, var = float32(3, seed=3), float32(3, seed=4, low=0.5, high=2)
    arrays = [float32(*shape)] + ([float32(3, seed=1), float32(3, seed=2)] if affine else [])
    compare_with_torch(
        lambda x, *wb: F.batch_norm(x, mg.tensor(mean), mg.tensor(var), *wb),
        lambda x, *wb: TF.batch_norm(x, torch.tensor(mean), torch.tensor(var), *wb),
        *arrays,
    )


def test_batch_norm_training_without_running_stats():
    x = float32(8, 3)
    out = F.batch_norm(mg.tensor(x), None, None, training=True)
    np.testing.assert_allclose(out.numpy(), numpy_normalize(x, (0,), 1e-5), rtol=1e-5, atol=1e-6)


def test_batch_norm_errors():
    x = mg.tensor(float32(4, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        F.batch_norm(mg.tensor(float32(1, 3)), mg.zeros(3), mg.ones(3), training=True)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        F.batch_norm(mg.tensor(float32(1, 3, 1, 1)), None, None, training=True)
    with pytest.raises(ValueError, match="running_mean and running_var must be given"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\).*\(4,\)"):
        F.batch_norm(x, None, None, weight=mg.ones(4), training=True)
    with pytest.raises(ValueError, match=r"running_var must have shape \(3,\)"):
        F.batch_norm(x, mg.zeros(3), mg.ones(2))
    with pytest.raises(ValueError, match=r"\(N, C\).*got \(4,\)"):
        F.batch_norm(mg.tensor(float32(4)), None, None, training=True)


# -------------------------------------------------------------------------------------
# layer_norm

LN_CASES = [(5, (5,)), ((5,), (5,)), ((4, 5), (4, 5))]  # normalized_shape, weight shape


@pytest.mark.parametrize("normalized_shape, param_shape", LN_CASES)
@pytest.mark.parametrize("affine", [False, True])
def test_layer_norm_gradcheck(normalized_shape, param_shape, affine):
    inputs = [leaf64(3, 4, 5)] + (
        [leaf64(*param_shape, seed=1), leaf64(*param_shape, seed=2)] if affine else []
    )
    assert mg.gradcheck(lambda x, *wb: F.layer_norm(x, normalized_shape, *wb), inputs)


@pytest.mark.parametrize("normalized_shape, param_shape", LN_CASES[1:])
def test_layer_norm_second_derivative(normalized_shape, param_shape):
    def fn(x, w, b):
        return F.layer_norm(x, normalized_shape, w, b)

    assert gradcheck_second(fn, leaf64(2, 4, 5), leaf64(*param_shape, seed=1), leaf64(*param_shape, seed=2))


@pytest.mark.parametrize("normalized_shape, param_shape", LN_CASES)
def test_layer_norm_matches_formula(normalized_shape, param_shape):
    x = float32(3, 4, 5)
    weight, bias = float32(*param_shape, seed=1), float32(*param_shape, seed=2)
    out = F.layer_norm(mg.tensor(x), normalized_shape, mg.tensor(weight), mg.tensor(bias), eps=1e-3)
    axes = tuple(range(3 - len(param_shape), 3))
    assert out.dtype == mg.float32 and out.shape == x.shape
    np.testing.assert_allclose(
        out.numpy(), numpy_normalize(x, axes, 1e-3) * weight + bias, rtol=1e-5, atol=1e-5
    )


@needs_torch
@pytest.mark.parametrize("normalized_shape, param_shape", LN_CASES)
@pytest.mark.parametrize("affine", [False, True])
def test_layer_norm_matches_torch(normalized_shape, param_shape, affine):
    arrays = [float32(3, 4, 5)] + (
        [float32(*param_shape, seed=1), float32(*param_shape, seed=2)] if affine else []
    )
    compare_with_torch(
        lambda x, *wb: F.layer_norm(x, normalized_shape, *wb),
        lambda x, *wb: TF.layer_norm(x, param_shape, *wb),  # torch.nn.functional wants a tuple
        *arrays,
    )


def test_layer_norm_errors():
    x = mg.tensor(float32(3, 4, 5))
    with pytest.raises(ValueError, match=r"normalized_shape \(4,\).*\(3, 4, 5\)"):
        F.layer_norm(x, 4)
    with pytest.raises(ValueError, match=r"normalized_shape \(2, 3, 4, 5\).*\(3, 4, 5\)"):
        F.layer_norm(x, (2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"weight must have shape normalized_shape \(4, 5\), got \(5,\)"):
        F.layer_norm(x, (4, 5), weight=mg.ones(5))


# -------------------------------------------------------------------------------------
# devices: the same numbers on every device (fixture `device` in conftest.py)


def run_every_op(device):
    """Outputs and gradients of every op on ``device``, as host NumPy arrays."""
    x = mg.tensor(float32(4, 3, 2, 2), device=device, requires_grad=True)
    w = mg.tensor(float32(3, seed=1), device=device, requires_grad=True)
    table = mg.tensor(float32(5, 3, seed=2), device=device, requires_grad=True)
    running_mean, running_var = mg.zeros(3, device=device), mg.ones(3, device=device)
    mg.manual_seed(0)
    outputs = [
        F.softmax(x, axis=1),
        F.log_softmax(x, axis=-1),
        F.dropout(x, p=0.4),
        F.embedding(INDICES_2D, table),  # a NumPy index array moves to the weight's device
        F.embedding(mg.tensor(INDICES_2D, device=device), table),
        F.batch_norm(x, running_mean, running_var, w, w, training=True),
        F.batch_norm(x, running_mean, running_var, w, w, training=False),
        F.layer_norm(x, (2, 2)),
    ]
    total = sum((out * out).sum() for out in outputs)
    total.backward()
    for t in [*outputs, x.grad, w.grad, table.grad, running_mean, running_var]:
        assert t.device == device
    return [t.numpy() for t in [*outputs, x.grad, w.grad, table.grad, running_mean, running_var]]


def test_every_op_gives_the_same_numbers_on_every_device(device):
    for got, expected in zip(run_every_op(device), run_every_op("cpu")):
        assert got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
