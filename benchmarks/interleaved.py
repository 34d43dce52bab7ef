"""The interleaved mode: speed ratios measured inside one process, round by round.

One child per workload and thread count builds minigrad and the reference side by
side and runs blocks of ``--block`` training steps of each in turn, ``--rounds`` times
(``interleave``); a second child does the same with the reference and PyTorch. A slow
minute of the host then slows both sides of a ratio alike; each round gives one
ratio, and the table reports their median and range (``interleaved_row``). The
engine-overhead chain runs the same way, minigrad beside PyTorch in one child
(``engine_row``). The children run with STEADY_MALLOC (children.py) unless
``--default-malloc``. This mode measures no memory: two models share a process.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from .children import child_environment, malloc_environment, progress, run_child
from .measure import (
    ENGINE_SHAPE,
    blas_info,
    engine_links,
    minor_page_faults,
    set_torch_threads,
    threads_seen,
    tiny_op_chain,
    workload_and_batches,
)
from .targets import TARGET_OPS_PER_SECOND, TARGETS

# -------------------------------------------------------------------------------------
# The parent: two children per workload, then the per-round ratios


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
                progress(f"interleaved {' + '.join(group)}: {workload}, threads={threads}, "
                         f"{args.rounds} rounds x {args.block} steps")
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
        progress(f"interleaved engine overhead: {' + '.join(frameworks)}, threads={threads}")
        spec = {"kind": "interleaved_engine", "frameworks": frameworks, "threads": threads,
                "quick": args.quick, "rounds": args.rounds, "block": args.block, "warmup": args.warmup}
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
# The children: blocks of each implementation in turn, in one process


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


def measure_interleaved(spec: dict) -> dict:
    """Build a trainer of each implementation in ``spec["implementations"]`` on the same
    batches, warm each up, then ``interleave`` blocks of training steps: ms/step and
    page faults per step of every block of every round."""
    from .workloads import make_trainer

    names = spec["implementations"]
    set_torch_threads(names, spec["threads"])
    workload, data = workload_and_batches(spec)
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
    names, links = spec["frameworks"], engine_links(spec["quick"])
    set_torch_threads(names, spec["threads"])
    runners = {name: chain_block(tiny_op_chain(name, links)) for name in names}
    for run in runners.values():
        run(spec["warmup"])
    return {
        "shape": list(ENGINE_SHAPE), "links": links, "chains_per_block": spec["block"],
        "ops_per_block": 3 * links * spec["block"],
        "seconds": interleave(runners, spec["rounds"], spec["block"]),
    }
