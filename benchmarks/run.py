"""Time and memory per training step: minigrad beside a hand-written NumPy reference and PyTorch.

    python benchmarks/run.py --interleaved            # the speed ratios the targets are read from
    python benchmarks/run.py                          # separate processes: time and memory of every cell
    python benchmarks/run.py --quick                  # a fast smoke run (few steps, noisy numbers)

Two modes. ``--interleaved`` measures speed only: one child per workload and thread
count builds minigrad and the reference side by side and runs blocks of ``--block``
training steps of each in turn, ``--rounds`` times; a second child does the same with
the reference and PyTorch. A slow minute of the host then slows both sides of a ratio
alike; each round gives one ratio, and the table reports their median and range (see
``interleave`` and ``interleaved_row``). The engine-overhead chain runs the same way,
minigrad beside PyTorch in one child.

The default mode, separate processes, measures memory as well as time. Every
measurement runs in a fresh child process, one per (implementation, workload,
threads, repeat), so that imports, caches and the memory peak of one measurement do
not leak into another. The child's environment fixes the thread count of every BLAS
and OpenMP pool before NumPy (or PyTorch) is imported. The child

1. loads a small pool of real Fashion-MNIST batches (written once by the parent),
2. builds the model and its RMSprop optimizer (lr 1e-3, alpha 0.99, eps 1e-8),
3. runs ``--warmup`` training steps, then ``--steps`` timed ones (forward + backward +
   optimizer step each, ``time.perf_counter`` around each), cycling through the pool,
4. prints one line of JSON: the median, min and mean ms/step, its peak RSS
   (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), the RSS before the first step,
   the BLAS library and thread count it actually ran with, and the first and last loss.

With ``--repeats R`` every cell is measured by R separate children (run round-robin,
so that a slow minute of the machine does not fall on one cell only) and the table
reports the median of their medians. Two more rows, minigrad only: the engine's
overhead in tiny ops per second, and the RSS after many training steps of ``mlp``
against the RSS after fewer (a leak shows as growth).

Results print as Markdown tables and go to ``--out`` (default
benchmarks/results/latest.json). See benchmarks/README.md for what every column means.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

# The parent process imports neither NumPy nor any framework, and stays small: on Linux a
# child's ru_maxrss starts from the RSS of the process it was forked from. Hence the
# names here rather than imported from workloads.py (a test checks they agree).
WORKLOAD_NAMES = ("mlp", "cnn", "rnn", "lstm", "deep_rnn")
IMPLEMENTATIONS = ("minigrad", "reference", "pytorch")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Set on some processors so that old OpenBLAS builds pick a safe kernel; they slow a
# current NumPy down. The children run without both (see README, "Caveats").
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# glibc's malloc hands arrays above a threshold back to the system when freed, and the
# threshold moves with what the process freed before: a fresh child faults the pages of
# its arrays in again every step, a process that loaded a data set first does not. The
# interleaved children pin both thresholds at the values glibc's own rule reaches at its
# maximum (32 MiB, trim at twice that), so that no ratio depends on that history.
STEADY_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(64 * 2**20)}

# The targets at 1 thread, minigrad / reference and minigrad / PyTorch (time per step):
# issue 14's where it sets one, issue 6's elsewhere (the PyTorch ones but cnn's).
TARGETS = {
    "mlp": (1.10, 1.0), "cnn": (1.10, 1.5), "rnn": (1.15, 1.5), "lstm": (1.10, 2.0), "deep_rnn": (1.15, 1.0),
}
TARGET_RSS_RATIO = 1.2  # peak RSS of minigrad / reference
TARGET_OPS_PER_SECOND = 100_000
TARGET_RSS_GROWTH_PERCENT = 5.0
# The engine-overhead chain y <- tanh(y * w + b): tensors of this shape, this many links a chain.
ENGINE_SHAPE = (8, 32)
ENGINE_LINKS, ENGINE_LINKS_QUICK = 1000, 200

POOL_IMAGES = 1024  # distinct real images the batches cycle through (8 batches of 128)


# -------------------------------------------------------------------------------------
# The parent: plan the cells, run the children, print and save the tables


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


def write_batch_pool(spec: dict) -> dict:
    """(In a child.) The first POOL_IMAGES training images and labels of Fashion-MNIST,
    found by ``minigrad.datasets.fashion_mnist``, saved for the measuring children: they
    load 1 MB instead of the whole data set, which keeps the data set's own memory out
    of their peak RSS."""
    import numpy

    from minigrad.datasets import fashion_mnist

    images, labels = fashion_mnist(train=True, root=spec["data_dir"])
    numpy.savez(spec["out"], images=images[:POOL_IMAGES], labels=labels[:POOL_IMAGES])
    return {"images": POOL_IMAGES, "numpy": numpy.__version__}


def child_environment(threads: int, keep_openblas_env: bool, malloc: dict | None = None) -> dict:
    """The parent's environment with the thread count fixed, the OpenBLAS overrides
    removed (unless kept) and the ``malloc`` variables (e.g. STEADY_MALLOC) added."""
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = str(threads)
    if not keep_openblas_env:
        for name in OPENBLAS_OVERRIDES:
            env.pop(name, None)  # both together: the L2 size only makes sense with the core type
    env.update(malloc or {})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_child(spec: dict, env: dict, timeout: float) -> dict:
    """Run one measurement in a fresh interpreter and return its JSON result (or the error)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {"error": f"exit code {done.returncode}: " + " | ".join(tail)}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    return result


def median_of(runs: list, key: str):
    values = [run[key] for run in runs if run.get(key) is not None]
    return statistics.median(values) if values else None


def summarise_cell(spec: dict, runs: list) -> dict:
    """One row of results: medians over the repeats, every run's numbers kept."""
    good = [run for run in runs if "error" not in run]
    cell = {key: spec[key] for key in ("implementation", "workload", "threads")}
    cell.update({
        "ms_per_step": median_of(good, "median_ms"),
        "peak_rss_mb": median_of(good, "peak_rss_mb"),
        "ru_maxrss_mb": median_of(good, "ru_maxrss_mb"),
        "rss_before_training_mb": median_of(good, "rss_before_training_mb"),
        "ms_per_step_runs": [run["median_ms"] for run in good],
        "steps": spec["steps"], "warmup": spec["warmup"], "repeats": len(runs),
    })
    if good:
        last = good[-1]
        cell.update({key: last.get(key) for key in ("blas", "threads_seen", "loss_first", "loss_last")})
        seen = [run.get("threads_seen") for run in good]
        # True or False when threadpoolctl showed the BLAS pools; None when it is not installed
        cell["threads_ok"] = all(counts == [spec["threads"]] for counts in seen) if all(seen) else None
    errors = [run["error"] for run in runs if "error" in run]
    if errors:
        cell["errors"] = errors
    return cell


def ratio(numerator, denominator):
    return round(numerator / denominator, 3) if numerator and denominator else None


def ratios(cells: list) -> list:
    """minigrad / reference and minigrad / PyTorch, time and peak RSS, per (workload, threads)."""
    by_key = {(c["implementation"], c["workload"], c["threads"]): c for c in cells}
    rows = []
    for (implementation, workload, threads), cell in by_key.items():
        if implementation != "minigrad":
            continue
        row = {"workload": workload, "threads": threads}
        for other in ("reference", "pytorch"):
            other_cell = by_key.get((other, workload, threads), {})
            row[f"time_minigrad_over_{other}"] = ratio(cell["ms_per_step"], other_cell.get("ms_per_step"))
            row[f"rss_minigrad_over_{other}"] = ratio(cell["peak_rss_mb"], other_cell.get("peak_rss_mb"))
        target_reference, target_pytorch = TARGETS[workload]
        row["target_time_over_reference"] = target_reference
        row["target_time_over_pytorch"] = target_pytorch
        row["target_rss_over_reference"] = TARGET_RSS_RATIO
        rows.append(row)
    return rows


def machine_info(args, removed: dict) -> dict:
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
    torch_spec = importlib.util.find_spec("torch")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
        "load_average_at_start": load, "python": platform.python_version(),
        "pytorch_installed": torch_spec is not None,
        "thread_variables": list(THREAD_VARIABLES),
        "openblas_overrides_removed": removed,
        "mode": "interleaved" if args.interleaved else "separate", "quick": args.quick,
        "steps": args.steps, "warmup": args.warmup, "repeats": args.repeats,
        "rounds": args.rounds, "block": args.block, "malloc_environment": malloc_environment(args),
    }


def malloc_environment(args) -> dict:
    """The malloc variables the measuring children get: STEADY_MALLOC for the
    interleaved mode unless --default-malloc, none for the separate mode (whose peak
    RSS would grow with a higher trim threshold)."""
    return dict(STEADY_MALLOC) if args.interleaved and not args.default_malloc else {}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(json.loads(args.child))

    implementations = list(args.implementations)
    skipped = []
    if "pytorch" in implementations and importlib.util.find_spec("torch") is None:
        implementations.remove("pytorch")
        skipped.append("pytorch (torch is not installed)")
    removed = {} if args.keep_openblas_env else {
        name: os.environ[name] for name in OPENBLAS_OVERRIDES if name in os.environ
    }

    with tempfile.TemporaryDirectory(prefix="minigrad-bench-") as folder:
        pool = Path(folder) / "fashion_mnist_pool.npz"
        written = run_child({"kind": "pool", "data_dir": args.data_dir, "out": str(pool)}, dict(os.environ),
                            args.timeout)
        if "error" in written:
            print(f"could not load Fashion-MNIST: {written['error']}", file=sys.stderr)
            return 1
        meta = machine_info(args, removed)
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


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it: an interrupted
    run never leaves half a report where the last whole one was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def run_separate(args, implementations: list, pool: Path) -> dict:
    """The default mode: one child per (implementation, workload, threads, repeat), then
    the extras. Returns the report's ``results``, ``ratios`` and extras."""
    specs = [
        {"kind": "train", "implementation": implementation, "workload": workload, "threads": threads,
         "steps": args.steps, "warmup": args.warmup, "data": str(pool)}
        for threads in args.threads for workload in args.workloads for implementation in implementations
    ]
    runs = {index: [] for index in range(len(specs))}
    total = len(specs) * args.repeats
    for repeat in range(args.repeats):
        for index, spec in enumerate(specs):
            done = repeat * len(specs) + index + 1
            label = f"{spec['implementation']} {spec['workload']} threads={spec['threads']}"
            print(f"[{done}/{total}] {label} (repeat {repeat + 1})", file=sys.stderr, flush=True)
            runs[index].append(run_child(spec, child_environment(spec["threads"], args.keep_openblas_env),
                                         args.timeout))
    cells = [summarise_cell(spec, runs[index]) for index, spec in enumerate(specs)]
    report = {"results": cells, "ratios": ratios(cells)}

    if not args.no_extras:
        env = child_environment(min(args.threads), args.keep_openblas_env)
        print("engine overhead (minigrad)", file=sys.stderr, flush=True)
        report["engine_overhead"] = run_child(
            {"kind": "engine_overhead", "implementation": "minigrad", "quick": args.quick}, env, args.timeout)
        print("memory stability (minigrad, mlp)", file=sys.stderr, flush=True)
        short, long = args.memory_steps
        report["memory_stability"] = run_child(
            {"kind": "memory_stability", "implementation": "minigrad", "workload": "mlp",
             "short_steps": short, "long_steps": long, "data": str(pool)}, env, args.timeout)
    return report


# -------------------------------------------------------------------------------------
# The interleaved mode: ratios measured inside one process, round by round


def run_interleaved(args, implementations: list, pool: Path) -> dict:
    """Per (threads, workload): one child interleaving minigrad with the reference and,
    with PyTorch asked for and installed, one interleaving the reference with PyTorch;
    then the engine-overhead chain, minigrad (and PyTorch) in one child. Returns the
    report's ``interleaved`` rows and ``engine_overhead``."""
    groups = [("minigrad", "reference")]
    if "pytorch" in implementations:
        groups.append(("reference", "pytorch"))
    rows = []
    malloc = malloc_environment(args)
    for threads in args.threads:
        env = child_environment(threads, args.keep_openblas_env, malloc)
        for workload in args.workloads:
            children = {}
            for group in groups:
                print(f"interleaved {' + '.join(group)}: {workload}, threads={threads}, "
                      f"{args.rounds} rounds x {args.block} steps", file=sys.stderr, flush=True)
                spec = {"kind": "interleaved", "implementations": list(group), "workload": workload,
                        "threads": threads, "rounds": args.rounds, "block": args.block,
                        "warmup": args.warmup, "data": str(pool)}
                children[group] = run_child(spec, env, args.timeout)
            rows.append(interleaved_row(workload, threads, children[("minigrad", "reference")],
                                        children.get(("reference", "pytorch"))))
    report = {"interleaved": rows}
    if not args.no_extras:
        frameworks = [name for name in ("minigrad", "pytorch") if name in implementations]
        threads = min(args.threads)
        print(f"interleaved engine overhead: {' + '.join(frameworks)}, threads={threads}", file=sys.stderr,
              flush=True)
        spec = {"kind": "interleaved_engine", "frameworks": frameworks, "threads": threads,
                "links": ENGINE_LINKS_QUICK if args.quick else ENGINE_LINKS,
                "rounds": args.rounds, "block": args.block, "warmup": args.warmup}
        env = child_environment(threads, args.keep_openblas_env, malloc)
        report["engine_overhead"] = engine_row(run_child(spec, env, args.timeout))
    return report


def per_round_ratios(numerators: list, denominators: list) -> list:
    """``numerators[i] / denominators[i]`` for every round i: each ratio compares two
    blocks run seconds apart in one process, so the host's speed of that moment cancels."""
    return [top / bottom for top, bottom in zip(numerators, denominators, strict=True)]


def median_and_range(values: list) -> dict:
    """The median of the per-round values and their range: the median is what the
    targets are read against; min and max say how far single rounds strayed."""
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4), "rounds": [round(value, 4) for value in values]}


def interleaved_row(workload: str, threads: int, with_reference: dict, with_pytorch: dict | None) -> dict:
    """One workload's ratios from its children's ms/step per round.

    minigrad/reference = m_i / r_i round by round, from the first child. PyTorch ran in
    a second child beside the reference again (r'_i, p_i), so minigrad/PyTorch is
    chained through the reference, round by round:
    (m_i / r_i) * (r'_i / p_i), each factor measured inside one process."""
    target_reference, target_pytorch = TARGETS[workload]
    row = {"workload": workload, "threads": threads, "target_minigrad_over_reference": target_reference,
           "target_minigrad_over_pytorch": target_pytorch, "ms_per_step": {}, "page_faults_per_step": {},
           "blas": {}, "threads_seen": {}}
    errors = []
    over_reference = None
    if "error" in with_reference:
        errors.append(f"minigrad + reference: {with_reference['error']}")
    else:
        minigrad, reference = with_reference["ms_per_step"]["minigrad"], with_reference["ms_per_step"]["reference"]
        over_reference = per_round_ratios(minigrad, reference)
        row["ms_per_step"].update(minigrad=median_and_range(minigrad), reference=median_and_range(reference))
        row["minigrad_over_reference"] = median_and_range(over_reference)
        faults = with_reference["page_faults_per_step"]
        row["page_faults_per_step"] = {name: median_and_range(faults[name]) for name in ("minigrad", "reference")}
        row["blas"]["minigrad + reference"] = with_reference.get("blas")
        row["threads_seen"]["minigrad + reference"] = with_reference.get("threads_seen")
    if with_pytorch is not None and "error" in with_pytorch:
        errors.append(f"reference + pytorch: {with_pytorch['error']}")
    elif with_pytorch is not None:
        reference, pytorch = with_pytorch["ms_per_step"]["reference"], with_pytorch["ms_per_step"]["pytorch"]
        reference_over_pytorch = per_round_ratios(reference, pytorch)
        row["ms_per_step"].update(reference_beside_pytorch=median_and_range(reference),
                                  pytorch=median_and_range(pytorch))
        row["reference_over_pytorch"] = median_and_range(reference_over_pytorch)
        row["page_faults_per_step"]["pytorch"] = median_and_range(
            with_pytorch["page_faults_per_step"]["pytorch"])
        if over_reference is not None:
            chained = [a * b for a, b in zip(over_reference, reference_over_pytorch, strict=True)]
            row["minigrad_over_pytorch"] = median_and_range(chained)
        row["blas"]["reference + pytorch"] = with_pytorch.get("blas")
        row["threads_seen"]["reference + pytorch"] = with_pytorch.get("threads_seen")
    if errors:
        row["errors"] = errors
    return row


def engine_row(child: dict) -> dict:
    """Ops per second of the tiny-op chain per round (forward + backward, and forward
    alone), and minigrad's time per op over PyTorch's, round by round."""
    if "error" in child:
        return {"error": child["error"]}
    ops = child["ops_per_block"]
    row = {key: child[key] for key in ("shape", "links", "chains_per_block", "ops_per_block")}
    row["target_ops_per_second"] = TARGET_OPS_PER_SECOND
    row["ops_per_second"], row["forward_ops_per_second"] = {}, {}
    for framework, blocks in child["seconds"].items():
        row["ops_per_second"][framework] = median_and_range([ops / total for _, total in blocks])
        row["forward_ops_per_second"][framework] = median_and_range([ops / forward for forward, _ in blocks])
    if "pytorch" in child["seconds"]:
        minigrad = [total for _, total in child["seconds"]["minigrad"]]
        pytorch = [total for _, total in child["seconds"]["pytorch"]]
        row["minigrad_over_pytorch_time"] = median_and_range(per_round_ratios(minigrad, pytorch))
    return row


# -------------------------------------------------------------------------------------
# Printing


def _number(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio_text(value, target) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} {'ok' if value <= target else 'MISS'}"


TABLE_HEADER = (
    "| workload | minigrad ms | reference ms | PyTorch ms | minigrad/reference (target) "
    "| minigrad/PyTorch (target) | minigrad MB | reference MB | PyTorch MB | RSS minigrad/reference |"
)


def format_report(report: dict) -> str:
    """Markdown tables: one per thread count, then the extras and the BLAS in use."""
    cells = {(c["implementation"], c["workload"], c["threads"]): c for c in report["results"]}
    ratio_rows = {(r["workload"], r["threads"]): r for r in report["ratios"]}
    meta = report["meta"]
    lines = _header_lines(meta, f"{meta['steps']} timed steps after {meta['warmup']} warm-up steps, "
                                f"median of {meta['repeats']} run(s) per cell")
    for threads in sorted({c["threads"] for c in report["results"]}):
        lines += ["", f"### {threads} thread(s)", "",
                  TABLE_HEADER,
                  "|---|---:|---:|---:|---|---|---:|---:|---:|---|"]
        for workload in WORKLOAD_NAMES:
            if not any(key[1] == workload and key[2] == threads for key in cells):
                continue
            get = {impl: cells.get((impl, workload, threads), {}) for impl in IMPLEMENTATIONS}
            row = ratio_rows.get((workload, threads), {})
            target_reference, target_pytorch = TARGETS[workload]
            lines.append(
                f"| {workload} | " + " | ".join(_number(get[i].get("ms_per_step"), 2) for i in IMPLEMENTATIONS)
                + f" | {_ratio_text(row.get('time_minigrad_over_reference'), target_reference)} (<= {target_reference})"
                + f" | {_ratio_text(row.get('time_minigrad_over_pytorch'), target_pytorch)} (<= {target_pytorch})"
                + " | " + " | ".join(_number(get[i].get("peak_rss_mb")) for i in IMPLEMENTATIONS)
                + f" | {_ratio_text(row.get('rss_minigrad_over_reference'), TARGET_RSS_RATIO)} |"
            )
        for key, cell in cells.items():
            if key[2] == threads and cell.get("errors"):
                lines.append(f"error in {key[0]} {key[1]}: {cell['errors'][0]}")
            if key[2] == threads and cell.get("threads_ok") is False:
                lines.append(f"WARNING: {key[0]} {key[1]} ran with {cell['threads_seen']} BLAS threads, "
                             f"not {threads}")
    lines += _extras_lines(report)
    lines += ["", "BLAS and threads seen by the children:"]
    seen = set()
    for cell in report["results"]:
        text = f"  {cell['implementation']}, {cell['threads']} thread(s): {_blas_text(cell.get('blas'))}"
        if text not in seen:
            seen.add(text)
            lines.append(text)
    return "\n".join(lines)


def _header_lines(meta: dict, how: str) -> list:
    """Date, machine and load; how the numbers were taken; what was skipped or removed."""
    lines = [
        (f"minigrad benchmark, {meta['date']}, {meta['cpu'] or 'unknown CPU'} ({meta['cpu_count']} cores), "
         f"load average at start {_load_text(meta.get('load_average_at_start'))}"),
        how + (" -- QUICK SMOKE RUN, numbers are not meaningful" if meta["quick"] else ""),
    ]
    if meta["skipped"]:
        lines.append("skipped: " + ", ".join(meta["skipped"]))
    if meta["openblas_overrides_removed"]:
        lines.append("removed from the children's environment: " + ", ".join(
            f"{k}={v}" for k, v in meta["openblas_overrides_removed"].items()))
    return lines


def _spread_text(spread: dict | None, pattern: str = "{:.2f}") -> str:
    """``median [min-max]``, e.g. ``1.49 [1.41-1.58]``; ``-`` when not measured."""
    if not spread:
        return "-"
    median, low, high = (pattern.format(spread[key]) for key in ("median", "min", "max"))
    return f"{median} [{low}-{high}]"


def _target_text(spread: dict | None, target: float) -> str:
    """The target and whether the median meets it (a ratio of times: at most the target)."""
    if not spread:
        return f"<= {target}"
    return f"<= {target} {'ok' if spread['median'] <= target else 'MISS'}"


def format_interleaved(report: dict) -> str:
    """Markdown: per thread count one table of median [range] ratios with the targets,
    then the engine-overhead table and the BLAS each child ran with."""
    meta, rows = report["meta"], report["interleaved"]
    lines = _header_lines(meta, f"interleaved: {meta['rounds']} rounds of {meta['block']} steps of each "
                                f"implementation in turn, after {meta['warmup']} warm-up steps; "
                                "median [min-max] of the per-round ratios of time per step")
    malloc = meta["malloc_environment"]
    lines.append("children's malloc: " + (" ".join(f"{k}={v}" for k, v in malloc.items()) if malloc
                                          else "glibc's dynamic thresholds (--default-malloc)"))
    with_pytorch = any("reference_over_pytorch" in row for row in rows)
    for threads in sorted({row["threads"] for row in rows}):
        same_threads = [row for row in rows if row["threads"] == threads]
        lines += ["", f"### {threads} thread(s)", ""]
        lines += _interleaved_table(same_threads, with_pytorch)
        lines += ["", _page_faults_line(same_threads)]
        lines += _interleaved_warnings(same_threads, threads)
    lines += _engine_lines(report.get("engine_overhead"))
    lines += ["", "BLAS and threads seen by the children:"]
    # dict.fromkeys drops repeated lines and keeps the first of each in order
    for text in dict.fromkeys(f"  {process}, {row['threads']} thread(s): {_blas_text(blas)}"
                              for row in rows for process, blas in row["blas"].items()):
        lines.append(text)
    return "\n".join(lines)


def _interleaved_table(rows: list, with_pytorch: bool) -> list:
    """The Markdown table of one thread count; the PyTorch columns only when measured."""
    header, rule = "| workload | minigrad/reference | target |", "|---|---|---|"
    if with_pytorch:
        header, rule = header + " minigrad/PyTorch | target | reference/PyTorch |", rule + "---|---|---|"
    lines = [header, rule]
    for row in rows:
        over_reference = row.get("minigrad_over_reference")
        line = (f"| {row['workload']} | {_spread_text(over_reference)} "
                f"| {_target_text(over_reference, row['target_minigrad_over_reference'])} |")
        if with_pytorch:
            over_pytorch = row.get("minigrad_over_pytorch")
            line += (f" {_spread_text(over_pytorch)} "
                     f"| {_target_text(over_pytorch, row['target_minigrad_over_pytorch'])} "
                     f"| {_spread_text(row.get('reference_over_pytorch'))} |")
        lines.append(line)
    return lines


def _page_faults_line(rows: list) -> str:
    """Median minor page faults per step of each implementation, one workload after another."""
    names = ["minigrad", "reference"]
    if any("pytorch" in row["page_faults_per_step"] for row in rows):
        names.append("pytorch")
    parts = []
    for row in rows:
        faults = row["page_faults_per_step"]
        parts.append(f"{row['workload']} " + " / ".join(
            f"{faults[name]['median']:.0f}" if name in faults else "-" for name in names))
    return f"Minor page faults per step, median ({' / '.join(names)}): " + ", ".join(parts)


def _interleaved_warnings(rows: list, threads: int) -> list:
    """Children that failed, and children whose BLAS ran with another thread count than asked."""
    lines = []
    for row in rows:
        lines += [f"error in {row['workload']}: {error}" for error in row.get("errors", [])]
        for process, seen in row["threads_seen"].items():
            if seen and seen != [threads]:
                lines.append(f"WARNING: {row['workload']} ({process}) ran with {seen} BLAS threads, not {threads}")
    return lines


def _engine_lines(engine: dict | None) -> list:
    """The interleaved engine-overhead table (ops per second: more is better)."""
    if not engine:
        return []
    if "error" in engine:
        return ["", f"engine overhead: error: {engine['error']}"]
    shape = ", ".join(str(size) for size in engine["shape"])
    ops, forward, target = engine["ops_per_second"], engine["forward_ops_per_second"], engine["target_ops_per_second"]
    verdict = "ok" if ops["minigrad"]["median"] >= target else "MISS"
    count = "{:,.0f}"
    lines = [
        "",
        (f"Engine overhead: tiny-op chain y = tanh(y * w + b) on ({shape}) float32, {engine['links']:,} links "
         f"({3 * engine['links']:,} ops) a chain, {engine['chains_per_block']} chain(s) a block, one process"),
        "",
        "| | ops/s forward + backward | target | ops/s forward alone |",
        "|---|---|---|---|",
        (f"| minigrad | {_spread_text(ops['minigrad'], count)} | >= {target:,} {verdict} "
         f"| {_spread_text(forward['minigrad'], count)} |"),
    ]
    if "pytorch" in ops:
        lines += [
            f"| PyTorch | {_spread_text(ops['pytorch'], count)} | | {_spread_text(forward['pytorch'], count)} |",
            f"| minigrad/PyTorch, time per op | {_spread_text(engine['minigrad_over_pytorch_time'])} | | |",
        ]
    return lines


def _load_text(load) -> str:
    return "unknown" if not load else " ".join(f"{value:.1f}" for value in load)


def _extras_lines(report: dict) -> list:
    lines = []
    overhead = report.get("engine_overhead")
    if overhead:
        if "error" in overhead:
            lines += ["", f"engine overhead: error: {overhead['error']}"]
        else:
            ops = overhead["ops_per_second"]
            verdict = "ok" if ops >= TARGET_OPS_PER_SECOND else "MISS"
            forward = overhead["forward_ops_per_second"]
            lines += ["", (f"engine overhead (minigrad): {ops:,.0f} tiny ops/s forward+backward, {verdict} "
                           f"(target >= {TARGET_OPS_PER_SECOND:,}); forward alone {forward:,.0f} ops/s")]
    memory = report.get("memory_stability")
    if memory:
        if "error" in memory:
            lines += [f"memory stability: error: {memory['error']}"]
        else:
            growth = memory["growth_percent"]
            verdict = "ok" if growth <= TARGET_RSS_GROWTH_PERCENT else "MISS"
            lines.append(
                f"memory stability (minigrad, mlp): RSS {memory['rss_short_mb']:.1f} MB after "
                f"{memory['short_steps']} steps, {memory['rss_long_mb']:.1f} MB after {memory['long_steps']}: "
                f"{growth:+.1f}% {verdict} (target <= {TARGET_RSS_GROWTH_PERCENT:.0f}%)"
            )
    return lines


def _blas_text(blas) -> str:
    if not blas:
        return "unknown"
    parts = []
    for pool in sorted(blas.get("pools", []), key=lambda pool: str(pool.get("internal_api"))):
        text = f"{pool.get('internal_api')} {pool.get('version') or ''} {pool.get('num_threads')} thread(s)"
        if pool.get("architecture"):
            text += f", kernel {pool['architecture']}"
        parts.append(text.replace("  ", " "))
    if not parts and blas.get("numpy_blas"):
        parts.append(f"numpy built with {blas['numpy_blas']} (install threadpoolctl to see threads and kernel)")
    if blas.get("torch_threads") is not None:
        parts.append(f"torch.get_num_threads()={blas['torch_threads']}, MKL {'yes' if blas['torch_mkl'] else 'no'}")
    return "; ".join(parts) or "unknown"


# -------------------------------------------------------------------------------------
# The child: one measurement. NumPy is imported only here, after the parent has set
# the thread variables in this process's environment.


def current_rss_mb() -> float:
    """The resident set size now (Linux: /proc/self/statm), or the peak where unknown."""
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()


def maxrss_mb() -> float:
    """``resource.getrusage(RUSAGE_SELF).ru_maxrss``: KiB on Linux, bytes on macOS. On
    Linux it includes the RSS of the parent at the time of the fork, which is why the
    parent of this runner stays small."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM of /proc/self/status on Linux (the high-water
    mark of this program's memory alone, reset by exec), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10  # reported in kB
    except (OSError, ValueError, IndexError):
        pass
    return maxrss_mb()


def blas_info(implementation: str) -> dict:
    """Which BLAS / OpenMP libraries are loaded and with how many threads (threadpoolctl
    when installed; otherwise what NumPy was built with)."""
    import numpy

    info: dict = {"pools": []}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        keys = ("user_api", "internal_api", "version", "num_threads", "architecture", "threading_layer", "prefix")
        info["pools"] = [{key: pool.get(key) for key in keys} for pool in threadpool_info()]
    try:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["numpy_blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # noqa: BLE001 - only a description; older NumPy has no mode="dicts"
        info["numpy_blas"] = None
    if implementation == "pytorch":
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["torch_mkl"] = bool(torch.backends.mkl.is_available())
    return info


def threads_seen(blas: dict) -> list:
    """The distinct thread counts of the BLAS pools (empty when threadpoolctl is missing)."""
    counts = {pool["num_threads"] for pool in blas["pools"] if pool.get("user_api") == "blas"}
    if blas.get("torch_threads") is not None:
        counts.add(blas["torch_threads"])
    return sorted(counts)


def child_main(spec: dict) -> int:
    kind = spec["kind"]
    if kind == "pool":
        result = write_batch_pool(spec)
    elif kind == "engine_overhead":
        result = measure_engine_overhead(quick=spec.get("quick", False))
    elif kind == "memory_stability":
        result = measure_memory_stability(spec)
    elif kind == "interleaved":
        result = measure_interleaved(spec)
    elif kind == "interleaved_engine":
        result = measure_interleaved_engine(spec)
    else:
        result = measure_training(spec)
    print(json.dumps(result))
    return 0


def load_batches(spec: dict, workload):
    import numpy

    from benchmarks.workloads import batches

    with numpy.load(spec["data"]) as pool:
        images, labels = pool["images"], pool["labels"]
    return batches(workload, images, labels)


def measure_training(spec: dict) -> dict:
    from benchmarks.workloads import WORKLOADS, loss_value, make_trainer

    implementation, workload = spec["implementation"], WORKLOADS[spec["workload"]]
    set_torch_threads([implementation], spec["threads"])
    data = load_batches(spec, workload)
    _, step = make_trainer(implementation, workload)
    rss_before = current_rss_mb()
    loss_first = loss_value(step(*data[0]))
    for k in range(1, spec["warmup"]):
        step(*data[k % len(data)])
    times = []
    for k in range(spec["steps"]):
        x, y = data[(spec["warmup"] + k) % len(data)]
        started = time.perf_counter()
        loss = step(x, y)
        times.append(time.perf_counter() - started)
    blas = blas_info(implementation)
    return {
        "median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3,
        "mean_ms": statistics.fmean(times) * 1e3,
        "peak_rss_mb": peak_rss_mb(), "ru_maxrss_mb": maxrss_mb(), "rss_before_training_mb": rss_before,
        "loss_first": loss_first, "loss_last": loss_value(loss),
        "blas": blas, "threads_seen": threads_seen(blas),
    }


def tiny_op_chain(framework: str, links: int):
    """A function that runs one chain y <- tanh(y * w + b), ``links`` links of three ops
    on ENGINE_SHAPE float32 tensors, forward and then backward (seeded with ones), and
    returns (forward seconds, total seconds). The arithmetic is negligible, so this is
    the per-op cost of the framework: recording each op, the graph bookkeeping and the
    backward engine. ``framework``: "minigrad" or "pytorch"."""
    import numpy

    values = [numpy.full(ENGINE_SHAPE, value, dtype=numpy.float32) for value in (0.5, 0.9, 0.1)]
    if framework == "pytorch":
        import torch

        x, w, b = (torch.from_numpy(array).requires_grad_() for array in values)
        seed = torch.ones(ENGINE_SHAPE)
    else:
        import minigrad

        x, w, b = (minigrad.tensor(array, requires_grad=True) for array in values)
        seed = minigrad.ones(ENGINE_SHAPE)

    def run_chain() -> tuple:
        started = time.perf_counter()
        y = x
        for _ in range(links):
            y = (y * w + b).tanh()
        forwarded = time.perf_counter()
        y.backward(seed)
        finished = time.perf_counter()
        x.grad = w.grad = b.grad = None
        return forwarded - started, finished - started

    return run_chain


def measure_engine_overhead(quick: bool = False) -> dict:
    """Tiny ops per second through minigrad's engine (``tiny_op_chain``): the median of
    20 chains (5 with ``quick``) after one for warm-up."""
    links, repeats = (ENGINE_LINKS_QUICK, 5) if quick else (ENGINE_LINKS, 20)
    run_chain = tiny_op_chain("minigrad", links)
    forward_times, total_times = zip(*[run_chain() for _ in range(repeats + 1)])
    ops = 3 * links
    return {
        "shape": list(ENGINE_SHAPE), "ops_per_chain": ops, "repeats": repeats,
        "ops_per_second": ops / statistics.median(total_times[1:]),  # the first chain is warm-up
        "forward_ops_per_second": ops / statistics.median(forward_times[1:]),
    }


def interleave(runners: dict, rounds: int, block: int) -> dict:
    """Call ``runner(block)`` of every implementation in turn, ``rounds`` times, and
    return each one's results in round order. The order reverses every other round
    (A B, B A, A B, ...), so that neither implementation always runs first: a host that
    speeds up or slows down during a round favours each side equally often."""
    names = list(runners)
    results = {name: [] for name in names}
    for round_index in range(rounds):
        for name in names if round_index % 2 == 0 else reversed(names):
            results[name].append(runners[name](block))
    return results


def training_block(step, data: list):
    """A function ``run(steps)`` that runs that many training steps, cycling through
    ``data`` from where its last call stopped, and returns [milliseconds per step, minor
    page faults per step] (pages the system had to map in again: memory that malloc
    gave back and the next step asked for anew)."""
    position = 0

    def run(steps: int) -> list:
        nonlocal position
        faults_before = minor_page_faults()
        started = time.perf_counter()
        for _ in range(steps):
            step(*data[position % len(data)])
            position += 1
        elapsed = time.perf_counter() - started
        return [elapsed * 1e3 / steps, (minor_page_faults() - faults_before) / steps]

    return run


def minor_page_faults() -> int:
    """This process's minor page faults so far (``ru_minflt``)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def chain_block(run_chain):
    """A function ``run(chains)`` that runs that many tiny-op chains and returns
    [forward seconds, total seconds] summed over them."""

    def run(chains: int) -> list:
        forward = total = 0.0
        for _ in range(chains):
            chain_forward, chain_total = run_chain()
            forward += chain_forward
            total += chain_total
        return [forward, total]

    return run


def set_torch_threads(names: list, threads: int) -> None:
    """PyTorch sizes its own thread pool (the environment variables alone do not)."""
    if "pytorch" in names:
        import torch

        torch.set_num_threads(threads)


def measure_interleaved(spec: dict) -> dict:
    """Build a trainer of each implementation in ``spec["implementations"]`` on the same
    batches, warm each up, then ``interleave`` blocks of training steps: ms/step and
    page faults per step of every block of every round."""
    from benchmarks.workloads import WORKLOADS, make_trainer

    names, workload = spec["implementations"], WORKLOADS[spec["workload"]]
    set_torch_threads(names, spec["threads"])
    data = load_batches(spec, workload)
    runners = {name: training_block(make_trainer(name, workload)[1], data) for name in names}
    for run in runners.values():
        run(spec["warmup"])
    blocks = interleave(runners, spec["rounds"], spec["block"])
    blas = blas_info("pytorch" if "pytorch" in names else "minigrad")
    return {
        "ms_per_step": {name: [ms for ms, _ in results] for name, results in blocks.items()},
        "page_faults_per_step": {name: [faults for _, faults in results] for name, results in blocks.items()},
        "blas": blas, "threads_seen": threads_seen(blas),
    }


def measure_interleaved_engine(spec: dict) -> dict:
    """``tiny_op_chain`` of each framework in ``spec["frameworks"]``, interleaved in
    blocks of ``block`` chains: [forward, total] seconds of every block of every round."""
    names = spec["frameworks"]
    set_torch_threads(names, spec["threads"])
    runners = {name: chain_block(tiny_op_chain(name, spec["links"])) for name in names}
    for run in runners.values():
        run(spec["warmup"])
    return {
        "shape": list(ENGINE_SHAPE), "links": spec["links"], "chains_per_block": spec["block"],
        "ops_per_block": 3 * spec["links"] * spec["block"],
        "seconds": interleave(runners, spec["rounds"], spec["block"]),
    }


def measure_memory_stability(spec: dict) -> dict:
    """RSS of a minigrad mlp training run after ``short_steps`` and after ``long_steps``
    steps: a framework that keeps graphs, gradients or caches alive grows between them."""
    from benchmarks.workloads import WORKLOADS, make_trainer

    workload = WORKLOADS[spec["workload"]]
    data = load_batches(spec, workload)
    _, step = make_trainer(spec["implementation"], workload)
    short, long = spec["short_steps"], spec["long_steps"]
    rss = {}
    for k in range(long):
        step(*data[k % len(data)])
        if k + 1 in (short, long):
            rss[k + 1] = current_rss_mb()
    return {
        "workload": workload.name, "short_steps": short, "long_steps": long,
        "rss_short_mb": rss[short], "rss_long_mb": rss[long],
        "growth_percent": 100 * (rss[long] / rss[short] - 1), "peak_rss_mb": peak_rss_mb(),
    }


if __name__ == "__main__":
    sys.exit(main())
