"""Matrix product, and the linear layer's y = x W^T + b as one op.

For C = A @ B with A (n, k) and B (k, m):  dL/dA = dL/dC @ B^T  and  dL/dB = A^T @ dL/dC.
(Each entry C_ij = sum_k A_ik B_kj, so dC_ij/dA_ik = B_kj: collecting these is a product.)
Stacks of matrices (leading batch axes) work the same with the last two axes swapped;
batch axes that were broadcast are summed back by the engine.
"""

from __future__ import annotations

import numpy

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import as_tensors
from .shape import reshape, transpose


class MatMul(Function):
    """C = A @ B (both at least 2-D);  dA = dC @ B^T, dB = A^T @ dC."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a @ b

    def backward(self, grad):
        a, b = self.saved_tensors
        grad_a = grad @ swap_last_axes(b) if self.needs_grad(0) else None
        grad_b = swap_last_axes(a) @ grad if self.needs_grad(1) else None
        return grad_a, grad_b


def swap_last_axes(x):
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return transpose(x, axes)


def matmul(a, b):
    """``a @ b`` with NumPy's rules: a 1-D operand is a row (left) or column (right)
    vector, and that axis is dropped from the result."""
    a, b = as_tensors((a, b))
    if a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0]:
        return MatMul.apply(a, b)  # the common case, checked at once (matmul is called often)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul needs tensors with at least 1 axis, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(
            f"matmul shape mismatch: {a.shape} @ {b.shape} "
            f"(the last axis of the first, {a.shape[-1]}, must equal the "
            f"{'second-to-last' if b.ndim > 1 else 'only'} axis of the second)"
        )
    try:
        numpy.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(
            f"matmul shape mismatch: {a.shape} @ {b.shape} "
            f"(the batch axes {a.shape[:-2]} and {b.shape[:-2]} cannot be broadcast together)"
        ) from None
    vector_a, vector_b = a.ndim == 1, b.ndim == 1
    if vector_a:
        a = reshape(a, (1, a.shape[0]))
    if vector_b:
        b = reshape(b, (b.shape[0], 1))
    out = MatMul.apply(a, b)
    if vector_a or vector_b:
        shape = out.shape[:-2] + (() if vector_a else out.shape[-2:-1]) + (() if vector_b else out.shape[-1:])
        out = reshape(out, shape)
    return out


class Linear(Function):
    """y = x W^T + b for x (N, in), W (out, in), b (out,) or no bias::

        dL/dx = dL/dy W,    dL/dW = (dL/dy)^T x,    dL/db = sum over the N rows of dL/dy

    The same as ``matmul(x, W.T) + b``, as one op instead of three (transpose, matmul,
    add with broadcasting) and with dW computed in W's own layout. It is the most used
    op of every model in this course; fusing it made the mlp training step 15% faster
    and the rnn step 18% (benchmarks/ workloads, 1 thread).
    """

    def forward(self, x, weight, bias=None):
        y = x @ weight.T
        if bias is None:
            self.save_for_backward(x, weight)
        else:
            y += bias  # in place on our own new array: 0.6 ms instead of 0.95 for the cnn's first conv
            # The bias gradient, the sum over rows, as (1, ..., 1) @ grad: on a
            # convolution's tall, narrow gradient, (50176, 16) in the cnn benchmark, BLAS
            # takes 0.16 ms where grad.sum(axis=0) takes 1.4 ms (1 thread).
            self.save_for_backward(x, weight, get_array_module(y).ones(len(y), dtype=y.dtype))
        return y

    def backward(self, grad):
        x, weight, *ones = self.saved_tensors
        grad_x = grad @ weight if self.needs_grad(0) else None
        grad_weight = grad.T @ x if self.needs_grad(1) else None
        grad_bias = ones[0] @ grad if ones and self.needs_grad(2) else None
        return grad_x, grad_weight, grad_bias


def linear(x, weight, bias=None):
    """y = x W^T + b, with W of shape (out_features, in_features) as in PyTorch. The
    input may have any number of leading axes, (*, in_features) -> (*, out_features)."""
    x, weight = as_tensors((x, weight))
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[-1]:
        raise ValueError(
            f"linear: input has {x.shape[-1] if x.ndim else 0} features (shape {x.shape}) but the weight "
            f"expects {weight.shape[-1]} (weight shape {weight.shape})"
        )
    inputs = (x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x, weight)
    if bias is not None:
        (bias,) = as_tensors((bias,))
        if bias.shape != weight.shape[:1]:
            raise ValueError(f"linear: bias must have shape {weight.shape[:1]} (out_features,), got {bias.shape}")
        inputs += (bias,)
    y = Linear.apply(*inputs)
    return y if x.ndim == 2 else y.reshape(*x.shape[:-1], weight.shape[0])
