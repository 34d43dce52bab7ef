r"""Gradient clipping: keep one bad batch from throwing the parameters far away.

* ``clip_grad_norm_(parameters, max_norm, norm_type=2.0)``: treat all gradients as one
  long vector and compute its norm, total = (Σ_p ‖g_p‖^q)^(1/q) with q = ``norm_type``
  (the largest ``|g|`` for q = inf). If it is too large, scale every gradient by the same
  factor, so the direction of the step is kept::

      coef ← max_norm / (total + 1e-6)
      g ← g · coef          for every gradient, if coef < 1

  Returns ``total`` (measured before clipping) as a Python float: worth logging, since
  a growing gradient norm is often the first sign of divergence.
* ``clip_grad_value_(parameters, clip_value)``: clamp every gradient entry into
  [-clip_value, clip_value]. This changes the direction of the step.

Both work in place on ``p.grad`` and skip parameters whose gradient is None, as
``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_`` (same numbers).
"""

from __future__ import annotations

import math

from .. import backend
from ..tensor import Tensor


def _gradients(parameters) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad.data for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale the gradients in place so that their total norm is at most ``max_norm``."""
    grads = _gradients(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"norm_type must be positive (or inf), got {norm_type}")
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max(_abs_max(g) for g in grads)
    else:
        # the norm of the per-tensor norms is the norm of all entries together
        per_tensor = [_norm(g, norm_type) for g in grads]
        total = sum(n**norm_type for n in per_tensor) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is "
                           "non-finite, so it cannot be clipped. To disable this error and scale the "
                           "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g *= coef
    return total


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient entry into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for g in _gradients(parameters):
        xp = backend.get_array_module(g)
        xp.clip(g, -clip_value, clip_value, out=g)


def _abs_max(g) -> float:
    xp = backend.get_array_module(g)
    return float(xp.abs(g).max()) if g.size else 0.0


def _norm(g, q: float) -> float:
    xp = backend.get_array_module(g)
    if q == 2.0:
        return float(xp.sqrt((g * g).sum()))
    return float((xp.abs(g) ** q).sum() ** (1.0 / q))
