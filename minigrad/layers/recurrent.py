"""Recurrent layers: RNN, LSTM and GRU, one time step at a time.

A recurrent layer reads a sequence x_1, ..., x_L and carries a hidden state from one
step to the next::

    h_t = step(x_t, h_{t-1})

with the same weights at every step. There are two kinds of module for each family:

* a **cell** (``RNNCell``, ``LSTMCell``, ``GRUCell``) computes one step, with the
  equations of ``rnn_step``, ``lstm_step`` and ``gru_step`` (``ops/recurrent.py``);
* a **sequence module** (``RNN``, ``LSTM``, ``GRU``) runs the step over the whole
  sequence, for ``num_layers`` stacked layers (the outputs h_1..h_L of
  one layer are the inputs of the next).

Backpropagation through time (BPTT) needs no code of its own. A loop over a cell (or
``recorded_sequence`` in ``ops/recurrent.py``) records a chain of ordinary ops, one link
per time step; ``loss.backward()`` walks that chain from the last step to the first,
like any other graph. The gradient that reaches h_{t-1} is the sum of what came back
through the output at t-1 and through the step to h_t, and every step adds its share to
the one shared weight matrix. The engine is iterative, so a sequence of thousands of
steps does not hit Python's recursion limit.

For speed, the sequence modules do not record their loop: each layer runs as one op
(``rnn_sequence``, ``lstm_sequence``, ``gru_sequence`` in ``ops/recurrent.py``) with
BPTT written out on arrays, which makes a training step of the rnn, lstm and deep_rnn
benchmarks 45%, 25% and 90% shorter. The tests check the ops against
``recorded_sequence``, which the ops also run when gradients of gradients are asked for.

Everything follows PyTorch: argument names and defaults, parameter names and shapes
(``weight_ih`` is (gates * hidden_size, input_size), the gates stacked in PyTorch's
order), the initialisation U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) of every
weight and bias, the shapes of inputs, states and return values. Weights copied from a
``torch.nn.LSTM`` give the same numbers here.

Shapes, with L the sequence length, N the batch size, H = hidden_size::

    sequence input   (L, N, input_size), or (N, L, input_size) with batch_first=True,
                     or (L, input_size) for one unbatched sequence
    output           (L, N, H) (or (N, L, H) / (L, H)): the top layer's h_t at every t
    h_0, h_n, c_n    (num_layers, N, H), or (num_layers, H) when unbatched
    cell input       (N, input_size) or (input_size,); cell state (N, H) or (H,)
"""

from __future__ import annotations

import math
from functools import partial

import numpy

from .. import backend
from ..creation import zeros
from ..functional import linear
from ..ops.recurrent import gru_sequence, gru_step, lstm_sequence, lstm_step, rnn_sequence, rnn_step
from ..ops.shape import stack
from ..tensor import Tensor
from . import init
from .module import Module

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell", "gru_step", "lstm_step", "rnn_step"]

NONLINEARITIES = ("tanh", "relu")


# -------------------------------------------------------------------------------------
# Parameters and argument checks shared by cells and sequence modules.


def _add_weights(module: Module, suffix: str, input_size: int, hidden_size: int, bias: bool) -> None:
    """weight_ih (G*H, input_size), weight_hh (G*H, H), bias_ih and bias_hh (G*H,) for G =
    module.num_gates, each name followed by ``suffix`` ("" in a cell, "_l0", "_l1", ... in
    the layers), in PyTorch's order and with its default: U(-1/sqrt(H), 1/sqrt(H))."""
    rows = module.num_gates * hidden_size
    shapes = {"weight_ih": (rows, input_size), "weight_hh": (rows, hidden_size)}
    if bias:
        shapes.update(bias_ih=(rows,), bias_hh=(rows,))
    for name, shape in shapes.items():
        setattr(module, name + suffix, init.uniform(shape, 1.0 / math.sqrt(hidden_size)))


def _check_sizes(name: str, input_size, hidden_size) -> None:
    for arg, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")


def _check_nonlinearity(name: str, nonlinearity) -> None:
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"{name}: unknown nonlinearity {nonlinearity!r}; choose 'tanh' or 'relu'")


def _as_tensor(value, name: str, what: str) -> Tensor:
    """Tensors pass; NumPy (or CuPy) arrays are wrapped, as every op accepts them."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, numpy.ndarray) or backend.is_cuda_array(value):
        return Tensor(value)
    raise TypeError(f"{name}: {what} must be a Tensor, got {type(value).__name__}")


def _check_input(name: str, input, input_size: int, ndim: int, shapes: str) -> tuple[Tensor, bool]:
    """The input as a Tensor, checked: ``ndim`` axes, or one fewer without the batch
    axis, and input_size features on the last. Also returns whether it has a batch axis."""
    x = _as_tensor(input, name, "input")
    if x.ndim not in (ndim - 1, ndim):
        raise ValueError(
            f"{name}: expected input of shape {shapes}, got {x.ndim}-D input of shape {tuple(x.shape)}"
        )
    if x.shape[-1] != input_size:
        raise ValueError(
            f"{name}: input has {x.shape[-1]} features (shape {tuple(x.shape)}) "
            f"but input_size is {input_size}"
        )
    return x, x.ndim == ndim


def _prepare_states(name: str, states: list, leading: tuple, x: Tensor, hidden_size: int,
                    batched: bool) -> list:
    """Check the states, each ``(*leading, N, H)``, or ``(*leading, H)`` if the input had
    no batch axis; return them with the batch axis, zeros (x's dtype and device) for a
    missing one. ``x`` is the input with its batch axis (N, features) or (L, N, features)."""
    batch = x.shape[-2]
    expected = (*leading, batch, hidden_size) if batched else (*leading, hidden_size)
    prepared = []
    for what, state in states:
        if state is None:
            state = zeros(*leading, batch, hidden_size, dtype=x.dtype, device=x.device)
        else:
            state = _as_tensor(state, name, what)
            if tuple(state.shape) != expected:
                raise ValueError(f"{name}: expected {what} of shape {expected}, got shape {tuple(state.shape)}")
            state = state if batched else state[..., None, :]  # the batch axis, as in x
        prepared.append(state)
    return prepared


# -------------------------------------------------------------------------------------
# Cells: one time step as a module.


class _Cell(Module):
    """What the three cells share: their weights (``_add_weights``) and ``_run``."""

    num_gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        name = type(self).__name__
        _check_sizes(name, input_size, hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bool(bias)
        _add_weights(self, "", input_size, hidden_size, bias)
        if not bias:  # the names exist but hold no parameter, as in PyTorch
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def _run(self, input, states: list, step):
        """The forward pass: check the input and the states (zeros for a missing one),
        then ``step(x W_ih^T + b_ih, *states, weight_hh, bias_hh)``, e.g. ``gru_step``."""
        name = type(self).__name__
        x, batched = _check_input(name, input, self.input_size, 2, "(N, input_size) or (input_size,)")
        if not batched:
            x = x[None]  # one example is a batch of one; the axis is dropped again at the end
        states = _prepare_states(name, states, (), x, self.hidden_size, batched)
        result = step(linear(x, self.weight_ih, self.bias_ih), *states, self.weight_hh, self.bias_hh)
        if batched:
            return result
        return tuple(s[0] for s in result) if isinstance(result, tuple) else result[0]  # (h, c) or h


class RNNCell(_Cell):
    """One step of an Elman RNN, as ``torch.nn.RNNCell``::

        h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)      (or relu)

    ``cell(input, hx=None)`` -> h'. input (N, input_size) or (input_size,); hx (N, H)
    or (H,), zeros when omitted.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh"):
        _check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity}"
        return super().extra_repr() + extra

    def forward(self, input, hx=None) -> Tensor:
        return self._run(input, [("hx", hx)], partial(rnn_step, nonlinearity=self.nonlinearity))


class LSTMCell(_Cell):
    """One step of an LSTM, as ``torch.nn.LSTMCell`` (equations in ``lstm_step``).

    ``cell(input, hx=None)`` -> (h', c'). hx is a pair (h, c), each (N, H) or (H,);
    both zeros when omitted. Weights stack the gates i, f, g, o: (4 H, input_size).
    """

    num_gates = 4

    def forward(self, input, hx=None) -> tuple[Tensor, Tensor]:
        h, c = _split_lstm_state("LSTMCell", hx)
        return self._run(input, [("hx[0] (h)", h), ("hx[1] (c)", c)], lstm_step)


class GRUCell(_Cell):
    """One step of a GRU, as ``torch.nn.GRUCell`` (equations in ``gru_step``).

    ``cell(input, hx=None)`` -> h'. Weights stack the gates r, z, n: (3 H, input_size).
    """

    num_gates = 3

    def forward(self, input, hx=None) -> Tensor:
        return self._run(input, [("hx", hx)], gru_step)


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
    """What RNN, LSTM and GRU share: the weights of every layer k (``_add_weights`` with
    the suffix _l{k}; layer k > 0 reads H features) and ``_run``."""

    num_gates = 1

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
        for layer in range(num_layers):  # the layers above layer 0 read its h_t
            _add_weights(self, f"_l{layer}", input_size if layer == 0 else hidden_size, hidden_size, bias)

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

    def _run(self, input, initial_states: list, sequence) -> tuple[Tensor, tuple]:
        """The forward pass, each layer one call of ``sequence(input_part, *state,
        weight_hh, bias_hh) -> (h_1..h_L, *last state)``: returns the output sequence and
        the final states stacked over layers, e.g. (output, (h_n,)) or (output, (h_n, c_n))."""
        x, initial, batched = self._prepare(input, initial_states)  # x is (L, N, features)
        layer_input = x
        final = [[] for _ in initial]  # per state kind (h, c), one entry per layer
        for layer in range(self.num_layers):
            weight_ih, weight_hh, bias_ih, bias_hh = self.layer_parameters(layer)
            # x_t W_ih^T + b_ih does not depend on the previous step: one product
            # (L*N, features) x (features, G*H) for all L steps instead of L small ones
            # (fewer ops, better use of BLAS; backward, too, makes one product for dW_ih).
            # Only h W_hh^T has to wait for the previous step.
            L, N, features = layer_input.shape
            input_part = linear(layer_input.reshape(L * N, features), weight_ih, bias_ih)
            input_part = input_part.reshape(L, N, -1)
            state = [s[layer] for s in initial]
            layer_input, *state = sequence(input_part, *state, weight_hh, bias_hh)
            for kind, s in enumerate(state):
                final[kind].append(s)
        output = layer_input
        final_states = tuple(stack(per_layer) for per_layer in final)  # (num_layers, N, H)
        if not batched:
            return output[:, 0], tuple(s[:, 0] for s in final_states)
        if self.batch_first:
            output = output.transpose(1, 0, 2)
        return output, final_states

    def _prepare(self, input, states: list) -> tuple[Tensor, list, bool]:
        """Check the input and the initial states; return the input as (L, N, features),
        the states as (num_layers, N, H) (zeros for missing ones), and whether the input
        had a batch axis."""
        name = type(self).__name__
        layout = "(N, L, input_size)" if self.batch_first else "(L, N, input_size)"
        x, batched = _check_input(name, input, self.input_size, 3, f"{layout} or (L, input_size)")
        if not batched:
            x = x[:, None]  # one sequence is a batch of one; the axis is dropped at the end
        elif self.batch_first:
            x = x.transpose(1, 0, 2)  # the loop runs over the first axis: time
        if x.shape[0] == 0:
            raise ValueError(f"{name}: the input sequence is empty (shape {tuple(input.shape)})")
        return x, _prepare_states(name, states, (self.num_layers,), x, self.hidden_size, batched), batched


class RNN(_RecurrentLayers):
    """A multi-layer Elman RNN, as ``torch.nn.RNN``. At every step t, in every layer::

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

    def forward(self, input, hx=None) -> tuple[Tensor, Tensor]:
        sequence = partial(rnn_sequence, nonlinearity=self.nonlinearity)
        output, (h_n,) = self._run(input, [("h_0", hx)], sequence)
        return output, h_n


class LSTM(_RecurrentLayers):
    """A multi-layer LSTM, as ``torch.nn.LSTM`` (step equations in ``lstm_step``).

    ``lstm(input, hx=None)`` -> (output, (h_n, c_n)); hx is the pair (h_0, c_0), each
    (num_layers, N, H), zeros by default. Weights stack the gates i, f, g, o.
    """

    num_gates = 4

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0):
        if proj_size != 0:
            raise NotImplementedError(
                f"LSTM: proj_size is not implemented in minigrad (got proj_size={proj_size!r}); leave it at 0"
            )
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)

    def forward(self, input, hx=None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h_0, c_0 = _split_lstm_state("LSTM", hx)
        output, (h_n, c_n) = self._run(input, [("h_0 (hx[0])", h_0), ("c_0 (hx[1])", c_0)], lstm_sequence)
        return output, (h_n, c_n)


class GRU(_RecurrentLayers):
    """A multi-layer GRU, as ``torch.nn.GRU`` (step equations in ``gru_step``).

    ``gru(input, hx=None)`` -> (output, h_n). Weights stack the gates r, z, n.
    """

    num_gates = 3

    def forward(self, input, hx=None) -> tuple[Tensor, Tensor]:
        output, (h_n,) = self._run(input, [("h_0", hx)], gru_sequence)
        return output, h_n
