"""A whole RNN, LSTM or GRU layer as one op: the time loop in forward, and
backpropagation through time (BPTT) written out in backward.

An Elman RNN layer computes, for t = 1, ..., L::

    u_t = x_t W_ih^T + b_ih                          the input part (``input_part``)
    a_t = u_t + h_{t-1} W^T + b                      W = W_hh (H, H), b = b_hh (H,)
    h_t = f(a_t)                                     f = tanh or relu

where the layer hands over u_t for all steps at once (one product, see
``layers/recurrent.py``). Recorded step by step (``rnn_step``), that is some eleven ops
per step, forward and backward, and on short arrays their Python bookkeeping costs more
than their arithmetic. As one op, forward is a plain loop over arrays, and backward
receives dL/dh_t for every t from the output sequence, and dL/dh_n from the last state
(two outputs of the op), and walks back in time::

    dL/dh_t = (dL/dh_t from the output) + da_{t+1} W     h_t feeds the output and step t+1
    da_t    = dL/da_t = dL/dh_t * f'(a_t)                f' = 1 - h_t^2 (tanh), [h_t > 0] (relu)

    dL/du_t = da_t,    dL/dh_0 = da_1 W,

and, because every step uses the same W and b, their gradients are sums over t, done
after the loop as one product over all steps::

    dL/dW = sum_t da_t^T h_{t-1},    dL/db = sum_t sum_n da_t[n]

This is the same arithmetic as the recorded steps, with the per-step sums for W and b
moved out of the loop; the tests check the two against each other and against PyTorch.
``LSTMSequence`` and ``GRUSequence`` do the same for the LSTM and the GRU (cuDNN fuses
recurrent layers like this on GPUs). The letters are the same in all three: u for the
input part, v = h_{t-1} W^T + b for the hidden part, a for the pre-activation (u + v;
u + r * v in the GRU's n block), and d for dL/d.

**Gradients of gradients.** These backwards write into preallocated arrays step by
step, like a hand-written NumPy program: that is what makes them fast, but it is not a
formula the engine can record. So when a graph of the backward is asked for
(``create_graph=True``), backward runs the recorded steps once more
(``recorded_sequence`` of ``rnn_step``, ``lstm_step`` or ``gru_step``, at the end of
this file: the layers' equations, one step each) from the same inputs and lets the
engine differentiate them: slower, and differentiable again.
"""

from __future__ import annotations

from ..autograd import Function, grad, is_grad_enabled
from ..backend import get_array_module
from ..tensor import Tensor
from .elementwise import relu, sigmoid, sigmoid_array, tanh
from .linalg import linear
from .shape import split, stack, unbind


class _Sequence(Function):
    """What the three ops share: the weight and bias gradients after the loop, and the
    fallback to the recorded steps under create_graph."""

    def weight_and_bias_gradients(self, dv, h0, hs):
        """dW = sum_t dv_t^T h_{t-1} and db = sum_t sum_n dv_t[n], from dv (L, N, G*H),
        the gradient of v_t = h_{t-1} W^T + b at every step (da_t for the RNN and the
        LSTM), h_0 (N, H) and h_1..h_L (L, N, H), as one product each."""
        steps, batch, _ = dv.shape
        rows = dv.reshape(steps * batch, -1)
        grad_weight = grad_bias = None
        if self.needs_grad(self.weight_index):  # h_0 apart, h_1..h_{L-1} in one product
            grad_weight = dv[0].T @ h0 + rows[batch:].T @ hs[:-1].reshape((steps - 1) * batch, hs.shape[-1])
        if len(self.edges) > self.weight_index + 1 and self.needs_grad(self.weight_index + 1):
            grad_bias = get_array_module(rows).ones(len(rows), dtype=rows.dtype) @ rows  # see Linear
        return grad_weight, grad_bias

    def backward_of_recorded_steps(self, output_grads):
        """Under create_graph: the gradients of the same computation recorded step by
        step, which the engine can differentiate again."""
        inputs = self.saved_tensors[:len(self.edges)]
        wanted = [i for i in range(len(inputs)) if self.needs_grad(i)]
        used = [(o, g) for o, g in zip(self.recorded_steps(*inputs), output_grads) if g is not None]
        grads = grad([o for o, _ in used], [inputs[i] for i in wanted], [g for _, g in used], create_graph=True)
        result = [None] * len(inputs)
        for i, g in zip(wanted, grads):
            result[i] = g
        return tuple(result)


def _last_state_gradient(grad, like):
    """The gradient that came to h_n (or c_n), zeros if none came."""
    return get_array_module(like).zeros(like.shape[1:], dtype=like.dtype) if grad is None else grad


class RNNSequence(_Sequence):
    """One RNN layer (see the module docstring): two outputs, h_1..h_L as (L, N, H), and
    h_L = h_n as (N, H). Having h_n as an output of its own, backward gets dL/dh_n
    directly instead of a full-size array of zeros with one slice set (the usual case:
    a classifier reads only h_n)."""

    weight_index = 2  # inputs: input_part, h0, weight, bias

    def forward(self, input_part, h0, weight, bias=None, nonlinearity="tanh"):
        xp = get_array_module(input_part)
        self.nonlinearity = nonlinearity
        output = xp.empty(input_part.shape, dtype=xp.result_type(input_part, h0, weight))  # as the steps would
        h = h0
        for t in range(input_part.shape[0]):
            v = h @ weight.T
            if bias is not None:
                v += bias
            a = input_part[t] + v  # rnn_step's order and dtypes, so the sums round alike
            h = xp.tanh(a, out=output[t]) if nonlinearity == "tanh" else xp.maximum(a, 0, out=output[t])
        inputs = (input_part, h0, weight) if bias is None else (input_part, h0, weight, bias)
        self.save_for_backward(*inputs, output)  # output as a plain array: read, never differentiated
        return output, output[-1]

    def backward(self, grad_output, grad_h_n):
        if is_grad_enabled():
            return self.backward_of_recorded_steps((grad_output, grad_h_n))
        saved = self.saved_tensors
        h0, weight, output = saved[1], saved[2], saved[-1]
        da = get_array_module(output).empty_like(output)  # da[t] = dL/da_t
        dh = _last_state_gradient(grad_h_n, output)
        for t in reversed(range(len(output))):
            if grad_output is not None:
                dh = grad_output[t] + dh
            h_t = output[t]
            da[t] = dh * (1 - h_t * h_t) if self.nonlinearity == "tanh" else dh * (h_t > 0)
            dh = da[t] @ weight  # dL/dh_{t-1}
        grad_weight, grad_bias = self.weight_and_bias_gradients(da, h0, output)
        return da, dh, grad_weight, grad_bias

    def recorded_steps(self, input_part, h0, weight, bias=None):
        return recorded_sequence(rnn_step, input_part, (h0,), weight, bias, nonlinearity=self.nonlinearity)


def rnn_sequence(input_part, h0, weight_hh, bias_hh=None, nonlinearity: str = "tanh"):
    """All steps of one RNN layer: input_part (L, N, H) = x W_ih^T + b_ih for every step,
    h0 (N, H), weight_hh (H, H), bias_hh (H,) or None -> (h_1..h_L as (L, N, H), h_L)."""
    inputs = (input_part, h0, weight_hh) if bias_hh is None else (input_part, h0, weight_hh, bias_hh)
    return RNNSequence.apply(*inputs, nonlinearity=nonlinearity)


class LSTMSequence(_Sequence):
    """One LSTM layer: three outputs, h_1..h_L as (L, N, H), h_n = h_L and c_n = c_L.

    Forward, as ``lstm_step`` at every step (gates in PyTorch's order i, f, g, o)::

        [a_i, a_f, a_g, a_o] = u_t + h_{t-1} W^T + b       u_t = x_t W_ih^T + b_ih (input_part)
        i, f, o = sigmoid(a_i, a_f, a_o),   g = tanh(a_g)
        c_t = f * c_{t-1} + i * g,          h_t = o * tanh(c_t)

    Backward, from the last step to the first, with dh and dc what reaches h_t and c_t
    (from the outputs, and from step t+1 through da_{t+1} W and dc_{t+1} * f_{t+1})::

        dc   = dc + dh * o * (1 - tanh(c_t)^2)               c_t reaches h_t through tanh
        da_t = [dc * g * i (1 - i),  dc * c_{t-1} * f (1 - f),  dc * i * (1 - g^2),
                dh * tanh(c_t) * o (1 - o)]

    and dW, db after the loop, as for the RNN.
    """

    weight_index = 3  # inputs: input_part, h0, c0, weight, bias

    def forward(self, input_part, h0, c0, weight, bias=None):
        xp = get_array_module(input_part)
        steps, batch, hidden = input_part.shape[0], input_part.shape[1], h0.shape[-1]
        dtype = xp.result_type(input_part, h0, c0, weight)  # as the recorded steps would promote
        states = xp.empty((2, steps, batch, hidden), dtype=dtype)  # h_t, c_t
        gates = xp.empty(input_part.shape, dtype=dtype)  # i, f, g, o at every step
        h, c = h0, c0
        for t in range(steps):
            v = h @ weight.T
            if bias is not None:
                v += bias
            a = input_part[t] + v  # lstm_step's order and dtypes, so the sums round alike
            gates[t] = sigmoid_array(a)
            gates[t, :, 2 * hidden:3 * hidden] = xp.tanh(a[:, 2 * hidden:3 * hidden])
            i, f, g, o = (gates[t, :, k * hidden:(k + 1) * hidden] for k in range(4))
            c = states[1, t] = f * c + i * g
            h = states[0, t] = o * xp.tanh(c)
        inputs = (input_part, h0, c0, weight) if bias is None else (input_part, h0, c0, weight, bias)
        self.save_for_backward(*inputs, states, gates)  # plain arrays: read, never differentiated
        return states[0], states[0, -1], states[1, -1]

    def backward(self, grad_hs, grad_h_n, grad_c_n):
        if is_grad_enabled():
            return self.backward_of_recorded_steps((grad_hs, grad_h_n, grad_c_n))
        saved = self.saved_tensors
        h0, c0, weight = saved[1], saved[2], saved[3]
        (hs, cs), gates = saved[-2], saved[-1]
        xp = get_array_module(gates)
        hidden = h0.shape[-1]
        da = xp.empty_like(gates)  # da[t] = dL/d[a_i, a_f, a_g, a_o] at step t
        dh, dc = _last_state_gradient(grad_h_n, hs), _last_state_gradient(grad_c_n, cs)
        for t in reversed(range(len(gates))):
            i, f, g, o = (gates[t, :, k * hidden:(k + 1) * hidden] for k in range(4))
            c_previous = cs[t - 1] if t > 0 else c0
            tanh_c = xp.tanh(cs[t])
            if grad_hs is not None:
                dh = grad_hs[t] + dh
            dc = dc + dh * o * (1 - tanh_c * tanh_c)
            da[t, :, :hidden] = dc * g * i * (1 - i)
            da[t, :, hidden:2 * hidden] = dc * c_previous * f * (1 - f)
            da[t, :, 2 * hidden:3 * hidden] = dc * i * (1 - g * g)
            da[t, :, 3 * hidden:] = dh * tanh_c * o * (1 - o)
            dh, dc = da[t] @ weight, dc * f  # what reaches h_{t-1} and c_{t-1}
        grad_weight, grad_bias = self.weight_and_bias_gradients(da, h0, hs)
        return da, dh, dc, grad_weight, grad_bias

    def recorded_steps(self, input_part, h0, c0, weight, bias=None):
        return recorded_sequence(lstm_step, input_part, (h0, c0), weight, bias)


def lstm_sequence(input_part, h0, c0, weight_hh, bias_hh=None):
    """All steps of one LSTM layer: input_part (L, N, 4H) = x W_ih^T + b_ih for every step,
    h0 and c0 (N, H), weight_hh (4H, H), bias_hh (4H,) or None -> (h_1..h_L as (L, N, H),
    h_L, c_L)."""
    inputs = (input_part, h0, c0, weight_hh) if bias_hh is None else (input_part, h0, c0, weight_hh, bias_hh)
    return LSTMSequence.apply(*inputs)


class GRUSequence(_Sequence):
    """One GRU layer: two outputs, h_1..h_L as (L, N, H), and h_n = h_L, as RNNSequence.

    Forward, as ``gru_step`` at every step (gates in PyTorch's order r, z, n), with
    [u_r, u_z, u_n] = u_t (input_part) and [v_r, v_z, v_n] = v_t = h_{t-1} W^T + b::

        a_r = u_r + v_r,   a_z = u_z + v_z,   a_n = u_n + r * v_n
        r = sigmoid(a_r),  z = sigmoid(a_z),  n = tanh(a_n)
        h_t = (1 - z) * n + z * h_{t-1}

    Backward, from the last step to the first, with dh what reaches h_t::

        da_n = dh * (1 - z) * (1 - n^2)              through n = tanh(a_n)
        da_r = da_n * v_n * r (1 - r)                r multiplies v_n
        da_z = dh * (h_{t-1} - n) * z (1 - z)
        du_t = [da_r, da_z, da_n],   dv_t = [da_r, da_z, da_n * r]
        dh_{t-1} = dh * z + dv_t W

    and dW, db from dv after the loop, as for the RNN. (Only the n block differs between
    the two: the reset gate multiplies the hidden part, bias included, not the input part.)
    """

    weight_index = 2  # inputs: input_part, h0, weight, bias

    def forward(self, input_part, h0, weight, bias=None):
        xp = get_array_module(input_part)
        hidden = h0.shape[-1]
        output = xp.empty(input_part.shape[:2] + (hidden,), dtype=xp.result_type(input_part, h0, weight))
        saved = xp.empty(input_part.shape[:2] + (4 * hidden,), dtype=output.dtype)  # r, z, n, v_n per step
        h = h0
        for t in range(input_part.shape[0]):
            v = h @ weight.T
            if bias is not None:
                v += bias
            u = input_part[t]
            r = saved[t, :, :hidden] = sigmoid_array(u[:, :hidden] + v[:, :hidden])
            z = saved[t, :, hidden:2 * hidden] = sigmoid_array(u[:, hidden:2 * hidden] + v[:, hidden:2 * hidden])
            n = saved[t, :, 2 * hidden:3 * hidden] = xp.tanh(u[:, 2 * hidden:] + r * v[:, 2 * hidden:])
            saved[t, :, 3 * hidden:] = v[:, 2 * hidden:]
            h = output[t] = (1 - z) * n + z * h
        inputs = (input_part, h0, weight) if bias is None else (input_part, h0, weight, bias)
        self.save_for_backward(*inputs, output, saved)  # plain arrays: read, never differentiated
        return output, output[-1]

    def backward(self, grad_output, grad_h_n):
        if is_grad_enabled():
            return self.backward_of_recorded_steps((grad_output, grad_h_n))
        saved_tensors = self.saved_tensors
        h0, weight, output = saved_tensors[1], saved_tensors[2], saved_tensors[-2]
        saved = saved_tensors[-1]
        xp = get_array_module(saved)
        hidden = h0.shape[-1]
        du = xp.empty(saved.shape[:2] + (3 * hidden,), dtype=saved.dtype)  # du[t] = dL/du_t
        dv = xp.empty_like(du)  # dv[t] = dL/dv_t
        dh = _last_state_gradient(grad_h_n, output)
        for t in reversed(range(len(output))):
            r, z, n, v_n = (saved[t, :, k * hidden:(k + 1) * hidden] for k in range(4))
            h_previous = output[t - 1] if t > 0 else h0
            if grad_output is not None:
                dh = grad_output[t] + dh
            da_n = dh * (1 - z) * (1 - n * n)
            da_r = da_n * v_n * r * (1 - r)
            da_z = dh * (h_previous - n) * z * (1 - z)
            du[t, :, :hidden] = dv[t, :, :hidden] = da_r
            du[t, :, hidden:2 * hidden] = dv[t, :, hidden:2 * hidden] = da_z
            du[t, :, 2 * hidden:] = da_n
            dv[t, :, 2 * hidden:] = da_n * r
            dh = dh * z + dv[t] @ weight  # what reaches h_{t-1}
        grad_weight, grad_bias = self.weight_and_bias_gradients(dv, h0, output)
        return du, dh, grad_weight, grad_bias

    def recorded_steps(self, input_part, h0, weight, bias=None):
        return recorded_sequence(gru_step, input_part, (h0,), weight, bias)


def gru_sequence(input_part, h0, weight_hh, bias_hh=None):
    """All steps of one GRU layer: input_part (L, N, 3H) = x W_ih^T + b_ih for every step,
    h0 (N, H), weight_hh (3H, H), bias_hh (3H,) or None -> (h_1..h_L as (L, N, H), h_L)."""
    inputs = (input_part, h0, weight_hh) if bias_hh is None else (input_part, h0, weight_hh, bias_hh)
    return GRUSequence.apply(*inputs)


# -------------------------------------------------------------------------------------
# One time step: the equations. Each step function receives
#
#     input_part = x W_ih^T + b_ih          (shape (N, gates * H); u_t in the ops above)
#
# already computed, because the sequence modules compute it for all time steps at once
# (see ``layers/recurrent.py``). What is left is the part that depends on the
# previous state and so must wait for the previous step.


def rnn_step(input_part: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None,
             nonlinearity: str = "tanh") -> Tensor:
    """One step of the Elman RNN::

        h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)     (relu instead of tanh if asked)

    ``input_part`` is x W_ih^T + b_ih, computed by the caller.
    """
    pre_activation = input_part + linear(h, weight_hh, bias_hh)
    if nonlinearity == "tanh":
        return tanh(pre_activation)
    if nonlinearity == "relu":
        return relu(pre_activation)
    raise ValueError(f"rnn_step: unknown nonlinearity {nonlinearity!r}; choose 'tanh' or 'relu'")


def lstm_step(input_part: Tensor, h: Tensor, c: Tensor, weight_hh: Tensor,
              bias_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    """One step of the LSTM. The four gates come from one product, in PyTorch's order
    i, f, g, o (rows 0:H, H:2H, 2H:3H, 3H:4H of the weights)::

        gates = x W_ih^T + b_ih + h W_hh^T + b_hh
        i = sigmoid(gates_i)      input gate: how much of the candidate to write
        f = sigmoid(gates_f)      forget gate: how much of the old cell to keep
        g = tanh(gates_g)         candidate cell values
        o = sigmoid(gates_o)      output gate: how much of the cell to show
        c' = f * c + i * g
        h' = o * tanh(c')

    The cell c' is a sum, not a squashed product, so its gradient flows back through
    many steps scaled only by f: that is how the LSTM remembers for long.
    """
    gates = input_part + linear(h, weight_hh, bias_hh)
    gate_i, gate_f, gate_g, gate_o = split(gates, 4, axis=-1)  # one op: see ops/shape.py Split
    i, f, g, o = sigmoid(gate_i), sigmoid(gate_f), tanh(gate_g), sigmoid(gate_o)
    c_next = f * c + i * g
    h_next = o * tanh(c_next)
    return h_next, c_next


def gru_step(input_part: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> Tensor:
    """One step of the GRU, gates in PyTorch's order r, z, n (rows 0:H, H:2H, 2H:3H)::

        r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)         reset gate
        z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)         update gate
        n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))      candidate state
        h' = (1 - z) * n + z * h

    The reset gate multiplies the hidden part *including its bias* b_hn, which is why
    the input part and the hidden part are kept apart here (PyTorch does the same).
    """
    input_r, input_z, input_n = split(input_part, 3, axis=-1)
    hidden_r, hidden_z, hidden_n = split(linear(h, weight_hh, bias_hh), 3, axis=-1)
    r = sigmoid(input_r + hidden_r)
    z = sigmoid(input_z + hidden_z)
    n = tanh(input_n + r * hidden_n)
    return (1 - z) * n + z * h


def recorded_sequence(step, input_part: Tensor, state: tuple, weight_hh: Tensor, bias_hh: Tensor | None = None,
                      **options) -> tuple:
    """All steps of one layer recorded one by one, as ordinary ops: ``step``
    (``rnn_step``, ``lstm_step`` or ``gru_step``) at t = 1, ..., L, each step's state
    the next one's input. ``state`` is (h_0,), or (h_0, c_0) for ``lstm_step``; options
    go to the step (``nonlinearity=`` for ``rnn_step``).

    Returns what ``rnn_sequence`` (``lstm_sequence``, ``gru_sequence``) returns: the same
    numbers, bit for bit, as (h_1..h_L as (L, N, H), h_L) or (h_1..h_L, h_L, c_L). Backward
    walks the recorded chain from the last step to the first: BPTT done by the engine.
    The one-op layers run it under create_graph, and the tests check them against it.
    """
    hs = []
    # unbind: the L steps as one op, whose backward stacks their gradients (slicing
    # input_part[t] L times would make L full-size gradient arrays)
    for input_part_t in unbind(input_part):
        state = step(input_part_t, *state, weight_hh, bias_hh, **options)
        if not isinstance(state, tuple):  # rnn_step and gru_step give h, lstm_step (h, c)
            state = (state,)
        hs.append(state[0])
    return (stack(hs), *state)
