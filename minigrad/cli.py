"""The ``minigrad`` command (also ``python -m minigrad``).

* ``minigrad train`` trains an image classifier (by default a small CNN on
  Fashion-MNIST with RMSprop) and writes metrics.json, curves.png,
  confusion_matrix.png and checkpoint.npz to ``--out``. The loop itself is in
  ``minigrad/train.py``; this file only turns command-line options into a
  ``TrainConfig`` and errors into messages.
* ``minigrad compare`` trains one model from one seed with several optimizers and
  plots their curves side by side.
* ``minigrad search`` searches the hyperparameters of ``minigrad train`` (RMSprop's lr,
  alpha, eps, ...) with Optuna, in parallel, on one machine or many; the search itself
  is in ``minigrad/search/`` (Optuna is imported only when it runs).
* ``minigrad demo`` fits a small network to sin(x) with nothing but Tensors and the
  backward engine: a first taste of what the lessons build up to.

Every error a user can cause ends in one line on stderr that says what was wrong and
what to do, and an exit code (``EXIT_CODES``); never in a traceback.

Options that a resumed run takes from its checkpoint (``--model``, ``--seed``, ...)
have the default None in the parser, so that "given on the command line" is simply
"not None"; ``TrainConfig`` fills in the real defaults later, and the help texts name
them.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from pathlib import Path

import numpy

import minigrad as mg

from . import backend, datasets, resume, train_config
from . import compare as comparing
from . import train as training
from .models import MODELS
from .optim.rmsprop import PRESETS
from .search import settings as search_settings
from .search import space as search_space
from .search.errors import SearchError, SearchInterrupted, SearchUnavailable

EXIT_UNAVAILABLE, EXIT_BAD_ARGUMENTS, EXIT_DIVERGED, EXIT_INTERRUPTED = 1, 2, 3, 130
EXIT_BROKEN_PIPE = 141  # what a shell reports for a program stopped by SIGPIPE
# Both texts are shown as written (RawDescriptionHelpFormatter), so they are wrapped by
# hand to fit a terminal 74 columns wide (and the code box of the book's CLI page).
EXIT_CODES = """\
exit codes:
  0    success
  1    the data, a checkpoint, the output folder, the GPU or a search's
       storage cannot be used
  2    bad arguments (for search also: a bad search space, a storage that
       cannot be reached, a study made with another space)
  3    the run diverged (its loss became NaN, infinite or huge): the
       learning rate is too large
  130  interrupted with Ctrl-C (the last finished epoch's checkpoint is
       kept; a search keeps its finished trials)"""

DESCRIPTION = """\
minigrad is a small, readable reverse-mode autograd framework on NumPy
(and CuPy on a GPU). These commands train image classifiers built with it
on Fashion-MNIST, MNIST or CIFAR-10. Run "minigrad COMMAND --help" for the
options of each command."""

DEFAULTS = train_config.TrainConfig()  # the defaults that the help texts name


# ------------------------------------------------------------------------------------
# minigrad demo


DEMO_LR = 0.05


def demo(steps: int = 2000, hidden: int = 32, lr: float = DEMO_LR, seed: int = 0) -> float:
    """Fit y = sin(x) on [-pi, pi] with a 1-hidden-layer tanh network and gradient
    descent; print the error as it falls and return the final mean squared error.

    The fit has diverged when the mean squared error becomes NaN or infinite (checked
    at every step, before the update), or ends above 5: ten times the error of
    predicting 0 everywhere (the mean of sin(x)^2 is 1/2). A finite error may spike
    above 5 and come back (at lr=0.08 it reaches 5.1 at step 7 and ends at 0.05), so
    only the final one is held to that bound, as ``minigrad train`` holds the model at
    the end of an epoch to its own. Divergence raises ``training.TrainingDiverged``
    (the learning rate is too large); overflows on the way raise no NumPy warning. Bad
    arguments raise ValueError.
    """
    for name, value in (("steps", steps), ("hidden", hidden)):
        if not (isinstance(value, int) and value >= 1):
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    mg.manual_seed(seed)
    x = mg.arange(-math.pi, math.pi, 2 * math.pi / 128).reshape(-1, 1)
    y = mg.tensor(numpy.sin(x.numpy()))  # the target: no gradient needed through it
    # weights scaled by 1/sqrt(fan_in) so tanh starts in its linear range
    w1 = mg.randn(1, hidden, requires_grad=True)
    b1 = mg.zeros(hidden, requires_grad=True)
    w2 = (mg.randn(hidden, 1) * hidden**-0.5).requires_grad_()
    b2 = mg.zeros(1, requires_grad=True)
    params = [w1, b1, w2, b2]
    report_every = math.ceil(steps / 10)  # about ten lines, however many steps
    start = time.perf_counter()
    with numpy.errstate(over="ignore", invalid="ignore", divide="ignore"):  # the checks below report it
        for step in range(1, steps + 1):
            prediction = (x @ w1 + b1).tanh() @ w2 + b2
            loss = ((prediction - y) ** 2).mean()
            mse = loss.item()
            if not math.isfinite(mse):
                raise training.TrainingDiverged(_demo_diverged_message(f"at step {step}", mse, lr))
            for p in params:
                p.grad = None
            loss.backward()
            with mg.no_grad():
                for p in params:
                    p.data -= lr * p.grad.data  # plain gradient descent: theta <- theta - lr * dL/dtheta
            if step == 1 or step % report_every == 0 or step == steps:
                print(f"step {step:5d}   mean squared error {mse:.6f}")
    limit = 10 * float(numpy.mean(y.numpy() ** 2))
    if mse > limit:
        why = f" (more than {limit:.1f}, ten times the error of predicting 0)"
        raise training.TrainingDiverged(_demo_diverged_message(f"after step {steps}", mse, lr, why))
    print(f"fitted sin(x) with {sum(p.size for p in params)} parameters in {time.perf_counter() - start:.1f} s")
    return mse


def _demo_diverged_message(when: str, mse: float, lr: float, why: str = "") -> str:
    lower = DEMO_LR if lr > DEMO_LR else lr / 10
    return (f"the fit diverged: the mean squared error was {mse:.4g} {when}{why}. The learning rate "
            f"(lr={lr:g}) is too large; try a lower one, e.g. --lr {lower:g}")


# ------------------------------------------------------------------------------------
# Argument types: each rejects a bad value with a message that names it


def _positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _finite_float(text: str, allow_zero: bool) -> float:
    """argparse type: a finite float > 0 (or >= 0)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and (value > 0 or (allow_zero and value == 0))):
        raise argparse.ArgumentTypeError(f"must be a finite number {'>=' if allow_zero else '>'} 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    return _finite_float(text, allow_zero=False)


def _non_negative_float(text: str) -> float:
    return _finite_float(text, allow_zero=True)


def _existing_folder(text: str) -> str:
    """argparse type: a folder that exists (a typo must not silently fall back to
    another data location)."""
    if not Path(text).is_dir():
        problem = "is a file, not a folder" if Path(text).exists() else "no such folder"
        raise argparse.ArgumentTypeError(f"{text}: {problem}")
    return text


# ------------------------------------------------------------------------------------
# The parser


def _per_model(key: str) -> str:
    return ", ".join(f"{model} {defaults[key]}" for model, defaults in train_config.MODEL_DEFAULTS.items())


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    """The options ``train`` and ``compare`` share (defaults of None: see the module docstring)."""
    parser.add_argument("--model", choices=MODELS, help=f"the network (default: {DEFAULTS.model})")
    parser.add_argument("--dataset", choices=train_config.DATASETS, help=f"the data set (default: {DEFAULTS.dataset})")
    parser.add_argument("--epochs", type=_positive_int,
                        help=f"epochs to train in all (default: per model, {_per_model('epochs')})")
    parser.add_argument("--batch-size", type=_positive_int,
                        help=f"examples per mini-batch (default: per model, {_per_model('batch_size')})")
    parser.add_argument("--schedule", choices=train_config.SCHEDULES,
                        help=f"learning-rate schedule over the epochs (default: {DEFAULTS.schedule})")
    parser.add_argument("--clip", type=_non_negative_float,
                        help="clip the gradient norm to this value, 0 for no clipping (default: 1 for rnn, else 0)")
    parser.add_argument("--seed", type=_non_negative_int,
                        help=f"seed for initialisation, dropout and shuffling (default: {DEFAULTS.seed})")
    parser.add_argument("--device", choices=backend.DEVICES, help="cpu, or cuda with CuPy (default: cpu)")
    parser.add_argument("--data-dir", type=_existing_folder, metavar="DIR",
                        help="an existing data root, searched first (then $MINIGRAD_DATA, datasets/, "
                        "/usr/share/datasets, then a download); each run prints and records the folder it used")
    parser.add_argument("--limit", type=_positive_int, help="train on the first N training examples only")
    parser.add_argument("--test-limit", type=_positive_int, help="evaluate on the first N test examples only")


def _add_rmsprop_options(parser: argparse.ArgumentParser) -> None:
    """RMSprop's own options (``minigrad.optim.rmsprop``; ignored by sgd and adam)."""
    pytorch = PRESETS["pytorch"]
    parser.add_argument("--alpha", type=_non_negative_float, help=(
        f"rmsprop: decay rate of the squared-gradient average (default: the preset's, {pytorch['alpha']:g} "
        "for pytorch)"))
    parser.add_argument("--eps", type=_non_negative_float,
                        help=f"rmsprop: epsilon of the divisor (default: the preset's, {pytorch['eps']:g} for pytorch)")
    parser.add_argument("--centered", action="store_true", default=None,
                        help="rmsprop: divide by the gradient's standard deviation instead of its root mean square")
    parser.add_argument("--preset", choices=PRESETS, metavar="NAME", help=(  # NAME: the choices would overflow the usage line
        f"rmsprop: whose update formula, with its alpha and eps: {', '.join(PRESETS)} (default: {DEFAULTS.preset}); "
        "the lr, momentum and centering stay this command's"))


def _build_parser() -> tuple[argparse.ArgumentParser, dict]:
    """The ``minigrad`` parser, and its sub-parsers by command (for their error messages)."""
    parser = argparse.ArgumentParser(prog="minigrad", description=DESCRIPTION, epilog=EXIT_CODES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"minigrad {mg.__version__}",
                        help="print the version of minigrad and exit")
    commands = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")

    train_parser = commands.add_parser(
        "train", help="train an image classifier (default: a CNN on Fashion-MNIST with RMSprop)",
        description="Train an image classifier and write metrics.json, curves.png, "
        "confusion_matrix.png and checkpoint.npz (after every epoch) to --out. The run stops with "
        "exit code 3 if it diverges: when the loss of a training batch is NaN or infinite, or the test "
        "loss after an epoch is above 10 ln K for K classes (ten times the loss of a uniform guess; 23.0 "
        "for 10 classes). The last good checkpoint is kept.",
    )
    _add_training_options(train_parser)
    train_parser.add_argument("--optimizer", choices=train_config.OPTIMIZERS,
                              help=f"the optimizer (default: {DEFAULTS.optimizer})")
    defaults = train_config.DEFAULT_LR
    train_parser.add_argument("--lr", type=_positive_float, help=(
        f"learning rate (default: sgd {defaults['sgd']:g}, or {defaults['sgd-momentum']:g} with --momentum; "
        f"rmsprop {defaults['rmsprop']:g}; adam {defaults['adam']:g})"))
    train_parser.add_argument("--momentum", type=_non_negative_float,
                              help=f"momentum for sgd and rmsprop (default: {DEFAULTS.momentum:g})")
    _add_rmsprop_options(train_parser)
    train_parser.add_argument("--out", metavar="DIR", help="output folder (default: runs/<date>-<time>; "
                              "with --resume, the folder resumed from)")
    train_parser.add_argument("--resume", metavar="DIR", help=(
        "continue the run saved in DIR/checkpoint.npz with its own settings; --epochs sets the new total "
        "(not fewer than were done), --lr the new base learning rate; --device and --data-dir may change"))

    compare_parser = commands.add_parser(
        "compare", help="train one model with several optimizers from the same seed",
        description="Train the same model from the same seed with several optimizers; write compare.png "
        "(training loss and test accuracy per epoch), compare.json and one folder per optimizer. "
        "An optimizer that diverges is marked so and the others go on; the exit code is 3 only when "
        "every optimizer diverged.",
    )
    _add_training_options(compare_parser)
    compare_parser.add_argument(
        "--optimizers", nargs="+", default=list(comparing.COMPARE_OPTIMIZERS), metavar="NAME[:LR]",
        help="optimizers to compare, each optionally with its learning rate, e.g. sgd:0.1 adam "
        f"(choices: {', '.join(comparing.COMPARE_OPTIMIZERS)}; sgd-momentum is sgd with momentum 0.9; "
        "default: all four, each at its default rate: "
        + ", ".join(f"{name} {rate:g}" for name, rate in train_config.DEFAULT_LR.items()) + ")",
    )
    compare_parser.add_argument("--out", metavar="DIR", help="output folder (default: runs/compare-<date>-<time>)")

    demo_parser = commands.add_parser(
        "demo", help="fit sin(x) with a tiny network, in a few seconds",
        description="Fit y = sin(x) on [-pi, pi] with a one-hidden-layer tanh network and plain gradient "
        "descent, built from minigrad Tensors and the backward engine alone, and print the error as it falls.",
    )
    demo_parser.add_argument("--steps", type=_positive_int, default=2000,
                             help="gradient-descent steps (default: %(default)s)")
    demo_parser.add_argument("--hidden", type=_positive_int, default=32,
                             help="tanh units in the hidden layer (default: %(default)s)")
    demo_parser.add_argument("--lr", type=_positive_float, default=DEMO_LR,
                             help="learning rate (default: %(default)s)")
    demo_parser.add_argument("--seed", type=_non_negative_int, default=0,
                             help="seed for the initial weights (default: %(default)s)")
    search_parser = _add_search_parser(commands)
    return parser, {"train": train_parser, "compare": compare_parser, "demo": demo_parser, "search": search_parser}


def _add_search_parser(commands) -> argparse.ArgumentParser:
    """``minigrad search``. Defaults of None: "given" is "not None", as for train (with
    --resume the search's own settings come from its search.json)."""
    parser = commands.add_parser(
        "search", help="search hyperparameters (RMSprop's lr, alpha, eps, ...) with Optuna",
        description="Search hyperparameters of minigrad train with Optuna: each trial trains the model on the "
        "training set less a validation split (10%) and reports its validation accuracy after every epoch; "
        "hopeless trials are pruned. --workers processes share the study, and so do other machines that run "
        "the same command with the same --storage postgresql://... and --study. At the end the best "
        "configuration is trained on the whole training set and tested once (the folder best/ of --out). "
        "Writes trials.json, trials.csv, history.png, lr_alpha.png, importances.png and best.json, and prints "
        "the minigrad train command of the best configuration. Watch a study live with: optuna-dashboard "
        "<storage> (the search prints it).",
    )
    parser.add_argument("--model", choices=MODELS, help=f"the network (default: {DEFAULTS.model})")
    parser.add_argument("--epochs", type=_positive_int,
                        help=f"epochs per trial and for the final run (default: per model, {_per_model('epochs')})")
    parser.add_argument("--limit", type=_positive_int,
                        help="use the first N training examples (the validation split is taken from them)")
    parser.add_argument("--trials", type=_positive_int, help=(
        "the study's budget of finished (complete or pruned) trials, counted over every process and machine "
        "on the study (default: 20; with --resume, the search's own)"))
    parser.add_argument("--timeout", type=_positive_float, metavar="SECONDS",
                        help="start no trial after this many seconds (running trials finish)")
    parser.add_argument("--workers", type=_positive_int, metavar="K",
                        help="worker processes on this machine, sharing the study (default: 1)")
    parser.add_argument("--seed", type=_non_negative_int,
                        help="seed of every trial's training, of the validation split and of the samplers (default: 0)")
    names = ", ".join(search_space.PARAMETERS)
    parser.add_argument("--param", action="append", metavar="NAME=SPEC", help=(
        f"a parameter to search, repeatable; NAME is one of {names}; SPEC is lo:hi, lo:hi:log (a log scale) or "
        "a,b,c (a choice), e.g. --param lr=1e-4:1e-1:log --param alpha=0.9,0.99,0.999 (default, without "
        "--param and --space: lr=0.0001:0.01:log, alpha=0.9,0.99,0.999, eps=1e-10:0.0001:log and batch-size "
        "half, once and twice the model's)"))
    parser.add_argument("--space", metavar="FILE", help=(
        "a TOML or JSON file of NAME = SPEC, e.g. {\"lr\": \"1e-4:1e-1:log\", \"alpha\": [0.9, 0.99]}; "
        "--param wins over it"))
    parser.add_argument("--sampler", choices=search_settings.SAMPLERS,
                        help="how trials are proposed: every combination, at random, or TPE (default: tpe)")
    parser.add_argument("--pruner", choices=search_settings.PRUNERS,
                        help="how hopeless trials are stopped: median, successive halving, or not (default: median)")
    parser.add_argument("--storage", metavar="URL", help=(
        "where the study lives: a journal file, or postgresql://user@host:port/database to share it between "
        "machines (default: journal.log in the output folder)"))
    parser.add_argument("--study", metavar="NAME", help=f"the study's name in the storage (default: "
                        f"{search_settings.DEFAULT_STUDY})")
    parser.add_argument("--resume", metavar="DIR", help=(
        "continue the search in DIR with its own settings and its finished trials; interrupted trials run "
        "again; --trials, --timeout, --workers, --device, --data-dir, --no-final and --no-plots may be given"))
    parser.add_argument("--out", metavar="DIR", help="output folder (default: runs/search-<date>-<time>)")
    parser.add_argument("--data-dir", type=_existing_folder, metavar="DIR", help="an existing data root, searched first")
    parser.add_argument("--device", choices=backend.DEVICES, help="cpu, or cuda with CuPy (default: cpu)")
    parser.add_argument("--no-final", action="store_true",
                        help="do not train the best configuration on the whole training set at the end")
    parser.add_argument("--no-plots", action="store_true", help=(
        "do not draw history.png, lr_alpha.png and importances.png (about a second and a half: much of a "
        "tiny search's time)"))
    return parser


def _config(args) -> train_config.TrainConfig:
    """The options given on the command line (not None) as a TrainConfig; the rest
    keep TrainConfig's defaults."""
    given = {field.name: getattr(args, field.name) for field in dataclasses.fields(train_config.TrainConfig)
             if getattr(args, field.name, None) is not None}
    return train_config.TrainConfig(**given)


# ------------------------------------------------------------------------------------
# Running a command


def main(argv=None) -> int:
    parser, subparsers = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _run("demo", lambda: demo(steps=args.steps, hidden=args.hidden, lr=args.lr, seed=args.seed))
    if args.command == "train":
        return _train_command(subparsers["train"], args)
    if args.command == "search":
        return _search_command(args)
    return _compare_command(subparsers["compare"], args)


# Settings that belong to a run: a resumed run takes them from its checkpoint.
RUN_SETTINGS = {"model": "--model", "dataset": "--dataset", "optimizer": "--optimizer", "momentum": "--momentum",
                "alpha": "--alpha", "eps": "--eps", "centered": "--centered", "preset": "--preset",
                "schedule": "--schedule", "batch_size": "--batch-size", "clip": "--clip", "seed": "--seed",
                "limit": "--limit", "test_limit": "--test-limit"}


def _check_resume(parser: argparse.ArgumentParser, args) -> None:
    """With --resume the run's settings come from the checkpoint. Refuse a folder
    without one, options that ask for something else than what the run used (they
    would otherwise be ignored), and fewer epochs than were done. A damaged checkpoint
    raises ``resume.CheckpointError``."""
    path = Path(args.resume) / resume.CHECKPOINT
    if not path.is_file():
        parser.error(f"--resume {args.resume}: there is no {resume.CHECKPOINT} in that folder")
    checkpoint = resume.read_checkpoint(path)
    saved = checkpoint["config"]
    conflicts = [f"{flag} {_shown(getattr(args, key))} (the run used {_shown(saved[key])})"
                 for key, flag in RUN_SETTINGS.items()
                 if getattr(args, key) is not None and getattr(args, key) != saved[key]]
    if conflicts:
        parser.error(f"--resume continues a run with its own settings; cannot change {', '.join(conflicts)}. "
                     "Only --epochs, --lr, --device, --data-dir and --out may be given")
    done = int(checkpoint["epoch"])
    if args.epochs is not None and args.epochs < done:
        parser.error(f"--epochs {args.epochs}: the run in {args.resume} has done {done} epochs already; "
                     f"--epochs is the new total, so give {done} or more")
    if args.data_dir is None and saved["data_dir"] is not None and not Path(saved["data_dir"]).is_dir():
        parser.error(f"--resume {args.resume}: the run read its data from --data-dir {saved['data_dir']}, "
                     "which no longer exists; give --data-dir")


def _shown(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _check_out(parser: argparse.ArgumentParser, out: Path) -> None:
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out}: is a file, not a folder")


def _device_unavailable(command: str, device) -> bool:
    """Check the GPU before loading any data, with the test that ``cuda_is_available()``
    runs (one kernel); print what is missing (CuPy, a GPU, a working CUDA toolkit) and
    how to fix it, and return True when it cannot be used."""
    if device != "cuda":
        return False
    why = backend.why_cuda_is_unavailable()
    if why is not None:
        _error(command, f"device 'cuda' cannot be used: {why}; or train on the CPU: --device cpu")
    return why is not None


def _train_command(parser: argparse.ArgumentParser, args) -> int:
    if args.resume is not None:
        try:
            _check_resume(parser, args)
        except resume.CheckpointError as error:
            return _cannot_resume(error)
    out = Path(args.out or args.resume or training.default_out_dir())
    _check_out(parser, out)
    if _device_unavailable("train", args.device):
        return EXIT_UNAVAILABLE
    config = _config(args)
    return _run("train", lambda: training.train(config, out, resume=args.resume, log=_print))


def _cannot_resume(error: resume.CheckpointError) -> int:
    _error("train", f"cannot resume: {error}. Resume from an intact copy of the run, or start it again "
                    "without --resume")
    return EXIT_UNAVAILABLE


def _compare_command(parser: argparse.ArgumentParser, args) -> int:
    names = []
    for spec in args.optimizers:
        try:
            names.append(comparing.parse_optimizer_spec(spec)[0])
        except ValueError as error:
            parser.error(f"--optimizers: {error}")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        parser.error(f"--optimizers: {', '.join(twice)} given more than once (each run gets the folder of its name)")
    out = Path(args.out or training.default_out_dir("compare-"))
    _check_out(parser, out)
    if _device_unavailable("compare", args.device):
        return EXIT_UNAVAILABLE
    config = _config(args)
    return _run("compare", lambda: comparing.compare(config, args.optimizers, out, log=_print))


# ------------------------------------------------------------------------------------
# minigrad search

# The settings of a search that --resume takes from its search.json (option -> field).
SEARCH_SETTINGS = {"--model": "model", "--epochs": "epochs", "--limit": "limit", "--seed": "seed",
                   "--sampler": "sampler", "--pruner": "pruner", "--storage": "storage", "--study": "study"}


def _search_command(args) -> int:
    """Check what can be checked without Optuna (the space, --resume), then run the
    search. Bad input is one line and exit code 2."""
    try:
        params = _search_params(args.param or [])
        if args.resume is not None:
            _check_search_resume(args, params)
        else:
            search_space.build_space(params, args.space, args.model or DEFAULTS.model)
    except SearchError as error:
        _error("search", str(error))
        return EXIT_BAD_ARGUMENTS
    if _device_unavailable("search", args.device):
        return EXIT_UNAVAILABLE
    try:
        from .search.runner import search
    except ImportError as error:
        _error("search", f"minigrad search needs Optuna ({error}): pip install 'minigrad[search]'")
        return EXIT_UNAVAILABLE
    options = {"model": args.model or DEFAULTS.model, "params": params or None, "space_file": args.space,
               "trials": args.trials, "timeout": args.timeout, "workers": args.workers,
               "seed": args.seed or 0, "sampler": args.sampler or "tpe", "pruner": args.pruner or "median",
               "epochs": args.epochs, "limit": args.limit, "storage": args.storage, "study": args.study,
               "resume": args.resume, "out": args.out, "data_dir": args.data_dir, "device": args.device,
               "final": not args.no_final, "plots": not args.no_plots}
    return _run("search", lambda: search(**options, log=_print))


def _search_params(texts: list[str]) -> dict:
    """The --param options as {name: spec}; a name given twice is an error."""
    params = {}
    for text in texts:
        name, spec = search_space.parse_param_option(text)
        if name in params:
            raise SearchError(f"--param {name} given more than once")
        params[name] = spec
    return params


def _check_search_resume(args, params: dict) -> None:
    """With --resume the search's settings come from its search.json: refuse options
    that ask for something else (they would otherwise be ignored)."""
    try:
        saved = search_settings.read_settings(args.resume)
    except ValueError as error:
        raise SearchError(f"--resume {args.resume}: {error}") from None
    conflicts = [f"{option} {_shown(getattr(args, field))} (the search used {_shown(getattr(saved, field))})"
                 for option, field in SEARCH_SETTINGS.items()
                 if getattr(args, field) is not None and getattr(args, field) != getattr(saved, field)]
    if params or args.space is not None:
        space = search_space.canonical(search_space.build_space(params, args.space, saved.model))
        if space != saved.space:
            used = " ".join(f"{name}={spec}" for name, spec in saved.space.items())
            conflicts.append(f"the space (the search used {used})")
    if args.out is not None and Path(args.out) != Path(args.resume):
        conflicts.append(f"--out {args.out} (the search is in {args.resume})")
    if conflicts:
        raise SearchError(f"--resume continues a search with its own settings; cannot change {', '.join(conflicts)}. "
                          "Only --trials, --timeout, --workers, --device, --data-dir, --no-final and --no-plots may be given")


def _run(command: str, action) -> int:
    """Run a command, turning the expected failures into one-line messages and exit codes."""
    try:
        action()
        sys.stdout.flush()  # here, where a closed pipe is handled below, rather than at exit
    except SearchError as error:  # found before any trial ran
        _error(command, str(error))
        return EXIT_BAD_ARGUMENTS
    except SearchUnavailable as error:
        _error(command, str(error))
        return EXIT_UNAVAILABLE
    except SearchInterrupted as error:
        print(f"\nminigrad {command}: {error}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except training.TrainingDiverged as error:
        _error(command, str(error))
        return EXIT_DIVERGED
    except training.TrainingInterrupted as error:
        print(f"\nminigrad {command}: {error}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:  # outside an epoch: loading data, or writing the final outputs
        print(f"\nminigrad {command}: interrupted; checkpoints written so far are intact", file=sys.stderr)
        return EXIT_INTERRUPTED
    except resume.CheckpointError as error:
        return _cannot_resume(error)
    except BrokenPipeError:  # stdout was closed early (`minigrad demo | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's recipe: no second error at exit
        return EXIT_BROKEN_PIPE
    except (FileNotFoundError, datasets.ChecksumError) as error:  # the data set is missing or corrupt
        _error(command, str(error))
        return EXIT_UNAVAILABLE
    except OSError as error:  # the output folder cannot be written: no permission, disk full, ...
        where = f"{error.filename}: " if error.filename else ""
        _error(command, f"{where}{error.strerror or error}")
        return EXIT_UNAVAILABLE
    return 0


def _error(command: str, message: str) -> None:
    print(f"minigrad {command}: error: {message}", file=sys.stderr)


def _print(text: str) -> None:
    print(text, flush=True)  # flushed: the progress bar writes to stderr in between


if __name__ == "__main__":
    sys.exit(main())
