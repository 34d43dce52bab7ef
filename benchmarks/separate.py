"""The default mode, separate processes: time and memory of every cell.

Every measurement runs in a fresh child process, one per (implementation, workload,
threads, repeat), so that imports, caches and the memory peak of one measurement do
not leak into another (children.py starts them). The child, ``measure_training``,

1. loads a small pool of real Fashion-MNIST batches (written once by the parent),
2. builds the model and its RMSprop optimizer (lr 1e-3, alpha 0.99, eps 1e-8),
3. runs ``--warmup`` training steps, then ``--steps`` timed ones (forward + backward +
   optimizer step each, ``time.perf_counter`` around each), cycling through the pool,
4. prints one line of JSON: the median, min and mean ms/step, its peak RSS
   (``peak_rss_mb``), the RSS before the first step, the BLAS library and thread
   count it actually ran with, and the first and last loss.

With ``--repeats R`` every cell is measured by R separate children (run round-robin,
so that a slow minute of the machine does not fall on one cell only) and the table
reports the median of their medians. Two more rows, minigrad only, each from a child
of its own: the engine's overhead in tiny ops per second, and the RSS after many
training steps of ``mlp`` against the RSS after fewer (a leak shows as growth).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from .children import child_environment, progress, run_child
from .measure import (
    ENGINE_SHAPE,
    blas_info,
    current_rss_mb,
    engine_links,
    maxrss_mb,
    peak_rss_mb,
    set_torch_threads,
    threads_seen,
    tiny_op_chain,
    workload_and_batches,
)
from .targets import TARGET_RSS_RATIO, TARGETS

# -------------------------------------------------------------------------------------
# The parent: one child per cell and repeat, then the medians and the ratios


def run_separate(args, implementations: list, pool: Path) -> dict:
    """One child per (implementation, workload, threads, repeat), then the extras.
    Returns the report's ``results``, ``ratios`` and extras."""
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
            progress(f"[{done}/{total}] {label} (repeat {repeat + 1})")
            runs[index].append(run_child(spec, child_environment(spec["threads"], args.keep_openblas_env),
                                         args.timeout))
    cells = [summarise_cell(spec, runs[index]) for index, spec in enumerate(specs)]
    report = {"results": cells, "ratios": ratios(cells)}

    if not args.no_extras:
        env = child_environment(min(args.threads), args.keep_openblas_env)
        progress("engine overhead (minigrad)")
        report["engine_overhead"] = run_child(
            {"kind": "engine_overhead", "implementation": "minigrad", "quick": args.quick}, env, args.timeout)
        progress("memory stability (minigrad, mlp)")
        short, long = args.memory_steps
        report["memory_stability"] = run_child(
            {"kind": "memory_stability", "implementation": "minigrad", "workload": "mlp",
             "short_steps": short, "long_steps": long, "data": str(pool)}, env, args.timeout)
    return report


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


# -------------------------------------------------------------------------------------
# The children: one measurement each


def measure_training(spec: dict) -> dict:
    """ms per training step of one implementation (median, min and mean of ``steps``
    timed steps after ``warmup``), its memory, its BLAS and its first and last loss."""
    from .workloads import loss_value, make_trainer

    implementation = spec["implementation"]
    set_torch_threads([implementation], spec["threads"])
    workload, data = workload_and_batches(spec)
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


def measure_engine_overhead(spec: dict) -> dict:
    """Tiny ops per second through minigrad's engine (``tiny_op_chain``): the median of
    20 chains (5 with ``spec["quick"]``) after one for warm-up."""
    quick = spec.get("quick", False)
    links, repeats = engine_links(quick), 5 if quick else 20
    run_chain = tiny_op_chain("minigrad", links)
    forward_times, total_times = zip(*[run_chain() for _ in range(repeats + 1)])
    ops = 3 * links
    return {
        "shape": list(ENGINE_SHAPE), "ops_per_chain": ops, "repeats": repeats,
        "ops_per_second": ops / statistics.median(total_times[1:]),  # the first chain is warm-up
        "forward_ops_per_second": ops / statistics.median(forward_times[1:]),
    }


def measure_memory_stability(spec: dict) -> dict:
    """RSS of a minigrad mlp training run after ``short_steps`` and after ``long_steps``
    steps: a framework that keeps graphs, gradients or caches alive grows between them."""
    from .workloads import make_trainer

    workload, data = workload_and_batches(spec)
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
