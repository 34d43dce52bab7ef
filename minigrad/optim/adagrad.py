r"""Adagrad: divide each gradient by the root of the sum of all its past squares.

Symbols (the code uses the same names): θ parameter, g gradient, γ ``lr``, η ``lr_decay``,
λ ``weight_decay``, ε ``eps``, s ``sum`` (starts at ``initial_accumulator_value``),
t ``step``. For t = 1, 2, ...::

    g ← -g                          if maximize
    g ← g + λ θ                     if λ ≠ 0
    clr ← γ / (1 + (t - 1) η)       (the learning rate, optionally decayed with t)
    s ← s + g²
    θ ← θ - clr · g / (sqrt(s) + ε)

Because s only grows, every weight's step size only shrinks: weights that have seen
large gradients slow down most. RMSprop (rmsprop.py) replaces the sum by a moving
average so that the step size can recover. This is PyTorch's ``torch.optim.Adagrad``
(same arguments, state names ``step`` and ``sum``), from Duchi, Hazan and Singer,
"Adaptive Subgradient Methods for Online Learning and Stochastic Optimization" (2011).

Difference from PyTorch: PyTorch creates every parameter's state in the constructor; we
create it at the parameter's first update, like the other optimizers (so a model moved
to another device after building the optimizer still works). The numbers are the same.
"""

from __future__ import annotations

from .. import backend
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """``Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
    maximize=False)``"""

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, maximize: bool = False):
        # PyTorch's checks, word for word and value for value
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "eps": eps,
                    "maximize": maximize}
        super().__init__(params, defaults)

    def init_state(self, param, group):
        xp = backend.get_array_module(param.data)
        return {"step": 0, "sum": xp.full_like(param.data, float(group["initial_accumulator_value"]))}

    def update_parameter(self, param, grad, state, group):
        xp = backend.get_array_module(param.data)
        lr, lr_decay, eps, weight_decay = group["lr"], group["lr_decay"], group["eps"], group["weight_decay"]
        theta, s = param.data, state["sum"]
        g = -grad if group["maximize"] else grad
        state["step"] += 1
        t = state["step"]
        if weight_decay != 0:
            g = g + weight_decay * theta
        clr = lr / (1 + (t - 1) * lr_decay)
        s += g * g
        theta -= clr * (g / (xp.sqrt(s) + eps))
