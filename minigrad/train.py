"""Training an image classifier end to end: the loop behind ``minigrad train``.

Read it top to bottom; each step is one small function:

1. ``load_data``: the images as float32, scaled to [0, 1] and standardised.
2. ``build_model`` (models.py), ``make_optimizer`` and ``make_scheduler``, put
   together by ``start_run``.
3. ``train_one_epoch``: for every mini-batch, forward, loss, backward, step.
4. ``evaluate``: the test set in batches, under ``no_grad`` with ``model.eval()``.
5. ``save_checkpoint`` after every epoch; at the end ``write_outputs``: metrics.json,
   curves.png, confusion_matrix.png.

``train(config, out)`` runs all of it and returns the metrics (the dict written to
metrics.json). Three things can stop a run early, each with a message that says what
to do next:

* a run that diverges (below) raises ``TrainingDiverged``; the message suggests a
  lower learning rate, and the checkpoint on disk is the last good epoch;
* Ctrl-C raises ``TrainingInterrupted``; the checkpoint of the last completed epoch is
  on disk, and ``--resume`` continues from it;
* data that cannot be found raises the data set's FileNotFoundError.

**When a run has diverged.** A run has diverged when the loss of a training batch is
NaN or infinite, or when, after an epoch, the model's mean cross-entropy loss on the
test set is larger than 10 ln K for K classes (23.0 for the ten classes of
Fashion-MNIST). ln K is the loss of a uniform guess, about where a freshly initialised
network starts; learning takes the loss down from there (in 2-epoch runs of all four
models on 3,000 examples, each optimizer at its default rate, no test loss was above
2.22 and no batch loss above 3.9). A mean loss of 10 ln K means that the model gives
the right class a probability of about K^-10 (1e-10 for ten classes) on average: its
weights have been thrown far from anything that classifies, by steps that were too
large. Waiting for NaN is not enough: RMSprop at lr=1e6 stays finite, with a loss of
1e34 and a test accuracy of 0.10.

Why the model at the end of the epoch, and not every batch: one batch can spike far
above 10 ln K and the run still recover. RMSprop at PyTorch's default lr=1e-2 puts the
MLP's second batch at a loss of about 400 (its first steps are about 10 lr per weight,
lesson 08), and the MLP still ends that epoch (6,000 examples) at 74 % test accuracy.
A NaN or infinite batch loss, though, never comes back: it is checked at every batch,
before the optimizer step, so no NaN reaches the parameters. The test loss is checked
before the checkpoint is written, so a diverged model never replaces the last good one.

An overflow on the way there (in a product of the forward pass, or in the optimizer's
squared-gradient average) is a symptom of the same divergence, so the epoch's
arithmetic runs under ``numpy.errstate(over="ignore", ...)``: the inf or NaN it makes,
or the blown-up weights that caused it, reach a loss that these checks see, and the
user gets the message above instead of NumPy's ``RuntimeWarning: overflow`` pointing
into optimizer code.

Checkpoints, and how a resumed run reproduces the uninterrupted one: resume.py.
``minigrad search`` (minigrad/search/objective.py) trains its trials with the same
``start_run`` and ``run_epoch``, on the training set less a validation split
(``split_off_validation``).
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
from tqdm import tqdm

from . import __version__, backend, datasets, metrics, plots
from . import random as minigrad_random
from .autograd import no_grad
from .data import DataLoader, TensorDataset
from .files import atomic_path
from .losses import cross_entropy
from .models import build_model
from .optim import SGD, Adam, RMSprop, clip_grad_norm_
from .optim.lr_scheduler import CosineAnnealingLR
from .resume import CHECKPOINT, read_checkpoint, restore, resume_config, resumed_message, save_checkpoint
from .tensor import Tensor
from .train_config import OPTIMIZERS, TrainConfig, default_lr, describe_optimizer

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


class TrainingDiverged(RuntimeError):
    """The run diverged (see the module docstring); the message suggests a lower
    learning rate. ``reason`` says what the check saw, ``epoch`` is the epoch it
    stopped in, and ``epochs`` holds the metrics.json entries of the epochs that
    finished before."""

    def __init__(self, message: str, reason: str | None = None, epoch: int | None = None, epochs=()):
        super().__init__(message)
        self.reason = reason or message
        self.epoch = epoch
        self.epochs = list(epochs)


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
    load_split = LOADERS[config.dataset]
    train_images, train_labels = load_split(train=True, root=config.data_dir)
    test_images, test_labels = load_split(train=False, root=config.data_dir)
    if config.limit is not None:
        train_images, train_labels = train_images[: config.limit], train_labels[: config.limit]
    if config.test_limit is not None:
        test_images, test_labels = test_images[: config.test_limit], test_labels[: config.test_limit]
    mean, std = NORMALISATION[config.dataset]
    class_names = datasets.CLASSES[config.dataset]
    return (_standardise(train_images, mean, std), train_labels.astype(numpy.int64),
            _standardise(test_images, mean, std), test_labels.astype(numpy.int64), class_names)


def data_folders(config: TrainConfig) -> dict:
    """``{"train": folder, "test": folder}``: where the two splits were read from (the
    first place in the data sets' search order that holds them; see minigrad/datasets/)."""
    found = {split: datasets.locate(config.dataset, split == "train", config.data_dir) for split in ("train", "test")}
    return {split: None if folder is None else str(folder) for split, folder in found.items()}


def split_off_validation(images: numpy.ndarray, labels: numpy.ndarray, fraction: float, seed: int):
    """``(train_images, train_labels, validation_images, validation_labels)``: a random
    ``fraction`` of the examples (at least one), drawn with ``seed``, held out.

    Choosing hyperparameters by their test accuracy would make the test accuracy of
    the winner an optimistic estimate: it was picked *because* it scored well on those
    examples. ``minigrad search`` compares trials on this held-out part of the
    training set instead, and touches the test set once, with the winner. The draw
    depends only on the seed and the number of examples, so every trial of a search
    sees the same split. The examples kept for training stay in their original order.
    """
    order = numpy.random.default_rng(seed).permutation(len(labels))
    held_out = max(1, round(fraction * len(labels)))
    validation, kept = order[:held_out], numpy.sort(order[held_out:])
    return images[kept], labels[kept], images[validation], labels[validation]


def _standardise(images: numpy.ndarray, mean: tuple, std: tuple) -> numpy.ndarray:
    if images.ndim == 3:  # (N, H, W) grey images get their channel axis: (N, 1, H, W)
        images = images[:, None]
    mean = numpy.array(mean, dtype=numpy.float32).reshape(1, -1, 1, 1)
    std = numpy.array(std, dtype=numpy.float32).reshape(1, -1, 1, 1)
    return (images.astype(numpy.float32) / 255 - mean) / std


# ------------------------------------------------------------------------------------
# 2. Optimizer and learning-rate schedule


def make_optimizer(config: TrainConfig, parameters):
    """The optimizer of a resolved ``config``: ``sgd``, ``rmsprop`` or ``adam``.

    RMSprop is built from its preset (by default ``"pytorch"``: PyTorch's formula,
    alpha = 0.99, eps = 1e-8) with the config's lr, alpha, eps, momentum and centering
    on top (``RMSprop.like``)."""
    parameters = list(parameters)
    if config.optimizer == "sgd":
        return SGD(parameters, lr=config.lr, momentum=config.momentum)
    if config.optimizer == "rmsprop":
        return RMSprop.like(config.preset, parameters, lr=config.lr, alpha=config.alpha, eps=config.eps,
                            momentum=config.momentum, centered=config.centered)
    if config.optimizer == "adam":
        return Adam(parameters, lr=config.lr)
    raise ValueError(f"unknown optimizer {config.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")


def make_scheduler(config: TrainConfig, optimizer) -> CosineAnnealingLR | None:
    """The learning-rate schedule of the run, stepped once at the end of every epoch.

    ``"cosine"``: ``CosineAnnealingLR(optimizer, T_max=epochs)`` (lesson 12), so epoch
    e (1-based) of E trains at::

        lr_e = lr * (1 + cos(pi * (e - 1) / E)) / 2,

    falling from lr to near 0 along half a cosine. Why decay at all: at a constant
    rate, the noise of mini-batch gradients keeps the parameters bouncing around a
    minimum (the "noise ball", lesson 05); the smaller final steps settle them. ``"constant"``: no scheduler (None), lr throughout.
    """
    if config.schedule == "constant":
        return None
    return CosineAnnealingLR(optimizer, T_max=config.epochs)


# ------------------------------------------------------------------------------------
# 3. One epoch of training


def divergence_limit(num_classes: int) -> float:
    """10 ln K: with a test loss above this a run has diverged (see the module docstring)."""
    return 10 * math.log(num_classes)


def check_loss(loss: float, limit: float, what: str, when: str) -> None:
    """Raise ``TrainingDiverged`` when ``loss`` is NaN, infinite or above ``limit``
    (``math.inf`` to check for NaN and inf only); the message reads "{what} became
    {loss} {when}"."""
    if math.isfinite(loss) and loss <= limit:
        return
    why = f" (more than {limit:.1f}, ten times the loss of a uniform guess)" if math.isfinite(loss) else ""
    raise TrainingDiverged(f"{what} became {loss:.4g} {when}{why}")


def progress_bar(total_examples: int, description: str, show: bool = True) -> tqdm:
    """tqdm's bar for one epoch, counting examples, on stderr. In a terminal it is
    redrawn up to ten times a second; when stderr goes to a file (a log, a batch job)
    at most every 30 seconds, so that the log of a long run stays short. ``show=False``:
    a bar that draws nothing."""
    return tqdm(total=total_examples, desc=description, unit="ex", file=sys.stderr, dynamic_ncols=True,
                mininterval=0.1 if sys.stderr.isatty() else 30, disable=not show)


def train_one_epoch(model, loader: DataLoader, optimizer, config: TrainConfig, progress: tqdm) -> tuple[float, float]:
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
        # NaN or inf only (a finite spike may recover; see the module docstring), and
        # before the step, so that no NaN reaches the parameters.
        check_loss(loss_value, math.inf, "the training loss", f"at {seen} examples into the epoch")
        optimizer.zero_grad()
        loss.backward()
        if config.clip:
            clip_grad_norm_(model.parameters(), config.clip)
        optimizer.step()
        batch = len(labels)
        total_loss += loss_value * batch
        correct += int((logits.argmax(axis=1) == labels).sum().item())
        seen += batch
        progress.set_postfix_str(f"loss {total_loss / seen:.4f}, accuracy {correct / seen:.4f}", refresh=False)
        progress.update(batch)
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
# 5. Checkpoints and outputs


def versions(device: str) -> dict:
    found = {"minigrad": __version__, "numpy": numpy.__version__, "python": platform.python_version()}
    if device == "cuda":
        found["cupy"] = getattr(backend.cuda_module(), "__version__", "unknown")
    return found


def write_outputs(out: Path, result: dict, confusion: numpy.ndarray, class_names, log) -> list[str]:
    """metrics.json, curves.png and confusion_matrix.png in ``out``, each written under
    a temporary name and renamed (``files.atomic_path``). Returns the names of the
    files written: the pictures need matplotlib, and without it ``log`` gets a note."""
    with atomic_path(out / "metrics.json") as temporary:
        temporary.write_text(json.dumps(result, indent=2) + "\n")
    written = ["metrics.json"]
    config = result["config"]
    title = f"{config['model']} on {config['dataset']}, {config['optimizer']} lr={config['lr']:g}"
    if plots.plot_curves(result["epochs"], out / "curves.png", title):
        written.append("curves.png")
    if plots.plot_confusion_matrix(confusion, class_names, out / "confusion_matrix.png",
                                   f"{title}: test accuracy {result['test_accuracy']:.4f}"):
        written.append("confusion_matrix.png")
    if len(written) == 1:
        log("note: matplotlib is not installed, so curves.png and confusion_matrix.png were not drawn "
            "(pip install matplotlib)")
    return written


def join_names(names: list[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# ------------------------------------------------------------------------------------
# The whole run


def start_run(config: TrainConfig, train_images: numpy.ndarray, train_labels: numpy.ndarray, num_classes: int):
    """``(model, optimizer, scheduler, loader)`` for a resolved ``config``, freshly
    initialised from ``config.seed``: the same seed gives the same initial parameters
    and the same order of batches."""
    minigrad_random.manual_seed(config.seed)
    model = build_model(config.model, train_images.shape[1:], num_classes).to(config.device)
    optimizer = make_optimizer(config, model.parameters())
    scheduler = make_scheduler(config, optimizer)
    loader = DataLoader(TensorDataset(train_images, train_labels), batch_size=config.batch_size,
                        shuffle=True, seed=config.seed)
    return model, optimizer, scheduler, loader


def run_epoch(epoch: int, config: TrainConfig, model, optimizer, loader: DataLoader,
              test_images: numpy.ndarray, test_labels: numpy.ndarray, loss_limit: float,
              show_progress: bool = True, evaluated_on: str = "test") -> tuple[dict, numpy.ndarray]:
    """Train one epoch at the optimizer's current learning rate, then evaluate on the
    test set. Returns the epoch's entry of metrics.json and the test predictions.

    A search (minigrad/search/objective.py) passes its validation split as the "test"
    set, ``evaluated_on="validation"`` for the messages, and ``show_progress=False``
    (it shows one bar over its trials instead of one per epoch).

    Overflows are silenced here and only here, and a test loss above ``loss_limit``
    stops the run (see the module docstring): whatever an overflow breaks shows up in
    a loss that ``check_loss`` stops the run on."""
    start = time.perf_counter()
    progress = progress_bar(len(loader.dataset), f"epoch {epoch}/{config.epochs}", show=show_progress)
    with numpy.errstate(over="ignore", invalid="ignore", divide="ignore"):
        try:
            train_loss, train_accuracy = train_one_epoch(model, loader, optimizer, config, progress)
        finally:
            progress.close()
        test_loss, test_accuracy, predicted = evaluate(model, test_images, test_labels, config.device)
    check_loss(test_loss, loss_limit, f"the {evaluated_on} loss", "after the epoch")
    entry = {"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_accuracy,
             "test_loss": test_loss, "test_accuracy": test_accuracy, "seconds": time.perf_counter() - start}
    return entry, predicted


def train(config: TrainConfig, out, resume=None, log=print) -> dict:
    """Train ``config`` (resolved first), writing everything into ``out``; return the
    metrics dict that metrics.json holds.

    ``resume`` is a directory holding a checkpoint.npz from an earlier run: training
    continues after its last epoch, up to ``config.epochs`` epochs in total. The model,
    data set, optimizer, seed and other settings come from the checkpoint; ``config``
    may only change ``epochs`` (not below the epochs already done), ``lr`` (e.g. to
    continue with a smaller rate), ``device`` and ``data_dir`` (see
    ``continue_schedule`` (resume.py) for what happens to the schedule). Resumed with the same
    settings, it reaches exactly the numbers of the run that never stopped.
    """
    started = time.perf_counter()
    out = Path(out)
    checkpoint = read_checkpoint(Path(resume) / CHECKPOINT) if resume is not None else None
    if checkpoint is not None:
        config = resume_config(checkpoint, config)
    config = config.resolved()
    train_images, train_labels, test_images, test_labels, class_names = load_data(config)
    data = data_folders(config)
    out.mkdir(parents=True, exist_ok=True)  # only now: a run that finds no data leaves no empty folder
    model, optimizer, scheduler, loader = start_run(config, train_images, train_labels, len(class_names))
    history, first_epoch, earlier_seconds = [], 1, 0.0
    if checkpoint is not None:
        first_epoch, history, earlier_seconds = restore(checkpoint, model, optimizer, scheduler, loader, config,
                                                         Path(resume) / CHECKPOINT)
        log(resumed_message(Path(resume) / CHECKPOINT, checkpoint, config))
    epochs = f"{config.epochs} epoch{'' if config.epochs == 1 else 's'}"
    log(f"training {config.model} on {config.dataset} ({len(train_labels)} training, {len(test_labels)} "
        f"test examples) with {describe_optimizer(config)} for {epochs}, batch size {config.batch_size}, "
        f"seed {config.seed}, device {config.device}; writing to {out}")
    log(_data_message(data))

    def wall_seconds() -> float:
        return earlier_seconds + time.perf_counter() - started

    # Where the last good checkpoint is, for the messages if the run stops early.
    saved_epoch, saved_in = (first_epoch - 1, Path(resume)) if checkpoint is not None else (0, None)
    epoch, predicted, loss_limit = first_epoch, None, divergence_limit(len(class_names))
    try:
        for epoch in range(first_epoch, config.epochs + 1):
            entry, predicted = run_epoch(epoch, config, model, optimizer, loader, test_images, test_labels,
                                         loss_limit)
            history.append(entry)
            log(f"epoch {epoch}/{config.epochs}: train loss {entry['train_loss']:.4f}, train accuracy "
                f"{entry['train_accuracy']:.4f}, test loss {entry['test_loss']:.4f}, test accuracy "
                f"{entry['test_accuracy']:.4f} ({entry['seconds']:.1f} s)")
            if scheduler is not None:
                scheduler.step()  # the rate of the next epoch, saved with the checkpoint
            save_checkpoint(out / CHECKPOINT, config, epoch, model, optimizer, scheduler, loader, history,
                            wall_seconds())
            saved_epoch, saved_in = epoch, out
    except TrainingDiverged as error:
        message = _diverged_message(error, epoch, config, saved_epoch, saved_in)
        raise TrainingDiverged(message, reason=str(error), epoch=epoch, epochs=history) from None
    except KeyboardInterrupt:
        raise TrainingInterrupted(_interrupted_message(epoch, saved_epoch, saved_in)) from None

    if predicted is None:  # resumed from a checkpoint that already had every epoch
        _, _, predicted = evaluate(model, test_images, test_labels, config.device)
    report = metrics.classification_report(predicted, test_labels, class_names)
    test_accuracy = metrics.accuracy(predicted, test_labels)
    correct = int(numpy.sum(predicted == test_labels))
    log(f"test accuracy: {test_accuracy:.4f} ({correct}/{len(test_labels)})")
    log(metrics.format_report(report, digits=4))
    result = {"config": dataclasses.asdict(config), "data": data, "epochs": history,
              "test_accuracy": test_accuracy, "report": report, "wall_seconds": wall_seconds(),
              "versions": versions(config.device)}
    confusion = metrics.confusion_matrix(predicted, test_labels, len(class_names))
    written = write_outputs(out, result, confusion, class_names, log)
    if saved_in == out and saved_epoch >= first_epoch:  # this run saved a checkpoint in out
        written.append(CHECKPOINT)
    log(f"wrote {join_names(written)} to {out}")
    return result


def default_out_dir(prefix: str = "") -> Path:
    """``runs/<prefix>YYYYmmdd-HHMMSS`` under the current directory: a new folder per run."""
    return Path("runs") / f"{prefix}{datetime.datetime.now():%Y%m%d-%H%M%S}"


def _data_message(data: dict) -> str:
    if data["train"] == data["test"]:
        return f"data: {data['train']}"
    return f"data: training set from {data['train']}, test set from {data['test']}"


def lower_lr(optimizer: str, momentum: float, lr: float) -> float:
    """A learning rate to suggest after a divergence: the default, when the run used a
    larger one, else a tenth of the one it used."""
    default = default_lr(optimizer, momentum)
    return default if lr > default else lr / 10


def _diverged_message(error: TrainingDiverged, epoch: int, config: TrainConfig, saved_epoch: int,
                      saved_in: Path | None) -> str:
    lower = f"{lower_lr(config.optimizer, config.momentum, config.lr):g}"
    message = (f"stopped in epoch {epoch}: {error}. The learning rate ({describe_optimizer(config)}) is "
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
