"""Layers on every device: recurrent cells and layers, Embedding, BatchNorm1d, LayerNorm
and the fused cross-entropy give the CPU's outputs, gradients and buffers.

Each test takes the ``device`` fixture (conftest.py): the CPU, the strict CuPy stand-in
and real CuPy when a GPU is present. A case is built twice from the same seed, once on
the CPU and once on the device, and everything it computed is compared by name
(``assert_matches_cpu`` in test_devices.py, float32 tolerances that allow another
summation order).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_devices import assert_matches_cpu

import minigrad as mg
from minigrad import layers, losses

_rng = np.random.default_rng(20)


def randn(*shape):
    return _rng.standard_normal(shape).astype(np.float32)


def ints(high, *shape):
    return _rng.integers(0, high, shape)


def outputs_of(result) -> list:
    """A module's result as a flat list of Tensors: h, (h, c), (output, h_n) or
    (output, (h_n, c_n))."""
    if isinstance(result, mg.Tensor):
        return [result]
    return [t for part in result for t in outputs_of(part)]


def weighted_sum(outputs: list, device: str) -> mg.Tensor:
    """sum_i sum(out_i * w_i) for fixed random w_i: every entry of every output gets its
    own weight, so a gradient that mixes up entries shows."""
    total = 0
    for i, out in enumerate(outputs):
        w = np.random.default_rng(100 + i).standard_normal(out.shape).astype(out.dtype)
        total = total + (out * mg.tensor(w, device=device)).sum()
    return total


def run_module(make, arrays, call, device) -> dict:
    """The module ``make()`` (seeded) on ``device``, in training mode and then in eval
    mode, on inputs made from ``arrays``: its outputs in each mode, the gradients of the
    float inputs and of the parameters (summed over both backward passes), and its
    buffers (BatchNorm's running statistics)."""
    mg.manual_seed(0)
    module = make().to(device)
    inputs = [mg.tensor(a, requires_grad=a.dtype.kind == "f", device=device) for a in arrays]
    found = {}
    for mode in ("train", "eval"):
        module.train(mode == "train")
        outputs = outputs_of(call(module, *inputs))
        weighted_sum(outputs, device).backward()
        found.update({f"{mode} output {i}": out for i, out in enumerate(outputs)})
    found.update({f"gradient of input {i}": t.grad for i, t in enumerate(inputs) if t.requires_grad})
    found.update({f"gradient of {name}": p.grad for name, p in module.named_parameters()})
    found.update({f"buffer {name}": b for name, b in module.named_buffers()})
    return found


def plain(module, *inputs):
    return module(*inputs)


def with_lstm_state(module, x, h, c):
    return module(x, (h, c))


# (id, module factory, input arrays, how to call the module). H = 4 hidden units,
# 3 input features, sequences of 5 steps, batches of 2.
CASES = [
    # cells: one step, batched (N, features) or unbatched (features,), with or without a state
    ("RNNCell", lambda: layers.RNNCell(3, 4), [randn(2, 3), randn(2, 4)], plain),
    ("RNNCell_relu_no_state", lambda: layers.RNNCell(3, 4, nonlinearity="relu"), [randn(2, 3)], plain),
    ("RNNCell_unbatched", lambda: layers.RNNCell(3, 4), [randn(3), randn(4)], plain),
    ("RNNCell_no_bias", lambda: layers.RNNCell(3, 4, bias=False), [randn(2, 3), randn(2, 4)], plain),
    ("LSTMCell", lambda: layers.LSTMCell(3, 4), [randn(2, 3), randn(2, 4), randn(2, 4)], with_lstm_state),
    ("LSTMCell_unbatched_no_state", lambda: layers.LSTMCell(3, 4), [randn(3)], plain),
    ("LSTMCell_unbatched_no_bias", lambda: layers.LSTMCell(3, 4, bias=False), [randn(3), randn(4), randn(4)],
     with_lstm_state),
    ("GRUCell", lambda: layers.GRUCell(3, 4), [randn(2, 3), randn(2, 4)], plain),
    ("GRUCell_unbatched", lambda: layers.GRUCell(3, 4), [randn(3), randn(4)], plain),
    ("GRUCell_no_bias_no_state", lambda: layers.GRUCell(3, 4, bias=False), [randn(2, 3)], plain),
    # sequence layers: batch_first (N, L, features), unbatched (L, features), no bias
    ("RNN_batch_first", lambda: layers.RNN(3, 4, num_layers=2, batch_first=True),
     [randn(2, 5, 3), randn(2, 2, 4)], plain),
    ("RNN_relu_unbatched", lambda: layers.RNN(3, 4, nonlinearity="relu"), [randn(5, 3), randn(1, 4)], plain),
    ("RNN_no_bias_no_state", lambda: layers.RNN(3, 4, bias=False), [randn(5, 2, 3)], plain),
    ("LSTM_batch_first", lambda: layers.LSTM(3, 4, num_layers=2, batch_first=True),
     [randn(2, 5, 3), randn(2, 2, 4), randn(2, 2, 4)], with_lstm_state),
    ("LSTM_unbatched", lambda: layers.LSTM(3, 4, num_layers=2), [randn(5, 3), randn(2, 4), randn(2, 4)],
     with_lstm_state),
    ("LSTM_batch_first_no_bias_no_state", lambda: layers.LSTM(3, 4, bias=False, batch_first=True),
     [randn(2, 5, 3)], plain),
    ("GRU_batch_first", lambda: layers.GRU(3, 4, num_layers=2, batch_first=True),
     [randn(2, 5, 3), randn(2, 2, 4)], plain),
    ("GRU_unbatched_no_state", lambda: layers.GRU(3, 4), [randn(5, 3)], plain),
    ("GRU_no_bias", lambda: layers.GRU(3, 4, bias=False), [randn(5, 2, 3), randn(1, 2, 4)], plain),
    # Embedding: repeated indices add up in the weight's gradient (a scatter-add on the device)
    ("Embedding", lambda: layers.Embedding(5, 3), [ints(5, 2, 6)], plain),
    ("Embedding_1d", lambda: layers.Embedding(4, 2), [np.array([3, 3, 0, 3])], plain),
    # BatchNorm1d: batch statistics and running averages in training, running ones in eval
    ("BatchNorm1d", lambda: layers.BatchNorm1d(3), [randn(6, 3) * 2 + 1], plain),
    ("BatchNorm1d_sequence_cumulative", lambda: layers.BatchNorm1d(3, momentum=None), [randn(4, 3, 5)], plain),
    ("BatchNorm1d_no_affine", lambda: layers.BatchNorm1d(3, affine=False), [randn(6, 3)], plain),
    ("BatchNorm1d_no_running_stats", lambda: layers.BatchNorm1d(3, track_running_stats=False), [randn(6, 3)],
     plain),
    # LayerNorm: the same in both modes
    ("LayerNorm", lambda: layers.LayerNorm(4), [randn(2, 3, 4)], plain),
    ("LayerNorm_2d_no_affine", lambda: layers.LayerNorm((3, 4), elementwise_affine=False), [randn(2, 3, 4)],
     plain),
    ("LayerNorm_no_bias", lambda: layers.LayerNorm(4, bias=False), [randn(5, 4)], plain),
]


@pytest.mark.parametrize(("make", "arrays", "call"), [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_module_matches_cpu_in_training_and_eval(device, make, arrays, call):
    expected = run_module(make, arrays, call, "cpu")
    assert_matches_cpu(run_module(make, arrays, call, device), expected, device)


# -------------------------------------------------------------------------------------
# create_graph: the one-op sequence layers then run their recorded steps (ops/recurrent.py)


def second_derivatives(kind: str, options: dict, x_array, device: str) -> dict:
    """First derivatives of a weighted sum of the layer's outputs with respect to x and
    weight_hh, taken with create_graph=True; then the gradients of the sum of their
    squares, i.e. second derivatives, with respect to x and every parameter."""
    mg.manual_seed(1)
    module = getattr(layers, kind)(3, 4, batch_first=True, **options).to(device)
    x = mg.tensor(x_array, requires_grad=True, device=device)
    loss = weighted_sum(outputs_of(module(x)), device)
    grad_x, grad_weight = mg.grad(loss, [x, module.weight_hh_l0], create_graph=True)
    ((grad_x * grad_x).sum() + (grad_weight * grad_weight).sum()).backward()
    found = {"dloss/dx": grad_x, "dloss/dweight_hh_l0": grad_weight, "second derivative for x": x.grad}
    found.update({f"second derivative for {name}": p.grad for name, p in module.named_parameters()})
    return found


@pytest.mark.parametrize(
    ("kind", "options"),
    [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {}), ("GRU", {"bias": False})],
    ids=["RNN", "RNN_relu", "LSTM", "GRU", "GRU_no_bias"],
)
def test_second_derivatives_of_recurrent_layers_match_cpu(device, kind, options):
    x = randn(2, 4, 3)
    expected = second_derivatives(kind, options, x, "cpu")
    got = second_derivatives(kind, options, x, device)
    assert all(t.requires_grad for t in list(got.values())[:2])  # differentiable, as asked
    assert_matches_cpu(got, expected, device)


# -------------------------------------------------------------------------------------
# The fused softmax-cross-entropy of (N, C) logits (ops/nn.py SoftmaxCrossEntropy)


def fused_cross_entropy(logits, target, reduction: str, device: str) -> dict:
    """The loss, its gradient by backward(), and (through mg.grad with create_graph=True)
    the gradient of the squared gradient: the op's forward, its backward on arrays and
    its backward recorded as ops."""
    x = mg.tensor(logits, requires_grad=True, device=device)
    loss = losses.cross_entropy(x, mg.tensor(target, device=device), reduction=reduction)
    weighted_sum([loss], device).backward()
    again = mg.tensor(logits, requires_grad=True, device=device)
    (grad,) = mg.grad(weighted_sum([losses.cross_entropy(again, target, reduction=reduction)], device), [again],
                      create_graph=True)
    (grad * grad).sum().backward()
    return {"loss": loss, "gradient": x.grad, "gradient with create_graph": grad, "second derivative": again.grad}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("scale", [1.0, 1e4], ids=["logits_1", "logits_1e4"])
def test_fused_cross_entropy_matches_cpu(device, reduction, scale):
    logits, target = randn(6, 5) * scale, ints(5, 6)
    x = mg.tensor(logits, requires_grad=True, device=device)
    assert type(losses.cross_entropy(x, target, reduction="none").grad_fn).__name__ == "SoftmaxCrossEntropy"
    expected = fused_cross_entropy(logits, target, reduction, "cpu")
    got = fused_cross_entropy(logits, target, reduction, device)
    assert np.isfinite(got["loss"].numpy()).all()
    assert_matches_cpu(got, expected, device)
