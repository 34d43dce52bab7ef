"""Time and memory per training step: minigrad beside a hand-written NumPy reference and PyTorch.

    python benchmarks/run.py --interleaved            # the speed ratios the targets are read from
    python benchmarks/run.py                          # separate processes: time and memory of every cell
    python benchmarks/run.py --quick                  # a fast smoke run (few steps, noisy numbers)

This file is the command line: it reads the options, has a child write a small pool
of real Fashion-MNIST batches, runs one of the two modes, prints the tables and saves
the JSON. Every measurement runs in a child process, started by children.py as
``run.py --child SPEC`` and run by ``child_main`` below.

- ``--interleaved`` (interleaved.py) measures speed only: minigrad and the reference
  take turns, blocks of training steps of each, inside one process, round after
  round; the table reports the median and range of the per-round ratios.
- The default, separate processes (separate.py), measures memory as well as time:
  one fresh child per (implementation, workload, threads, repeat).

measure.py holds what every child shares (the batches, RSS, the BLAS, the tiny-op
chain), report.py the Markdown tables and the JSON, targets.py the names and targets.
The JSON goes to ``--out`` (default benchmarks/results/latest.json). See
benchmarks/README.md for what every column means.

The parent process imports neither NumPy nor any framework, and stays small: on Linux
a child's ru_maxrss starts from the RSS of the process it was forked from. The modules
it imports import NumPy inside the functions a child runs, never at the top (a test
checks).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from benchmarks.children import (  # after ROOT is on the path
    OPENBLAS_OVERRIDES,
    STEADY_MALLOC,
    THREAD_VARIABLES,
    malloc_environment,
    removed_overrides,
    run_child,
)
from benchmarks.interleaved import measure_interleaved, measure_interleaved_engine, run_interleaved
from benchmarks.measure import write_batch_pool
from benchmarks.report import format_interleaved, format_report, write_atomically
from benchmarks.separate import (
    measure_engine_overhead,
    measure_memory_stability,
    measure_training,
    run_separate,
)
from benchmarks.targets import IMPLEMENTATIONS, WORKLOAD_NAMES

# What a child runs, by the "kind" of its spec.
CHILD_MEASUREMENTS = {
    "pool": write_batch_pool, "train": measure_training, "engine_overhead": measure_engine_overhead,
    "memory_stability": measure_memory_stability, "interleaved": measure_interleaved,
    "interleaved_engine": measure_interleaved_engine,
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", nargs="+", choices=WORKLOAD_NAMES, default=list(WORKLOAD_NAMES))
    parser.add_argument("--implementations", nargs="+", choices=IMPLEMENTATIONS, default=list(IMPLEMENTATIONS),
                        help="pytorch is skipped (and said so) when torch is not installed")
    parser.add_argument("--threads", nargs="+", type=int, default=None, help="default: 1 2 (--quick: 1)")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per child (the median is reported)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps before them (>= 1)")
    parser.add_argument("--repeats", type=int, default=1, help="children per cell; the median is reported")
    parser.add_argument("--memory-steps", nargs=2, type=int, default=[100, 1000], metavar=("SHORT", "LONG"),
                        help="memory stability: RSS after SHORT and after LONG steps of mlp")
    parser.add_argument("--no-extras", action="store_true", help="skip engine overhead and memory stability")
    parser.add_argument("--keep-openblas-env", action="store_true",
                        help=f"leave {' and '.join(OPENBLAS_OVERRIDES)} in the children's environment")
    parser.add_argument("--interleaved", action="store_true",
                        help="speed only, one process per workload: blocks of steps of each implementation "
                             "in turn; reports the median and range of the per-round ratios")
    parser.add_argument("--rounds", type=int, default=None, help="--interleaved: rounds (default 9, --quick 3)")
    parser.add_argument("--block", type=int, default=None,
                        help="--interleaved: steps (engine: chains) per block (default 10, --quick 2)")
    parser.add_argument("--default-malloc", action="store_true",
                        help="--interleaved: leave glibc's malloc thresholds to move as they do by default "
                             f"(instead of {', '.join(STEADY_MALLOC)})")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 5 steps, 1 warm-up, 1 thread, 1 repeat, memory 10/100 steps; "
                             "--interleaved: 3 rounds of 2 steps")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before a child is given up")
    parser.add_argument("--data-dir", default=None, help="Fashion-MNIST root (default: minigrad's search)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "latest.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: one measurement, spec as JSON
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.warmup, args.repeats = 5, 1, 1
        if args.memory_steps == [100, 1000]:
            args.memory_steps = [10, 100]
    if args.threads is None:
        args.threads = [1] if args.quick else [1, 2]
    if args.rounds is None:
        args.rounds = 3 if args.quick else 9
    if args.block is None:
        args.block = 2 if args.quick else 10
    if min(args.steps, args.warmup, args.repeats, args.rounds, args.block, *args.threads) < 1:
        parser.error("--steps, --warmup, --repeats, --rounds, --block and --threads must be >= 1")
    if args.interleaved and not {"minigrad", "reference"} <= set(args.implementations):
        parser.error("--interleaved needs minigrad and reference in --implementations "
                     "(every ratio is measured against the reference in the same process)")
    if not 1 <= args.memory_steps[0] < args.memory_steps[1]:
        parser.error("--memory-steps SHORT LONG needs 1 <= SHORT < LONG")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(json.loads(args.child))

    implementations = list(args.implementations)
    torch_installed = importlib.util.find_spec("torch") is not None
    skipped = []
    if "pytorch" in implementations and not torch_installed:
        implementations.remove("pytorch")
        skipped.append("pytorch (torch is not installed)")
    removed = removed_overrides(args.keep_openblas_env)

    with tempfile.TemporaryDirectory(prefix="minigrad-bench-") as folder:
        pool = Path(folder) / "fashion_mnist_pool.npz"
        written = run_child({"kind": "pool", "data_dir": args.data_dir, "out": str(pool)}, dict(os.environ),
                            args.timeout)
        if "error" in written:
            print(f"could not load Fashion-MNIST: {written['error']}", file=sys.stderr)
            return 1
        meta = machine_info(args, removed, torch_installed)
        meta.update(numpy=written["numpy"], skipped=skipped)
        measure = run_interleaved if args.interleaved else run_separate
        report = {"meta": meta, **measure(args, implementations, pool)}
    try:
        report["meta"]["load_average_at_end"] = os.getloadavg()
    except OSError:
        pass

    print(format_interleaved(report) if args.interleaved else format_report(report))
    write_atomically(args.out, json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


def machine_info(args, removed: dict, torch_installed: bool) -> dict:
    """The report's ``meta``: when, on what, with what settings (the parent's view)."""
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
        "load_average_at_start": load, "python": platform.python_version(),
        "pytorch_installed": torch_installed,
        "thread_variables": list(THREAD_VARIABLES),
        "openblas_overrides_removed": removed,
        "mode": "interleaved" if args.interleaved else "separate", "quick": args.quick,
        "steps": args.steps, "warmup": args.warmup, "repeats": args.repeats,
        "rounds": args.rounds, "block": args.block, "malloc_environment": malloc_environment(args),
    }


def child_main(spec: dict) -> int:
    """(In a child.) Run the measurement ``spec["kind"]`` names and print its result as
    one line of JSON, the line the parent reads."""
    print(json.dumps(CHILD_MEASUREMENTS[spec["kind"]](spec)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
