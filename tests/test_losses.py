"""Losses: parity with PyTorch, finite-difference gradients, stability, and errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import compare_with_torch, gradcheck_second, leaf64, needs_torch, torch

import minigrad as mg
from minigrad import losses

if torch is not None:
    import torch.nn.functional as F

REDUCTIONS = ["mean", "sum", "none"]
SMOOTHING = [0.0, 0.1, 0.3]

# (logits shape, target shape): a batch, one prediction per pixel, a single example
CLASS_SHAPES = [((5, 4), (5,)), ((2, 3, 4, 5), (2, 4, 5)), ((4,), ())]


def _logits(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _classes(logits_shape, target_shape, seed=1):
    classes = logits_shape[0] if len(logits_shape) == 1 else logits_shape[1]
    return np.random.default_rng(seed).integers(0, classes, target_shape).astype(np.int64)


def _probabilities(shape, seed=1, dtype=np.float32):
    return np.random.default_rng(seed).uniform(0, 1, shape).astype(dtype)


# -------------------------------------------------------------------------------------
# Parity with PyTorch: values, gradients (of the inputs and of float targets), shapes,
# dtypes.


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", SMOOTHING)
@pytest.mark.parametrize("shapes", CLASS_SHAPES, ids=["2d", "4d", "1d"])
def test_cross_entropy_matches_torch(shapes, smoothing, reduction):
    logits_shape, target_shape = shapes
    compare_with_torch(
        lambda x, t: losses.cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing),
        lambda x, t: F.cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing),
        _logits(logits_shape),
        _classes(logits_shape, target_shape),
    )


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", CLASS_SHAPES, ids=["2d", "4d", "1d"])
def test_nll_loss_matches_torch(shapes, reduction):
    logits_shape, target_shape = shapes
    class_axis = 0 if len(logits_shape) == 1 else 1
    log_probs = torch.log_softmax(torch.tensor(_logits(logits_shape)), dim=class_axis).numpy()
    compare_with_torch(
        lambda x, t: losses.nll_loss(x, t, reduction=reduction),
        lambda x, t: F.nll_loss(x, t, reduction=reduction),
        log_probs,
        _classes(logits_shape, target_shape),
    )


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6,), (4, 3), (2, 3, 4, 5)])
def test_mse_loss_matches_torch(shape, reduction):
    # the target is floating, so compare_with_torch checks its gradient as well
    compare_with_torch(
        lambda x, y: losses.mse_loss(x, y, reduction=reduction),
        lambda x, y: F.mse_loss(x, y, reduction=reduction),
        _logits(shape),
        _logits(shape, seed=1),
    )


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6,), (4, 3), (2, 3, 4, 5)])
def test_bce_with_logits_matches_torch(shape, reduction):
    logits = 3 * _logits(shape)
    logits.reshape(-1)[0] = 0.0  # the kink of max(x, 0) and |x|: the slope must be sigmoid(0) - y
    compare_with_torch(
        lambda x, y: losses.binary_cross_entropy_with_logits(x, y, reduction=reduction),
        lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction=reduction),
        logits,
        _probabilities(shape),
    )


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float64_inputs_stay_float64(reduction):
    """compare_with_torch checks the dtypes of outputs and gradients."""
    x, y = _logits((4, 3), dtype=np.float64), _probabilities((4, 3), dtype=np.float64)
    t = _classes((4, 3), (4,))
    compare_with_torch(
        lambda x, t: losses.cross_entropy(x, t, reduction=reduction, label_smoothing=0.1),
        lambda x, t: F.cross_entropy(x, t, reduction=reduction, label_smoothing=0.1),
        x,
        t,
    )
    compare_with_torch(
        lambda x, y: losses.mse_loss(x, y, reduction=reduction),
        lambda x, y: F.mse_loss(x, y, reduction=reduction),
        x,
        y,
    )
    compare_with_torch(
        lambda x, y: losses.binary_cross_entropy_with_logits(x, y, reduction=reduction),
        lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction=reduction),
        x,
        y,
    )


def test_float32_in_float32_out_gradients_too():
    x = mg.tensor(_logits((4, 3)), requires_grad=True)
    t = _classes((4, 3), (4,))
    y = _probabilities((4, 3))
    for loss in (
        losses.cross_entropy(x, t, label_smoothing=0.1),
        losses.nll_loss(x, t),
        losses.mse_loss(x, y),
        losses.binary_cross_entropy_with_logits(x, y),
    ):
        x.grad = None
        loss.backward()
        assert loss.dtype == mg.float32
        assert x.grad.dtype == mg.float32


# -------------------------------------------------------------------------------------
# Classes and functions give the same numbers.


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_classes_match_functions(reduction):
    x = mg.tensor(_logits((2, 3, 4, 4)), requires_grad=True)
    t = _classes((2, 3, 4, 4), (2, 4, 4))
    y = _probabilities((2, 3, 4, 4))
    log_probs = x.log_softmax(axis=1)
    pairs = [
        (
            losses.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1)(x, t),
            losses.cross_entropy(x, t, reduction=reduction, label_smoothing=0.1),
        ),
        (
            losses.NLLLoss(reduction=reduction)(log_probs, t),
            losses.nll_loss(log_probs, t, reduction=reduction),
        ),
        (losses.MSELoss(reduction=reduction)(x, y), losses.mse_loss(x, y, reduction=reduction)),
        (
            losses.BCEWithLogitsLoss(reduction=reduction)(x, y),
            losses.binary_cross_entropy_with_logits(x, y, reduction=reduction),
        ),
    ]
    for from_class, from_function in pairs:
        assert from_class.shape == from_function.shape
        np.testing.assert_array_equal(from_class.numpy(), from_function.numpy())


def test_class_forward_is_call_and_defaults():
    x, t = mg.tensor(_logits((3, 4))), _classes((3, 4), (3,))
    loss_fn = losses.CrossEntropyLoss()
    assert (loss_fn.reduction, loss_fn.label_smoothing) == ("mean", 0.0)
    assert loss_fn.forward(x, t).item() == loss_fn(x, t).item()
    for cls in (losses.NLLLoss, losses.MSELoss, losses.BCEWithLogitsLoss):
        assert cls().reduction == "mean"


def test_class_reprs_show_the_options():
    assert repr(losses.CrossEntropyLoss(label_smoothing=0.1)) == (
        "CrossEntropyLoss(reduction='mean', label_smoothing=0.1)"
    )
    assert repr(losses.NLLLoss(reduction="sum")) == "NLLLoss(reduction='sum')"
    assert repr(losses.MSELoss(reduction="none")) == "MSELoss(reduction='none')"
    assert repr(losses.BCEWithLogitsLoss()) == "BCEWithLogitsLoss(reduction='mean')"


def test_top_level_api_names():
    for name in (
        "cross_entropy",
        "nll_loss",
        "mse_loss",
        "binary_cross_entropy_with_logits",
        "CrossEntropyLoss",
        "NLLLoss",
        "MSELoss",
        "BCEWithLogitsLoss",
    ):
        assert callable(getattr(losses, name))


# -------------------------------------------------------------------------------------
# A reference without PyTorch: the definitions written out in NumPy, float64.


def _log_softmax_reference(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("smoothing", SMOOTHING)
def test_cross_entropy_is_the_smoothed_target_formula(smoothing):
    """loss = -sum_c q_c log_softmax(x)_c with q = (1 - s) one_hot(t) + s / C."""
    x, t = _logits((6, 5), dtype=np.float64), _classes((6, 5), (6,))
    q = (1 - smoothing) * np.eye(5)[t] + smoothing / 5
    expected = -(q * _log_softmax_reference(x, axis=1)).sum(axis=1)
    got = losses.cross_entropy(mg.tensor(x), t, reduction="none", label_smoothing=smoothing)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    mean = losses.cross_entropy(mg.tensor(x), t, label_smoothing=smoothing).item()
    np.testing.assert_allclose(mean, expected.mean(), rtol=1e-12)


def test_cross_entropy_gradient_is_softmax_minus_target():
    x, t = _logits((6, 5), dtype=np.float64), _classes((6, 5), (6,))
    logits = mg.tensor(x, requires_grad=True)
    losses.cross_entropy(logits, t, reduction="sum", label_smoothing=0.2).backward()
    q = 0.8 * np.eye(5)[t] + 0.2 / 5
    np.testing.assert_allclose(logits.grad.numpy(), np.exp(_log_softmax_reference(x, 1)) - q, atol=1e-12)


def test_bce_with_logits_is_the_naive_formula_where_that_is_safe():
    x, y = _logits((4, 3), dtype=np.float64), _probabilities((4, 3), dtype=np.float64)
    p = 1 / (1 + np.exp(-x))
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    got = losses.binary_cross_entropy_with_logits(mg.tensor(x), mg.tensor(y), reduction="none")
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)
    logits = mg.tensor(x, requires_grad=True)
    losses.binary_cross_entropy_with_logits(logits, y, reduction="sum").backward()
    np.testing.assert_allclose(logits.grad.numpy(), p - y, atol=1e-12)


def test_bce_with_logits_slope_at_zero_is_sigmoid_of_zero_minus_target():
    x = mg.tensor([0.0, 0.0, 0.0], requires_grad=True)
    y = np.array([0.0, 0.25, 1.0], dtype=np.float32)
    losses.binary_cross_entropy_with_logits(x, y, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), 0.5 - y)


def test_mse_loss_is_mean_of_squares():
    x, y = _logits((3, 4), dtype=np.float64), _logits((3, 4), seed=1, dtype=np.float64)
    np.testing.assert_allclose(losses.mse_loss(mg.tensor(x), y).item(), ((x - y) ** 2).mean(), rtol=1e-12)
    np.testing.assert_allclose(
        losses.mse_loss(mg.tensor(x), y, reduction="sum").item(), ((x - y) ** 2).sum(), rtol=1e-12
    )


# -------------------------------------------------------------------------------------
# Finite differences (float64): first derivatives of every loss, second derivatives of
# cross_entropy, mse_loss and BCE with logits.


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_gradcheck(smoothing, reduction):
    t = _classes((2, 3, 2, 2), (2, 2, 2))
    assert mg.gradcheck(
        lambda x: losses.cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing),
        [leaf64(2, 3, 2, 2)],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_gradcheck(reduction):
    t = _classes((4, 3), (4,))
    assert mg.gradcheck(lambda x: losses.nll_loss(x, t, reduction=reduction), [leaf64(4, 3)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_gradcheck(reduction):
    """Both arguments: gradients flow into a target that requires grad, as in PyTorch."""
    assert mg.gradcheck(
        lambda x, y: losses.mse_loss(x, y, reduction=reduction), [leaf64(3, 4), leaf64(3, 4, seed=1)]
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_gradcheck(reduction):
    assert mg.gradcheck(
        lambda x, y: losses.binary_cross_entropy_with_logits(x, y, reduction=reduction),
        [leaf64(3, 4), leaf64(3, 4, seed=1, low=0, high=1)],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_2d_gradcheck(reduction):
    """(N, C) logits without smoothing take the fused op (ops/nn.py SoftmaxCrossEntropy)."""
    t = _classes((4, 5), (4,))
    assert mg.gradcheck(lambda x: losses.cross_entropy(x, t, reduction=reduction), [leaf64(4, 5)])
    assert gradcheck_second(lambda x: losses.cross_entropy(x, t, reduction=reduction), leaf64(4, 5))


def test_cross_entropy_second_derivative():
    t = _classes((4, 5), (4,))
    assert gradcheck_second(lambda x: losses.cross_entropy(x, t, label_smoothing=0.1), leaf64(4, 5))
    t4 = _classes((2, 3, 2, 2), (2, 2, 2))
    assert gradcheck_second(lambda x: losses.cross_entropy(x, t4, reduction="none"), leaf64(2, 3, 2, 2))


def test_mse_loss_second_derivative():
    assert gradcheck_second(lambda x, y: losses.mse_loss(x, y), leaf64(3, 4), leaf64(3, 4, seed=1))


def test_bce_with_logits_second_derivative():
    # d2/dx2 = sigmoid(x) (1 - sigmoid(x)); d2/dx dy = -1
    assert gradcheck_second(
        lambda x, y: losses.binary_cross_entropy_with_logits(x, y, reduction="sum"),
        leaf64(3, 4),
        leaf64(3, 4, seed=1, low=0, high=1),
    )


# -------------------------------------------------------------------------------------
# Stability: logits of magnitude 1e4.

HUGE_LOGITS = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0], [0.0, 0.0, -1e4]], dtype=np.float32)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("smoothing", SMOOTHING)
@pytest.mark.parametrize("target", [[0, 0, 0], [1, 0, 2], [2, 2, 2]])
def test_cross_entropy_is_stable_for_huge_logits(target, smoothing, dtype):
    out = compare_with_torch(
        lambda x, t: losses.cross_entropy(x, t, reduction="none", label_smoothing=smoothing),
        lambda x, t: F.cross_entropy(x, t, reduction="none", label_smoothing=smoothing),
        HUGE_LOGITS.astype(dtype),
        np.array(target, dtype=np.int64),
    )
    assert np.isfinite(out.numpy()).all()


def test_cross_entropy_huge_logits_give_finite_gradients():
    x = mg.tensor(HUGE_LOGITS, requires_grad=True)
    loss = losses.cross_entropy(x, [1, 0, 2], label_smoothing=0.1)
    loss.backward()
    assert np.isfinite(loss.item())
    assert np.isfinite(x.grad.numpy()).all()


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_stable_for_huge_logits(dtype):
    logits = np.array([1e4, -1e4, 0.0, 1e4, -1e4, 50.0, -50.0], dtype=dtype)
    target = np.array([0.0, 1.0, 0.5, 1.0, 0.0, 0.0, 1.0], dtype=dtype)
    out = compare_with_torch(
        lambda x, y: losses.binary_cross_entropy_with_logits(x, y, reduction="none"),
        lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none"),
        logits,
        target,
    )
    assert np.isfinite(out.numpy()).all()
    x = mg.tensor(logits, requires_grad=True)
    losses.binary_cross_entropy_with_logits(x, target).backward()
    assert np.isfinite(x.grad.numpy()).all()


# -------------------------------------------------------------------------------------
# Targets: Tensors, NumPy arrays and lists give the same loss.


def test_class_targets_as_tensor_array_or_list():
    x = mg.tensor(_logits((4, 3)))
    t = _classes((4, 3), (4,))
    expected = losses.cross_entropy(x, mg.tensor(t)).item()
    assert losses.cross_entropy(x, t).item() == expected
    assert losses.cross_entropy(x, t.tolist()).item() == expected
    # other integer dtypes are class indices too
    assert losses.cross_entropy(x, t.astype(np.int32)).item() == expected
    assert losses.nll_loss(x, t.astype(np.uint8)).item() == losses.nll_loss(x, t).item()


def test_value_targets_as_tensor_array_or_list():
    x = mg.tensor(_logits((2, 3)))
    y = _probabilities((2, 3))
    for fn in (losses.mse_loss, losses.binary_cross_entropy_with_logits):
        expected = fn(x, mg.tensor(y)).item()
        assert fn(x, y).item() == expected
        assert fn(x, y.tolist()).item() == expected


@needs_torch
def test_mse_loss_with_integer_target_keeps_the_float_dtype_as_torch():
    x, y = _logits((2, 3)), np.arange(6, dtype=np.int64).reshape(2, 3)
    got = losses.mse_loss(mg.tensor(x), y)
    expected = F.mse_loss(torch.tensor(x), torch.tensor(y))
    assert got.dtype == mg.float32 and expected.dtype == torch.float32
    np.testing.assert_allclose(got.item(), expected.item(), rtol=1e-6)


@needs_torch
def test_float64_numpy_target_promotes_as_torch():
    x, y = _logits((2, 3)), _probabilities((2, 3), dtype=np.float64)
    for ours, theirs in (
        (losses.mse_loss, F.mse_loss),
        (losses.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits),
    ):
        logits = mg.tensor(x, requires_grad=True)
        got = ours(logits, y)
        got.backward()
        expected = theirs(torch.tensor(x), torch.tensor(y))
        assert got.dtype == np.dtype(str(expected.dtype).replace("torch.", ""))
        assert logits.grad.dtype == mg.float32  # a gradient has the dtype of its input
        np.testing.assert_allclose(got.item(), expected.item(), rtol=1e-6)


@needs_torch
def test_empty_batch_as_torch():
    x, t = np.zeros((0, 4), dtype=np.float32), np.zeros(0, dtype=np.int64)
    for reduction in ("sum", "none"):
        got = losses.cross_entropy(mg.tensor(x), t, reduction=reduction)
        expected = F.cross_entropy(torch.tensor(x), torch.tensor(t), reduction=reduction)
        assert got.shape == tuple(expected.shape)
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    with np.errstate(invalid="ignore"):  # mean of nothing: 0 / 0
        assert np.isnan(losses.cross_entropy(mg.tensor(x), []).item())
    assert np.isnan(F.cross_entropy(torch.tensor(x), torch.tensor(t)).item())


# -------------------------------------------------------------------------------------
# Errors say what was wrong, with the values, and what was expected.


@pytest.mark.parametrize(
    "call",
    [
        lambda r: losses.cross_entropy(mg.zeros(2, 3), [0, 1], reduction=r),
        lambda r: losses.nll_loss(mg.zeros(2, 3), [0, 1], reduction=r),
        lambda r: losses.mse_loss(mg.zeros(2, 3), mg.zeros(2, 3), reduction=r),
        lambda r: losses.binary_cross_entropy_with_logits(mg.zeros(2, 3), mg.zeros(2, 3), reduction=r),
        lambda r: losses.CrossEntropyLoss(reduction=r),
        lambda r: losses.NLLLoss(reduction=r),
        lambda r: losses.MSELoss(reduction=r),
        lambda r: losses.BCEWithLogitsLoss(reduction=r),
    ],
)
def test_unknown_reduction_is_rejected(call):
    with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'sum', 'none', got 'avg'"):
        call("avg")


@pytest.mark.parametrize("smoothing", [-0.1, 1.5])
def test_label_smoothing_out_of_range(smoothing):
    with pytest.raises(ValueError, match=rf"label_smoothing must be between 0.0 and 1.0, got {smoothing}"):
        losses.cross_entropy(mg.zeros(2, 3), [0, 1], label_smoothing=smoothing)
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.CrossEntropyLoss(label_smoothing=smoothing)


@pytest.mark.parametrize("fn", [losses.cross_entropy, losses.nll_loss])
@pytest.mark.parametrize("dtype", ["float32", "float64", "bool"])
def test_class_target_of_wrong_dtype(fn, dtype):
    target = np.array([0, 1]).astype(dtype)
    with pytest.raises(TypeError, match=rf"int64 class indices, got dtype {dtype}"):
        fn(mg.zeros(2, 3), target)
    with pytest.raises(TypeError, match=rf"got dtype {dtype}"):
        fn(mg.zeros(2, 3), mg.tensor(target))


@pytest.mark.parametrize("fn", [losses.cross_entropy, losses.nll_loss])
@pytest.mark.parametrize(
    "logits_shape, target_shape, expected_shape",
    [((2, 3), (3,), (2,)), ((2, 3), (2, 1), (2,)), ((2, 3, 4, 4), (2, 4), (2, 4, 4)), ((3,), (1,), ())],
)
def test_class_target_of_wrong_shape(fn, logits_shape, target_shape, expected_shape):
    pattern = (
        rf"target has shape {_re_shape(target_shape)} but \w+ have shape {_re_shape(logits_shape)}, "
        rf"so target must have shape {_re_shape(expected_shape)}"
    )
    with pytest.raises(ValueError, match=pattern):
        fn(mg.zeros(*logits_shape), np.zeros(target_shape, dtype=np.int64))


def _re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize("fn", [losses.cross_entropy, losses.nll_loss])
@pytest.mark.parametrize("bad", [3, 7, -1])
def test_class_target_out_of_range(fn, bad):
    with pytest.raises(
        ValueError, match=rf"class index {bad}, but .* 3 classes .* must be in \[0, 3\), i.e. 0 to 2"
    ):
        fn(mg.zeros(2, 3), [0, bad])
    with pytest.raises(ValueError, match=rf"class index {bad}"):
        fn(mg.zeros(2, 3, 2, 2), np.full((2, 2, 2), bad))


@pytest.mark.parametrize("fn", [losses.cross_entropy, losses.nll_loss])
def test_class_predictions_must_be_float_with_a_class_axis(fn):
    with pytest.raises(TypeError, match="must be floating point, got dtype int64"):
        fn(mg.tensor([[1, 2, 3]]), [0])
    with pytest.raises(ValueError, match="must have a class axis.*got a 0-d tensor"):
        fn(mg.tensor(1.0), [0])


@pytest.mark.parametrize("input_shape, target_shape", [((3,), (3, 1)), ((3, 1), (3,)), ((2, 3), (3,))])
def test_mse_loss_shape_mismatch_raises(input_shape, target_shape):
    pattern = rf"input has shape {_re_shape(input_shape)} but target has shape {_re_shape(target_shape)}"
    with pytest.raises(ValueError, match=pattern):
        losses.mse_loss(mg.zeros(*input_shape), mg.zeros(*target_shape))
    with pytest.raises(ValueError, match=pattern):
        losses.MSELoss()(mg.zeros(*input_shape), np.zeros(target_shape, dtype=np.float32))


@pytest.mark.parametrize("target", [np.array([0, 1, 1]), np.array([True, False, True]), [0, 1, 1]])
def test_bce_target_must_be_floating_point(target):
    dtype = np.asarray(target).dtype
    with pytest.raises(TypeError, match=rf"target must be floating point .*got dtype {dtype}"):
        losses.binary_cross_entropy_with_logits(mg.zeros(3), target)
    with pytest.raises(TypeError, match="floating point"):
        losses.BCEWithLogitsLoss()(mg.zeros(3), mg.tensor(target))


def test_bce_target_shape_must_match():
    with pytest.raises(ValueError, match=r"target has shape \(3, 1\) but logits have shape \(3,\)"):
        losses.binary_cross_entropy_with_logits(mg.zeros(3), mg.zeros(3, 1))


@pytest.mark.parametrize("fn", [losses.mse_loss, losses.binary_cross_entropy_with_logits])
def test_value_losses_need_float_predictions(fn):
    with pytest.raises(TypeError, match="must be floating point, got dtype int64"):
        fn(mg.tensor([1, 2]), mg.zeros(2))


# -------------------------------------------------------------------------------------
# Devices: the "device" fixture (conftest.py) runs each test on the CPU, on the strict
# CuPy stand-in and on real CuPy when a GPU is present.

DEVICE_CASES = {
    "cross_entropy": (lambda x, t, y: losses.cross_entropy(x, t, label_smoothing=0.1), False),
    "nll_loss": (lambda x, t, y: losses.nll_loss(x, t, reduction="sum"), False),
    "mse_loss": (lambda x, t, y: losses.mse_loss(x, y, reduction="none"), True),
    "bce_with_logits": (lambda x, t, y: losses.binary_cross_entropy_with_logits(x, y), True),
}


@pytest.mark.parametrize("name", list(DEVICE_CASES))
@pytest.mark.parametrize("target_kind", ["numpy", "list", "tensor"])
def test_losses_on_device_match_cpu(device, name, target_kind):
    fn, _ = DEVICE_CASES[name]
    x_host, t_host, y_host = (
        _logits((2, 3, 2, 2)),
        _classes((2, 3, 2, 2), (2, 2, 2)),
        _probabilities((2, 3, 2, 2)),
    )
    if target_kind == "list":
        t, y = t_host.tolist(), y_host.tolist()
    elif target_kind == "tensor":
        t, y = mg.tensor(t_host, device=device), mg.tensor(y_host, device=device)
    else:
        t, y = t_host, y_host  # NumPy targets are moved to the logits' device
    x = mg.tensor(x_host, requires_grad=True, device=device)
    out = fn(x, t, y)
    out.sum().backward()
    reference_x = mg.tensor(x_host, requires_grad=True)
    reference = fn(reference_x, t_host, y_host)
    reference.sum().backward()
    assert out.device == device and x.grad.device == device
    assert out.dtype == reference.dtype and x.grad.dtype == mg.float32
    np.testing.assert_allclose(out.numpy(), reference.numpy(), rtol=1e-5, atol=1e-6)  # float32, another summation order on a GPU
    np.testing.assert_allclose(x.grad.numpy(), reference_x.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_class_target_checks_on_device(device):
    x = mg.zeros(2, 3, device=device)
    with pytest.raises(ValueError, match="class index 5"):
        losses.cross_entropy(x, mg.tensor([0, 5], device=device))
    with pytest.raises(TypeError, match="got dtype float32"):
        losses.cross_entropy(x, mg.tensor([0.0, 1.0], device=device))


def test_target_tensor_on_another_device_raises(device):
    if device == "cpu":
        pytest.skip("needs a second device")
    x = mg.zeros(2, 3, device=device)
    with pytest.raises(RuntimeError, match="'cuda'.*'cpu'"):
        losses.cross_entropy(x, mg.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="'cuda'.*'cpu'"):
        losses.mse_loss(x, mg.zeros(2, 3))
