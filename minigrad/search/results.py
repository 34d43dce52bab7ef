"""What a search writes about its trials: ``trials.json`` and ``trials.csv`` (every
trial: number, state, parameters, validation accuracy per epoch, value, seconds,
worker), ``best.json`` (the best trial, and the ``minigrad train`` command line that
trains its configuration). Every file is written under a temporary name and renamed
(``files.atomic_path``), so a search stopped while writing never leaves half a file.

States are Optuna's: COMPLETE (ran every epoch; its value is the last validation
accuracy), PRUNED (stopped early by the pruner, or diverged; its value is the last
accuracy it reported), FAIL (stopped by Ctrl-C or a killed worker; run again as a
new trial, whose note says ``retry of trial N``), RUNNING and WAITING (queued).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shlex
from pathlib import Path

import optuna
from optuna.trial import TrialState

from ..files import atomic_path
from ..train_config import TrainConfig


def trial_rows(study: optuna.Study) -> list[dict]:
    """One dict per trial of the study, in trial order."""
    return [trial_row(trial) for trial in study.get_trials(deepcopy=False)]


def trial_row(trial: optuna.trial.FrozenTrial) -> dict:
    steps = sorted(trial.intermediate_values)
    return {"number": trial.number, "state": trial.state.name, "params": dict(trial.params),
            "validation_accuracy": [trial.intermediate_values[step] for step in steps], "value": trial.value,
            "seconds": None if trial.duration is None else trial.duration.total_seconds(),
            "worker": trial.user_attrs.get("worker"), "note": _note(trial)}


def _note(trial: optuna.trial.FrozenTrial) -> str:
    notes = []
    if "failed_trial" in trial.system_attrs:  # set by RetryHeartbeatStaleTrialCallback on the copy it queues
        notes.append(f"retry of trial {trial.system_attrs['failed_trial']}")
    if trial.state == TrialState.PRUNED and "diverged" in trial.user_attrs:
        notes.append(f"diverged in {trial.user_attrs['diverged']}")
    if trial.state == TrialState.FAIL:
        notes.append("interrupted" if trial.user_attrs.get("interrupted") else "its worker stopped")
    return "; ".join(notes)


def write_trials(out: Path, rows: list[dict], header: dict) -> None:
    """``trials.json`` (``header`` and the rows) and ``trials.csv`` (one line per trial)."""
    with atomic_path(out / "trials.json") as temporary:
        temporary.write_text(json.dumps({**header, "trials": rows}, indent=2) + "\n")
    with atomic_path(out / "trials.csv") as temporary:
        temporary.write_text(trials_csv(rows, list(header["space"])))


def trials_csv(rows: list[dict], names: list[str]) -> str:
    """The rows as CSV: number, state, value, seconds, worker, one column per
    parameter, one per epoch (the validation accuracy after it), and the note."""
    epochs = max((len(row["validation_accuracy"]) for row in rows), default=0)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["number", "state", "value", "seconds", "worker", *names,
                     *(f"validation_accuracy_epoch_{epoch}" for epoch in range(1, epochs + 1)), "note"])
    for row in rows:
        accuracies = row["validation_accuracy"] + [None] * (epochs - len(row["validation_accuracy"]))
        writer.writerow([_cell(value) for value in (row["number"], row["state"], row["value"], row["seconds"],
                                                     row["worker"], *(row["params"].get(name) for name in names),
                                                     *accuracies, row["note"])])
    return text.getvalue()


def _cell(value) -> str:
    return "" if value is None else str(value)


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The COMPLETE trial with the highest validation accuracy (the first of equals),
    or None when no trial completed. Pruned trials do not compete: they stopped early."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    return study.best_trial


def train_command(config: TrainConfig) -> str:
    """The ``minigrad train`` command line that trains ``config`` (resolved): every
    searched setting spelled out, floats in full (``repr``), so that the run is the
    same one."""
    args = ["minigrad", "train", "--model", config.model]
    if config.dataset != TrainConfig.dataset:
        args += ["--dataset", config.dataset]
    args += ["--optimizer", config.optimizer, "--lr", repr(config.lr)]
    if config.momentum:
        args += ["--momentum", repr(config.momentum)]
    if config.preset != TrainConfig.preset:
        args += ["--preset", config.preset]
    for option in ("alpha", "eps"):  # RMSprop's (set for another optimizer only when searched, and unused)
        if getattr(config, option) is not None:
            args += [f"--{option}", repr(getattr(config, option))]
    if config.centered:
        args.append("--centered")
    args += ["--batch-size", str(config.batch_size), "--epochs", str(config.epochs), "--seed", str(config.seed)]
    if config.limit is not None:
        args += ["--limit", str(config.limit)]
    if config.data_dir is not None:
        args += ["--data-dir", config.data_dir]
    if config.device != "cpu":
        args += ["--device", config.device]
    return shlex.join(args)


def best_summary(trial: optuna.trial.FrozenTrial, config: TrainConfig) -> dict:
    """best.json: the trial, its validation accuracy, its parameters, the whole
    training configuration, and the command that trains it. ``test_accuracy`` is
    filled in by the final run (None until then, or with ``--no-final``)."""
    return {"trial": trial.number, "validation_accuracy": trial.value, "params": dict(trial.params),
            "config": dataclasses.asdict(config), "command": train_command(config), "test_accuracy": None,
            "final_run": None}


def write_best(out: Path, best: dict) -> None:
    with atomic_path(out / "best.json") as temporary:
        temporary.write_text(json.dumps(best, indent=2) + "\n")
