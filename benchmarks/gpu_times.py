"""One training step of each benchmark workload in minigrad, on the GPU and on the CPU.

``run.py`` compares minigrad with NumPy and PyTorch on the CPU; this compares minigrad
with itself across devices, for ``gpu_check.sh``. The step is the one of
``minigrad_models.py`` (forward, cross-entropy, backward, RMSprop), with the model and
one batch moved to the device before timing. A GPU runs asynchronously: each step ends
with ``loss.item()``, which waits for the GPU, so a step's time is the time to its loss.

    python benchmarks/gpu_times.py                   # every workload, cuda and cpu
    python benchmarks/gpu_times.py --steps 50 --row "CNN epoch (s)" 4.1 15.2

Each ``--row NAME CUDA CPU`` puts a measurement taken elsewhere (``gpu_check.sh``'s
CNN epoch) at the top of the same table. The images are Fashion-MNIST when it is on
this machine (never downloaded), else random ones: a step's time does not depend on
the pixels. The CPU runs with NumPy's default thread count.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from benchmarks import minigrad_models, workloads  # after ROOT is on the path
from minigrad import datasets
from minigrad.losses import cross_entropy
from minigrad.optim import RMSprop
from minigrad.tensor import Tensor

DEVICES = ("cuda", "cpu")


def stand_in_images(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random uint8 images (N, 28, 28) and int64 labels, in place of Fashion-MNIST."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 28, 28), dtype=np.uint8), rng.integers(0, 10, count, dtype=np.int64)


def images_and_source(count: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The first ``count`` Fashion-MNIST training images when they are here, else random ones."""
    try:
        images, labels = datasets.fashion_mnist(train=True, download=False)
        return images[:count], labels[:count], "Fashion-MNIST"
    except (FileNotFoundError, datasets.ChecksumError):
        return (*stand_in_images(count), "random images (Fashion-MNIST is not on this machine)")


def training_step(workload: workloads.Workload, device: str, images: np.ndarray, labels: np.ndarray):
    """``(model, step)``: ``step()`` trains the workload's minigrad model on ``device`` for
    one step on the first batch of ``images`` and returns the loss as a float."""
    x, y = workloads.batches(workload, images, labels)[0]
    x, y = Tensor(x, device=device), Tensor(y, device=device)
    model = minigrad_models.build_model(workload).to(device)
    optimizer = RMSprop(model.parameters(), lr=1e-3, alpha=0.99, eps=1e-8)

    def step() -> float:
        optimizer.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()  # waits for the GPU to finish the step

    return model, step


def median_ms(step, steps: int, warmup: int) -> float:
    """The median time of ``steps`` calls of ``step`` after ``warmup`` untimed ones (which
    also compile the GPU's kernels), in milliseconds."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def time_workload(name: str, device: str, images, labels, steps: int, warmup: int):
    """ms per step, or ``"failed (ErrorName)"`` (with the error on stderr) so that one
    failure leaves the rest of the table."""
    try:
        _, step = training_step(workloads.WORKLOADS[name], device, images, labels)
        return median_ms(step, steps, warmup)
    except Exception as error:  # noqa: BLE001 - reported in the table and on stderr
        print(f"gpu_times: {name} on {device}: {type(error).__name__}: {error}", file=sys.stderr)
        return f"failed ({type(error).__name__})"


def _cell(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def format_table(rows) -> str:
    """A Markdown table of ``(what, cuda, cpu)`` rows; the last column is how many times
    faster the GPU is (cpu / cuda), where both are numbers."""
    lines = ["| what | cuda | cpu | cpu / cuda |", "|---|---:|---:|---:|"]
    for what, cuda, cpu in rows:
        both = isinstance(cuda, float) and isinstance(cpu, float) and cuda > 0
        lines.append(f"| {what} | {_cell(cuda)} | {_cell(cpu)} | {f'{cpu / cuda:.1f}x' if both else '-'} |")
    return "\n".join(lines)


def _number_or_text(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", choices=workloads.WORKLOADS, default=list(workloads.WORKLOADS))
    parser.add_argument("--steps", type=int, default=20, help="timed steps per workload and device (median)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before them")
    parser.add_argument("--row", nargs=3, action="append", default=[], metavar=("NAME", "CUDA", "CPU"),
                        help="a row measured elsewhere, put first in the table")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 1:
        parser.error("--steps and --warmup must be at least 1")

    largest_batch = max(workloads.WORKLOADS[name].batch_size for name in args.workloads)
    images, labels, source = images_and_source(largest_batch)
    rows = [(name, _number_or_text(cuda), _number_or_text(cpu)) for name, cuda, cpu in args.row]
    for name in args.workloads:
        times = [time_workload(name, device, images, labels, args.steps, args.warmup) for device in DEVICES]
        rows.append((f"{name} step (ms)", *times))
    print(f"minigrad on cuda and on cpu ({os.cpu_count()} CPU cores, NumPy's default threads); "
          f"steps: median of {args.steps}, on {source}\n")
    print(format_table(rows))
    failed = any(isinstance(value, str) and value.startswith("failed") for row in rows for value in row[1:])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
