"""The ``minigrad`` command (also ``python -m minigrad``).

* ``minigrad train`` trains an image classifier (by default a small CNN on
  Fashion-MNIST with RMSprop) and writes metrics.json, curves.png,
  confusion_matrix.png and checkpoint.npz to ``--out``. The loop itself is in
  ``minigrad/train.py``; this file only turns command-line options into a
  ``TrainConfig``.
* ``minigrad compare`` trains one model from one seed with several optimizers and
  plots their curves side by side.
* ``minigrad demo`` fits a small network to sin(x) with nothing but Tensors and the
  backward engine: a first taste of what the lessons build up to.

Exit codes: 0 success, 1 data or device not available, 2 bad arguments, 3 the loss
became NaN or infinite, 130 interrupted with Ctrl-C.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy

import minigrad as mg

from . import backend, datasets
from . import train as training
from .models import MODELS


def demo(steps: int = 2000, hidden: int = 32, lr: float = 0.05, seed: int = 0) -> float:
    """Fit y = sin(x) on [-pi, pi] with a 1-hidden-layer tanh network and gradient
    descent; print the loss as it falls and return the final mean squared error."""
    mg.manual_seed(seed)
    x = mg.arange(-math.pi, math.pi, 2 * math.pi / 128).reshape(-1, 1)
    y = mg.tensor(numpy.sin(x.numpy()))  # the target: no gradient needed through it
    # weights scaled by 1/sqrt(fan_in) so tanh starts in its linear range
    w1 = mg.randn(1, hidden, requires_grad=True)
    b1 = mg.zeros(hidden, requires_grad=True)
    w2 = (mg.randn(hidden, 1) * hidden**-0.5).requires_grad_()
    b2 = mg.zeros(1, requires_grad=True)
    params = [w1, b1, w2, b2]
    start = time.perf_counter()
    for step in range(1, steps + 1):
        prediction = (x @ w1 + b1).tanh() @ w2 + b2
        loss = ((prediction - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with mg.no_grad():
            for p in params:
                p.data -= lr * p.grad.data  # plain gradient descent: theta <- theta - lr * dL/dtheta
        if step == 1 or step % (steps // 10) == 0:
            print(f"step {step:5d}   mean squared error {loss.item():.6f}")
    print(f"fitted sin(x) with {sum(p.size for p in params)} parameters in {time.perf_counter() - start:.1f} s")
    return loss.item()


EXIT_UNAVAILABLE, EXIT_DIVERGED, EXIT_INTERRUPTED = 1, 3, 130


def _positive_int(text: str) -> int:
    """argparse type: an int >= 1 (the error names the value)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _finite_float(text: str, allow_zero: bool) -> float:
    """argparse type: a finite float > 0 (or >= 0); the error names the value."""
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


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    """The options ``train`` and ``compare`` share. Defaults of None are filled in by
    ``TrainConfig.resolved`` per model and optimizer (see train.py)."""
    parser.add_argument("--model", choices=MODELS, default="cnn", help="the network (default: %(default)s)")
    parser.add_argument("--dataset", choices=training.DATASETS, default="fashion-mnist",
                        help="the data set (default: %(default)s)")
    parser.add_argument("--epochs", type=_positive_int, help="epochs to train (default: per model, "
                        + ", ".join(f"{m} {d['epochs']}" for m, d in training.MODEL_DEFAULTS.items()) + ")")
    parser.add_argument("--batch-size", type=_positive_int, help="examples per mini-batch (default: per model, "
                        + ", ".join(f"{m} {d['batch_size']}" for m, d in training.MODEL_DEFAULTS.items()) + ")")
    parser.add_argument("--schedule", choices=training.SCHEDULES, default="cosine",
                        help="learning-rate schedule over the epochs (default: %(default)s)")
    parser.add_argument("--clip", type=_non_negative_float,
                        help="clip the gradient norm to this value, 0 for no clipping (default: 1 for rnn, else 0)")
    parser.add_argument("--seed", type=_non_negative_int, default=0,
                        help="seed for initialisation, dropout and shuffling (default: %(default)s)")
    parser.add_argument("--device", choices=backend.DEVICES, help="cpu, or cuda with CuPy (default: cpu)")
    parser.add_argument("--data-dir", help="data root searched first (then $MINIGRAD_DATA, datasets/, "
                        "/usr/share/datasets, then download)")
    parser.add_argument("--limit", type=_positive_int, help="train on the first N training examples only")
    parser.add_argument("--test-limit", type=_positive_int, help="evaluate on the first N test examples only")


def _build_parser() -> tuple[argparse.ArgumentParser, dict]:
    """The ``minigrad`` parser, and its sub-parsers by command (for their error messages)."""
    parser = argparse.ArgumentParser(prog="minigrad", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train_parser = commands.add_parser(
        "train", help="train an image classifier (default: a CNN on Fashion-MNIST with RMSprop)",
        description="Train an image classifier and write metrics.json, curves.png, "
        "confusion_matrix.png and checkpoint.npz to --out.",
    )
    _add_training_options(train_parser)
    train_parser.add_argument("--optimizer", choices=training.OPTIMIZERS, default="rmsprop",
                              help="the optimizer (default: %(default)s)")
    train_parser.add_argument("--lr", type=_positive_float, help="learning rate (default: "
                              + ", ".join(f"{k} {v:g}" for k, v in training.DEFAULT_LR.items()) + ")")
    train_parser.add_argument("--momentum", type=_non_negative_float, default=0.0,
                              help="momentum for sgd and rmsprop (default: %(default)s)")
    train_parser.add_argument("--out", help="output folder (default: runs/<date>-<time>; "
                              "with --resume, the folder resumed from)")
    train_parser.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR/checkpoint.npz; "
                              "--epochs sets the new total, --lr may lower the learning rate")

    compare_parser = commands.add_parser(
        "compare", help="train one model with several optimizers from the same seed",
        description="Train the same model from the same seed with several optimizers; write compare.png "
        "(training loss and test accuracy per epoch), compare.json and one folder per optimizer.",
    )
    _add_training_options(compare_parser)
    compare_parser.add_argument(
        "--optimizers", nargs="+", default=list(training.COMPARE_OPTIMIZERS), metavar="NAME[:LR]",
        help="optimizers to compare, each optionally with its learning rate, e.g. sgd:0.1 adam "
        f"(choices: {', '.join(training.COMPARE_OPTIMIZERS)}; default: all four)",
    )
    compare_parser.add_argument("--out", help="output folder (default: runs/compare-<date>-<time>)")

    demo_parser = commands.add_parser("demo", help="fit sin(x) with a tiny network")
    demo_parser.add_argument("--steps", type=int, default=2000)
    demo_parser.add_argument("--lr", type=float, default=0.05)
    demo_parser.add_argument("--seed", type=int, default=0)
    return parser, {"train": train_parser, "compare": compare_parser}


def _config(args) -> training.TrainConfig:
    return training.TrainConfig(
        model=args.model, dataset=args.dataset, optimizer=getattr(args, "optimizer", "rmsprop"),
        lr=getattr(args, "lr", None), momentum=getattr(args, "momentum", 0.0), schedule=args.schedule,
        epochs=args.epochs, batch_size=args.batch_size, clip=args.clip, seed=args.seed, device=args.device,
        data_dir=args.data_dir, limit=args.limit, test_limit=args.test_limit,
    )


# Settings that belong to a run: a resumed run takes them from its checkpoint.
RUN_SETTINGS = {"model": "--model", "dataset": "--dataset", "optimizer": "--optimizer", "momentum": "--momentum",
                "schedule": "--schedule", "batch_size": "--batch-size", "clip": "--clip", "seed": "--seed",
                "limit": "--limit", "test_limit": "--test-limit"}


def _check_resume(parser: argparse.ArgumentParser, args) -> None:
    """With --resume the run's settings come from the checkpoint. Refuse a folder
    without one, and options that ask for something else than what the run used (they
    would otherwise be silently ignored)."""
    checkpoint = Path(args.resume) / training.CHECKPOINT
    if not checkpoint.is_file():
        parser.error(f"--resume {args.resume}: there is no {training.CHECKPOINT} in that folder")
    saved = mg.load(checkpoint)["config"]
    conflicts = [
        f"{flag} {getattr(args, key)} (the run used {saved[key]})"
        for key, flag in RUN_SETTINGS.items()
        if getattr(args, key) != parser.get_default(key) and getattr(args, key) != saved[key]
    ]
    if conflicts:
        parser.error(f"--resume continues a run with its own settings; cannot change {', '.join(conflicts)}. "
                     "Only --epochs, --lr, --device, --data-dir and --out may be given")


def _device_unavailable(command: str, device) -> bool:
    """Check the GPU before loading any data; print the backend's error (it says what
    is missing: CuPy, or a visible GPU) and return True when it cannot be used."""
    if device != "cuda":
        return False
    try:
        backend.cuda_module()
    except RuntimeError as error:
        print(f"minigrad {command}: error: {error} (or train on the CPU: --device cpu)", file=sys.stderr)
        return True
    return False


def _run(command, action) -> int:
    """Run a training command, turning the expected failures into messages and exit codes."""
    try:
        action()
    except training.TrainingDiverged as error:
        print(f"minigrad {command}: {error}", file=sys.stderr)
        return EXIT_DIVERGED
    except training.TrainingInterrupted as error:
        print(f"\nminigrad {command}: {error}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:  # outside an epoch: loading data, or writing the final outputs
        print(f"\nminigrad {command}: interrupted; checkpoints written so far are intact", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (FileNotFoundError, datasets.ChecksumError) as error:  # the data set is missing or corrupt
        print(f"minigrad {command}: error: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return 0


def main(argv=None) -> int:
    parser, subparsers = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(steps=args.steps, lr=args.lr, seed=args.seed)
        return 0
    if args.command == "train":
        return _train_command(subparsers["train"], args)
    return _compare_command(subparsers["compare"], args)


def _train_command(parser: argparse.ArgumentParser, args) -> int:
    if args.resume is not None:
        _check_resume(parser, args)
    out = args.out or args.resume or training.default_out_dir()
    if _device_unavailable("train", args.device):
        return EXIT_UNAVAILABLE
    config = _config(args)
    return _run("train", lambda: training.train(config, out, resume=args.resume, log=_print))


def _compare_command(parser: argparse.ArgumentParser, args) -> int:
    for spec in args.optimizers:
        try:
            training.parse_optimizer_spec(spec)
        except ValueError as error:
            parser.error(f"--optimizers: {error}")
    out = args.out or training.default_out_dir("compare-")
    if _device_unavailable("compare", args.device):
        return EXIT_UNAVAILABLE
    config = _config(args)
    return _run("compare", lambda: training.compare(config, args.optimizers, out, log=_print))


def _print(text: str) -> None:
    print(text, flush=True)  # flushed: the progress bar writes to stderr in between


if __name__ == "__main__":
    sys.exit(main())
