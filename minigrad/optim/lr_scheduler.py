r"""Learning-rate schedulers: change ``group["lr"]`` of an optimizer as training goes on.

Call ``scheduler.step()`` once per epoch, *after* ``optimizer.step()`` (PyTorch's order).
Each scheduler counts epochs in ``last_epoch`` (0 when created) and writes the new
learning rate into every parameter group; ``get_last_lr()`` returns them. On creation a
scheduler records each group's starting learning rate as ``group["initial_lr"]`` (the
base learning rate, η₀ below), as PyTorch does, and leaves ``lr`` unchanged.

With t = ``last_epoch`` and η the learning rate of a group:

* ``StepLR(optimizer, step_size, gamma=0.1)``: η ← γ η whenever t is a multiple of
  ``step_size``; so η_t = η₀ γ^⌊t / step_size⌋.
* ``ExponentialLR(optimizer, gamma)``: η ← γ η every epoch; η_t = η₀ γᵗ.
* ``CosineAnnealingLR(optimizer, T_max, eta_min=0)``:
  η_t = η_min + (η₀ - η_min) (1 + cos(π t / T_max)) / 2, half a cosine from η₀ down to
  η_min in T_max epochs, then back up (the curve continues with period 2 T_max).
* ``ReduceLROnPlateau(optimizer, mode="min", factor=0.1, patience=10, ...)``:
  ``step(metric)`` watches a validation metric and multiplies η by ``factor`` after more
  than ``patience`` epochs without improvement.

All give PyTorch's numbers. StepLR and ExponentialLR multiply the *current* learning rate
(as PyTorch does), so they compose with other changes to ``group["lr"]``.
CosineAnnealingLR uses the closed form above; PyTorch computes the same curve with a
recursive formula, which agrees with it to round-off (~1e-15 relative) but, unlike the
closed form, also follows changes made to ``group["lr"]`` by someone else.
"""

from __future__ import annotations

import math

from .optimizer import Optimizer


class LRScheduler:
    """Base class: keeps ``last_epoch``, ``base_lrs`` and writes ``get_lr()`` into the groups."""

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def get_lr(self) -> list:
        """The learning rates for epoch ``self.last_epoch`` (override)."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set each group's learning rate."""
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list:
        """The learning rates the last ``step()`` set (one per parameter group)."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer (plain numbers and lists, ready for ``minigrad.save``)."""
        return {name: _copy(value) for name, value in vars(self).items() if name != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update({name: _copy(value) for name, value in state_dict.items()})


def _copy(value):
    return list(value) if isinstance(value, (list, tuple)) else value


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        if not isinstance(step_size, int) or step_size < 1:  # PyTorch would divide by it later
            raise ValueError(f"step_size must be a positive integer, got {step_size!r}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer)

    def get_lr(self) -> list:
        decay = self.last_epoch % self.step_size == 0
        return [group["lr"] * self.gamma if decay else group["lr"] for group in self.optimizer.param_groups]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float):
        self.gamma = gamma
        super().__init__(optimizer)

    def get_lr(self) -> list:
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from the base learning rate down to ``eta_min`` over ``T_max`` epochs."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        if not T_max > 0:  # PyTorch would divide by it later
            raise ValueError(f"T_max must be positive, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer)

    def get_lr(self) -> list:
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]


class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by ``factor`` when a metric has stopped improving.

    ``step(metric)`` once per epoch. The metric improves when it beats the best value so
    far by more than ``threshold``: relatively (``threshold_mode="rel"``: below
    best·(1 - threshold) in mode "min", above best·(1 + threshold) in mode "max") or
    absolutely (``"abs"``: below best - threshold, above best + threshold). After more
    than ``patience`` epochs without improvement, every group's learning rate becomes
    max(lr·factor, min_lr) (unless that changes it by less than ``eps``), and the next
    ``cooldown`` epochs are not counted as bad.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | list = 0, eps: float = 1e-8):
        # PyTorch's checks and messages
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"expected {len(optimizer.param_groups)} min_lrs, got {len(min_lr)}")
            self.min_lrs = list(min_lr)
        else:
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        if mode not in ("min", "max"):
            raise ValueError("mode " + str(mode) + " is unknown!")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError("threshold mode " + str(threshold_mode) + " is unknown!")
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def is_better(self, current: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return current < best * (1.0 - self.threshold)
        if self.mode == "min":
            return current < best - self.threshold
        if self.threshold_mode == "rel":
            return current > best * (1.0 + self.threshold)
        return current > best + self.threshold

    def step(self, metrics) -> None:  # type: ignore[override]
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                old_lr = float(group["lr"])
                new_lr = max(old_lr * self.factor, min_lr)
                if old_lr - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_lr(self) -> list:
        return list(self._last_lr)
