"""Neural-network ops: softmax, log_softmax, dropout, embedding, batch_norm, layer_norm.

softmax_i = e^{x_i} / sum_j e^{x_j} is computed as e^{x_i - m} / sum_j e^{x_j - m} with
m = max_j x_j: the same value, but e^ never overflows, so logits of 1e4 are fine.
Softmax and log_softmax are Functions with a hand-written backward (one fused formula
is faster and more accurate than the chain of exp, sum and divide).

The rest are compositions of Tensor ops (multiply by a mask, index rows, mean, var,
sqrt, arithmetic), so their gradients, of every order, come from those ops: there is
no backward to write, and none to get wrong. Read them as the formulas they implement.
"""

from __future__ import annotations

from .. import random as _random
from ..autograd import Function
from ..backend import get_array_module, to_device
from ..tensor import Tensor
from .elementwise import exp
from .reduce import normalize_axes
from .shape import _index_array, getitem


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
        return grad - exp(y) * grad.sum(self.axis, keepdims=True)


class SoftmaxCrossEntropy(Function):
    """loss[n] = logsumexp(x[n]) - x[n, t[n]] for logits x (N, C) and true classes t (N,);
    dx[n] = (softmax(x[n]) - one_hot(t[n])) * dloss[n].

    log_softmax and the pick of the true class, fused into one op: its gradient is the
    famous "prediction minus target", one subtraction, where the two ops would scatter
    the gradient into zeros and then go back through log_softmax. Backward recomputes
    softmax from the input rather than keeping it, so that it stays differentiable.
    """

    def forward(self, x, target):
        xp = get_array_module(x)
        rows = xp.arange(len(target))
        one_hot = xp.zeros(x.shape, dtype=x.dtype)
        one_hot[rows, target] = 1
        self.save_for_backward(x, one_hot)
        shifted = x - x.max(axis=1, keepdims=True)  # the largest logit becomes 0: no overflow
        log_sum_exp = xp.log(xp.exp(shifted).sum(axis=1))
        return log_sum_exp - shifted[rows, target]

    def backward(self, grad):
        x, one_hot = self.saved_tensors
        return (softmax(x, axis=1) - one_hot) * grad.reshape(-1, 1)


def softmax(x, axis=-1):
    """e^{x_i} / sum_j e^{x_j} along ``axis``: non-negative entries that sum to 1."""
    return Softmax.apply(x, axis=_axis(axis, x.ndim))


def log_softmax(x, axis=-1):
    """log(softmax(x)) = x - logsumexp(x) along ``axis``, without computing softmax
    first (log of a softmax that underflowed to 0 would be -inf)."""
    return LogSoftmax.apply(x, axis=_axis(axis, x.ndim))


def _axis(axis, ndim) -> tuple:
    """``axis`` as the reductions take it: ``(axis,)``, counted from 0.

    A 0-d tensor accepts axis 0 and -1 (as PyTorch) and gets ``()``, no axis: it is a
    distribution over one value, so its softmax is 1, its log_softmax 0, and their
    gradient 0 (the formulas above give exactly that when they reduce over no axis).
    """
    if isinstance(axis, (tuple, list)):
        raise TypeError(f"softmax and log_softmax take one axis (an int), got {axis!r}")
    return normalize_axes(axis, ndim)


# -------------------------------------------------------------------------------------
# Dropout


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each entry with probability p, scale the rest by 1/(1-p).

    ::

        mask_i = 1 with probability 1 - p, else 0        (drawn once per call)
        y_i = x_i * mask_scaled_i,   mask_scaled = mask / (1 - p)

    so E[y_i] = x_i: the expected activation is the same in training and at test time,
    where dropout is the identity (``training=False``) and nothing needs rescaling.
    The mask is a constant, so dy/dx = mask_scaled: the dropped entries get no
    gradient and the kept ones the same scale. p = 1 drops everything (y = 0).

    The mask comes from minigrad's generator, on the CPU (see ``minigrad.random``), so
    ``manual_seed`` makes it repeat, on every device.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got p={p}")
    if not training or p == 0:
        return x
    if x.dtype.kind != "f":
        raise TypeError(f"dropout needs a floating point tensor, got dtype {x.dtype}")
    mask = _random.generator().random(x.shape) >= p  # P(u >= p) = 1 - p for u ~ U[0, 1)
    scale = 0.0 if p == 1 else 1 / (1 - p)  # p = 1: every mask_i is 0 anyway; avoid 1/0
    # Python float * float32 array stays float32 (NumPy 2), so x keeps its dtype.
    mask_scaled = mask.astype(x.dtype) * scale
    return x * Tensor._make(to_device(mask_scaled, x.device))


# -------------------------------------------------------------------------------------
# Embedding


def embedding(indices, weight: Tensor) -> Tensor:
    """Look up rows of ``weight``: y[..., :] = weight[indices[...], :].

    ``weight`` has shape (num_embeddings, dim); ``indices`` holds integers in
    [0, num_embeddings), of any shape S (a Tensor, NumPy array or list); y has shape
    S + (dim,). This is the same as one-hot(indices) @ weight, without building the
    one-hot matrix. Its gradient is therefore::

        dL/dweight[k, :] = sum of dy[s, :] over every position s with indices[s] = k,

    a scatter-add: a word that appears twice in a sentence gets both gradients. That is
    exactly the backward of integer-array indexing (``getitem``), which we reuse.
    """
    if weight.ndim != 2:
        raise ValueError(f"embedding weight must be 2-D (num_embeddings, dim), got shape {weight.shape}")
    if isinstance(indices, (list, tuple, int)):  # arrays and Tensors stay on their device
        indices = _index_array(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding indices must be integers (e.g. int64), got dtype {indices.dtype}")
    num_embeddings = weight.shape[0]
    index_array = indices.data if isinstance(indices, Tensor) else indices
    if index_array.size:
        # Check before indexing: a negative index would silently count from the end.
        low, high = int(index_array.min()), int(index_array.max())
        bad = low if low < 0 else high if high >= num_embeddings else None
        if bad is not None:
            raise ValueError(
                f"embedding index {bad} is out of range: the weight has {num_embeddings} "
                f"rows, so indices must be in [0, {num_embeddings})"
            )
    return getitem(weight, indices)


# -------------------------------------------------------------------------------------
# Normalisation: make each feature zero-mean, unit-variance, then rescale.


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation, as ``torch.nn.functional.batch_norm``.

    x is (N, C), (N, C, L) or (N, C, H, W). For each channel c, over the n = N*L (or
    N*H*W) values of that channel::

        mean_c = (1/n) sum x                      var_c = (1/n) sum (x - mean_c)^2
        x_hat  = (x - mean_c) / sqrt(var_c + eps)
        y      = weight_c * x_hat + bias_c        (weight = 1, bias = 0 when None)

    In training, mean_c and var_c are the statistics of this batch. They depend on x, so
    the gradient flows through them too (every example's output depends on the whole
    batch); composing Tensor ops gets that right without a hand-derived formula. The
    running statistics are updated in place (no graph) as::

        running_mean = (1 - momentum) * running_mean + momentum * mean_c
        running_var  = (1 - momentum) * running_var  + momentum * var_c * n / (n - 1)

    with the unbiased variance for running_var (as PyTorch). In evaluation
    (``training=False``), mean_c and var_c are the running statistics: each example is
    normalised on its own, the same way whatever else is in the batch.
    """
    if x.ndim not in (2, 3, 4):
        raise ValueError(
            f"batch_norm expects input of shape (N, C), (N, C, L) or (N, C, H, W), got {x.shape}"
        )
    channels = x.shape[1]
    axes = (0, *range(2, x.ndim))  # every axis but the channel axis
    per_channel = (1, channels) + (1,) * (x.ndim - 2)  # (C,) vectors broadcast as this
    vectors = {"running_mean": running_mean, "running_var": running_var, "weight": weight, "bias": bias}
    for name, t in vectors.items():
        if t is not None and t.shape != (channels,):
            raise ValueError(
                f"batch_norm: {name} must have shape ({channels},) for {channels} channels, got {t.shape}"
            )

    if training:
        n = x.data.size // channels
        if n <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {x.shape}"
            )
        mean = x.mean(axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axes, keepdims=True)  # biased: divide by n
        _update_running(running_mean, mean.data, momentum)
        _update_running(running_var, var.data * (n / (n - 1)), momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var must be given when training=False")
        centered = x - running_mean.reshape(per_channel)
        var = running_var.reshape(per_channel)

    x_hat = centered / (var + eps).sqrt()
    y = x_hat
    if weight is not None:
        y = y * weight.reshape(per_channel)
    if bias is not None:
        y = y + bias.reshape(per_channel)
    return y


def _update_running(running, batch_stat, momentum):
    """running <- (1 - momentum) * running + momentum * batch_stat, in place, no graph.

    Writing into the array (``[...] =``) keeps the buffer's identity and dtype, so a
    module holding it sees the new values."""
    if running is not None:
        running.data[...] = (1 - momentum) * running.data + momentum * batch_stat.reshape(running.shape)


def layer_norm(
    x: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Layer normalisation, as ``torch.nn.functional.layer_norm``.

    Each example is normalised over its last k = len(normalized_shape) axes (an int
    means one axis), which must have exactly that shape. Over those m values::

        mean  = (1/m) sum x                var = (1/m) sum (x - mean)^2   (biased)
        x_hat = (x - mean) / sqrt(var + eps)
        y     = x_hat * weight + bias          (weight = 1, bias = 0 when None)

    weight and bias have shape normalized_shape (one per normalised entry, not per
    example). Unlike batch_norm there are no running statistics: the statistics of
    one example never depend on the others, so training and evaluation are the same.
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or k > x.ndim or tuple(x.shape[x.ndim - k :]) != shape:
        raise ValueError(
            f"layer_norm: normalized_shape {shape} must match the last axes of the input, "
            f"but the input has shape {x.shape}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise ValueError(f"layer_norm: {name} must have shape normalized_shape {shape}, got {t.shape}")

    axes = tuple(range(x.ndim - k, x.ndim))
    mean = x.mean(axes, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(axes, keepdims=True)
    x_hat = centered / (var + eps).sqrt()
    y = x_hat
    # weight and bias have the trailing shape, so plain broadcasting lines them up
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y
