"""What defines a run of ``minigrad train``: ``TrainConfig``, with the defaults each
model and optimizer gets (read by train.py, the CLI, ``compare`` and the checkpoints)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from . import backend
from .models import MODELS
from .optim.rmsprop import PRESETS

DATASETS = ("fashion-mnist", "mnist", "cifar10")
OPTIMIZERS = ("sgd", "rmsprop", "adam")
SCHEDULES = ("cosine", "constant")

# Learning rates that work for all four models. RMSprop and Adam divide each step by a
# running root-mean-square of the gradient, so 1e-3 suits every model (PyTorch's
# RMSprop default of 1e-2 is too large for these networks); plain SGD takes steps
# proportional to the gradient itself and needs a larger rate, SGD with momentum a
# smaller one because momentum multiplies the step by about 1 / (1 - momentum).
DEFAULT_LR = {"sgd": 0.05, "sgd-momentum": 0.01, "rmsprop": 1e-3, "adam": 1e-3}

# Per model: epochs, batch size and gradient clipping of the default run, chosen so that
# `minigrad train --model NAME` reaches the accuracy in README within its time budget on
# a 2-core CPU (benchmarks/quality.py measures it). The CNN is the slowest per epoch
# (convolutions), so it gets the fewest epochs; the cosine schedule (see
# `make_scheduler`) makes a short run end well. The plain RNN's gradient can explode
# through its 28 steps; clipping its norm at 1 keeps one bad batch from undoing an epoch.
MODEL_DEFAULTS = {
    "mlp": {"epochs": 10, "batch_size": 64, "clip": None},
    "cnn": {"epochs": 5, "batch_size": 64, "clip": None},
    "rnn": {"epochs": 10, "batch_size": 128, "clip": 1.0},
    "lstm": {"epochs": 8, "batch_size": 128, "clip": None},
}

@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (saved in metrics.json and the checkpoint).

    ``lr``, ``epochs``, ``batch_size``, ``clip`` and ``device`` left at None take the
    defaults of the model and optimizer (``DEFAULT_LR``, ``MODEL_DEFAULTS``; the CPU) in
    ``resolved()``. ``momentum`` applies to SGD and RMSprop. ``alpha``, ``eps``,
    ``centered`` and ``preset`` apply to RMSprop only: ``preset`` names whose RMSprop
    update to use (``minigrad.optim.rmsprop.PRESETS``; ``"pytorch"``, PyTorch's, by
    default), and ``alpha`` and ``eps`` left at None take that preset's values (0.99
    and 1e-8 for PyTorch's). The preset's momentum, centering and learning rate are not
    taken: ``momentum``, ``centered`` and ``lr`` say those. ``schedule`` is
    ``"cosine"`` (see ``make_scheduler``) or ``"constant"``. ``limit`` / ``test_limit``
    keep the first N training / test examples (None: all). ``clip`` is a maximum
    gradient norm (0: none). ``data_dir`` is searched for the data set first (see
    ``minigrad.datasets``); it must be an existing folder.
    """

    model: str = "cnn"
    dataset: str = "fashion-mnist"
    optimizer: str = "rmsprop"
    lr: float | None = None
    momentum: float = 0.0
    alpha: float | None = None
    eps: float | None = None
    centered: bool = False
    preset: str = "pytorch"
    schedule: str = "cosine"
    epochs: int | None = None
    batch_size: int | None = None
    clip: float | None = None
    seed: int = 0
    device: str | None = None
    data_dir: str | None = None
    limit: int | None = None
    test_limit: int | None = None

    def resolved(self) -> TrainConfig:
        """A copy with every None default filled in; checks the choices."""
        for name, value, choices in (("model", self.model, MODELS), ("dataset", self.dataset, DATASETS),
                                     ("optimizer", self.optimizer, OPTIMIZERS),
                                     ("schedule", self.schedule, SCHEDULES), ("preset", self.preset, PRESETS)):
            if value not in choices:
                raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
        defaults = MODEL_DEFAULTS[self.model]
        for name in ("epochs", "batch_size", "limit", "test_limit"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"the learning rate must be > 0, got {self.lr!r}")
        for name in ("momentum", "alpha", "eps"):  # RMSprop's checks (PyTorch's): alpha >= 1 is allowed
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        if self.data_dir is not None and not Path(self.data_dir).is_dir():
            raise ValueError(f"data_dir {self.data_dir!r} is not an existing folder")
        return dataclasses.replace(
            self,
            lr=default_lr(self.optimizer, self.momentum) if self.lr is None else float(self.lr),
            epochs=defaults["epochs"] if self.epochs is None else int(self.epochs),
            batch_size=defaults["batch_size"] if self.batch_size is None else int(self.batch_size),
            clip=(defaults["clip"] or 0.0) if self.clip is None else float(self.clip),
            device=backend.check_device(self.device or "cpu"),
            **self._rmsprop_defaults(),
        )

    def _rmsprop_defaults(self) -> dict:
        """``alpha`` and ``eps`` of the preset, where the config leaves them at None (RMSprop only)."""
        if self.optimizer != "rmsprop":
            return {}
        preset = PRESETS[self.preset]
        return {"alpha": preset["alpha"] if self.alpha is None else float(self.alpha),
                "eps": preset["eps"] if self.eps is None else float(self.eps)}


def default_lr(optimizer: str, momentum: float = 0.0) -> float:
    """The learning rate a run of ``optimizer`` gets when none is asked for."""
    return DEFAULT_LR["sgd-momentum" if optimizer == "sgd" and momentum else optimizer]


def describe_optimizer(config: TrainConfig) -> str:
    """``"rmsprop lr=0.001"``, ``"sgd lr=0.01 momentum=0.9"``, ``"rmsprop (keras) lr=0.001
    alpha=0.95 centered"``: what the logs call it. RMSprop's options are named only
    where they differ from the preset's."""
    momentum = f" momentum={config.momentum:g}" if config.momentum else ""
    if config.optimizer != "rmsprop":
        return f"{config.optimizer} lr={config.lr:g}{momentum}"
    preset = PRESETS[config.preset]
    name = "rmsprop" if config.preset == "pytorch" else f"rmsprop ({config.preset})"
    options = "".join(f" {option}={getattr(config, option):g}" for option in ("alpha", "eps")
                      if getattr(config, option) is not None and getattr(config, option) != preset[option])
    return f"{name} lr={config.lr:g}{momentum}{options}" + (" centered" if config.centered else "")
