"""The report: Markdown tables of either mode for the terminal, and the JSON file.

``format_report`` prints the separate mode (one table per thread count: ms/step, the
time ratios against their targets, peak RSS; then the extras), ``format_interleaved``
the interleaved mode (median [min-max] of the per-round ratios against their targets,
the page faults, the engine-overhead table). Both end with the BLAS the children ran
with. ``write_atomically`` saves the JSON.
"""

from __future__ import annotations

import os
from pathlib import Path

from .targets import (
    IMPLEMENTATIONS,
    TARGET_OPS_PER_SECOND,
    TARGET_RSS_GROWTH_PERCENT,
    TARGET_RSS_RATIO,
    TARGETS,
    WORKLOAD_NAMES,
)

TABLE_HEADER = (
    "| workload | minigrad ms | reference ms | PyTorch ms | minigrad/reference (target) "
    "| minigrad/PyTorch (target) | minigrad MB | reference MB | PyTorch MB | RSS minigrad/reference |"
)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it: an interrupted
    run never leaves half a report where the last whole one was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


# -------------------------------------------------------------------------------------
# Both modes


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


def _load_text(load) -> str:
    return "unknown" if not load else " ".join(f"{value:.1f}" for value in load)


def _verdict(met: bool) -> str:
    return "ok" if met else "MISS"


def _blas_lines(processes: list) -> list:
    """The closing lines: the BLAS of each (process, threads, blas), every line once, in order."""
    lines = (f"  {process}, {threads} thread(s): {_blas_text(blas)}" for process, threads, blas in processes)
    return ["", "BLAS and threads seen by the children:", *dict.fromkeys(lines)]  # fromkeys drops repeats


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
# The separate mode


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
    cells_blas = [(cell["implementation"], cell["threads"], cell.get("blas")) for cell in report["results"]]
    lines += _blas_lines(cells_blas)
    return "\n".join(lines)


def _number(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio_text(value, target) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} {_verdict(value <= target)}"


def _extras_lines(report: dict) -> list:
    lines = []
    overhead = report.get("engine_overhead")
    if overhead:
        if "error" in overhead:
            lines += ["", f"engine overhead: error: {overhead['error']}"]
        else:
            ops = overhead["ops_per_second"]
            verdict = _verdict(ops >= TARGET_OPS_PER_SECOND)
            forward = overhead["forward_ops_per_second"]
            lines += ["", (f"engine overhead (minigrad): {ops:,.0f} tiny ops/s forward+backward, {verdict} "
                           f"(target >= {TARGET_OPS_PER_SECOND:,}); forward alone {forward:,.0f} ops/s")]
    memory = report.get("memory_stability")
    if memory:
        if "error" in memory:
            lines += [f"memory stability: error: {memory['error']}"]
        else:
            growth = memory["growth_percent"]
            verdict = _verdict(growth <= TARGET_RSS_GROWTH_PERCENT)
            lines.append(
                f"memory stability (minigrad, mlp): RSS {memory['rss_short_mb']:.1f} MB after "
                f"{memory['short_steps']} steps, {memory['rss_long_mb']:.1f} MB after {memory['long_steps']}: "
                f"{growth:+.1f}% {verdict} (target <= {TARGET_RSS_GROWTH_PERCENT:.0f}%)"
            )
    return lines


# -------------------------------------------------------------------------------------
# The interleaved mode


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
    children_blas = [(process, row["threads"], blas) for row in rows for process, blas in row["blas"].items()]
    lines += _blas_lines(children_blas)
    return "\n".join(lines)


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
    return f"<= {target} {_verdict(spread['median'] <= target)}"


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
    verdict = _verdict(ops["minigrad"]["median"] >= target)
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
