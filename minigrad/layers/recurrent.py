"""Recurrent layers: RNN, LSTM and GRU, one time step at a time.

A recurrent layer reads a sequence x_1, ..., x_L and carries a hidden state from one
step to the next:

    h_t = step(x_t, h_{t-1})

with the same weights at every step. There are two kinds of module for each family:

* a **cell** (``RNNCell``, ``LSTMCell``, ``GRUCell``) computes one step;
* a **sequence module** (``RNN``, ``LSTM``, ``GRU``) runs the step over the whole
  sequence, for ``num_layers`` stacked layers (the outputs h_1..h_L of
  one layer are the inputs of the next).

Backpropagation through time (BPTT) needs no code of its own. A loop over a cell (or
``_RecurrentLayers._sequence`` below) records a chain of ordinary ops, one link per
time step; ``loss.backward()`` walks that chain from the last step to the first, like
any other graph. The gradient that reaches h_{t-1} is the sum of what came back through
the output at t-1 and through the step to h_t, and every step adds its share to the one
shared weight matrix. The engine is iterative, so a sequence of thousands of steps does
not hit Python's recursion limit.

For speed, the sequence modules do not record their loop: each runs it as one op
(``RNNSequence``, ``LSTMSequence``, ``GRUSequence`` in ``ops/recurrent.py``) whose
backward is BPTT written out on arrays. On short arrays the Python bookkeeping of the
ops recorded at every step (eleven for an RNN, thirty-four for an LSTM) costs more
than their arithmetic; as one op, a 1,000-step RNN trains over 10x faster. Tests check
the three against the recorded steps of ``rnn_step``, ``lstm_step`` and ``gru_step``,
which the cells use and which the ops replay when gradients of gradients are asked for.

Everything follows PyTorch: argument names and defaults, parameter names and shapes
(``weight_ih`` is (gates * hidden_size, input_size), the gates stacked in PyTorch's
order), the initialisation U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) of every
weight and bias, the shapes of inputs, states and return values. Weights copied from a
``torch.nn.LSTM`` give the same numbers here.

Shapes, with L the sequence length, N the batch size, H = hidden_size:
    sequence input   (L, N, input_size), or (N, L, input_size) with batch_first=True,
                     or (L, input_size) for one unbatched sequence
    output           (L, N, H) (or (N, L, H) / (L, H)): the top layer's h_t at every t
    h_0, h_n, c_n    (num_layers, N, H), or (num_layers, H) when unbatched
    cell input       (N, input_size) or (input_size,); cell state (N, H) or (H,)
"""

from __future__ import annotations

import math

import numpy

from .. import backend
from ..creation import zeros
from ..functional import linear
from ..ops.recurrent import gru_sequence, gru_step, lstm_sequence, lstm_step, rnn_sequence, rnn_step
from ..ops.shape import stack, unbind
from ..tensor import Tensor
from . import init
from .module import Module, Parameter

__all__ = [
    "GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell", "gru_step", "lstm_step", "rnn_step",
]

NONLINEARITIES = ("tanh", "relu")


# -------------------------------------------------------------------------------------
# Parameters and argument checks shared by cells and sequence modules.


def _uniform_parameter(shape: tuple, hidden_size: int) -> Parameter:
    """PyTorch's default for every recurrent weight and bias: U(-1/sqrt(H), 1/sqrt(H))."""
    return init.uniform(shape, 1.0 / math.sqrt(hidden_size))


def _check_sizes(name: str, input_size, hidden_size) -> None:
    for arg, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")


def _check_nonlinearity(name: str, nonlinearity) -> None:
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(
            f"{name}: unknown nonlinearity {nonlinearity!r}; choose 'tanh' or 'relu'"
        )


def _as_tensor(value, name: str, what: str) -> Tensor:
    """Tensors pass; NumPy (or CuPy) arrays are wrapped, as every op accepts them."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, numpy.ndarray) or backend.is_cuda_array(value):
        return Tensor(value)
    raise TypeError(f"{name}: {what} must be a Tensor, got {type(value).__name__}")


def _check_state(name: str, what: str, state, expected: tuple) -> Tensor:
    state = _as_tensor(state, name, what)
    if tuple(state.shape) != expected:
        raise ValueError(f"{name}: expected {what} of shape {expected}, got shape {tuple(state.shape)}")
    return state


# -------------------------------------------------------------------------------------
# Cells: one time step as a module.


class _Cell(Module):
    """What the three cells share: weight_ih (G*H, input_size), weight_hh (G*H, H),
    bias_ih (G*H,), bias_hh (G*H,) for G gates, registered in PyTorch's order."""

    num_gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        name = type(self).__name__
        _check_sizes(name, input_size, hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bool(bias)
        rows = self.num_gates * hidden_size
        self.weight_ih = _uniform_parameter((rows, input_size), hidden_size)
        self.weight_hh = _uniform_parameter((rows, hidden_size), hidden_size)
        if bias:
            self.bias_ih = _uniform_parameter((rows,), hidden_size)
            self.bias_hh = _uniform_parameter((rows,), hidden_size)
        else:  # the names exist but hold no parameter, as in PyTorch
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def _prepare(self, input, states: tuple) -> tuple[Tensor, list, bool]:
        """Check the input and the states; give (N, ...) versions of both, zeros for a
        missing state, and whether the input had a batch axis."""
        name = type(self).__name__
        x = _as_tensor(input, name, "input")
        if x.ndim not in (1, 2):
            raise ValueError(
                f"{name}: expected input of shape (N, input_size) or (input_size,), "
                f"got {x.ndim}-D input of shape {tuple(x.shape)}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: input has {x.shape[-1]} features (shape {tuple(x.shape)}) "
                f"but input_size is {self.input_size}"
            )
        batched = x.ndim == 2
        if not batched:
            x = x[None]  # one example is a batch of one; the axis is dropped again at the end
        expected = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        prepared = []
        for what, state in states:
            if state is None:
                state = zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
            else:
                state = _check_state(name, what, state, expected)
                state = state if batched else state[None]
            prepared.append(state)
        return x, prepared, batched


class RNNCell(_Cell):
    """One step of an Elman RNN, as ``torch.nn.RNNCell``:

        h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)      (or relu)

    ``cell(input, hx=None)`` -> h'. input (N, input_size) or (input_size,); hx (N, H)
    or (H,), zeros when omitted.
    """

    num_gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh"):
        _check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity}"
        return super().extra_repr() + extra

    def forward(self, input, hx=None) -> Tensor:
        x, (h,), batched = self._prepare(input, [("hx", hx)])
        input_part = linear(x, self.weight_ih, self.bias_ih)
        h_next = rnn_step(input_part, h, self.weight_hh, self.bias_hh, self.nonlinearity)
        return h_next if batched else h_next[0]


class LSTMCell(_Cell):
    """One step of an LSTM, as ``torch.nn.LSTMCell`` (equations in ``lstm_step``).

    ``cell(input, hx=None)`` -> (h', c'). hx is a pair (h, c), each (N, H) or (H,);
    both zeros when omitted. Weights stack the gates i, f, g, o: (4 H, input_size).
    """

    num_gates = 4

    def forward(self, input, hx=None) -> tuple[Tensor, Tensor]:
        h, c = _split_lstm_state("LSTMCell", hx)
        x, (h, c), batched = self._prepare(input, [("hx[0] (h)", h), ("hx[1] (c)", c)])
        input_part = linear(x, self.weight_ih, self.bias_ih)
        h_next, c_next = lstm_step(input_part, h, c, self.weight_hh, self.bias_hh)
        return (h_next, c_next) if batched else (h_next[0], c_next[0])


class GRUCell(_Cell):
    """One step of a GRU, as ``torch.nn.GRUCell`` (equations in ``gru_step``).

    ``cell(input, hx=None)`` -> h'. Weights stack the gates r, z, n: (3 H, input_size).
    """

    num_gates = 3

    def forward(self, input, hx=None) -> Tensor:
        x, (h,), batched = self._prepare(input, [("hx", hx)])
        input_part = linear(x, self.weight_ih, self.bias_ih)
        h_next = gru_step(input_part, h, self.weight_hh, self.bias_hh)
        return h_next if batched else h_next[0]


def _split_lstm_state(name: str, hx):
    """An LSTM's state is a pair (h, c), or None for zeros."""
    if hx is None:
        return None, None
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise TypeError(f"{name}: the state hx must be a tuple (h, c), got {type(hx).__name__}")
    return hx[0], hx[1]


# -------------------------------------------------------------------------------------
# Sequence modules: the loop over time, for a stack of layers.


class _RecurrentLayers(Module):
    """What RNN, LSTM and GRU share. Layer k has ``weight_ih_l{k}`` (G*H, input size of
    the layer: input_size for k = 0, H above), ``weight_hh_l{k}`` (G*H, H),
    ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (G*H,), registered in that order.

    Subclasses set ``num_gates`` and ``num_states`` (1 for h, 2 for (h, c)) and define
    ``_step(input_part, state, weight_hh, bias_hh) -> state``, the state a tuple.
    """

    num_gates = 1
    num_states = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False):
        super().__init__()
        name = type(self).__name__
        _check_sizes(name, input_size, hidden_size)
        if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 1:
            raise ValueError(f"{name}: num_layers must be an int >= 1, got {num_layers!r}")
        if dropout != 0:
            raise NotImplementedError(
                f"{name}: dropout between layers is not implemented in minigrad (got "
                f"dropout={dropout!r}); leave it at 0, or apply functional.dropout to the output"
            )
        if bidirectional:
            raise NotImplementedError(
                f"{name}: bidirectional=True is not implemented in minigrad; run a second "
                "module on the reversed sequence and concatenate the outputs"
            )
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        rows = self.num_gates * hidden_size
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else hidden_size
            setattr(self, f"weight_ih_l{layer}", _uniform_parameter((rows, layer_input_size), hidden_size))
            setattr(self, f"weight_hh_l{layer}", _uniform_parameter((rows, hidden_size), hidden_size))
            if bias:
                setattr(self, f"bias_ih_l{layer}", _uniform_parameter((rows,), hidden_size))
                setattr(self, f"bias_hh_l{layer}", _uniform_parameter((rows,), hidden_size))

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        return text

    def layer_parameters(self, layer: int) -> tuple:
        """(weight_ih, weight_hh, bias_ih, bias_hh) of one layer; biases None if bias=False."""
        weight_ih = getattr(self, f"weight_ih_l{layer}")
        weight_hh = getattr(self, f"weight_hh_l{layer}")
        if not self.bias:
            return weight_ih, weight_hh, None, None
        return weight_ih, weight_hh, getattr(self, f"bias_ih_l{layer}"), getattr(self, f"bias_hh_l{layer}")

    def _step(self, input_part: Tensor, state: tuple, weight_hh: Tensor, bias_hh) -> tuple:
        raise NotImplementedError

    def _sequence(self, input_part: Tensor, state: tuple, weight_hh: Tensor, bias_hh) -> tuple:
        """One layer over the whole sequence, recorded step by step: (h_t for every t as
        (L, N, H), the last state). RNN, LSTM and GRU run it as one op instead."""
        outputs = []
        # The loop over time. Backward walks it from the last step to the first: that
        # is backpropagation through time.
        # unbind: the L steps (N, G*H) as one op, whose backward stacks their gradients
        # (slicing input_part[t] L times would make L full-size gradient arrays)
        for input_part_t in unbind(input_part):  # x_t W_ih^T + b_ih
            state = self._step(input_part_t, state, weight_hh, bias_hh)
            outputs.append(state[0])  # the output at step t is h_t
        return stack(outputs), state

    def _run(self, input, initial_states: tuple) -> tuple[Tensor, tuple]:
        """The forward pass: returns the output sequence and the final states, each
        stacked over layers, e.g. (output, (h_n,)) or (output, (h_n, c_n))."""
        x, initial, batched = self._prepare(input, initial_states)  # x is (L, N, features)
        layer_input = x
        final = [[] for _ in range(self.num_states)]  # per state kind, one entry per layer
        for layer in range(self.num_layers):
            weight_ih, weight_hh, bias_ih, bias_hh = self.layer_parameters(layer)
            # The input's contribution x_t W_ih^T + b_ih does not depend on the previous
            # step, so it is computed for all L steps at once, as one matrix product
            # (L*N, features) x (features, G*H): one big product instead of L small ones
            # (fewer ops to record, better use of BLAS; backward, too, makes one product
            # for dW_ih). Only h W_hh^T has to wait for the previous step in the loop.
            L, N, features = layer_input.shape
            input_part = linear(layer_input.reshape(L * N, features), weight_ih, bias_ih)
            input_part = input_part.reshape(L, N, -1)
            state = tuple(s[layer] for s in initial)
            layer_input, state = self._sequence(input_part, state, weight_hh, bias_hh)
            for kind, s in enumerate(state):
                final[kind].append(s)
        output = layer_input
        final_states = tuple(stack(per_layer) for per_layer in final)  # (num_layers, N, H)
        if not batched:
            return output[:, 0], tuple(s[:, 0] for s in final_states)
        if self.batch_first:
            output = output.transpose(1, 0, 2)
        return output, final_states

    def _prepare(self, input, states: tuple) -> tuple[Tensor, list, bool]:
        """Check the input and the initial states; return the input as (L, N, features),
        the states as (num_layers, N, H) (zeros for missing ones), and whether the input
        had a batch axis."""
        name = type(self).__name__
        x = _as_tensor(input, name, "input")
        layout = "(N, L, input_size)" if self.batch_first else "(L, N, input_size)"
        if x.ndim not in (2, 3):
            raise ValueError(
                f"{name}: expected input of shape {layout} or (L, input_size), "
                f"got {x.ndim}-D input of shape {tuple(x.shape)}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: input has {x.shape[-1]} features (shape {tuple(x.shape)}) "
                f"but input_size is {self.input_size}"
            )
        batched = x.ndim == 3
        if not batched:
            x = x[:, None]  # one sequence is a batch of one; the axis is dropped at the end
        elif self.batch_first:
            x = x.transpose(1, 0, 2)  # the loop runs over the first axis: time
        if x.shape[0] == 0:
            raise ValueError(f"{name}: the input sequence is empty (shape {tuple(input.shape)})")
        batch = x.shape[1]
        expected = (self.num_layers, batch, self.hidden_size) if batched else (self.num_layers, self.hidden_size)
        prepared = []
        for what, state in states:
            if state is None:
                state = zeros(self.num_layers, batch, self.hidden_size, dtype=x.dtype, device=x.device)
            else:
                state = _check_state(name, what, state, expected)
                state = state if batched else state[:, None]
            prepared.append(state)
        return x, prepared, batched


class RNN(_RecurrentLayers):
    """A multi-layer Elman RNN, as ``torch.nn.RNN``. At every step t, in every layer:

        h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)      (or relu)

    where x_t is the input at t for the first layer and the layer below's h_t above.
    ``rnn(input, hx=None)`` -> (output, h_n): output holds the top layer's h_t for every
    t, h_n the last h of every layer (num_layers, N, H); hx is h_0, zeros by default.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False):
        _check_nonlinearity("RNN", nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity}"
        return super().extra_repr() + extra

    def _step(self, input_part, state, weight_hh, bias_hh):
        (h,) = state
        return (rnn_step(input_part, h, weight_hh, bias_hh, self.nonlinearity),)

    def _sequence(self, input_part, state, weight_hh, bias_hh):
        # The steps of rnn_step as one op with BPTT written out (ops/recurrent.py): the
        # same numbers, and a training step of the rnn benchmark (28 time steps) takes
        # 45% less time, of the deep_rnn benchmark (1,000 steps) 90% less (benchmarks/).
        (h,) = state
        output, h_n = rnn_sequence(input_part, h, weight_hh, bias_hh, self.nonlinearity)
        return output, (h_n,)

    def forward(self, input, hx=None) -> tuple[Tensor, Tensor]:
        output, (h_n,) = self._run(input, [("h_0", hx)])
        return output, h_n


class LSTM(_RecurrentLayers):
    """A multi-layer LSTM, as ``torch.nn.LSTM`` (step equations in ``lstm_step``).

    ``lstm(input, hx=None)`` -> (output, (h_n, c_n)); hx is the pair (h_0, c_0), each
    (num_layers, N, H), zeros by default. Weights stack the gates i, f, g, o.
    """

    num_gates = 4
    num_states = 2

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0):
        if proj_size != 0:
            raise NotImplementedError(
                f"LSTM: proj_size is not implemented in minigrad (got proj_size={proj_size!r}); leave it at 0"
            )
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)

    def _step(self, input_part, state, weight_hh, bias_hh):
        h, c = state
        return lstm_step(input_part, h, c, weight_hh, bias_hh)

    def _sequence(self, input_part, state, weight_hh, bias_hh):
        # The steps of lstm_step as one op with BPTT written out (ops/recurrent.py): the
        # same numbers, and a training step of the lstm benchmark takes 25% less time.
        h, c = state
        output, h_n, c_n = lstm_sequence(input_part, h, c, weight_hh, bias_hh)
        return output, (h_n, c_n)

    def forward(self, input, hx=None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h_0, c_0 = _split_lstm_state("LSTM", hx)
        output, (h_n, c_n) = self._run(input, [("h_0 (hx[0])", h_0), ("c_0 (hx[1])", c_0)])
        return output, (h_n, c_n)


class GRU(_RecurrentLayers):
    """A multi-layer GRU, as ``torch.nn.GRU`` (step equations in ``gru_step``).

    ``gru(input, hx=None)`` -> (output, h_n). Weights stack the gates r, z, n.
    """

    num_gates = 3

    def _step(self, input_part, state, weight_hh, bias_hh):
        (h,) = state
        return (gru_step(input_part, h, weight_hh, bias_hh),)

    def _sequence(self, input_part, state, weight_hh, bias_hh):
        # The steps of gru_step as one op with BPTT written out (ops/recurrent.py): the
        # same numbers, and forward + backward of GRU(28, 128) over 28 steps of a batch of
        # 64 (the rnn benchmark's shapes) takes 38% less time.
        (h,) = state
        output, h_n = gru_sequence(input_part, h, weight_hh, bias_hh)
        return output, (h_n,)

    def forward(self, input, hx=None) -> tuple[Tensor, Tensor]:
        output, (h_n,) = self._run(input, [("h_0", hx)])
        return output, h_n
