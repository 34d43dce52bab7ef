"""Training an image classifier end to end: the loop behind ``minigrad train``.

Read it top to bottom; each step is one small function:

1. ``load_data``: the images as float32, scaled to [0, 1] and standardised.
2. ``build_model`` (models.py) and ``make_optimizer``.
3. ``train_one_epoch``: for every mini-batch, forward, loss, backward, step.
4. ``evaluate``: the test set in batches, under ``no_grad`` with ``model.eval()``.
5. ``save_checkpoint`` after every epoch; at the end ``write_outputs``: metrics.json,
   curves.png, confusion_matrix.png.

``train(config, out)`` runs all of it and returns the metrics (the dict written to
metrics.json). Three things can stop a run early, each with a message that says what
to do next:

* a loss that is NaN or infinite raises ``TrainingDiverged`` (the learning rate is
  almost always too large); the checkpoint on disk is the last good epoch;
* Ctrl-C raises ``TrainingInterrupted``; the checkpoint of the last completed epoch is
  on disk, and ``--resume`` continues from it;
* data that cannot be found raises the data set's FileNotFoundError.

**Resuming reproduces the uninterrupted run exactly.** Everything random in a run
comes from two generators: minigrad's global one (parameter initialisation, dropout
masks) and the DataLoader's own (the order of the examples in each epoch). A
checkpoint holds both generators' states next to the parameters and the optimizer's
state, so the resumed run draws the same dropout masks and the same batches as the run
that never stopped, and (on the CPU, where NumPy is deterministic) gets bit-for-bit the
same numbers.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy

from . import __version__, backend, datasets, metrics, plots
from . import random as minigrad_random
from .autograd import no_grad
from .checkpoint import load, save
from .data import DataLoader, TensorDataset
from .losses import cross_entropy
from .models import MODELS, build_model
from .optim import SGD, Adam, RMSprop, clip_grad_norm_
from .tensor import Tensor

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
# `learning_rate`) makes a short run end well. The plain RNN's gradient can explode
# through its 28 steps; clipping its norm at 1 keeps one bad batch from undoing an epoch.
MODEL_DEFAULTS = {
    "mlp": {"epochs": 10, "batch_size": 64, "clip": None},
    "cnn": {"epochs": 5, "batch_size": 64, "clip": None},
    "rnn": {"epochs": 10, "batch_size": 128, "clip": 1.0},
    "lstm": {"epochs": 8, "batch_size": 128, "clip": None},
}

# Mean and standard deviation of the training pixels (after scaling to [0, 1]), per
# channel. Fixed numbers rather than computed from the data at hand, so that `--limit`
# does not change the preprocessing and a checkpoint means the same thing on any subset.
NORMALISATION = {
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}

LOADERS = {"fashion-mnist": datasets.fashion_mnist, "mnist": datasets.mnist, "cifar10": datasets.cifar10}
EVAL_BATCH_SIZE = 500  # evaluation keeps no graph, so it can use bigger batches than training


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (saved in metrics.json and the checkpoint).

    ``lr``, ``epochs``, ``batch_size`` and ``clip`` left at None take the model's and
    optimizer's defaults (``DEFAULT_LR``, ``MODEL_DEFAULTS``) in ``resolved()``.
    ``momentum`` applies to SGD and RMSprop. ``schedule`` is ``"cosine"`` (see
    ``learning_rate``) or ``"constant"``. ``limit`` / ``test_limit`` keep the first N
    training / test examples (None: all). ``clip`` is a maximum gradient norm (0: none).
    """

    model: str = "cnn"
    dataset: str = "fashion-mnist"
    optimizer: str = "rmsprop"
    lr: float | None = None
    momentum: float = 0.0
    schedule: str = "cosine"
    epochs: int | None = None
    batch_size: int | None = None
    clip: float | None = None
    seed: int = 0
    device: str | None = "cpu"
    data_dir: str | None = None
    limit: int | None = None
    test_limit: int | None = None

    def resolved(self) -> TrainConfig:
        """A copy with every None default filled in; checks the choices."""
        for name, value, choices in (("model", self.model, MODELS), ("dataset", self.dataset, DATASETS),
                                     ("optimizer", self.optimizer, OPTIMIZERS),
                                     ("schedule", self.schedule, SCHEDULES)):
            if value not in choices:
                raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
        defaults = MODEL_DEFAULTS[self.model]
        lr_key = "sgd-momentum" if self.optimizer == "sgd" and self.momentum else self.optimizer
        for name in ("epochs", "batch_size", "limit", "test_limit"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"the learning rate must be > 0, got {self.lr!r}")
        return dataclasses.replace(
            self,
            lr=DEFAULT_LR[lr_key] if self.lr is None else float(self.lr),
            epochs=defaults["epochs"] if self.epochs is None else int(self.epochs),
            batch_size=defaults["batch_size"] if self.batch_size is None else int(self.batch_size),
            clip=(defaults["clip"] or 0.0) if self.clip is None else float(self.clip),
            device=backend.check_device(self.device or "cpu"),
        )


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message suggests a lower learning rate."""


class TrainingInterrupted(Exception):
    """Ctrl-C during training; the message says how to resume."""


# ------------------------------------------------------------------------------------
# 1. Data


def load_data(config: TrainConfig):
    """``(train_images, train_labels, test_images, test_labels, class_names)``.

    Images come back float32 of shape (N, C, H, W), scaled from uint8 to [0, 1] and
    then standardised per channel, (x - mean) / std, so that the inputs of the first
    layer have about zero mean and unit variance, the scale that the layers' default
    initialisation assumes.
    """
    load = LOADERS[config.dataset]
    train_images, train_labels = load(train=True, root=config.data_dir)
    test_images, test_labels = load(train=False, root=config.data_dir)
    if config.limit is not None:
        train_images, train_labels = train_images[: config.limit], train_labels[: config.limit]
    if config.test_limit is not None:
        test_images, test_labels = test_images[: config.test_limit], test_labels[: config.test_limit]
    mean, std = NORMALISATION[config.dataset]
    class_names = datasets.CLASSES[config.dataset]
    return (_standardise(train_images, mean, std), train_labels.astype(numpy.int64),
            _standardise(test_images, mean, std), test_labels.astype(numpy.int64), class_names)


def _standardise(images: numpy.ndarray, mean: tuple, std: tuple) -> numpy.ndarray:
    if images.ndim == 3:  # (N, H, W) grey images get their channel axis: (N, 1, H, W)
        images = images[:, None]
    mean = numpy.array(mean, dtype=numpy.float32).reshape(1, -1, 1, 1)
    std = numpy.array(std, dtype=numpy.float32).reshape(1, -1, 1, 1)
    return (images.astype(numpy.float32) / 255 - mean) / std


# ------------------------------------------------------------------------------------
# 2. Optimizer


def make_optimizer(name: str, parameters, lr: float, momentum: float = 0.0):
    """``sgd``, ``rmsprop`` (PyTorch's formula, alpha = 0.99) or ``adam``."""
    parameters = list(parameters)
    if name == "sgd":
        return SGD(parameters, lr=lr, momentum=momentum)
    if name == "rmsprop":
        return RMSprop(parameters, lr=lr, momentum=momentum)
    if name == "adam":
        return Adam(parameters, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def learning_rate(config: TrainConfig, epoch: int) -> float:
    """The learning rate of epoch ``epoch`` (1-based) of ``config.epochs``.

    With the cosine schedule it falls from lr to near 0 along half a cosine,

        lr_epoch = lr * (1 + cos(pi * (epoch - 1) / epochs)) / 2,

    the numbers of ``lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)`` stepped
    once per epoch. Why decay at all: at a constant rate, the noise of mini-batch
    gradients keeps the parameters bouncing around a minimum (the "noise ball"); the
    smaller final steps settle them, worth about a point of test accuracy here. Being a
    formula of the epoch, it needs no state in the checkpoint.
    """
    if config.schedule == "constant":
        return config.lr
    return config.lr * (1 + math.cos(math.pi * (epoch - 1) / config.epochs)) / 2


# ------------------------------------------------------------------------------------
# 3. One epoch of training


def train_one_epoch(model, loader: DataLoader, optimizer, config: TrainConfig, progress) -> tuple[float, float]:
    """One pass over the training set; returns (mean loss, accuracy) over the epoch.

    Both are running averages over the batches while the model is still learning (as
    Keras and most progress bars report them), so they lag behind the end-of-epoch
    model a little; the test numbers are measured on the final model.
    """
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    for images, labels in loader:
        images, labels = images.to(config.device), labels.to(config.device)
        logits = model(images)
        loss = cross_entropy(logits, labels)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            # Checked before the step, so no NaN reaches the parameters or a checkpoint.
            raise TrainingDiverged(f"the training loss became {loss_value} (at {seen} examples into the epoch)")
        optimizer.zero_grad()
        loss.backward()
        if config.clip:
            clip_grad_norm_(model.parameters(), config.clip)
        optimizer.step()
        batch = len(labels)
        total_loss += loss_value * batch
        correct += int((logits.argmax(axis=1) == labels).sum().item())
        seen += batch
        progress.update(batch, loss=total_loss / seen, accuracy=correct / seen)
    return total_loss / seen, correct / seen


# ------------------------------------------------------------------------------------
# 4. Evaluation


def evaluate(model, images: numpy.ndarray, labels: numpy.ndarray, device: str) -> tuple[float, float, numpy.ndarray]:
    """(mean loss, accuracy, predicted classes) on a whole data set.

    ``model.eval()`` switches Dropout (and BatchNorm) to their test behaviour;
    ``no_grad`` records no graph, which saves the memory and time of backward
    bookkeeping. The model is left in eval mode; ``train_one_epoch`` switches it back.
    """
    model.eval()
    total_loss, predictions = 0.0, []
    with no_grad():
        for start in range(0, len(labels), EVAL_BATCH_SIZE):
            batch_images = Tensor(images[start:start + EVAL_BATCH_SIZE]).to(device)
            batch_labels = Tensor(labels[start:start + EVAL_BATCH_SIZE]).to(device)
            logits = model(batch_images)
            total_loss += cross_entropy(logits, batch_labels, reduction="sum").item()
            predictions.append(logits.argmax(axis=1).numpy())
    predicted = numpy.concatenate(predictions)
    return total_loss / len(labels), float(numpy.mean(predicted == labels)), predicted


# ------------------------------------------------------------------------------------
# Progress bar: tqdm when it is installed (it is optional), else a plain line


class Progress:
    """A progress bar for one epoch showing loss, accuracy and examples per second."""

    def __init__(self, total_examples: int, description: str, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.total, self.description = total_examples, description
        self.done, self.start = 0, time.perf_counter()
        self._next_report = 0.0
        try:
            from tqdm import tqdm  # optional: a nicer bar when available
        except ImportError:
            self._bar = None
        else:
            self._bar = tqdm(total=total_examples, desc=description, unit="ex", file=self.stream,
                             leave=True, dynamic_ncols=True)

    def update(self, examples: int, loss: float, accuracy: float) -> None:
        self.done += examples
        if self._bar is not None:  # tqdm shows the speed itself, in ex/s
            self._bar.set_postfix_str(f"loss {loss:.4f}, accuracy {accuracy:.4f}", refresh=False)
            self._bar.update(examples)
            return
        # The fallback writes at most about ten lines an epoch, so logs stay readable.
        if self.done / self.total >= self._next_report or self.done == self.total:
            self._next_report = self.done / self.total + 0.1
            speed = self.done / max(time.perf_counter() - self.start, 1e-9)
            print(f"{self.description}: {self.done}/{self.total} examples, loss {loss:.4f}, "
                  f"accuracy {accuracy:.4f}, {speed:.0f} ex/s", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


# ------------------------------------------------------------------------------------
# 5. Checkpoints and outputs


CHECKPOINT = "checkpoint.npz"


def save_checkpoint(path: Path, config: TrainConfig, epoch: int, model, optimizer, loader: DataLoader,
                    history: list, wall_seconds: float) -> None:
    """Everything needed to continue the run exactly where it stopped (see the module
    docstring). ``minigrad.save`` writes atomically: a crash during the save leaves
    the previous checkpoint intact."""
    save({
        "config": dataclasses.asdict(config),
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": minigrad_random.get_state(),
        "loader": loader.state_dict(),
        "history": history,
        "wall_seconds": wall_seconds,
    }, path)


def versions(device: str) -> dict:
    found = {"minigrad": __version__, "numpy": numpy.__version__, "python": platform.python_version()}
    if device == "cuda":
        found["cupy"] = getattr(backend.cuda_module(), "__version__", "unknown")
    return found


def write_outputs(out: Path, result: dict, confusion: numpy.ndarray, class_names, log) -> None:
    """metrics.json, curves.png and confusion_matrix.png in ``out``."""
    (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    config = result["config"]
    title = f"{config['model']} on {config['dataset']}, {config['optimizer']} lr={config['lr']:g}"
    wrote = plots.plot_curves(result["epochs"], out / "curves.png", title)
    wrote = wrote and plots.plot_confusion_matrix(
        confusion, class_names, out / "confusion_matrix.png",
        f"{title}: test accuracy {result['test_accuracy']:.4f}",
    )
    if not wrote:
        log("note: matplotlib is not installed, so curves.png and confusion_matrix.png were skipped "
            '(pip install matplotlib, or "minigrad[lessons]")')


# ------------------------------------------------------------------------------------
# The whole run


def run_epoch(epoch: int, config: TrainConfig, model, optimizer, loader: DataLoader,
              test_images: numpy.ndarray, test_labels: numpy.ndarray) -> tuple[dict, numpy.ndarray]:
    """Train one epoch at this epoch's learning rate, then evaluate on the test set.
    Returns the epoch's entry of metrics.json and the test predictions."""
    start = time.perf_counter()
    for group in optimizer.param_groups:
        group["lr"] = learning_rate(config, epoch)
    progress = Progress(len(loader.dataset), f"epoch {epoch}/{config.epochs}")
    try:
        train_loss, train_accuracy = train_one_epoch(model, loader, optimizer, config, progress)
    finally:
        progress.close()
    test_loss, test_accuracy, predicted = evaluate(model, test_images, test_labels, config.device)
    entry = {"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_accuracy,
             "test_loss": test_loss, "test_accuracy": test_accuracy, "seconds": time.perf_counter() - start}
    return entry, predicted


def train(config: TrainConfig, out, resume=None, log=print) -> dict:
    """Train ``config`` (resolved first), writing everything into ``out``; return the
    metrics dict that metrics.json holds.

    ``resume`` is a directory holding a checkpoint.npz from an earlier run: training
    continues after its last epoch, up to ``config.epochs`` epochs in total. The model,
    data set, optimizer, seed and other settings come from the checkpoint; ``config``
    may only change ``epochs``, ``lr`` (e.g. to continue with a smaller rate),
    ``device`` and ``data_dir``. Resumed with the same ``epochs`` it reaches exactly the
    numbers of the run that never stopped; with more epochs, the cosine schedule is
    stretched over the new total from the resumed epoch on.
    """
    started = time.perf_counter()
    out = Path(out)
    checkpoint = load(Path(resume) / CHECKPOINT) if resume is not None else None
    if checkpoint is not None:
        config = _resume_config(checkpoint["config"], config)
    config = config.resolved()
    out.mkdir(parents=True, exist_ok=True)

    train_images, train_labels, test_images, test_labels, class_names = load_data(config)
    minigrad_random.manual_seed(config.seed)
    model = build_model(config.model, train_images.shape[1:], len(class_names)).to(config.device)
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr, config.momentum)
    loader = DataLoader(TensorDataset(train_images, train_labels), batch_size=config.batch_size,
                        shuffle=True, seed=config.seed)
    history, first_epoch, earlier_seconds = [], 1, 0.0
    if checkpoint is not None:
        first_epoch, history, earlier_seconds = _restore(checkpoint, model, optimizer, loader, config)
        log(f"resuming from {Path(resume) / CHECKPOINT} after epoch {first_epoch - 1}")
    log(f"training {config.model} on {config.dataset} ({len(train_labels)} training, {len(test_labels)} "
        f"test examples) with {config.optimizer} lr={config.lr:g} for {config.epochs} epochs, "
        f"batch size {config.batch_size}, seed {config.seed}, device {config.device}; writing to {out}")

    def wall_seconds() -> float:
        return earlier_seconds + time.perf_counter() - started

    # Where the last good checkpoint is, for the messages if the run stops early.
    saved_epoch, saved_in = (first_epoch - 1, Path(resume)) if checkpoint is not None else (0, None)
    epoch, predicted = first_epoch, None
    try:
        for epoch in range(first_epoch, config.epochs + 1):
            entry, predicted = run_epoch(epoch, config, model, optimizer, loader, test_images, test_labels)
            history.append(entry)
            log(f"epoch {epoch}/{config.epochs}: train loss {entry['train_loss']:.4f}, train accuracy "
                f"{entry['train_accuracy']:.4f}, test loss {entry['test_loss']:.4f}, test accuracy "
                f"{entry['test_accuracy']:.4f} ({entry['seconds']:.1f} s)")
            save_checkpoint(out / CHECKPOINT, config, epoch, model, optimizer, loader, history, wall_seconds())
            saved_epoch, saved_in = epoch, out
    except TrainingDiverged as error:
        raise TrainingDiverged(_diverged_message(error, epoch, config, saved_epoch, saved_in)) from None
    except KeyboardInterrupt:
        raise TrainingInterrupted(_interrupted_message(epoch, saved_epoch, saved_in)) from None

    if predicted is None:  # resumed from a checkpoint that already had every epoch
        _, _, predicted = evaluate(model, test_images, test_labels, config.device)
    report = metrics.classification_report(predicted, test_labels, class_names)
    test_accuracy = metrics.accuracy(predicted, test_labels)
    correct = int(numpy.sum(predicted == test_labels))
    log(f"test accuracy: {test_accuracy:.4f} ({correct}/{len(test_labels)})")
    log(metrics.format_report(report, digits=4))
    result = {"config": dataclasses.asdict(config), "epochs": history, "test_accuracy": test_accuracy,
              "report": report, "wall_seconds": wall_seconds(), "versions": versions(config.device)}
    confusion = metrics.confusion_matrix(predicted, test_labels, len(class_names))
    write_outputs(out, result, confusion, class_names, log)
    log(f"wrote metrics.json, curves.png, confusion_matrix.png and {CHECKPOINT} to {out}")
    return result


def default_out_dir(prefix: str = "") -> Path:
    """``runs/<prefix>YYYYmmdd-HHMMSS`` under the current directory: a new folder per run."""
    return Path("runs") / f"{prefix}{datetime.datetime.now():%Y%m%d-%H%M%S}"


# What a resumed run may change; everything else must match the checkpoint.
RESUME_OVERRIDES = ("epochs", "lr", "device", "data_dir")


def _resume_config(saved: dict, requested: TrainConfig) -> TrainConfig:
    """The checkpoint's config, with the settings in RESUME_OVERRIDES taken from
    ``requested`` where it sets them (not None)."""
    config = TrainConfig(**saved)
    changes = {name: getattr(requested, name) for name in RESUME_OVERRIDES
               if getattr(requested, name) is not None}
    return dataclasses.replace(config, **changes)


def _restore(checkpoint: dict, model, optimizer, loader: DataLoader, config: TrainConfig):
    """Load the saved state into freshly built objects; return (first epoch to run,
    history so far, wall seconds so far)."""
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])  # the lr is set again for every epoch
    minigrad_random.set_state(checkpoint["rng"])
    loader.load_state_dict(checkpoint["loader"])
    return int(checkpoint["epoch"]) + 1, list(checkpoint["history"]), float(checkpoint["wall_seconds"])


def _diverged_message(error: TrainingDiverged, epoch: int, config: TrainConfig, saved_epoch: int,
                      saved_in: Path | None) -> str:
    lower = f"{config.lr / 10:g}"
    message = (f"stopped in epoch {epoch}: {error}. The learning rate ({config.optimizer} lr={config.lr:g}) is "
               f"probably too large; try a lower one, e.g. --lr {lower}. ")
    if saved_in is None:
        return message + "No epoch had finished, so no checkpoint was written."
    return message + (f"The checkpoint of epoch {saved_epoch} in {saved_in / CHECKPOINT} is intact; continue "
                      f"from it with: minigrad train --resume {saved_in} --lr {lower}")


def _interrupted_message(epoch: int, saved_epoch: int, saved_in: Path | None) -> str:
    if saved_in is None:
        return f"interrupted during epoch {epoch}, before any epoch finished: no checkpoint was written."
    return (f"interrupted during epoch {epoch}; the checkpoint of epoch {saved_epoch} is in "
            f"{saved_in / CHECKPOINT}. Continue with: minigrad train --resume {saved_in}")



# ------------------------------------------------------------------------------------
# minigrad compare: one model, one seed, several optimizers

# name -> (optimizer, momentum). "sgd-momentum" is SGD with the classic momentum 0.9.
COMPARE_OPTIMIZERS = {"sgd": ("sgd", 0.0), "sgd-momentum": ("sgd", 0.9), "rmsprop": ("rmsprop", 0.0),
                      "adam": ("adam", 0.0)}


def parse_optimizer_spec(spec: str) -> tuple[str, float | None]:
    """``"adam"`` -> ("adam", None) (its default lr); ``"sgd:0.1"`` -> ("sgd", 0.1)."""
    name, _, lr = spec.partition(":")
    if name not in COMPARE_OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r} in {spec!r}; choose from {', '.join(COMPARE_OPTIMIZERS)}")
    if not lr:
        return name, None
    try:
        value = float(lr)
    except ValueError:
        raise ValueError(f"learning rate {lr!r} in {spec!r} is not a number") from None
    if not value > 0:
        raise ValueError(f"learning rate in {spec!r} must be > 0, got {value:g}")
    return name, value


def compare(config: TrainConfig, specs: list[str], out, log=print) -> dict:
    """Train ``config`` once per optimizer in ``specs`` (see ``parse_optimizer_spec``),
    every run from the same seed, so the runs start from the same parameters and see
    the same batches: the optimizer is the only difference. Each run writes its own
    outputs to ``out/<name>/``; ``out`` gets compare.json and compare.png (training
    loss and test accuracy per epoch, side by side). Returns the compare.json dict."""
    out = Path(out)
    runs = {}
    for spec in specs:
        name, lr = parse_optimizer_spec(spec)
        optimizer, momentum = COMPARE_OPTIMIZERS[name]
        run_config = dataclasses.replace(config, optimizer=optimizer, momentum=momentum, lr=lr)
        log(f"=== {name} ===")
        result = train(run_config, out / name, log=log)
        runs[name] = {"optimizer": optimizer, "momentum": momentum, "lr": result["config"]["lr"],
                      "epochs": result["epochs"], "test_accuracy": result["test_accuracy"],
                      "final_train_loss": result["epochs"][-1]["train_loss"],
                      "wall_seconds": result["wall_seconds"]}
    summary = {"config": dataclasses.asdict(config.resolved()), "runs": runs}
    (out / "compare.json").write_text(json.dumps(summary, indent=2) + "\n")
    log(format_comparison(runs))
    labels = {f"{name} (lr={run['lr']:g})": run["epochs"] for name, run in runs.items()}
    title = f"{config.model} on {config.dataset}: optimizers from the same seed ({config.seed})"
    if not plots.plot_comparison(labels, out / "compare.png", title):
        log("note: matplotlib is not installed, so compare.png was skipped (pip install matplotlib)")
    return summary


def format_comparison(runs: dict) -> str:
    """The table of final numbers that ``minigrad compare`` prints."""
    lines = [f"{'optimizer':<14} {'lr':>8} {'train loss':>11} {'test accuracy':>14} {'seconds':>9}"]
    for name, run in runs.items():
        lines.append(f"{name:<14} {run['lr']:>8g} {run['final_train_loss']:>11.4f} "
                     f"{run['test_accuracy']:>14.4f} {run['wall_seconds']:>9.1f}")
    return "\n".join(lines)
