"""Autograd's extras on every device: anomaly mode, hooks, retain_grad, argmin, float16,
and DLPack exchange with PyTorch's CUDA tensors.

Each test takes the ``device`` fixture (conftest.py): the CPU, the strict CuPy stand-in
and real CuPy when a GPU is present, and compares with the same computation on the CPU
(``assert_matches_cpu`` in test_devices.py).
"""

from __future__ import annotations

import cupy_standin
import numpy as np
import pytest
from helpers import torch
from test_devices import FLOAT32, assert_matches_cpu, assert_on, run

import minigrad as mg
import minigrad.functional as F
from minigrad import backend, losses

# NumPy (behind the CPU and the stand-in) warns about log(-1) and 1/0; here they are the point
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

_rng = np.random.default_rng(30)


def randn(*shape, dtype=np.float32):
    return _rng.standard_normal(shape).astype(dtype)


# -------------------------------------------------------------------------------------
# detect_anomaly: the finiteness check runs on device arrays too


def test_anomaly_mode_catches_a_nan_in_forward_on_the_device(device):
    x = mg.tensor([1.0, -1.0], requires_grad=True, device=device)
    with mg.detect_anomaly(), pytest.raises(FloatingPointError, match=r"forward of Log\b.*test_devices_autograd\.py"):
        x.log()


def test_anomaly_mode_catches_an_inf_in_backward_on_the_device(device):
    x = mg.tensor([0.0, 1.0], requires_grad=True, device=device)
    with mg.detect_anomaly():
        y = x.sqrt().sum()  # forward is fine; backward is 1 / (2 sqrt(0)) = inf
        with pytest.raises(FloatingPointError, match=r"backward of Sqrt\b.*test_devices_autograd\.py"):
            y.backward()


def checked_second_derivative(data, device: str) -> dict:
    """A finite computation and its second derivative, under detect_anomaly()."""
    x = mg.tensor(data, requires_grad=True, device=device)
    with mg.detect_anomaly():
        loss = (x.log() * x.sqrt()).tanh().sum()
        (g,) = mg.grad(loss, [x], create_graph=True)
        g.sum().backward()
    return {"loss": loss, "gradient": g, "second derivative": x.grad}


def test_anomaly_mode_leaves_finite_results_alone_on_the_device(device):
    data = _rng.uniform(0.5, 2.0, (3, 4)).astype(np.float32)
    expected = checked_second_derivative(data, "cpu")
    assert_matches_cpu(checked_second_derivative(data, device), expected, device)


# -------------------------------------------------------------------------------------
# Hooks and retain_grad


def hooks_and_retained_grads(x_array, w_array, device: str) -> dict:
    """Hooks on a leaf and on an intermediate (that one doubles the gradient it gets),
    a removed hook, and retain_grad on an intermediate: what each hook saw and every
    gradient. Each hook checks that its gradient lives on ``device``."""
    x = mg.tensor(x_array, requires_grad=True, device=device)
    w = mg.tensor(w_array, requires_grad=True, device=device)
    seen = {}

    def record(name, replace_with=None):
        def hook(grad):
            assert_on(grad, device)
            seen[name] = grad
            return None if replace_with is None else replace_with(grad)

        return hook

    def removed(grad):
        raise AssertionError("a removed hook was called")

    x.register_hook(record("gradient seen by x's hook"))
    y = x * w
    y.register_hook(record("gradient seen by y's hook", replace_with=lambda g: g * 2))
    y.register_hook(removed).remove()
    z = y.tanh()
    z.retain_grad()
    (z.sum(axis=0) * mg.tensor([1.0, -2.0, 3.0], device=device)).sum().backward()
    return {**seen, "z.grad (retained)": z.grad, "x.grad": x.grad, "w.grad": w.grad}


def test_hooks_and_retain_grad_on_the_device(device):
    x, w = randn(2, 3), randn(3)
    expected = hooks_and_retained_grads(x, w, "cpu")
    got = hooks_and_retained_grads(x, w, device)
    assert_matches_cpu(got, expected, device)
    # the doubled gradient really replaced y's: x.grad = 2 * w * dL/dy
    np.testing.assert_allclose(got["x.grad"].numpy(), 2 * w * got["gradient seen by y's hook"].numpy(), **FLOAT32)


# -------------------------------------------------------------------------------------
# argmin: no gradient, int64 indices on the device, the first of tied minima


@pytest.mark.parametrize(
    ("array", "axis"),
    [
        (np.array([[3.0, 1.0, 1.0], [0.5, 2.0, 0.5]], dtype=np.float32), None),
        (np.array([[3.0, 1.0, 1.0], [0.5, 2.0, 0.5]], dtype=np.float32), 1),
        (np.array([[3.0, 1.0, 1.0], [0.5, 1.0, 0.5]], dtype=np.float32), 0),
        (np.random.default_rng(31).integers(0, 3, (2, 3, 4)), -1),
        (np.random.default_rng(32).integers(0, 3, (2, 3, 4)).astype(np.float64), 1),
    ],
    ids=["ties_flat", "ties_axis_1", "ties_axis_0", "int64_last_axis", "float64_3d"],
)
def test_argmin_matches_cpu(device, array, axis):
    x = mg.tensor(array, requires_grad=array.dtype.kind == "f", device=device)
    got, expected = x.argmin(axis=axis), mg.tensor(array).argmin(axis=axis)
    assert not got.requires_grad
    assert_on(got, device)
    assert (got.dtype, got.shape) == (mg.int64, expected.shape)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


# -------------------------------------------------------------------------------------
# float16: stays float16 (Python scalars do not upcast it), forward and backward

# float16 keeps 11 significant bits, about 1e-3 relative: a sum taken in another order,
# or accumulated in float32 as cuBLAS does, moves a result by a few units in that place.
FLOAT16 = {"rtol": 1e-2, "atol": 1e-2}


def half(*shape):
    return randn(*shape, dtype=np.float16)


def positive_half(*shape):
    return _rng.uniform(0.5, 2.0, shape).astype(np.float16)


FLOAT16_CASES = [
    ("arithmetic_with_python_scalars", lambda x, y: (x * 2.0 + y) / 3 - 1, [half(3, 4), half(4)]),
    ("exp_log_sqrt", lambda x: (x.exp() + 1).log() * x.abs().sqrt(), [half(3, 4)]),
    ("tanh_sigmoid_relu", lambda x: x.tanh() + x.sigmoid() * x.relu(), [half(3, 4)]),
    ("pow_div", lambda x, y: x**2 / y, [half(3, 4), positive_half(3, 4)]),
    ("matmul", lambda a, b: a @ b, [half(3, 4), half(4, 5)]),
    ("reductions", lambda x: x.sum(axis=0) + x.mean(axis=0) * x.max(axis=0), [half(3, 4)]),
    ("softmax_log_softmax", lambda x: x.softmax(axis=-1) - x.log_softmax(axis=0), [half(3, 4)]),
    ("getitem_repeats", lambda x: x[[0, 2, 2, 1, 2]], [half(3, 4)]),  # a scatter-add of float16
    ("linear", lambda x, w, b: F.linear(x, w, b), [half(5, 4), half(3, 4), half(3)]),
    ("conv2d_max_pool", lambda x, w: F.max_pool2d(F.conv2d(x, w, padding=1), 2), [half(2, 2, 4, 4), half(3, 2, 3, 3)]),
    ("layer_norm", lambda x: F.layer_norm(x, (4,)), [half(2, 3, 4)]),
    ("fused_cross_entropy", lambda x: losses.cross_entropy(x, [0, 3, 3], reduction="none"), [half(3, 4)]),
]


@pytest.mark.parametrize(("fn", "inputs"), [pytest.param(fn, inputs, id=name) for name, fn, inputs in FLOAT16_CASES])
def test_float16_matches_cpu(device, fn, inputs):
    expected, expected_inputs = run(fn, inputs, "cpu")
    out, tensors = run(fn, inputs, device)
    got = {"output": out, **{f"gradient of input {i}": t.grad for i, t in enumerate(tensors)}}
    reference = {"output": expected, **{f"gradient of input {i}": t.grad for i, t in enumerate(expected_inputs)}}
    assert all(t.dtype == np.float16 for t in [*got.values(), *reference.values()])
    assert_matches_cpu(got, reference, device, FLOAT16)


# -------------------------------------------------------------------------------------
# DLPack with PyTorch's CUDA tensors (the CPU exchange is in test_dlpack.py)


def torch_cuda_or_skip(device: str):
    """torch, when this test can exchange CUDA memory with it; otherwise skip, saying why."""
    if device == "cpu":
        pytest.skip("DLPack with PyTorch on the CPU is tested in test_dlpack.py")
    if backend.cuda_module() is cupy_standin:
        pytest.skip("the CuPy stand-in's memory is host memory: PyTorch cannot import it (it needs real CuPy)")
    if torch is None:
        pytest.skip("PyTorch is not installed (pip install torch)")
    if not torch.cuda.is_available():
        pytest.skip("this PyTorch build sees no CUDA GPU")
    return torch


def test_torch_cuda_tensor_from_a_device_tensor_shares_memory(device):
    torch = torch_cuda_or_skip(device)
    t = mg.tensor([1.0, 2.0, 3.0], device=device)
    theirs = torch.from_dlpack(t)
    assert theirs.device.type == "cuda" and theirs.dtype == torch.float32 and tuple(theirs.shape) == t.shape
    theirs[0] = 10.0
    torch.cuda.synchronize()
    assert t.numpy()[0] == 10.0
    t.data[2] = -1.0
    assert theirs[2].item() == -1.0


def test_device_tensor_from_a_torch_cuda_tensor_shares_memory_and_trains(device):
    torch = torch_cuda_or_skip(device)
    theirs = torch.arange(6.0, device="cuda").reshape(2, 3).T  # strided, on the GPU
    t = mg.from_dlpack(theirs)
    assert_on(t, device)
    assert (t.dtype, t.shape) == (mg.float32, (3, 2))
    np.testing.assert_array_equal(t.numpy(), theirs.cpu().numpy())
    theirs[1, 0] = 7.0
    torch.cuda.synchronize()
    assert t.numpy()[1, 0] == 7.0
    leaf = t.detach().requires_grad_()
    (leaf * leaf).sum().backward()
    assert_on(leaf.grad, device)
    np.testing.assert_array_equal(leaf.grad.numpy(), 2 * theirs.cpu().numpy())
