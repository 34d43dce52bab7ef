r"""Adam: momentum on the gradient, divided by the root of a moving average of its square.

Symbols (the code uses the same names): θ parameter, g gradient, γ ``lr``, β1 β2
``betas``, ε ``eps``, λ ``weight_decay``, m ``exp_avg``, v ``exp_avg_sq``,
v_max ``max_exp_avg_sq``, t ``step``. m, v and v_max start at 0. For t = 1, 2, ...::

    g ← -g                          if maximize
    g ← g + λ θ                     if λ ≠ 0       (L2 penalty; AdamW decouples it)
    m ← m + (1 - β1) (g - m)        (= β1 m + (1 - β1) g, the moving average of g)
    v ← β2 v + (1 - β2) g²
    v_max ← max(v_max, v)           if amsgrad; v_max replaces v below
    step_size ← γ / (1 - β1^t)      (bias correction of m: m started at 0)
    denom ← sqrt(v) / sqrt(1 - β2^t) + ε
    θ ← θ - step_size · m / denom

This is PyTorch's ``torch.optim.Adam`` (same arguments, state names ``step``,
``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``, same order of operations), from Kingma
and Ba, "Adam: A Method for Stochastic Optimization" (2015), Algorithm 1.
"""

from __future__ import annotations

from .. import backend
from .optimizer import Optimizer


def check_adam_arguments(lr, betas, eps, weight_decay) -> None:
    """PyTorch's checks for Adam and AdamW, word for word and value for value."""
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    # PyTorch also insists on floats here: betas=(0, 0.999) is rejected, (0.0, 0.999) is fine
    if not (isinstance(betas[0], float) and isinstance(betas[1], float)):
        raise ValueError("betas must be either both floats or both Tensors")  # noqa: TRY004 - as PyTorch


class Adam(Optimizer):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
    maximize=False)``"""

    decoupled_weight_decay = False  # AdamW sets True

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, maximize: bool = False):
        check_adam_arguments(lr, betas, eps, weight_decay)
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize}
        super().__init__(params, defaults)

    def init_state(self, param, group):
        xp = backend.get_array_module(param.data)
        state = {"step": 0,
                 "exp_avg": xp.zeros_like(param.data),
                 "exp_avg_sq": xp.zeros_like(param.data)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = xp.zeros_like(param.data)
        return state

    def update_parameter(self, param, grad, state, group):
        xp = backend.get_array_module(param.data)
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay = group["weight_decay"]
        theta, m, v = param.data, state["exp_avg"], state["exp_avg_sq"]
        g = -grad if group["maximize"] else grad
        state["step"] += 1
        t = state["step"]
        if weight_decay != 0:
            if self.decoupled_weight_decay:
                theta *= 1 - lr * weight_decay  # AdamW: shrink θ directly, outside m and v
            else:
                g = g + weight_decay * theta
        m += (1 - beta1) * (g - m)
        v *= beta2
        v += (1 - beta2) * g * g
        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"]
            xp.maximum(v_max, v, out=v_max)
            v = v_max
        step_size = lr / (1 - beta1**t)
        denom = xp.sqrt(v) / (1 - beta2**t) ** 0.5 + eps
        theta -= step_size * (m / denom)
