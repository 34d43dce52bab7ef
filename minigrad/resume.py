"""Checkpoints of ``minigrad train``, and resuming a run from one.

**Resuming reproduces the uninterrupted run exactly.** Everything random in a run
comes from two generators: minigrad's global one (parameter initialisation, dropout
masks) and the DataLoader's own (the order of the examples in each epoch). A
checkpoint holds both generators' states next to the parameters, the optimizer's
state and the learning-rate scheduler's state, so the resumed run draws the same
dropout masks and the same batches, at the same learning rates, as the run that never
stopped, and (on the CPU, where NumPy is deterministic) gets bit-for-bit the same
numbers.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from . import random as minigrad_random
from .checkpoint import load, save
from .data import DataLoader
from .optim.lr_scheduler import CosineAnnealingLR
from .train_config import TrainConfig


class CheckpointError(ValueError):
    """A file that is not a readable checkpoint of ``minigrad train`` (damaged, or
    written by something else); the message names the file and what is wrong."""


CHECKPOINT = "checkpoint.npz"
# TrainConfig's settings that came after the first checkpoints (RMSprop's options, with
# `minigrad search`): a checkpoint without them is read with their defaults.
ADDED_SETTINGS = {"alpha", "eps", "centered", "preset"}
CHECKPOINT_KEYS = ("config", "epoch", "model", "optimizer", "scheduler", "rng", "loader", "history", "wall_seconds")


def save_checkpoint(path: Path, config: TrainConfig, epoch: int, model, optimizer, scheduler,
                    loader: DataLoader, history: list, wall_seconds: float) -> None:
    """Everything needed to continue the run exactly where it stopped (see the module
    docstring). ``minigrad.save`` writes atomically: a crash during the save leaves
    the previous checkpoint intact."""
    save({
        "config": dataclasses.asdict(config),
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "rng": minigrad_random.get_state(),
        "loader": loader.state_dict(),
        "history": history,
        "wall_seconds": wall_seconds,
    }, path)


def read_checkpoint(path) -> dict:
    """Load a checkpoint written by ``save_checkpoint``. A file that is damaged
    (truncated, corrupted, empty) or was written by something else raises
    ``CheckpointError`` naming the file and what is wrong with it."""
    try:
        state = load(path)
    except (OSError, ValueError) as error:  # minigrad.load's error names the file
        raise CheckpointError(str(error)) from None
    missing = [key for key in CHECKPOINT_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise CheckpointError(f"{str(path)!r} is not a checkpoint of minigrad train (it has no "
                              f"{', '.join(missing)}; written by something else, or by another version)")
    fields = {field.name: field.default for field in dataclasses.fields(TrainConfig)}
    config = state["config"]
    if isinstance(config, dict) and set(config) < set(fields) and set(fields) - set(config) <= ADDED_SETTINGS:
        # written before these settings existed: its run used their defaults
        config = state["config"] = {**{name: fields[name] for name in ADDED_SETTINGS}, **config}
    if not isinstance(config, dict) or set(config) != set(fields):
        raise CheckpointError(f"{str(path)!r} holds settings that this version of minigrad train does not know")
    return state


# What a resumed run may change; everything else must match the checkpoint.
RESUME_OVERRIDES = ("epochs", "lr", "device", "data_dir")


def resume_config(checkpoint: dict, requested: TrainConfig) -> TrainConfig:
    """The checkpoint's config, with the settings in RESUME_OVERRIDES taken from
    ``requested`` where it sets them (not None). Asking for fewer epochs than were
    done is a ValueError: the run cannot be shortened after the fact."""
    config = TrainConfig(**checkpoint["config"])
    changes = {name: getattr(requested, name) for name in RESUME_OVERRIDES
               if getattr(requested, name) is not None}
    done = int(checkpoint["epoch"])
    if changes.get("epochs", done) < done:
        raise ValueError(f"the checkpoint has {done} epochs done; a resumed run cannot have fewer "
                         f"(asked for {changes['epochs']})")
    return dataclasses.replace(config, **changes)


def restore(checkpoint: dict, model, optimizer, scheduler, loader: DataLoader, config: TrainConfig, path: Path):
    """Load the saved state into freshly built objects; return (first epoch to run,
    history so far, wall seconds so far). A checkpoint whose parts do not fit the
    objects its own config builds raises CheckpointError."""
    try:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        if (scheduler is None) != (checkpoint["scheduler"] is None):
            raise ValueError(f"its scheduler does not fit the schedule {config.schedule!r}")
        if scheduler is not None:
            scheduler.load_state_dict(checkpoint["scheduler"])
        minigrad_random.set_state(checkpoint["rng"])
        loader.load_state_dict(checkpoint["loader"])
        epoch, history, seconds = int(checkpoint["epoch"]), list(checkpoint["history"]), float(checkpoint["wall_seconds"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{str(path)!r} does not fit the {config.model} run it describes: {error}") from None
    continue_schedule(scheduler, optimizer, config)
    return epoch + 1, history, seconds


def continue_schedule(scheduler: CosineAnnealingLR | None, optimizer, config: TrainConfig) -> None:
    """Set the learning rate of the epochs still to run, after a resume.

    A resumed run may ask for another total of epochs or another lr. The cosine is then
    the one of the new settings, from the epoch reached on: epoch e trains at
    lr (1 + cos(pi (e - 1) / epochs)) / 2 with the new lr and epochs (so more epochs
    stretch the remaining part of the curve, and it still ends near 0). This is done by
    giving the restored scheduler the new ``T_max`` and base rate; with unchanged
    settings they are the ones it had, and the rate is exactly the one it had set, so
    the resumed run equals the uninterrupted one. The constant schedule takes the lr.
    """
    if scheduler is None:
        for group in optimizer.param_groups:
            group["lr"] = config.lr
        return
    scheduler.T_max = config.epochs
    scheduler.base_lrs = [config.lr for _ in optimizer.param_groups]
    for group, rate in zip(optimizer.param_groups, scheduler.get_lr()):
        group["initial_lr"], group["lr"] = config.lr, rate  # initial_lr: the base rate, as the scheduler set it


def resumed_message(path: Path, checkpoint: dict, config: TrainConfig) -> str:
    """Which checkpoint, which epoch, which settings came from it and which changed."""
    saved = checkpoint["config"]
    kept = ", ".join(f"{name.replace('_', ' ')} {saved[name]}" for name in saved if name not in RESUME_OVERRIDES)
    changed = [f"{name.replace('_', ' ')} {getattr(config, name)} (was {saved[name]})"
               for name in RESUME_OVERRIDES if getattr(config, name) != saved[name]]
    message = f"resuming from {path} after epoch {checkpoint['epoch']}; settings from the checkpoint: {kept}"
    return message + (f"; changed: {', '.join(changed)}" if changed else "")
