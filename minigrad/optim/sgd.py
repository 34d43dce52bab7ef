r"""SGD: stochastic gradient descent, with optional momentum, Nesterov and weight decay.

Symbols (the code uses the same names): θ parameter, g gradient, γ ``lr``, μ ``momentum``,
τ ``dampening``, λ ``weight_decay``, b ``momentum_buffer``. For t = 1, 2, ...::

    g ← -g                      if maximize
    g ← g + λ θ                 if λ ≠ 0          (L2 penalty added to the gradient)
    if μ ≠ 0:
        b ← g                   at the first step (no dampening on the first step)
        b ← μ b + (1 - τ) g     afterwards
        g ← g + μ b             if nesterov
        g ← b                   otherwise
    θ ← θ - γ g

This is PyTorch's ``torch.optim.SGD`` (same arguments, same state name
``momentum_buffer``, same numbers). Plain SGD (μ = 0) keeps no state at all.
"""

from __future__ import annotations

from .optimizer import Optimizer


class SGD(Optimizer):
    """``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False)``"""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, maximize: bool = False):
        # PyTorch's checks, word for word and value for value (SGD uses `x < 0`, not `not 0 <= x`)
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize}
        super().__init__(params, defaults)

    def update_parameter(self, param, grad, state, group):
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        weight_decay = group["weight_decay"]
        theta = param.data
        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            g = g + weight_decay * theta
        if momentum != 0:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = g.copy()
            else:
                b *= momentum
                b += (1 - dampening) * g
            g = g + momentum * b if group["nesterov"] else b
        theta -= lr * g
