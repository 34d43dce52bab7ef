r"""AdamW: Adam with decoupled weight decay.

Symbols as in adam.py (θ, g, γ ``lr``, β1 β2 ``betas``, ε ``eps``, λ ``weight_decay``,
m ``exp_avg``, v ``exp_avg_sq``, v_max ``max_exp_avg_sq``, t ``step``). For t = 1, 2, ...::

    g ← -g                          if maximize
    θ ← θ (1 - γ λ)                 (weight decay applied to θ itself ...)
    m ← m + (1 - β1) (g - m)
    v ← β2 v + (1 - β2) g²          (... so it never enters m or v)
    v_max ← max(v_max, v)           if amsgrad; v_max replaces v below
    θ ← θ - γ / (1 - β1^t) · m / (sqrt(v) / sqrt(1 - β2^t) + ε)

In Adam with ``weight_decay`` the penalty λθ is added to g, so it is divided by
sqrt(v) like the rest of the gradient: parameters with large gradients are barely
decayed. Loshchilov and Hutter ("Decoupled Weight Decay Regularization", 2019) decay θ
directly instead. This is PyTorch's ``torch.optim.AdamW`` (default λ = 1e-2).
"""

from __future__ import annotations

from .adam import Adam


class AdamW(Adam):
    """``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
    maximize=False)``"""

    decoupled_weight_decay = True  # the only difference from Adam: see Adam.update_parameter

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)
