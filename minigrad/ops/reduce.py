"""Reductions: sum, mean, max, min, var, logsumexp over some axes.

A reduction maps many inputs to one output, so its backward does the opposite: it
copies the output gradient back to every input that contributed (``broadcast_to``),
weighted by how much each one mattered (1 for sum, 1/n for mean, 1/k for the k tied
maxima of max). ``mean``, ``var`` and ``logsumexp`` are written with other ops, so
their gradients (of every order) come for free.
"""

from __future__ import annotations

import builtins

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .shape import broadcast_to, reshape


def normalize_axes(axis, ndim: int) -> tuple:
    """None -> every axis; an int or a sequence of ints (negative allowed) -> a sorted tuple."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    result = []
    for a in axes:
        if not -builtins.max(ndim, 1) <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        result.append(a % builtins.max(ndim, 1))
    if len(set(result)) != len(result):
        raise ValueError(f"repeated axis in {axis}")
    # a 0-d tensor accepts axis 0 or -1 (as PyTorch) and has no axis to reduce
    return tuple(sorted(result)) if ndim else ()


def kept_shape(shape: tuple, axes: tuple) -> tuple:
    """The shape of the result with keepdims=True: reduced axes become 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """y = sum of x over ``axes``;  dy/dx_i = 1, so the gradient is copied back."""

    def forward(self, x, axes, keepdims):
        self.input_shape, self.axes = x.shape, axes
        return x.sum(axis=axes, keepdims=keepdims)

    def backward(self, grad):
        grad = reshape(grad, kept_shape(self.input_shape, self.axes))
        return broadcast_to(grad, self.input_shape)


class Max(Function):
    """y = max of x over ``axes``;  the gradient goes to the maximal entries, shared
    equally among ties (as ``torch.amax``): dy/dx_i = [x_i == y] / (number of ties)."""

    def forward(self, x, axes, keepdims, take_min=False):
        self.input_shape, self.axes = x.shape, axes
        y = x.min(axis=axes, keepdims=True) if take_min else x.max(axis=axes, keepdims=True)
        is_extreme = x == y
        self.save_for_backward(is_extreme / is_extreme.sum(axis=axes, keepdims=True, dtype=x.dtype))
        return y if keepdims else y.reshape(tuple(n for i, n in enumerate(y.shape) if i not in axes))

    def backward(self, grad):
        (share,) = self.saved_tensors
        return reshape(grad, kept_shape(self.input_shape, self.axes)) * share


def sum(x, axis=None, keepdims=False):
    return Sum.apply(x, axes=normalize_axes(axis, x.ndim), keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    """sum / n, where n is the number of entries averaged."""
    axes = normalize_axes(axis, x.ndim)
    count = 1
    for a in axes:
        count *= x.shape[a]
    return sum(x, axes, keepdims) / count


def max(x, axis=None, keepdims=False):
    _check_not_empty(x, "max")
    return Max.apply(x, axes=normalize_axes(axis, x.ndim), keepdims=keepdims)


def min(x, axis=None, keepdims=False):
    _check_not_empty(x, "min")
    return Max.apply(x, axes=normalize_axes(axis, x.ndim), keepdims=keepdims, take_min=True)


def var(x, axis=None, keepdims=False, ddof=0):
    """sum((x - mean)^2) / (n - ddof): ddof=0 is NumPy's default, ddof=1 PyTorch's."""
    axes = normalize_axes(axis, x.ndim)
    count = 1
    for a in axes:
        count *= x.shape[a]
    centered = x - mean(x, axes, keepdims=True)
    return sum(centered * centered, axes, keepdims) / builtins.max(count - ddof, 0)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) computed as m + log(sum(exp(x - m))) with m = max(x).

    Subtracting the max keeps exp's argument <= 0, so logits of 1e4 do not overflow.
    m is a constant here (detached): the result does not depend on the choice of m,
    so its gradient through m would be zero anyway.
    """
    axes = normalize_axes(axis, x.ndim)
    xp = get_array_module(x.data)
    m = x.data.max(axis=axes, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)  # all -inf (or inf) rows: leave them to exp/log
    shift = Tensor._make(m)
    out = (x - shift).exp().sum(axes, keepdims=True).log() + shift
    return out if keepdims else reshape(out, tuple(n for i, n in enumerate(out.shape) if i not in axes))


def _check_not_empty(x, name):
    if x.data.size == 0:
        raise ValueError(f"{name}() of an empty tensor (shape {x.shape}) has no value")
