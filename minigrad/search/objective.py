"""One trial = one training run, judged on a validation split.

The objective that Optuna maximises. For a trial it

1. asks the trial for a value of every parameter of the space (``space.suggest``);
2. makes the ``TrainConfig`` of ``minigrad train`` with those values
   (``trial_config``), and starts the run as ``minigrad train`` does (``start_run``:
   same seed, so every trial starts from the same weights and sees the same batches,
   and the hyperparameters are the only difference);
3. trains epoch by epoch (``run_epoch``) on the training set less the validation split,
   and after every epoch **reports** the validation accuracy to Optuna;
4. asks the pruner whether to stop (``trial.should_prune()``): the median pruner stops a
   trial whose accuracy after epoch e is below the median of the earlier trials'
   accuracies after epoch e; successive halving keeps the best part of the trials at
   each rung. A stopped trial raises ``optuna.TrialPruned`` and ends PRUNED; its
   remaining epochs are the time pruning saves. There is no pruning after the last
   epoch, where stopping saves nothing: a trial that ran every epoch ends COMPLETE;
5. returns the last epoch's validation accuracy, the trial's value.

A trial that diverges (its loss NaN, infinite or huge: see train.py) is a bad
configuration, not an error: it ends PRUNED with the reason in its user attribute
``"diverged"``, so it counts in the budget and the samplers learn to avoid it.

**Ctrl-C.** A worker stops on SIGINT (``interrupt``), but never in the middle of a write
to the storage, where a half-written record could damage the study: the
KeyboardInterrupt is raised at once only while the trial trains (between two writes);
anywhere else the request is noted, and the worker stops at the next safe point (the
end of the epoch, or before its next trial). A trial stopped this way ends FAIL with
the user attribute ``"interrupted"``, and is run again by the next ``--resume``
(runner.py).

The validation split is ``VALIDATION_FRACTION`` of the training set (after
``--limit``), drawn once with the search's seed (``train.split_off_validation``); the
test set is not used here at all.
"""

from __future__ import annotations

import dataclasses
import os
import socket

import numpy
import optuna

from ..train import TrainingDiverged, divergence_limit, load_data, run_epoch, split_off_validation, start_run
from ..train_config import TrainConfig
from .settings import VALIDATION_FRACTION
from .space import suggest


@dataclasses.dataclass
class SearchData:
    """The training set of a search, split once into the part the trials train on
    and the part they are compared on."""

    train_images: numpy.ndarray
    train_labels: numpy.ndarray
    validation_images: numpy.ndarray
    validation_labels: numpy.ndarray
    num_classes: int


def load_search_data(base: TrainConfig) -> SearchData:
    """The data of ``base`` (its data set, ``limit`` and data folder), with the
    validation split held out (see the module docstring)."""
    config = base.resolved()
    images, labels, _, _, class_names = load_data(config)
    split = split_off_validation(images, labels, VALIDATION_FRACTION, config.seed)
    return SearchData(*split, num_classes=len(class_names))


# Search parameters are named as minigrad train's options; TrainConfig's fields use underscores.
FIELD_NAMES = {"batch-size": "batch_size"}


def trial_config(params: dict, base: TrainConfig) -> TrainConfig:
    """``base`` with a trial's parameter values (``{"lr": 0.003, "batch-size": 64}``), resolved."""
    values = {FIELD_NAMES.get(name, name): value for name, value in params.items()}
    return dataclasses.replace(base, **values).resolved()


class Objective:
    """``Objective(space, base, data, worker)(trial)`` trains one trial and returns its
    validation accuracy (see the module docstring). ``worker`` names the process in
    the trial's user attribute ``"worker"`` (host name and worker number); ``"pid"``
    is its process id."""

    def __init__(self, space: dict, base: TrainConfig, data: SearchData, worker: str | None = None):
        self.space, self.base, self.data = space, base, data
        self.worker = worker or f"{socket.gethostname()}-0"
        self.stop_requested = False  # Ctrl-C came (see the module docstring)
        self._training = False  # True only while run_epoch computes: nothing is being written then

    def interrupt(self, *_) -> None:
        """The worker's SIGINT handler: stop now if the trial is training, else at the
        next safe point (see the module docstring)."""
        self.stop_requested = True
        if self._training:
            raise KeyboardInterrupt

    def __call__(self, trial: optuna.Trial) -> float:
        try:
            self._stop_if_asked()
            trial.set_user_attr("worker", self.worker)
            trial.set_user_attr("pid", os.getpid())  # which process to look at (or stop) while it runs
            params = {name: suggest(trial, name, spec) for name, spec in self.space.items()}
            return self._train(trial, trial_config(params, self.base))
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)  # so that --resume runs it again
            raise

    def _stop_if_asked(self) -> None:
        if self.stop_requested:
            raise KeyboardInterrupt

    def _train(self, trial: optuna.Trial, config: TrainConfig) -> float:
        data = self.data
        model, optimizer, scheduler, loader = start_run(config, data.train_images, data.train_labels,
                                                        data.num_classes)
        loss_limit = divergence_limit(data.num_classes)
        accuracy = 0.0
        for epoch in range(1, config.epochs + 1):
            self._stop_if_asked()
            try:
                accuracy = self._train_epoch(epoch, config, model, optimizer, loader, loss_limit)
            except TrainingDiverged as error:
                trial.set_user_attr("diverged", f"epoch {epoch}: {error}")
                raise optuna.TrialPruned(f"diverged in epoch {epoch}: {error}") from None
            self._stop_if_asked()
            trial.report(accuracy, epoch)
            if scheduler is not None:
                scheduler.step()
            if epoch < config.epochs and trial.should_prune():
                raise optuna.TrialPruned(f"validation accuracy {accuracy:.4f} after epoch {epoch}")
        return accuracy

    def _train_epoch(self, epoch: int, config: TrainConfig, model, optimizer, loader, loss_limit: float) -> float:
        """One epoch of training, then the validation accuracy; Ctrl-C stops it at once."""
        self._training = True
        try:
            entry, _ = run_epoch(epoch, config, model, optimizer, loader, self.data.validation_images,
                                 self.data.validation_labels, loss_limit, show_progress=False,
                                 evaluated_on="validation")
        finally:
            self._training = False
        return entry["test_accuracy"]  # run_epoch's "test" set is the validation split here
