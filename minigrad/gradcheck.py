"""Check backward against finite differences.

For a function f and a fixed random tensor w of f's output shape, let
L(x) = sum(f(x) * w). Backward gives dL/dx in one pass. Central differences give each
entry independently:

    dL/dx_i  ~  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

with an error of order eps^2 (forward differences, (L(x + eps e_i) - L(x)) / eps, are
only order eps). Because w is random, a wrong entry anywhere in the Jacobian shows up
in dL/dx (checking with w = ones would miss errors that cancel in a sum). Everything
runs in float64: in float32 the rounding error of L, about 1e-7 * |L| / eps, would
swamp the comparison.
"""

from __future__ import annotations

import numpy

from .tensor import Tensor, float64


class GradcheckError(AssertionError):
    """Backward and finite differences disagree."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3) -> bool:
    """Compare the gradient of ``fn(*inputs)`` from backward with central differences.

    Floating-point inputs that require grad are checked (as float64 copies); other
    inputs (integer indices, constants) are passed through. ``fn`` may return a tensor
    of any shape. Returns True, or raises GradcheckError naming the input, the index,
    and both values.
    """
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    leaves = [_float64_leaf(x) for x in inputs]
    checked = [i for i, x in enumerate(leaves) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad; pass tensors with requires_grad=True")

    output = fn(*leaves)
    if not isinstance(output, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(output).__name__}")
    weights = Tensor(numpy.random.default_rng(0).standard_normal(output.shape), device=output.device)
    if output.requires_grad:
        (output * weights).sum().backward()

    def loss() -> float:
        # grad mode stays on: fn may itself take gradients (checks of second derivatives)
        return float((fn(*leaves) * weights).sum().item())

    for i in checked:
        x = leaves[i]
        analytic = numpy.zeros(x.shape) if x.grad is None else x.grad.numpy()
        for index in numpy.ndindex(*x.shape):
            original = x.data[index].copy()
            x.data[index] = original + eps
            plus = loss()
            x.data[index] = original - eps
            minus = loss()
            x.data[index] = original
            numeric = (plus - minus) / (2 * eps)
            if not abs(analytic[index] - numeric) <= atol + rtol * abs(numeric):
                raise GradcheckError(
                    f"gradcheck failed for input {i} at index {index}: "
                    f"numeric (finite differences) {numeric:.10g}, analytic (backward) "
                    f"{analytic[index]:.10g}, difference {abs(analytic[index] - numeric):.3g} "
                    f"> atol + rtol * |numeric| = {atol + rtol * abs(numeric):.3g}"
                )
    return True


def _float64_leaf(x):
    """A fresh float64 leaf with x's values (so the check never changes the caller's)."""
    if not isinstance(x, Tensor) or x.dtype.kind != "f":
        return x
    return Tensor(x.data.astype(float64), requires_grad=x.requires_grad)
