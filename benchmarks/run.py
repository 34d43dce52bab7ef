"""Time and memory per training step: minigrad beside a hand-written NumPy reference and PyTorch.

    python benchmarks/run.py                          # everything: 5 workloads x 3 implementations x 1, 2 threads
    python benchmarks/run.py --repeats 3 --threads 1  # the numbers the targets of issue 6 are read from
    python benchmarks/run.py --quick                  # a fast smoke run (few steps, noisy numbers)

Every measurement runs in a fresh child process, one per (implementation, workload,
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

# Issue 6's targets (1 thread, median of 3 runs): minigrad / reference, minigrad / PyTorch.
TARGETS = {
    "mlp": (1.10, 1.0), "cnn": (1.25, 2.0), "rnn": (1.30, 1.5), "lstm": (1.30, 2.0), "deep_rnn": (4.0, 1.0),
}
TARGET_RSS_RATIO = 1.5  # peak RSS of minigrad / reference
TARGET_OPS_PER_SECOND = 100_000
TARGET_RSS_GROWTH_PERCENT = 5.0

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
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 5 steps, 1 warm-up, 1 thread, 1 repeat, memory 10/100 steps")
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
    if min(args.steps, args.warmup, args.repeats, *args.threads) < 1:
        parser.error("--steps, --warmup, --repeats and --threads must be >= 1")
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


def child_environment(threads: int, keep_openblas_env: bool) -> dict:
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = str(threads)
    if not keep_openblas_env:
        for name in OPENBLAS_OVERRIDES:
            env.pop(name, None)  # both together: the L2 size only makes sense with the core type
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
        "steps": args.steps, "warmup": args.warmup, "repeats": args.repeats, "quick": args.quick,
    }


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
        report = {"meta": meta, "results": cells, "ratios": ratios(cells)}

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
    try:
        report["meta"]["load_average_at_end"] = os.getloadavg()
    except OSError:
        pass

    print(format_report(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


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
    lines = [
        (f"minigrad benchmark, {meta['date']}, {meta['cpu'] or 'unknown CPU'} ({meta['cpu_count']} cores), "
         f"load average at start {_load_text(meta.get('load_average_at_start'))}"),
        f"{meta['steps']} timed steps after {meta['warmup']} warm-up steps, median of {meta['repeats']} "
        f"run(s) per cell" + (" -- QUICK SMOKE RUN, numbers are not meaningful" if meta["quick"] else ""),
    ]
    if meta["skipped"]:
        lines.append("skipped: " + ", ".join(meta["skipped"]))
    if meta["openblas_overrides_removed"]:
        lines.append("removed from the children's environment: " + ", ".join(
            f"{k}={v}" for k, v in meta["openblas_overrides_removed"].items()))
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
    if implementation == "pytorch":
        import torch

        torch.set_num_threads(spec["threads"])
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


def measure_engine_overhead(quick: bool = False) -> dict:
    """Tiny ops per second through minigrad's engine: a chain y <- tanh(y * w + b) of
    scalar tensors (three ops a link), recorded forward and walked backward. The
    arithmetic is negligible, so this is the per-op cost of Function.apply, the
    graph bookkeeping and the backward engine."""
    import minigrad

    links, repeats = (200, 5) if quick else (1000, 20)
    x = minigrad.tensor(0.5, requires_grad=True)
    w = minigrad.tensor(0.9, requires_grad=True)
    b = minigrad.tensor(0.1, requires_grad=True)
    forward_times, total_times = [], []
    for _ in range(repeats + 1):  # the first round is warm-up
        started = time.perf_counter()
        y = x
        for _ in range(links):
            y = (y * w + b).tanh()
        forwarded = time.perf_counter()
        y.backward()
        finished = time.perf_counter()
        forward_times.append(forwarded - started)
        total_times.append(finished - started)
        x.grad = w.grad = b.grad = None
    ops = 3 * links
    return {
        "ops_per_chain": ops, "repeats": repeats,
        "ops_per_second": ops / statistics.median(total_times[1:]),
        "forward_ops_per_second": ops / statistics.median(forward_times[1:]),
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
