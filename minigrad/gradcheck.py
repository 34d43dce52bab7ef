"""Check backward against finite differences, one Jacobian entry at a time.

For y = f(x), the Jacobian J holds every partial derivative: J[i, j] = dy_i / dx_j for
each output entry i and input entry j. gradcheck builds it twice and compares entry by
entry, as PyTorch's gradcheck does:

* numerically, one column per input entry, by central differences::

      J[:, j]  ~  (f(x + eps e_j) - f(x - eps e_j)) / (2 eps)

  with an error of order eps^2 (forward differences, (f(x + eps e_j) - f(x)) / eps, are
  only order eps);
* analytically, one row per output entry, by backward: backward(v) computes v^T J, so
  with v = e_i (one-hot: 1 at output entry i, 0 elsewhere) it returns row i of J.

On failure it reports the first entry that disagrees, with both values: they are the
derivatives themselves, which a learner can work out by hand. Everything runs in
float64: in float32 the rounding error of f, about ``1e-7 * |f| / eps``, would swamp the
comparison.
"""

from __future__ import annotations

import numpy

from .tensor import Tensor, float64


class GradcheckError(AssertionError):
    """Backward and finite differences disagree."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3) -> bool:
    """Compare the Jacobian of ``fn(*inputs)`` from backward with central differences.

    Floating-point inputs that require grad are checked (as float64 copies); other
    inputs (integer indices, constants) are passed through. ``fn`` may return a tensor
    of any shape. An entry passes when
    ``|analytical - numerical| <= atol + rtol * |numerical|``. Returns True, or raises
    GradcheckError naming the input, the input and output indices of the first entry
    that fails, and its numerical and analytical values.
    """
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    leaves = [_float64_leaf(x) for x in inputs]
    checked = [i for i, x in enumerate(leaves) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad; pass tensors with requires_grad=True")

    output = fn(*leaves)
    if not isinstance(output, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(output).__name__}")
    analytical = _analytical_jacobians(output, [leaves[i] for i in checked])
    for i, jacobian in zip(checked, analytical):
        numerical = _numerical_jacobian(fn, leaves, i, eps)
        _compare(i, numerical, jacobian, output.shape, leaves[i].shape, atol, rtol)
    return True


def _analytical_jacobians(output: Tensor, xs: list) -> list:
    """For each x in ``xs``, the (output.size, x.size) Jacobian, row i = backward(e_i)."""
    jacobians = [numpy.zeros((output.size, x.size)) for x in xs]
    if not output.requires_grad:
        return jacobians  # no input reaches the output: every derivative is 0
    for row in range(output.size):
        one_hot = numpy.zeros(output.size)
        one_hot[row] = 1.0
        for x in xs:
            x.grad = None
        output.backward(Tensor(one_hot.reshape(output.shape), dtype=output.dtype, device=output.device),
                        retain_graph=True)
        for x, jacobian in zip(xs, jacobians):
            if x.grad is not None:  # None: this input does not reach the output
                jacobian[row] = x.grad.numpy().reshape(-1)
    return jacobians


def _numerical_jacobian(fn, leaves: list, i: int, eps: float) -> numpy.ndarray:
    """The (output.size, x.size) Jacobian of fn with respect to x = leaves[i], column j
    by central differences in x_j."""
    x = leaves[i]
    columns = []
    for index in numpy.ndindex(*x.shape):
        original = x.data[index].copy()
        x.data[index] = original + eps
        plus = _evaluate(fn, leaves)
        x.data[index] = original - eps
        minus = _evaluate(fn, leaves)
        x.data[index] = original
        columns.append((plus - minus) / (2 * eps))
    return numpy.stack(columns, axis=1)


def _evaluate(fn, leaves: list) -> numpy.ndarray:
    # grad mode stays on: fn may itself take gradients (checks of second derivatives)
    return fn(*leaves).numpy().astype(float64).reshape(-1)


def _compare(i, numerical, analytical, output_shape, input_shape, atol, rtol) -> None:
    """Raise GradcheckError at the first entry (in output, then input order) that fails."""
    tolerance = atol + rtol * numpy.abs(numerical)
    # "not <=" rather than ">": a NaN on either side fails too
    failed = ~(numpy.abs(analytical - numerical) <= tolerance)
    if not failed.any():
        return
    row, column = numpy.argwhere(failed)[0]
    n, a = numerical[row, column], analytical[row, column]
    raise GradcheckError(
        f"gradcheck failed for input {i} at index {_index(column, input_shape)}, "
        f"output index {_index(row, output_shape)}: "
        f"numerical (central differences) {n:.10g}, analytical (backward) {a:.10g}, "
        f"difference {abs(a - n):.3g} > atol + rtol * |numerical| = {tolerance[row, column]:.3g} "
        f"({failed.sum()} of {failed.size} entries of this Jacobian fail)"
    )


def _index(flat: int, shape: tuple) -> tuple:
    """The entry at position ``flat`` in row-major order, as a tuple of Python ints."""
    return tuple(int(k) for k in numpy.unravel_index(flat, shape))


def _float64_leaf(x):
    """A fresh float64 leaf with x's values (so the check never changes the caller's)."""
    if not isinstance(x, Tensor) or x.dtype.kind != "f":
        return x
    return Tensor(x.data.astype(float64), requires_grad=x.requires_grad)
