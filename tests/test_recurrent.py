"""Recurrent layers: parity with torch.nn, finite differences, long sequences, errors.

The parity tests copy PyTorch's (randomly initialised) weights into our module through
``load_state_dict`` and compare outputs, final states and every gradient (input,
initial state, each parameter) of a random projection of all outputs.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
from helpers import needs_torch, torch

import minigrad as mg
from minigrad import functional as F
from minigrad import layers
from minigrad import random as mg_random
from minigrad.ops.recurrent import gru_step, lstm_step, recorded_sequence, rnn_step

ATOL, RTOL = 1e-5, 1e-4
CELLS = ("RNNCell", "LSTMCell", "GRUCell")
SEQUENCES = ("RNN", "LSTM", "GRU")
GATES = {"RNNCell": 1, "RNN": 1, "LSTMCell": 4, "LSTM": 4, "GRUCell": 3, "GRU": 3}


@pytest.fixture(autouse=True)
def _keep_the_global_generator():
    """Some tests reseed minigrad's one generator; give the other tests theirs back."""
    state = mg_random.get_state()
    yield
    mg_random.set_state(state)


def flatten(value) -> list:
    """The tensors in a nested result: h, (h, c), (output, h_n), (output, (h_n, c_n))."""
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in flatten(item)]
    return [value]


def is_lstm(kind: str) -> bool:
    return kind.startswith("LSTM")


def random_state(kind, shape, rng):
    """Initial state arrays: one for RNN/GRU, the pair (h, c) for LSTM."""
    count = 2 if is_lstm(kind) else 1
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(count)]


def pack_state(kind, tensors):
    return tuple(tensors) if is_lstm(kind) else tensors[0]


STEPS = {"RNN": rnn_step, "LSTM": lstm_step, "GRU": gru_step}


def recorded_layers(module, kind, x, states) -> list:
    """What the sequence ``module`` computes from x (L, N, features) and its initial
    states, each layer's loop recorded step by step (``recorded_sequence`` of
    ``rnn_step``, ``lstm_step`` or ``gru_step``) instead of run as one op: the reference
    for the one-op layers. Returns [output, h_n] or [output, h_n, c_n]."""
    options = {"nonlinearity": module.nonlinearity} if kind == "RNN" else {}
    layer_input, final = x, []
    for layer in range(module.num_layers):
        weight_ih, weight_hh, bias_ih, bias_hh = module.layer_parameters(layer)
        length, batch, features = layer_input.shape  # the input part as the module makes it
        input_part = F.linear(layer_input.reshape(length * batch, features), weight_ih, bias_ih)
        state = tuple(s[layer] for s in states)
        layer_input, *last = recorded_sequence(STEPS[kind], input_part.reshape(length, batch, -1), state,
                                               weight_hh, bias_hh, **options)
        final.append(last)
    return [layer_input] + [mg.stack(list(per_layer)) for per_layer in zip(*final)]


def run_parity(kind, kwargs, input_shape, state_shape=None, seed=0):
    """Build torch's module and ours with the same weights, run both on the same input
    (and initial state, if ``state_shape``), and compare every output and gradient."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    theirs_module = getattr(torch.nn, kind)(**kwargs)
    ours_module = getattr(layers, kind)(**kwargs)

    # same parameter names, order and shapes, then the same values
    their_state = {k: v.detach().numpy().copy() for k, v in theirs_module.state_dict().items()}
    our_state = ours_module.state_dict()
    assert list(our_state) == list(their_state)
    assert {k: v.shape for k, v in our_state.items()} == {k: v.shape for k, v in their_state.items()}
    ours_module.load_state_dict(their_state)

    x = rng.standard_normal(input_shape).astype(np.float32)
    states = random_state(kind, state_shape, rng) if state_shape is not None else []
    ours_inputs = [mg.tensor(a, requires_grad=True) for a in [x, *states]]
    theirs_inputs = [torch.tensor(a, requires_grad=True) for a in [x, *states]]

    def call(module, inputs):
        if not states:
            return module(inputs[0])
        return module(inputs[0], pack_state(kind, inputs[1:]))

    ours_out = flatten(call(ours_module, ours_inputs))
    theirs_out = flatten(call(theirs_module, theirs_inputs))
    assert len(ours_out) == len(theirs_out)
    weights = [rng.standard_normal(tuple(t.shape)).astype(np.float32) for t in theirs_out]
    for i, (a, b) in enumerate(zip(ours_out, theirs_out)):
        assert a.shape == tuple(b.shape), f"output {i}: shape {a.shape} != torch {tuple(b.shape)}"
        assert a.dtype == mg.float32
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), atol=ATOL, rtol=RTOL, err_msg=f"output {i}")

    sum(((a * mg.tensor(w)).sum() for a, w in zip(ours_out, weights)), mg.tensor(0.0)).backward()
    sum((b * torch.tensor(w)).sum() for b, w in zip(theirs_out, weights)).backward()

    for i, (a, b) in enumerate(zip(ours_inputs, theirs_inputs)):
        assert a.grad is not None and a.grad.dtype == mg.float32
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=ATOL, rtol=RTOL,
                                   err_msg=f"gradient of input {i} (0 = x, then the state)")
    their_params = dict(theirs_module.named_parameters())
    our_params = dict(ours_module.named_parameters())
    assert list(our_params) == list(their_params)
    for name, p in our_params.items():
        assert p.grad is not None, name
        np.testing.assert_allclose(p.grad.numpy(), their_params[name].grad.numpy(), atol=ATOL, rtol=RTOL,
                                   err_msg=f"gradient of {name}")


# -------------------------------------------------------------------------------------
# Parity with torch.nn


@needs_torch
@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_cell_matches_torch(kind, bias, with_state, batched):
    input_shape, state_shape = ((3, 5), (3, 4)) if batched else ((5,), (4,))
    run_parity(kind, {"input_size": 5, "hidden_size": 4, "bias": bias}, input_shape,
               state_shape if with_state else None)


@needs_torch
@pytest.mark.parametrize("with_state", [True, False])
def test_rnn_cell_relu_matches_torch(with_state):
    run_parity("RNNCell", {"input_size": 5, "hidden_size": 4, "nonlinearity": "relu"}, (3, 5),
               (3, 4) if with_state else None, seed=1)


@needs_torch
@pytest.mark.parametrize("kind", SEQUENCES)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [True, False])
def test_sequence_matches_torch(kind, num_layers, batch_first, with_state):
    length, batch = 6, 3
    input_shape = (batch, length, 5) if batch_first else (length, batch, 5)
    kwargs = {"input_size": 5, "hidden_size": 4, "num_layers": num_layers, "batch_first": batch_first}
    run_parity(kind, kwargs, input_shape, (num_layers, batch, 4) if with_state else None)


@needs_torch
@pytest.mark.parametrize("kind", SEQUENCES)
def test_sequence_without_bias_matches_torch(kind):
    kwargs = {"input_size": 5, "hidden_size": 4, "num_layers": 2, "bias": False}
    run_parity(kind, kwargs, (6, 3, 5), (2, 3, 4), seed=2)


@needs_torch
@pytest.mark.parametrize("batch_first", [False, True])
def test_relu_rnn_matches_torch(batch_first):
    kwargs = {"input_size": 5, "hidden_size": 4, "num_layers": 2, "nonlinearity": "relu", "batch_first": batch_first}
    run_parity("RNN", kwargs, (3, 6, 5), (2, 3 if batch_first else 6, 4), seed=3)


@needs_torch
@pytest.mark.parametrize("kind", SEQUENCES)
@pytest.mark.parametrize("with_state", [True, False])
def test_unbatched_sequence_matches_torch(kind, with_state):
    kwargs = {"input_size": 5, "hidden_size": 4, "num_layers": 2}
    run_parity(kind, kwargs, (6, 5), (2, 4) if with_state else None, seed=4)


@needs_torch
@pytest.mark.parametrize("kind", SEQUENCES)
def test_one_step_sequence_matches_torch(kind):
    run_parity(kind, {"input_size": 5, "hidden_size": 4, "num_layers": 2}, (1, 3, 5), (2, 3, 4), seed=5)


@needs_torch
def test_repr_follows_torch():
    for kind in CELLS + SEQUENCES:
        extra = {"bias": False} if kind in CELLS else {"num_layers": 2, "batch_first": True}
        assert repr(getattr(layers, kind)(5, 4, **extra)) == repr(getattr(torch.nn, kind)(5, 4, **extra))
    assert repr(layers.RNNCell(5, 4, nonlinearity="relu")) == "RNNCell(5, 4, nonlinearity=relu)"
    # torch leaves the nonlinearity out of RNN's repr; we show it
    assert repr(layers.RNN(5, 4, nonlinearity="relu")) == "RNN(5, 4, nonlinearity=relu)"


@needs_torch
def test_positional_arguments_follow_torch():
    # RNN(input_size, hidden_size, num_layers, nonlinearity, bias, batch_first)
    ours, theirs = layers.RNN(5, 4, 2, "relu", False, True), torch.nn.RNN(5, 4, 2, "relu", False, True)
    assert (ours.num_layers, ours.nonlinearity, ours.bias, ours.batch_first) == (
        theirs.num_layers, theirs.nonlinearity, theirs.bias, theirs.batch_first)
    # LSTM/GRU(input_size, hidden_size, num_layers, bias, batch_first); RNNCell(..., bias, nonlinearity)
    for kind in ("LSTM", "GRU"):
        ours, theirs = getattr(layers, kind)(5, 4, 3, False, True), getattr(torch.nn, kind)(5, 4, 3, False, True)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert ours.batch_first
    cell = layers.RNNCell(5, 4, False, "relu")
    assert cell.nonlinearity == "relu" and list(cell.state_dict()) == ["weight_ih", "weight_hh"]
    assert cell.bias_ih is None and cell.bias_hh is None  # as torch: the names exist, empty


# -------------------------------------------------------------------------------------
# Finite differences in float64


def substitute_parameters(module, leaves) -> None:
    """Make ``module`` compute with ``leaves`` (the float64 copies gradcheck perturbs) in
    place of its parameters. gradcheck copies its inputs, so assigning ``p.data`` would
    not route the gradient to them; the assignment bypasses Module.__setattr__ on
    purpose (a plain Tensor is not a Parameter), and is checked to have taken effect."""
    names = [name for name, _ in module.named_parameters()]
    assert len(names) == len(leaves)
    for name, leaf in zip(names, leaves):
        object.__setattr__(module, name, leaf)
        assert getattr(module, name) is leaf, f"could not substitute parameter {name}"


def float64_module(kind, **kwargs):
    module = getattr(layers, kind)(**kwargs)
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    return module



def gradcheck_module(kind, module, x, states):
    """gradcheck a recurrent module w.r.t. its input, initial state and every parameter."""
    params = list(module.parameters())
    count = len(states)

    def fn(x, *rest):
        state, weights = rest[:count], rest[count:]
        substitute_parameters(module, weights)
        return mg.cat([t.reshape(-1) for t in flatten(module(x, pack_state(kind, list(state))))])

    return mg.gradcheck(fn, [x, *states, *params])

@pytest.mark.parametrize(("kind", "extra"), [
    ("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}), ("GRUCell", {}),
])
def test_cell_gradcheck(kind, extra):
    mg.manual_seed(0)
    module = float64_module(kind, input_size=3, hidden_size=2, **extra)
    x = mg.tensor(np.random.default_rng(5).standard_normal((2, 3)), dtype=mg.float64, requires_grad=True)
    states = [mg.tensor(a, dtype=mg.float64, requires_grad=True)
              for a in random_state(kind, (2, 2), np.random.default_rng(6))]
    assert gradcheck_module(kind, module, x, states)


@pytest.mark.parametrize("kind", SEQUENCES)
def test_two_layer_sequence_gradcheck(kind):
    mg.manual_seed(1)
    module = float64_module(kind, input_size=3, hidden_size=2, num_layers=2)
    rng = np.random.default_rng(7)
    x = mg.tensor(rng.standard_normal((3, 2, 3)), dtype=mg.float64, requires_grad=True)
    states = [mg.tensor(a, dtype=mg.float64, requires_grad=True) for a in random_state(kind, (2, 2, 2), rng)]
    assert gradcheck_module(kind, module, x, states)


@pytest.mark.parametrize("kind, options", [
    ("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("RNN", {"bias": False}), ("LSTM", {}), ("LSTM", {"bias": False}),
    ("GRU", {}), ("GRU", {"bias": False}),
])
def test_layer_matches_its_steps_recorded_one_by_one(kind, options):
    """RNN, LSTM and GRU run each layer's time loop as one op with BPTT written out
    (ops/recurrent.py). Recording rnn_step / lstm_step / gru_step at every step instead
    must give the same outputs, bit for bit (the same float32 sums in the same order),
    and the same gradients (summed in another order)."""
    mg.manual_seed(4)
    module = getattr(layers, kind)(3, 5, num_layers=2, **options)
    rng = np.random.default_rng(10)
    x = mg.tensor(rng.standard_normal((6, 4, 3)).astype(np.float32), requires_grad=True)
    states = [mg.tensor(a, requires_grad=True) for a in random_state(kind, (2, 4, 5), rng)]
    inputs = [x, *states, *module.parameters()]
    shapes = [(6, 4, 5)] + [(2, 4, 5)] * len(states)  # output, h_n (and c_n)
    weights = [mg.tensor(rng.standard_normal(shape).astype(np.float32)) for shape in shapes]
    node = f"{kind}Sequence"

    def run(forward):
        results = flatten(forward())
        loss = sum((r * w).sum() for r, w in zip(results, weights))
        nodes = [type(n).__name__ for n in graph_nodes(loss.grad_fn)]
        return [r.numpy() for r in results], [g.numpy() for g in mg.grad(loss, inputs)], nodes

    fused_outputs, fused_grads, nodes = run(lambda: module(x, pack_state(kind, states)))
    assert nodes.count(node) == 2  # one per layer
    step_outputs, step_grads, nodes = run(lambda: recorded_layers(module, kind, x, states))
    assert node not in nodes
    for fused, steps in zip(fused_outputs, step_outputs):
        np.testing.assert_array_equal(fused, steps)
    for fused, steps in zip(fused_grads, step_grads):
        np.testing.assert_allclose(fused, steps, rtol=1e-5, atol=1e-5)


def test_gradcheck_catches_a_wrong_gradient():
    """The substitution above really routes gradients: a gradient cut on purpose fails."""
    mg.manual_seed(2)
    module = float64_module("GRU", input_size=3, hidden_size=2)
    x = mg.tensor(np.random.default_rng(8).standard_normal((2, 1, 3)), dtype=mg.float64)

    def fn(*weights):
        substitute_parameters(module, [w.detach() if i == 1 else w for i, w in enumerate(weights)])
        return module(x)[0]

    with pytest.raises(mg.GradcheckError, match="input 1"):
        mg.gradcheck(fn, list(module.parameters()))


# -------------------------------------------------------------------------------------
# Long sequences and memory


def graph_nodes(root) -> list:
    """Every node of the graph below ``root`` (iteratively: it is thousands deep)."""
    nodes, stack, seen = [], [root], {id(root)}
    while stack:
        node = stack.pop()
        nodes.append(node)
        for edge, *_ in getattr(node, "edges", ()):
            if edge is not None and id(edge) not in seen:
                seen.add(id(edge))
                stack.append(edge)
    return nodes


@pytest.mark.parametrize("kind, recorded, node, count", [
    ("GRU", True, "Tanh", 1000),  # recorded step by step: one Tanh node per step, ~15,000 nodes deep
    ("RNN", False, "RNNSequence", 1),  # the whole loop as one op (ops/recurrent.py)
    ("GRU", False, "GRUSequence", 1),
])
def test_thousand_step_backward_is_finite_and_frees_the_graph(kind, recorded, node, count):
    mg.manual_seed(3)
    rnn = getattr(layers, kind)(4, 8)
    x = mg.tensor(np.random.default_rng(9).standard_normal((1000, 2, 4)).astype(np.float32),
                  requires_grad=True)
    gc.collect()
    gc.disable()  # reference counting alone must free the graph: no cycles
    try:
        output, h_n = recorded_layers(rnn, kind, x, [mg.zeros(1, 2, 8)]) if recorded else rnn(x)
        assert output.shape == (1000, 2, 8) and h_n.shape == (1, 2, 8)
        loss = output.sum() + h_n.sum()
        refs = [weakref.ref(t) for t in (output, h_n, loss)]
        nodes = [n for n in graph_nodes(loss.grad_fn) if type(n).__name__ == node]
        assert len(nodes) == count
        refs += [weakref.ref(n) for n in nodes[::100]]  # intermediates inside the loop
        del nodes
        loss.backward()  # an iterative engine: no RecursionError
        del output, h_n, loss
        assert all(ref() is None for ref in refs), "the graph of the RNN is still alive after backward"
    finally:
        gc.enable()
    for t in (x, *rnn.parameters()):
        assert t.grad is not None and np.isfinite(t.grad.numpy()).all()
    assert (np.abs(x.grad.numpy()).sum(axis=(1, 2)) > 0).all(), "a time step got no gradient"


def test_graph_is_freed_without_backward():
    """A forward that is dropped (no backward) leaves nothing behind either."""
    lstm = layers.LSTM(3, 4, num_layers=2)
    x = mg.randn(20, 2, 3, requires_grad=True)
    gc.collect()
    gc.disable()
    try:
        output, (h_n, c_n) = lstm(x)
        refs = [weakref.ref(t) for t in (output, h_n, c_n)]
        del output, h_n, c_n
        assert all(ref() is None for ref in refs)
    finally:
        gc.enable()


def test_no_grad_records_nothing():
    gru = layers.GRU(3, 4)
    with mg.no_grad():
        output, h_n = gru(mg.randn(5, 2, 3))
    assert not output.requires_grad and output.grad_fn is None and not h_n.requires_grad


# -------------------------------------------------------------------------------------
# Initialisation


@pytest.mark.parametrize("kind", CELLS + SEQUENCES)
def test_default_init_is_uniform_within_one_over_sqrt_hidden(kind):
    mg.manual_seed(4)
    hidden = 16
    extra = {"num_layers": 2} if kind in SEQUENCES else {}
    module = getattr(layers, kind)(input_size=10, hidden_size=hidden, **extra)
    bound = 1 / np.sqrt(hidden)
    params = dict(module.named_parameters())
    assert len(params) == (8 if kind in SEQUENCES else 4)
    for name, p in params.items():
        assert p.dtype == mg.float32 and p.requires_grad, name
        assert p.shape[0] == GATES[kind] * hidden, name
        assert np.all(np.abs(p.numpy()) <= bound), name
    # all of them together: U(-bound, bound) has mean 0 and standard deviation bound/sqrt(3),
    # and fills the interval (at least 16 * (10 + 16 + 2) = 448 draws)
    values = np.concatenate([p.numpy().ravel() for p in params.values()])
    assert abs(values.mean()) < 0.15 * bound
    assert abs(values.std() - bound / np.sqrt(3)) < 0.1 * bound
    assert values.max() > 0.95 * bound and values.min() < -0.95 * bound


@pytest.mark.parametrize("kind", CELLS + SEQUENCES)
def test_init_is_reproducible_under_manual_seed(kind):
    def build(seed):
        mg.manual_seed(seed)
        return getattr(layers, kind)(input_size=3, hidden_size=5).state_dict()

    first, again, other = build(0), build(0), build(1)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    assert any(not np.array_equal(first[name], other[name]) for name in first)
    # every parameter gets its own draws
    values = list(first.values())
    assert not np.array_equal(values[0][:, :3], values[1][:, :3])


# -------------------------------------------------------------------------------------
# Errors


def test_wrong_input_dimensions_raise():
    with pytest.raises(ValueError, match=r"LSTM: expected input of shape \(L, N, input_size\).*4-D"):
        layers.LSTM(3, 4)(mg.zeros(2, 2, 2, 3))
    with pytest.raises(ValueError, match=r"GRU: expected input of shape \(N, L, input_size\).*1-D"):
        layers.GRU(3, 4, batch_first=True)(mg.zeros(3))
    with pytest.raises(ValueError, match=r"RNNCell: expected input of shape \(N, input_size\).*3-D"):
        layers.RNNCell(3, 4)(mg.zeros(2, 2, 3))


def test_wrong_feature_size_raises():
    with pytest.raises(ValueError, match=r"RNN: input has 5 features \(shape \(6, 2, 5\)\) but input_size is 3"):
        layers.RNN(3, 4)(mg.zeros(6, 2, 5))
    with pytest.raises(ValueError, match=r"LSTMCell: input has 2 features .* input_size is 3"):
        layers.LSTMCell(3, 4)(mg.zeros(2))


def test_wrong_initial_state_shape_raises():
    with pytest.raises(ValueError, match=r"RNN: expected h_0 of shape \(2, 3, 4\), got shape \(1, 3, 4\)"):
        layers.RNN(5, 4, num_layers=2)(mg.zeros(6, 3, 5), mg.zeros(1, 3, 4))
    with pytest.raises(ValueError, match=r"LSTM: expected c_0 .* of shape \(1, 3, 4\), got shape \(1, 2, 4\)"):
        layers.LSTM(5, 4)(mg.zeros(6, 3, 5), (mg.zeros(1, 3, 4), mg.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match=r"GRU: expected h_0 of shape \(1, 4\), got shape \(1, 1, 4\)"):
        layers.GRU(5, 4)(mg.zeros(6, 5), mg.zeros(1, 1, 4))  # unbatched input, batched state
    with pytest.raises(ValueError, match=r"GRUCell: expected hx of shape \(3, 4\), got shape \(2, 4\)"):
        layers.GRUCell(5, 4)(mg.zeros(3, 5), mg.zeros(2, 4))
    with pytest.raises(TypeError, match=r"LSTM: the state hx must be a tuple \(h, c\)"):
        layers.LSTM(5, 4)(mg.zeros(6, 3, 5), mg.zeros(1, 3, 4))
    with pytest.raises(TypeError, match=r"LSTMCell: the state hx must be a tuple \(h, c\)"):
        layers.LSTMCell(5, 4)(mg.zeros(3, 5), mg.zeros(3, 4))


def test_bad_constructor_arguments_raise():
    with pytest.raises(ValueError, match="unknown nonlinearity 'sigmoid'; choose 'tanh' or 'relu'"):
        layers.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="RNNCell: unknown nonlinearity 'gelu'"):
        layers.RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="hidden_size must be a positive int, got 0"):
        layers.GRU(3, 0)
    with pytest.raises(ValueError, match="num_layers must be an int >= 1, got 0"):
        layers.LSTM(3, 4, num_layers=0)
    with pytest.raises(NotImplementedError, match="bidirectional=True is not implemented"):
        layers.LSTM(3, 4, bidirectional=True)
    with pytest.raises(NotImplementedError, match="dropout between layers is not implemented"):
        layers.GRU(3, 4, num_layers=2, dropout=0.5)
    layers.RNN(3, 4, dropout=0.0, bidirectional=False)  # the defaults are accepted


def test_numpy_input_is_accepted_and_other_types_are_not():
    gru = layers.GRU(3, 4)
    output, h_n = gru(np.zeros((5, 2, 3), dtype=np.float32))
    assert output.shape == (5, 2, 4) and h_n.shape == (1, 2, 4)
    with pytest.raises(TypeError, match="GRU: input must be a Tensor, got list"):
        gru([[0.0, 0.0, 0.0]])


def test_empty_sequence_raises():
    with pytest.raises(ValueError, match="RNN: the input sequence is empty"):
        layers.RNN(3, 4)(mg.zeros(0, 2, 3))


# -------------------------------------------------------------------------------------
# Devices


def test_lstm_on_device_matches_cpu(device):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    h0, c0 = (rng.standard_normal((2, 2, 4)).astype(np.float32) for _ in range(2))
    w_out, w_h = rng.standard_normal((5, 2, 4)).astype(np.float32), rng.standard_normal((2, 2, 4)).astype(np.float32)

    def run(dev):
        mg.manual_seed(11)
        lstm = layers.LSTM(3, 4, num_layers=2).to(dev)
        inputs = [mg.tensor(a, device=dev, requires_grad=True) for a in (x, h0, c0)]
        output, (h_n, c_n) = lstm(inputs[0], (inputs[1], inputs[2]))
        assert output.device == dev and h_n.device == dev and c_n.device == dev
        loss = (output * mg.tensor(w_out, device=dev)).sum() + (h_n * mg.tensor(w_h, device=dev)).sum() + c_n.sum()
        loss.backward()
        grads = [t.grad for t in inputs] + [p.grad for p in lstm.parameters()]
        assert all(g.device == dev for g in grads)
        return [output.numpy(), h_n.numpy(), c_n.numpy()] + [g.numpy() for g in grads]

    for got, expected in zip(run(device), run("cpu")):
        np.testing.assert_allclose(got, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind, options", [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("GRU", {})])
def test_rnn_and_gru_on_device_match_cpu(device, kind, options):
    """The one-op loops of RNN and GRU (ops/recurrent.py) on every device."""
    rng = np.random.default_rng(12)
    x, h0 = rng.standard_normal((5, 2, 3)).astype(np.float32), rng.standard_normal((2, 2, 4)).astype(np.float32)
    w_out = rng.standard_normal((5, 2, 4)).astype(np.float32)

    def run(dev):
        mg.manual_seed(13)
        rnn = getattr(layers, kind)(3, 4, num_layers=2, **options).to(dev)
        inputs = [mg.tensor(a, device=dev, requires_grad=True) for a in (x, h0)]
        output, h_n = rnn(*inputs)
        assert output.device == dev and h_n.device == dev
        ((output * mg.tensor(w_out, device=dev)).sum() + h_n.sum()).backward()
        grads = [t.grad for t in inputs] + [p.grad for p in rnn.parameters()]
        assert all(g.device == dev for g in grads)
        return [output.numpy(), h_n.numpy()] + [g.numpy() for g in grads]

    for got, expected in zip(run(device), run("cpu")):
        np.testing.assert_allclose(got, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("float64_part", ["input", "state"])
def test_one_op_loop_promotes_dtypes_like_the_recorded_steps(kind, float64_part):
    """A float64 input or initial state with a float32 layer: the one-op loop gives the
    float64 outputs that the steps recorded one by one give."""
    mg.manual_seed(5)
    module = getattr(layers, kind)(3, 4)
    rng = np.random.default_rng(14)
    x = mg.tensor(rng.standard_normal((5, 2, 3)), dtype=mg.float64 if float64_part == "input" else mg.float32)
    states = [mg.tensor(a, dtype=mg.float64 if float64_part == "state" else mg.float32)
              for a in random_state(kind, (1, 2, 4), rng)]
    fused = flatten(module(x, pack_state(kind, states)))
    steps = recorded_layers(module, kind, x, states)
    for a, b in zip(fused, steps):
        assert a.dtype == b.dtype == mg.float64
        np.testing.assert_array_equal(a.numpy(), b.numpy())
