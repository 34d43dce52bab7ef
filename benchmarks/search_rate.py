"""Trials per hour of ``minigrad search`` with 1 and 2 worker processes.

    python benchmarks/search_rate.py --threads 1           # 9 rounds of 1 and 2 workers, 1 thread each
    python benchmarks/search_rate.py --rounds 3 --limit 3000
    python benchmarks/search_rate.py --quick              # smoke run: numbers mean nothing

Every search is the same small one: the mlp on Fashion-MNIST, ``--trials`` trials
(default 8) of ``--epochs`` epochs (default 2) on the first ``--limit`` training
examples (default 30000, of which 10% are the validation split), the grid sampler over
``SPACE`` (lr 4 values x alpha 2 values = 8 configurations), no pruner and no final run.
The grid and the absent pruner make every trial the same amount of work whatever the
number of workers, so the only difference between two searches is how many trials run
at the same time.

The host's speed swings by 30-50% from minute to minute, so the configurations take
turns: each round runs one search with each worker count, the order reversed every
other round (1 then 2, 2 then 1, ...), and each round gives one speed ratio (trials per
hour of K workers over those of 1 worker) from two searches run a minute apart. The
table reports, per worker count, the median and range over the rounds of:

* trials per hour = finished trials / wall seconds of the whole ``search()`` call
  (starting the workers, loading the data in each, the trials, writing trials.json and
  the pictures): what a user gets;
* trials per hour counting only the trial phase (first trial started to last trial
  finished, from the study), without the fixed start and end;
* seconds per trial (each trial's own duration): on a quiet host two trials at a time
  on two cores each run slower, which keeps the speed-up below 2;
* the best validation accuracy reached (every search runs the same grid with the same
  seed, so it is the same in every search unless two workers started the same grid
  point, which Optuna's grid sampler allows, and the best one was left out; the table
  says when a worker count ran fewer distinct points than trials).

On a busy host the scheduler shares the cores among every runnable process, so 2
workers take a larger share of it than 1 does: read the load average in the header.

An untimed warm-up search (1 trial, 1 epoch) runs first, so that the data set and the
imports are in the page cache and a missing data set stops the run before any timing.
The JSON (``--out``, default ``benchmarks/results/search_rate.json``; ``results/`` is
ignored by git) keeps every search: wall seconds, trial-phase seconds, every trial's
seconds, its best value, the load average when it started.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from benchmarks.interleaved import median_and_range, per_round_ratios  # after ROOT is on the path
from benchmarks.report import write_atomically

# 4 x 2 = 8 grid points, the default budget: every configuration runs once per search.
SPACE = {"lr": "0.0003,0.001,0.003,0.01", "alpha": "0.9,0.99"}
MODEL = "mlp"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
QUICK = {"rounds": 1, "trials": 2, "epochs": 1, "limit": 600}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Trials per hour of minigrad search with 1 and 2 workers, "
                                     "the worker counts taking turns round by round.")
    parser.add_argument("--rounds", type=_at_least_one, default=9, help="rounds of one search per worker count "
                        "(default: 9)")
    parser.add_argument("--workers", type=_at_least_one, nargs="+", default=[1, 2],
                        help="worker counts to compare; the first is the baseline of the ratios (default: 1 2)")
    parser.add_argument("--trials", type=_at_least_one, default=8, help="trials per search (default: 8, the grid)")
    parser.add_argument("--epochs", type=_at_least_one, default=2, help="epochs per trial (default: 2)")
    parser.add_argument("--limit", type=_at_least_one, default=30000,
                        help="the first N training examples, 10%% of them for validation (default: 30000)")
    parser.add_argument("--threads", type=_at_least_one, default=None,
                        help=f"set {', '.join(THREAD_VARIABLES)} for the workers (default: leave the environment "
                        "as it is, i.e. NumPy's own choice)")
    parser.add_argument("--data-dir", type=Path, default=None, help="data root (default: minigrad's search)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "search_rate.json",
                        help="the JSON (default: benchmarks/results/search_rate.json)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 2 trials of 1 epoch on 600 "
                        "examples; the numbers mean nothing")
    args = parser.parse_args(argv)
    if len(set(args.workers)) != len(args.workers):
        parser.error(f"--workers: each count once, got {' '.join(map(str, args.workers))}")
    if args.quick:
        vars(args).update(QUICK)
    return args


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


# -------------------------------------------------------------------------------------
# One search, and the rounds


def one_search(workers: int, args: argparse.Namespace, folder: Path, trials: int | None = None,
               epochs: int | None = None) -> dict:
    """Run one search in ``folder`` and return what it measured (see the module docstring)."""
    import optuna

    from minigrad.search import search
    from minigrad.search.storage import JOURNAL, open_storage

    load = _load_average()
    started = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):  # the progress bar; a failure still raises
        result = search(model=MODEL, params=SPACE, trials=trials or args.trials, workers=workers, seed=0,
                        sampler="grid", pruner="none", epochs=epochs or args.epochs, limit=args.limit,
                        out=folder, data_dir=args.data_dir, final=False, log=lambda text: None)
    wall = time.perf_counter() - started
    finished = [row for row in result["trials"] if row["state"] in ("COMPLETE", "PRUNED")]
    study = optuna.load_study(study_name=result["study"], storage=open_storage(str(folder / JOURNAL)))
    done = [trial for trial in study.get_trials(deepcopy=False) if trial.datetime_complete is not None]
    phase = (max(trial.datetime_complete for trial in done)
             - min(trial.datetime_start for trial in done)).total_seconds()
    return {"workers": workers, "load_average_at_start": load, "wall_seconds": round(wall, 3),
            "trial_phase_seconds": round(phase, 3), "finished_trials": len(finished),
            "trial_seconds": [row["seconds"] for row in finished],
            "distinct_configurations": len({tuple(sorted(row["params"].items())) for row in finished}),
            "best_validation_accuracy": result["best"]["validation_accuracy"] if result["best"] else None}


def run_rounds(args: argparse.Namespace, folder: Path, say=print) -> list[dict]:
    """``args.rounds`` rounds of one search per worker count, the order reversed every
    other round so that no count always runs first; ``{workers: measurement}`` per round."""
    rounds = []
    for number in range(args.rounds):
        order = args.workers if number % 2 == 0 else args.workers[::-1]
        measured = {}
        for workers in order:
            measured[workers] = one_search(workers, args, folder / f"round{number}-workers{workers}")
            say(f"round {number + 1}/{args.rounds}, {workers} worker(s): {measured[workers]['wall_seconds']:.1f} s, "
                f"{measured[workers]['finished_trials']} trials")
        rounds.append({"order": order, "searches": measured})
    return rounds


# -------------------------------------------------------------------------------------
# Summary, table, JSON


def trials_per_hour(search: dict, seconds_key: str = "wall_seconds") -> float:
    return search["finished_trials"] / search[seconds_key] * 3600


def summarize(rounds: list[dict], workers: list[int]) -> list[dict]:
    """One row per worker count: medians and ranges over the rounds, and the per-round
    ratio of its trials per hour over the first worker count's (None for that one)."""
    baseline = [trials_per_hour(one["searches"][workers[0]]) for one in rounds]
    rows = []
    for count in workers:
        searches = [one["searches"][count] for one in rounds]
        rate = [trials_per_hour(search) for search in searches]
        best = [search["best_validation_accuracy"] for search in searches
                if search["best_validation_accuracy"] is not None]
        rows.append({
            "workers": count,
            "trials_per_hour": median_and_range(rate),
            "trials_per_hour_trial_phase": median_and_range(
                [trials_per_hour(search, "trial_phase_seconds") for search in searches]),
            "seconds_per_trial": median_and_range(
                [statistics.median(search["trial_seconds"]) for search in searches]),
            "speed_over_baseline": None if count == workers[0] else median_and_range(
                per_round_ratios(rate, baseline)),
            "best_validation_accuracy": median_and_range(best) if best else None,
            "distinct_configurations": median_and_range([search["distinct_configurations"] for search in searches]),
            "finished_trials": median_and_range([search["finished_trials"] for search in searches]),
        })
    return rows


def spread_text(spread: dict | None, pattern: str = "{:.2f}") -> str:
    """``median [min-max]``; the bare value when every round gave the same; ``-`` when none."""
    if not spread:
        return "-"
    median, low, high = (pattern.format(spread[key]) for key in ("median", "min", "max"))
    return median if low == high else f"{median} [{low}-{high}]"


def format_table(report: dict) -> str:
    meta, rows = report["meta"], report["rows"]
    header = (f"| workers | trials/hour | speed vs {meta['workers'][0]} worker(s), per round "
              "| trials/hour, trial phase only | s per trial | best validation accuracy |")
    lines = [*_header_lines(meta), "", header, "|---:|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['workers']} | {spread_text(row['trials_per_hour'], '{:.0f}')} "
                     f"| {spread_text(row['speed_over_baseline']) if row['speed_over_baseline'] else '1 (baseline)'} "
                     f"| {spread_text(row['trials_per_hour_trial_phase'], '{:.0f}')} "
                     f"| {spread_text(row['seconds_per_trial'], '{:.2f}')} "
                     f"| {spread_text(row['best_validation_accuracy'], '{:.4f}')} |")
    lines.append("")
    lines.append("median [range] over the rounds; the speed ratio is taken within each round.")
    lines += _duplicate_lines(rows)
    return "\n".join(lines)


def _duplicate_lines(rows: list[dict]) -> list[str]:
    """A note where a search ran one grid point twice: Optuna's grid sampler counts a point
    as taken only when its trial finishes, so two workers can start the same one."""
    lines = []
    for row in rows:
        distinct, finished = row["distinct_configurations"], row["finished_trials"]
        if distinct["min"] < finished["max"]:
            lines.append(f"{row['workers']} worker(s): {spread_text(distinct, '{:.0f}')} distinct configurations in "
                         f"{spread_text(finished, '{:.0f}')} trials (two workers started the same grid point)")
    return lines


def _header_lines(meta: dict) -> list[str]:
    """The machine and its load, then what every search ran."""
    machine = (f"minigrad search rate, {meta['date']}, {meta['cpu'] or 'unknown CPU'} ({meta['cpu_count']} cores), "
               f"load average at start {_load_text(meta['load_average_at_start'])}, at end "
               f"{_load_text(meta.get('load_average_at_end'))}")
    space = " ".join(f"{name}={spec}" for name, spec in SPACE.items())
    searches = (f"{MODEL}, {meta['trials']} trials of {meta['epochs']} epoch(s) on {meta['limit']} examples, "
                f"grid over {space}, no pruner, no final run; {meta['rounds']} round(s), worker counts "
                f"alternating; threads per worker: {meta['threads'] or 'the environment default'}")
    if meta["quick"]:
        searches += " -- QUICK SMOKE RUN, numbers are not meaningful"
    return [machine, searches]


def _load_text(load) -> str:
    return "unknown" if not load else " ".join(f"{value:.1f}" for value in load)


def _load_average():
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def machine_info(args: argparse.Namespace) -> dict:
    import numpy
    import optuna

    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.executable).name, *sys.argv]), "cpu": _cpu_name(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(), "numpy": numpy.__version__,
            "optuna": optuna.__version__, "model": MODEL, "space": SPACE, "sampler": "grid", "pruner": "none",
            "trials": args.trials, "epochs": args.epochs, "limit": args.limit, "rounds": args.rounds,
            "workers": args.workers, "threads": args.threads, "quick": args.quick,
            "thread_environment": {name: os.environ.get(name) for name in THREAD_VARIABLES},
            "load_average_at_start": _load_average()}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads is not None:  # the workers inherit this process's environment
        os.environ.update({name: str(args.threads) for name in THREAD_VARIABLES})
    from minigrad.search.errors import SearchError, SearchInterrupted, SearchUnavailable

    try:
        with tempfile.TemporaryDirectory(prefix="search-rate-") as temporary:
            folder = Path(temporary)
            one_search(args.workers[0], args, folder / "warm-up", trials=1, epochs=1)
            report = {"meta": machine_info(args)}
            rounds = run_rounds(args, folder, say=lambda text: print(text, file=sys.stderr, flush=True))
    except (SearchError, SearchUnavailable, FileNotFoundError) as error:
        print(f"search_rate.py: error: {error}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, SearchInterrupted):
        print("search_rate.py: interrupted; nothing written", file=sys.stderr)
        return 130
    report["meta"]["load_average_at_end"] = _load_average()
    report["rows"] = summarize(rounds, args.workers)
    report["rounds"] = [{"order": one["order"], "searches": list(one["searches"].values())} for one in rounds]
    print(format_table(report))
    write_atomically(args.out, json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
