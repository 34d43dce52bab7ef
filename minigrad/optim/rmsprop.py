r"""RMSprop: divide each gradient by a running root-mean-square of its recent values.

The idea
--------
Gradients of different weights can differ by orders of magnitude, and one learning rate
cannot suit them all. Rprop (Riedmiller and Braun, 1993) used only the *sign* of the
full-batch gradient. Lecture 6e of Hinton's Coursera course "Neural Networks for
Machine Learning" (2012, with Srivastava and Swersky) presented RMSProp, credited there to
Tijmen Tieleman and cited since as Tieleman and Hinton (2012), as "a mini-batch version of
rprop": keep, for every weight, a moving average of the squared gradient::

    MeanSquare(w, t) = 0.9 MeanSquare(w, t-1) + 0.1 (∂E/∂w)²,

and divide the gradient by sqrt(MeanSquare(w, t)). A weight whose gradient is
consistently large takes steps of about the learning rate, and so does a weight whose
gradient is consistently tiny. RMSProp was never published as a paper: every library
wrote its own version, and they differ (see "Where the RMSProps differ" below).

The algorithm, in the symbols of the code
-----------------------------------------
θ parameter, g gradient, γ ``lr``, α ``alpha``, ε ``eps``, λ ``weight_decay``,
μ ``momentum``, v ``square_avg`` (starts at v₀ = ``initial_square_avg``),
ḡ ``grad_avg`` (starts at 0), b ``momentum_buffer`` (starts at 0), t ``step``.
For t = 1, 2, ...::

    g ← -g                           if maximize
    g ← g + λ θ                      if λ ≠ 0          (an L2 penalty)
    v ← α v + (1 - α) g²                               (moving average of g²)
    ḡ ← ḡ + (1 - α) (g - ḡ)          if centered       (= α ḡ + (1 - α) g)
    v̂, ḡ̂ ← v / (1 - αᵗ), ḡ / (1 - αᵗ)   if bias_correction, else v̂, ḡ̂ ← v, ḡ
    s ← v̂ - ḡ̂²  if centered, else s ← v̂             (g's variance, or mean square)
    d ← sqrt(s + ε)  if eps_inside_sqrt, else d ← sqrt(s) + ε
    if μ > 0:
        b ← μ b + γ g / d,   θ ← θ - b               if lr_in_momentum
        b ← μ b + g / d,     θ ← θ - γ b             otherwise
    else:
        θ ← θ - γ g / d

With the keyword-only options at their defaults this is exactly PyTorch's
``torch.optim.RMSprop``: same arguments and defaults, same state names (``step``,
``square_avg``, ``momentum_buffer``, ``grad_avg``), same order of floating-point
operations. "Centered" RMSProp comes from Graves (2013): dividing by the standard
deviation of g rather than by its root mean square.

Where the RMSProps differ
-------------------------
==================  ==========  ====  ======  ==  =============  ==========  ==========
system              lr          α     ε       v₀  ε position     γ position  bias corr.
==================  ==========  ====  ======  ==  =============  ==========  ==========
PyTorch             1e-2        0.99  1e-8    0   sqrt(v) + ε    outside b   no
Keras 3 (tf.keras)  1e-3        0.9   1e-7    0   sqrt(v + ε)    inside b    no
TF1 RMSProp         (required)  0.9   1e-10   1   sqrt(v + ε)    inside b    no
Optax               (required)  0.9   1e-8    0   sqrt(v + ε) *  inside b    optional
Graves (2013)       1e-4        0.95  1e-4    0   sqrt(s + ε)    inside b    no
Hinton (2012)       (none)      0.9   (none)  -   (none)         (no b)      no
==================  ==========  ====  ======  ==  =============  ==========  ==========

(*) Optax's ``eps_in_sqrt=True`` is the default; ``False`` puts ε outside like PyTorch.
Hinton's slide gives no learning rate, ε or v₀; the ``hinton2012`` preset's are our choices.
All but Hinton's slide offer ``centered``; Graves' version is always centered and uses
momentum 0.9. Why each column matters:

* **ε inside or outside the root.** Where v is near 0 (rarely-updated weights, and the
  first steps), the divisor is sqrt(ε) or ε: with ε = 1e-7, sqrt(ε) ≈ 3e-4. The same ε
  therefore means very different things; to translate, ε_inside ≈ ε_outside².
* **v₀ = 0 or 1.** Starting at 0 (PyTorch), the first v is (1 - α) g², so the first
  step is γ g / (sqrt(1 - α) ``|g|``) ≈ 10 γ for α = 0.99: the early steps are *larger*
  than γ. TF1 started at 1, so v stays near 1 for the first ~1/(1 - α) steps and, for
  gradients well below 1, the early steps are about γ g: not normalised at all.
* **Bias correction** (Optax's option, as in Adam) removes that start-up effect instead:
  dividing by 1 - αᵗ makes v̂ an unbiased average from the first step, so the first step
  is γ g / ``|g|``.
* **γ inside or outside the momentum buffer.** With a constant learning rate the two are
  identical (b_lr_inside = γ b_lr_outside). They differ when γ changes: with γ inside
  (TF, Keras, Optax, Graves) the buffer remembers the step sizes of the past, so a
  learning-rate drop slows the parameter down gradually; with γ outside (PyTorch) the
  whole buffer is rescaled at once and the drop takes effect immediately.
* **Defaults.** α = 0.99 averages over ~100 steps, α = 0.9 over ~10. PyTorch's default
  learning rate is 10 times Keras'.

``PRESETS`` maps each system to the arguments that reproduce its update (each entry says
where it comes from), and ``RMSprop.like("keras", params)`` builds one; any argument can
be overridden: ``RMSprop.like("tf1", params, lr=0.01, momentum=0.9)``. Weight decay is
PyTorch's L2 penalty in every preset (it defaults to 0): Keras' ``weight_decay`` is
decoupled (AdamW-style) and is not reproduced here.
"""

from __future__ import annotations

from .. import backend
from .optimizer import Optimizer

#: Each preset: the arguments (defaults included) that reproduce one system's RMSProp update.
PRESETS: dict[str, dict] = {
    # PyTorch 2.x, torch/optim/rmsprop.py (checked against torch 2.13): RMSprop(lr=1e-2,
    # alpha=0.99, eps=1e-8, momentum=0, centered=False); square_avg starts at zeros;
    # avg = sqrt(square_avg) + eps; buf = momentum * buf + grad / avg; param -= lr * buf.
    "pytorch": {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "centered": False,
                "eps_inside_sqrt": False, "initial_square_avg": 0.0, "lr_in_momentum": False,
                "bias_correction": False},
    # Keras 3, keras/src/optimizers/rmsprop.py: RMSprop(learning_rate=0.001, rho=0.9,
    # momentum=0.0, epsilon=1e-7, centered=False); velocity starts at zeros;
    # increment = lr * g / sqrt(velocity + epsilon)  (centered: velocity - average_grad**2
    # + epsilon); momentum = momentum * momentum + increment; variable -= momentum.
    "keras": {"lr": 1e-3, "alpha": 0.9, "eps": 1e-7, "momentum": 0.0, "centered": False,
              "eps_inside_sqrt": True, "initial_square_avg": 0.0, "lr_in_momentum": True,
              "bias_correction": False},
    # TensorFlow 1.x tf.train.RMSPropOptimizer (tensorflow/python/training/rmsprop.py, kept as
    # tf.compat.v1): decay=0.9, momentum=0.0, epsilon=1e-10, centered=False, and the "rms" slot
    # is initialised with ONES; kernels ApplyRMSProp / ApplyCenteredRMSProp:
    # ms <- rho*ms + (1-rho)*grad^2; mom <- momentum*mom + lr*grad/sqrt(ms [- mg^2] + epsilon);
    # var <- var - mom. learning_rate has no default there; 1e-3 is our choice.
    "tf1": {"lr": 1e-3, "alpha": 0.9, "eps": 1e-10, "momentum": 0.0, "centered": False,
            "eps_inside_sqrt": True, "initial_square_avg": 1.0, "lr_in_momentum": True,
            "bias_correction": False},
    # Optax 0.2.x, optax/_src/alias.py rmsprop(learning_rate, decay=0.9, eps=1e-8,
    # initial_scale=0.0, eps_in_sqrt=True, centered=False, momentum=None, nesterov=False,
    # bias_correction=False) = chain(scale_by_rms | scale_by_stddev, scale_by_learning_rate,
    # trace(decay=momentum)): the update is scaled by -lr BEFORE trace accumulates it, so the
    # buffer holds lr-scaled steps. learning_rate has no default there; 1e-3 is our choice.
    "optax": {"lr": 1e-3, "alpha": 0.9, "eps": 1e-8, "momentum": 0.0, "centered": False,
              "eps_inside_sqrt": True, "initial_square_avg": 0.0, "lr_in_momentum": True,
              "bias_correction": False},
    # Graves, "Generating Sequences With Recurrent Neural Networks", arXiv:1308.0850 (v5),
    # eqs. (38)-(41): n = ℵn + (1-ℵ)ε², g = ℵg + (1-ℵ)ε, Δ = ℶΔ - ג ε / sqrt(n - g² + k),
    # w = w + Δ, with ℵ = 0.95, ℶ = 0.9, ג = 1e-4, k = 1e-4 (ε there is the gradient).
    "graves2013": {"lr": 1e-4, "alpha": 0.95, "eps": 1e-4, "momentum": 0.9, "centered": True,
                   "eps_inside_sqrt": True, "initial_square_avg": 0.0, "lr_in_momentum": True,
                   "bias_correction": False},
    # Hinton, Srivastava, Swersky, Coursera "Neural Networks for Machine Learning", lecture 6e
    # (2012): MeanSquare(w,t) = 0.9 MeanSquare(w,t-1) + 0.1 (dE/dw)^2, and the gradient is
    # divided by sqrt(MeanSquare(w,t)). The slide gives no learning rate, no epsilon and no
    # starting value: lr = 1e-3 (Keras' default), a tiny eps = 1e-8 outside the root, which only
    # guards against 0/0 (it changes steps by ~1e-8 relative when g is not ~0), and v0 = 0 are
    # our choices, not the slide's.
    "hinton2012": {"lr": 1e-3, "alpha": 0.9, "eps": 1e-8, "momentum": 0.0, "centered": False,
                   "eps_inside_sqrt": False, "initial_square_avg": 0.0, "lr_in_momentum": False,
                   "bias_correction": False},
}


class RMSprop(Optimizer):
    """``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
    maximize=False, *, eps_inside_sqrt=False, initial_square_avg=0.0, lr_in_momentum=False,
    bias_correction=False)``. The algorithm and the options: see the module docstring."""

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 maximize: bool = False, *, eps_inside_sqrt: bool = False,
                 initial_square_avg: float = 0.0, lr_in_momentum: bool = False,
                 bias_correction: bool = False):
        # PyTorch's checks, word for word and in its order. alpha >= 1 is accepted, as there.
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        # our options
        if not 0.0 <= initial_square_avg:
            raise ValueError(f"Invalid initial_square_avg value: {initial_square_avg}")
        if bias_correction and not alpha < 1.0:
            raise ValueError(f"bias_correction divides by 1 - alpha**t, which needs alpha < 1, "
                             f"got alpha={alpha}")
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                    "momentum": momentum, "centered": centered, "maximize": maximize,
                    "eps_inside_sqrt": eps_inside_sqrt, "initial_square_avg": initial_square_avg,
                    "lr_in_momentum": lr_in_momentum, "bias_correction": bias_correction}
        super().__init__(params, defaults)

    @classmethod
    def like(cls, name: str, params, **overrides) -> RMSprop:
        """The RMSprop of another system (a key of ``PRESETS``), with ``overrides`` on top."""
        if name not in PRESETS:
            raise ValueError(f"unknown RMSprop preset {name!r}; known presets: {', '.join(PRESETS)}")
        return cls(params, **{**PRESETS[name], **overrides})

    def init_state(self, param, group):
        xp = backend.get_array_module(param.data)
        state = {"step": 0, "square_avg": xp.full_like(param.data, float(group["initial_square_avg"]))}
        if group["momentum"] > 0:
            state["momentum_buffer"] = xp.zeros_like(param.data)
        if group["centered"]:
            state["grad_avg"] = xp.zeros_like(param.data)
        return state

    def update_parameter(self, param, grad, state, group):
        xp = backend.get_array_module(param.data)
        lr, alpha, eps, momentum = group["lr"], group["alpha"], group["eps"], group["momentum"]
        weight_decay, bias_correction = group["weight_decay"], group["bias_correction"]
        theta, v = param.data, state["square_avg"]
        g = -grad if group["maximize"] else grad
        state["step"] += 1
        t = state["step"]
        if weight_decay != 0:
            g = g + weight_decay * theta

        # In place, with as few new arrays as the formula allows: a new array the size of a
        # weight matrix costs more than the arithmetic on it (mlp step: ~10%, benchmarks/).
        v *= alpha
        g2 = (1 - alpha) * g  # one new array, (1 - α) g, then (1 - α) g²: PyTorch's order
        g2 *= g
        v += g2
        v_hat = v / (1 - alpha**t) if bias_correction else v
        if group["centered"]:
            g_avg = state["grad_avg"]
            g_avg += (1 - alpha) * (g - g_avg)
            g_avg_hat = g_avg / (1 - alpha**t) if bias_correction else g_avg
            s = v_hat - g_avg_hat * g_avg_hat
        else:
            s = v_hat
        if group["eps_inside_sqrt"]:
            d = xp.sqrt(s + eps)
        else:
            d = xp.sqrt(s)
            d += eps

        if momentum > 0:
            b = state["momentum_buffer"]
            b *= momentum
            if group["lr_in_momentum"]:
                b += lr * (g / d)
                theta -= b
            else:
                b += g / d
                theta -= lr * b
        else:
            step = g / d
            step *= lr
            theta -= step
