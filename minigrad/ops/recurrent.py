"""A whole simple-RNN layer as one op: the time loop in forward, and backpropagation
through time (BPTT) written out in backward.

An Elman RNN layer computes, for t = 1, ..., L (lesson 13's symbols),

    u_t = x_t W_ih^T + b_ih + h_{t-1} W^T + b       W = W_hh (H, H), b = b_hh (H,)
    h_t = f(u_t)                                     f = tanh or relu

where the layer hands over ``input_part`` = x_t W_ih^T + b_ih for all steps at once (one
product, see ``layers/recurrent.py``). Recorded step by step (``rnn_step``), that is
some eleven ops per step, forward and backward, and on short arrays their Python
bookkeeping costs more than their arithmetic. As one op, forward is a plain loop over
arrays, and backward receives dL/dh_t for every t (from the layer's output; the last
one also carries what came through h_n) and walks back in time:

    dL/dh_t = (dL/dh_t from the output) + da_{t+1} W     h_t feeds the output and step t+1
    da_t    = dL/du_t = dL/dh_t * f'(u_t)                f' = 1 - h_t^2 (tanh), [h_t > 0] (relu)

    dL/d input_part_t = da_t,    dL/dh_0 = da_1 W,

and, because every step uses the same W and b, their gradients are sums over t, done
after the loop as one product over all steps:

    dL/dW = sum_t da_t^T h_{t-1},    dL/db = sum_t sum_n da_t[n]

The same arithmetic as the recorded steps, with the per-step sums for W and b moved
out of the loop; the tests check the two against each other and against PyTorch. The
backward is made of Tensor ops, so second derivatives still work. (cuDNN fuses RNNs
the same way on GPUs; the LSTM and GRU layers here still record every step.)
"""

from __future__ import annotations

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor, ones
from .elementwise import Add, TanhBackward
from .linalg import MatMul
from .shape import stack, unbind


class RNNSequence(Function):
    """h_1, ..., h_L of one RNN layer (see the module docstring), returned as (L, N, H)."""

    def forward(self, input_part, h0, weight, bias=None, nonlinearity="tanh"):
        xp = get_array_module(input_part)
        self.nonlinearity = nonlinearity
        output = xp.empty(input_part.shape, dtype=input_part.dtype)
        h = h0
        for t in range(input_part.shape[0]):
            a = h @ weight.T
            if bias is not None:
                a += bias
            a += input_part[t]  # u_t + (h W^T + b): rnn_step's order, so the sums round alike
            h = xp.tanh(a, out=output[t]) if nonlinearity == "tanh" else xp.maximum(a, 0, out=output[t])
        self.save_for_backward(h0, weight, output)
        return output

    def backward(self, grad):
        h0, weight, output = self.saved_tensors
        steps, batch, hidden = output.shape
        grads, hs = unbind(grad), unbind(output)  # dL/dh_t from the output, and h_t
        da, dh = [None] * steps, None
        # Add.apply and MatMul.apply rather than + and @: the shapes are known to agree,
        # so the operators' argument checks are skipped, about 2 us a step (deep_rnn: 1,000)
        for t in reversed(range(steps)):
            dh_t = grads[t] if t == steps - 1 else Add.apply(grads[t], dh)
            if self.nonlinearity == "tanh":
                da[t] = TanhBackward.apply(dh_t, hs[t])  # dh_t * (1 - h_t^2)
            else:
                da[t] = dh_t * Tensor._make(hs[t].data > 0)
            dh = MatMul.apply(da[t], weight) if t > 0 or self.needs_grad(1) else None  # dL/dh_{t-1}
        grad_input_part = stack(da)  # (L, N, H): dL/du_t for every t
        rows = grad_input_part.reshape(steps * batch, hidden)
        grad_weight = grad_bias = None
        if self.needs_grad(2):  # sum_t da_t^T h_{t-1}: h_0 apart, h_1..h_{L-1} in one product
            grad_weight = da[0].T @ h0 + rows[batch:].T @ output[:-1].reshape((steps - 1) * batch, hidden)
        if len(self.edges) == 4 and self.needs_grad(3):
            grad_bias = ones(steps * batch, dtype=rows.dtype, device=rows.device) @ rows  # see Linear
        return grad_input_part, dh, grad_weight, grad_bias


def rnn_sequence(input_part, h0, weight_hh, bias_hh=None, nonlinearity: str = "tanh"):
    """All steps of one RNN layer: input_part (L, N, H) = x W_ih^T + b_ih for every step,
    h0 (N, H), weight_hh (H, H), bias_hh (H,) or None -> h_1, ..., h_L as (L, N, H)."""
    inputs = (input_part, h0, weight_hh) if bias_hh is None else (input_part, h0, weight_hh, bias_hh)
    return RNNSequence.apply(*inputs, nonlinearity=nonlinearity)
