"""Neural-network ops: softmax, log_softmax, dropout, embedding, batch_norm, layer_norm.

softmax_i = e^{x_i} / sum_j e^{x_j} is computed as e^{x_i - m} / sum_j e^{x_j - m} with
m = max_j x_j: the same value, but e^ never overflows, so logits of 1e4 are fine.
"""

from __future__ import annotations

from ..autograd import Function
from ..backend import get_array_module


class Softmax(Function):
    """y = softmax(x) along ``axis``;  dx = y * (dy - sum(dy * y)) (the Jacobian is
    diag(y) - y y^T, applied to dy without building it)."""

    def forward(self, x, axis):
        self.axis = axis
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        y = e / e.sum(axis=axis, keepdims=True)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return y * (grad - (grad * y).sum(self.axis, keepdims=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x) along ``axis``;  dx = dy - softmax(x) * sum(dy), where
    softmax(x) = e^y."""

    def forward(self, x, axis):
        self.axis = axis
        xp = get_array_module(x)
        shifted = x - x.max(axis=axis, keepdims=True)
        y = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad - y.exp() * grad.sum(self.axis, keepdims=True)


def softmax(x, axis=-1):
    return Softmax.apply(x, axis=_axis(axis, x.ndim))


def log_softmax(x, axis=-1):
    return LogSoftmax.apply(x, axis=_axis(axis, x.ndim))


def _axis(axis, ndim):
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"axis {axis} is out of range for a tensor with {ndim} dimensions")
    return axis % max(ndim, 1)


def dropout(x, p=0.5, training=True):
    raise NotImplementedError


def embedding(indices, weight):
    raise NotImplementedError


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    raise NotImplementedError


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    raise NotImplementedError
