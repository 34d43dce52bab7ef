"""``minigrad compare``: one model, one seed, several optimizers.

Every run starts from the same parameters and sees the same batches (the same seed),
so the optimizer is the only difference between them. Each run is an ordinary
``minigrad train`` run (``train.train``) in its own folder; this module adds the
comparison: compare.json, a table and compare.png. A run that diverges is a result
too: it is marked as diverged and the comparison goes on.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

from . import plots
from .files import atomic_path
from .train import TrainingDiverged, join_names, lower_lr, train
from .train_config import TrainConfig

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
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"learning rate in {spec!r} must be a finite number > 0, got {value:g}")
    return name, value


def compare(config: TrainConfig, specs: list[str], out, log=print) -> dict:
    """Train ``config`` once per optimizer in ``specs`` (see ``parse_optimizer_spec``),
    every run from the same seed, so the runs start from the same parameters and see
    the same batches: the optimizer is the only difference. Each run writes its own
    outputs to ``out/<name>/``; ``out`` gets compare.json and compare.png (training
    loss and test accuracy per epoch, side by side). Returns the compare.json dict.

    A run that diverges is a result, not the end of the comparison: it is marked
    ``"diverged": true`` in compare.json (with the epoch it stopped in, the reason and
    the epochs it finished), in the table and in the plot's legend, and the next
    optimizer runs. When every run diverged, compare.json and compare.png are still
    written, then ``TrainingDiverged`` is raised (``minigrad compare`` exits with 3).
    """
    out = Path(out)
    runs = {}
    for spec in specs:
        name, lr = parse_optimizer_spec(spec)
        optimizer, momentum = COMPARE_OPTIMIZERS[name]
        run_config = dataclasses.replace(config, optimizer=optimizer, momentum=momentum, lr=lr)
        log(f"=== {name} ===")
        runs[name] = _compare_run(name, run_config, out / name, log)
    # the settings the runs share; each run's optimizer, lr and momentum are in its entry
    shared = {name: value for name, value in dataclasses.asdict(config.resolved()).items()
              if name not in ("optimizer", "lr", "momentum")}
    summary = {"config": shared, "runs": runs}
    with atomic_path(out / "compare.json") as temporary:
        temporary.write_text(json.dumps(summary, indent=2) + "\n")
    log(format_comparison(runs))
    written = ["compare.json"]
    labels = {_comparison_label(name, run): run["epochs"] for name, run in runs.items()}
    title = f"{config.model} on {config.dataset}: optimizers from the same seed ({config.seed})"
    if plots.plot_comparison(labels, out / "compare.png", title):
        written.append("compare.png")
    else:
        log("note: matplotlib is not installed, so compare.png was not drawn (pip install matplotlib)")
    log(f"wrote {join_names(written)} to {out} (each optimizer's own run is in {out}/<optimizer>)")
    if all(run["diverged"] for run in runs.values()):
        lower = {name: lower_lr(run["optimizer"], run["momentum"], run["lr"]) for name, run in runs.items()}
        raise TrainingDiverged(f"every optimizer diverged ({', '.join(runs)}); try lower learning rates, e.g. "
                               + " ".join(f"{name}:{lr:g}" for name, lr in lower.items()))
    return summary


def _compare_run(name: str, config: TrainConfig, out: Path, log) -> dict:
    """One run of ``compare``, as its entry of compare.json."""
    started = time.perf_counter()
    entry = {"optimizer": config.optimizer, "momentum": config.momentum, "lr": config.resolved().lr}
    try:
        result = train(config, out, log=log)
    except TrainingDiverged as error:
        log(f"{name} diverged in epoch {error.epoch}: {error.reason}; going on with the other optimizers")
        return {**entry, "diverged": True, "diverged_in_epoch": error.epoch, "reason": error.reason,
                "epochs": error.epochs, "test_accuracy": None, "final_train_loss": None,
                "wall_seconds": time.perf_counter() - started}
    return {**entry, "diverged": False, "epochs": result["epochs"], "test_accuracy": result["test_accuracy"],
            "final_train_loss": result["epochs"][-1]["train_loss"], "wall_seconds": result["wall_seconds"]}


def _comparison_label(name: str, run: dict) -> str:
    if run["diverged"]:
        return f"{name} (lr={run['lr']:g}, diverged in epoch {run['diverged_in_epoch']})"
    return f"{name} (lr={run['lr']:g})"


def format_comparison(runs: dict) -> str:
    """The table of final numbers that ``minigrad compare`` prints."""
    lines = [f"{'optimizer':<14} {'lr':>8} {'train loss':>11} {'test accuracy':>14} {'seconds':>9}"]
    for name, run in runs.items():
        if run["diverged"]:
            outcome = f"{'diverged in epoch ' + str(run['diverged_in_epoch']):>26}"
        else:
            outcome = f"{run['final_train_loss']:>11.4f} {run['test_accuracy']:>14.4f}"
        lines.append(f"{name:<14} {run['lr']:>8g} {outcome} {run['wall_seconds']:>9.1f}")
    return "\n".join(lines)
