"""A search shared between machines: one Optuna study in a real PostgreSQL database.

With ``--storage postgresql://... --study NAME``, any number of machines run the same
``minigrad search`` command and Optuna hands each trial to exactly one of them (issue 16).
These tests start the server themselves (``postgres_server.py``: Debian's ``postgresql``,
which CI installs) and check the two things that go wrong in a shared study:

- workers that start at the same moment on a fresh database both create Optuna's tables and
  the study at once. PostgreSQL lets only one of them create each table; the other gets an
  IntegrityError and, unless it tries again, dies (plain Optuna 5.1 dies so in most races).
  Neither may die, and no trial may be lost or run twice;
- a worker killed (SIGKILL) in the middle of a trial leaves that trial RUNNING. Optuna's
  heartbeat marks it FAIL once its worker has been silent for the grace period, and its
  retry callback (``RetryFailedTrialCallback``, renamed ``RetryHeartbeatStaleTrialCallback``
  in Optuna 4.9) queues its parameters again, so the next run redoes it and finishes the
  budget.

Each is checked with Optuna alone (the recipe ``minigrad.search`` follows: ``worker`` below,
run as a real process by running this file as a script), then through ``minigrad search``
processes. The workers are killed by their process ids, never by name.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from helpers import needs_data
from postgres_server import fixture_postgres_server, fixture_postgres_url, sqlalchemy_url  # noqa: F401 - fixtures

optuna = pytest.importorskip("optuna", reason="Optuna is not installed (pip install -e '.[search]')")
psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[search]')")
sqlalchemy = pytest.importorskip("sqlalchemy", reason="SQLAlchemy (Optuna's) is not installed")

from optuna.trial import TrialState

HERE = Path(__file__).resolve()
HEARTBEAT_S = 1  # a live worker writes its trial's heartbeat every second...
GRACE_S = 2  # ...and one silent for longer is taken for dead (Optuna's default: 2 heartbeats)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
WAIT_S = 60  # the longest any step may take on a loaded CI machine before the test fails

needs_search = pytest.mark.skipif(not importlib.util.find_spec("minigrad.search"),
                                  reason="minigrad search is not built yet")


# ---------------------------------------------------------------------------------------
# The recipe: a worker on a shared study, with Optuna alone
# ---------------------------------------------------------------------------------------

def open_shared_storage(url: str, attempts: int = 10) -> optuna.storages.RDBStorage:
    """Optuna's storage in the database at ``url``, with heartbeats and one retry of a trial
    whose worker died.

    The first workers on a fresh database all create Optuna's tables at once; PostgreSQL
    lets one win and raises IntegrityError (or "already exists") in the others. Those try
    again: by then the tables are there and they only read them."""
    if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):  # Optuna >= 4.9's name
        retry = {"heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)}
    else:
        retry = {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=1)}
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S, **retry)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")


def retried_trial_number(trial) -> int | None:
    """The number of the failed trial that ``trial`` redoes, or None (set by the callback)."""
    return trial.system_attrs.get("failed_trial")


def worker(url: str, study_name: str, budget: int, log: Path, hang: bool) -> None:
    """Join (or create) the study and run trials until it holds ``budget`` complete ones,
    appending the number of each trial this process starts to ``log``. With ``hang``, the
    first trial never ends: the test kills the process in it."""
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats are "experimental"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=study_name, storage=open_shared_storage(url), load_if_exists=True,
                                sampler=optuna.samplers.RandomSampler())  # unseeded: workers differ

    def objective(trial):
        x = trial.suggest_float("x", -1.0, 1.0)
        with log.open("a") as file:
            file.write(f"{trial.number}\n")
        time.sleep(600 if hang else 0.05)
        return x * x

    study.optimize(objective, callbacks=[optuna.study.MaxTrialsCallback(budget, states=(TrialState.COMPLETE,))])


def worker_command(url: str, study_name: str, budget: int, log: Path, *options: str) -> list[str]:
    return [sys.executable, str(HERE), url, study_name, str(budget), str(log), *options]


def main(argv: list[str] | None = None) -> None:
    """``python tests/test_search_postgres.py URL STUDY BUDGET LOG [--hang] [--ready F --go F]``:
    one worker. With ``--ready``/``--go`` it says it is ready and waits for the go file, so
    that two workers reach ``create_study`` within a millisecond of each other."""
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("study")
    parser.add_argument("budget", type=int)
    parser.add_argument("log", type=Path)
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--go", type=Path)
    args = parser.parse_args(argv)
    if args.ready:
        args.ready.touch()
        while not args.go.exists():
            time.sleep(0.001)
    worker(args.url, args.study, args.budget, args.log, args.hang)


# ---------------------------------------------------------------------------------------
# Processes and the study, seen from the test
# ---------------------------------------------------------------------------------------

@pytest.fixture
def start():
    """``start(command, output, environment=None)`` starts ``command``, its output going to
    ``output`` (a pipe could fill and block it). Whatever is still running when the test
    ends (it failed half-way) is killed, workers included."""
    started = []

    def start_one(command: list[str], output: Path, environment: dict | None = None) -> subprocess.Popen:
        with output.open("w") as file:
            started.append(subprocess.Popen(command, stdout=file, stderr=subprocess.STDOUT, env=environment))
        return started[-1]

    yield start_one
    for process in started:
        if process.poll() is None:
            kill_with_descendants(process)


def finish(process: subprocess.Popen, output: Path) -> str:
    """Wait for ``process`` to exit; fail, with its output, if it fails or takes too long."""
    try:
        code = process.wait(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        kill_with_descendants(process)
        code = f"killed after {WAIT_S} s"
    text = output.read_text(errors="replace")
    assert code == 0, f"{' '.join(map(str, process.args))}\nexit {code}:\n{text[-3000:]}"
    return text


def wait_for(condition, what: str, processes: list[subprocess.Popen]):
    """Poll ``condition`` until it returns something true; fail if a process exits first."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        exited = [process.args for process in processes if process.poll() is not None]
        assert not exited, f"waiting for {what}, a process exited: {exited}"
        time.sleep(0.005)
    raise AssertionError(f"no {what} after {WAIT_S} s")


def descendants(pid: int) -> list[int]:
    """The ids of the processes ``pid`` started, and theirs, read from Linux's /proc (a
    process group would miss workers started in sessions of their own)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # the task ended while we looked
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def kill_with_descendants(process: subprocess.Popen) -> None:
    """SIGKILL ``process`` and every process it started, the workers first, as a machine
    that dies would: nobody gets to mark its trial failed."""
    for pid in [*reversed(descendants(process.pid)), process.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def kill_in_a_trial(process: subprocess.Popen, url: str) -> int:
    """SIGKILL ``process`` (and its workers) as soon as one of its trials has sent its
    first heartbeat and drawn a parameter; return that trial's number.

    The study is read with plain SQL on Optuna's tables: opening an Optuna storage here
    would create those tables and race with the worker. A trial killed before its first
    heartbeat is never failed by Optuna (it has no heartbeat to go stale), so the kill waits
    for one, and for a parameter, which the retry must keep. Trials last far longer than the
    5 ms between looks."""
    query = ("SELECT number FROM trials WHERE state = 'RUNNING' "
             "AND trial_id IN (SELECT trial_id FROM trial_heartbeats) "
             "AND trial_id IN (SELECT trial_id FROM trial_params)")

    with psycopg.connect(url, autocommit=True) as connection:
        def running_numbers():
            try:
                return [number for (number,) in connection.execute(query).fetchall()]
            except psycopg.errors.UndefinedTable:  # the worker has not made Optuna's tables yet
                return []

        try:
            numbers = wait_for(running_numbers, "trial with a heartbeat", [process])
        finally:
            kill_with_descendants(process)
    assert len(numbers) == 1, f"one worker, yet trials {numbers} were running"
    return numbers[0]


def load_trials(url: str, study_name: str) -> list:
    """Every trial of the study, in order of number (a fresh storage: what a new worker sees)."""
    study = optuna.load_study(study_name=study_name, storage=sqlalchemy_url(url))
    return sorted(study.get_trials(deepcopy=False), key=lambda trial: trial.number)


def check_each_trial_once(trials: list, budget: int, workers: int, killed: int | None = None) -> None:
    """Numbered 0..n-1 without gaps; all finished but the ``killed`` trial, whose retry counts
    instead; between ``budget`` and ``budget + workers - 1`` finished (``MaxTrialsCallback``
    is checked after each trial, so each other worker may be one trial in when the budget is
    reached); no configuration evaluated twice (the retry is the killed trial's second go)."""
    assert [trial.number for trial in trials] == list(range(len(trials)))
    counted = [trial for trial in trials if trial.number != killed]
    assert all(trial.state in FINISHED for trial in counted), [(t.number, t.state.name) for t in trials]
    assert budget <= len(counted) <= budget + workers - 1, f"{len(counted)} trials for a budget of {budget}"
    configurations = [json.dumps(trial.params, sort_keys=True) for trial in counted]
    assert len(set(configurations)) == len(configurations), f"a configuration ran twice: {configurations}"


def sleep_past_grace(killed_at: float) -> None:
    """Wait until a trial whose last heartbeat came before ``killed_at`` counts as stale."""
    time.sleep(max(0.0, killed_at + GRACE_S + 0.5 - time.monotonic()))


# ---------------------------------------------------------------------------------------
# Optuna alone
# ---------------------------------------------------------------------------------------

def test_two_workers_starting_together_share_the_budget_once_each(postgres_url, tmp_path, start):
    budget = 12
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    ready = [tmp_path / f"worker{i}.ready" for i in range(2)]
    workers = [start(worker_command(sqlalchemy_url(postgres_url), "race", budget, log,
                                    "--ready", str(flag), "--go", str(tmp_path / "go")), log.with_suffix(".out"))
               for log, flag in zip(logs, ready)]
    wait_for(lambda: all(flag.exists() for flag in ready), "two ready workers", workers)
    (tmp_path / "go").touch()  # both leave their wait within a millisecond: a real race
    for process, log in zip(workers, logs):
        finish(process, log.with_suffix(".out"))

    trials = load_trials(postgres_url, "race")
    check_each_trial_once(trials, budget, workers=2)
    started = [[int(line) for line in log.read_text().split()] if log.exists() else [] for log in logs]
    assert all(started), f"a worker ran no trial: {started}"
    assert sorted(started[0] + started[1]) == [trial.number for trial in trials], "a trial lost or run twice"


def test_a_trial_killed_mid_way_is_failed_and_retried_by_the_next_run(postgres_url, tmp_path, start):
    url = sqlalchemy_url(postgres_url)
    first = start(worker_command(url, "killed", 3, tmp_path / "first.log", "--hang"), tmp_path / "first.out")
    assert kill_in_a_trial(first, postgres_url) == 0
    killed_at = time.monotonic()

    # The study stays readable; the dead worker's trial still looks alive.
    assert [(trial.number, trial.state) for trial in load_trials(postgres_url, "killed")] == [(0, TrialState.RUNNING)]

    sleep_past_grace(killed_at)
    second = start(worker_command(url, "killed", 3, tmp_path / "second.log"), tmp_path / "second.out")
    finish(second, tmp_path / "second.out")

    trials = load_trials(postgres_url, "killed")
    assert trials[0].state == TrialState.FAIL
    retries = [trial for trial in trials if retried_trial_number(trial) == 0]
    assert len(retries) == 1, [(t.number, t.state.name, t.system_attrs) for t in trials]
    assert retries[0].state == TrialState.COMPLETE and retries[0].params == trials[0].params
    check_each_trial_once(trials, budget=3, workers=1, killed=0)
    # The retry was the second run's first trial: it ran before any new configuration.
    assert int((tmp_path / "second.log").read_text().split()[0]) == retries[0].number


# ---------------------------------------------------------------------------------------
# Through `minigrad search` (the interface of issue 16)
# ---------------------------------------------------------------------------------------

def search_command(url: str, study_name: str, trials: int, out: Path) -> list[str]:
    """The command every machine of a shared search runs: the same one, seed included."""
    return [sys.executable, "-m", "minigrad", "search", "--model", "mlp", "--epochs", "1", "--limit", "300",
            "--trials", str(trials), "--workers", "1", "--seed", "0", "--param", "lr=1e-3:1e-1:log",
            "--param", "alpha=0.9,0.99", "--storage", url, "--study", study_name, "--out", str(out), "--no-final"]


def start_search(start, url: str, study_name: str, trials: int, out: Path) -> subprocess.Popen:
    """One machine's ``minigrad search``, with a heartbeat every second (the default, 10 s,
    would keep a killed worker's trial waiting 20 s for its retry)."""
    environment = {**os.environ, "MINIGRAD_SEARCH_HEARTBEAT": str(HEARTBEAT_S)}
    return start(search_command(url, study_name, trials, out), out.with_suffix(".out"), environment)


def check_trials_json(out: Path, trials: list) -> set[int]:
    """``trials.json`` in ``out`` parses and agrees with the study; return its trial numbers.

    A trial finished when the file was written is the same in the study now; one running
    then (another machine's) may have drawn more parameters and finished since."""
    listed = json.loads((out / "trials.json").read_text())["trials"]  # beside the search's settings
    by_number = {trial.number: trial for trial in trials}
    finished = {state.name for state in FINISHED}
    for entry in listed:
        trial = by_number[entry["number"]]
        assert entry["params"].items() <= trial.params.items(), (entry, trial.params)
        if str(entry["state"]).upper() in finished:
            assert (str(entry["state"]).upper(), entry["params"]) == (trial.state.name, trial.params), entry
        if trial.state == TrialState.COMPLETE and entry["value"] is not None:
            assert entry["value"] == pytest.approx(trial.value), entry
    return {entry["number"] for entry in listed}


@needs_search
@needs_data
def test_search_two_machines_starting_together_share_one_study(postgres_url, tmp_path, start):
    budget = 4
    outs = [tmp_path / f"machine{i}" for i in range(2)]
    machines = [start_search(start, postgres_url, "shared", budget, out) for out in outs]
    for process, out in zip(machines, outs):
        finish(process, out.with_suffix(".out"))

    trials = load_trials(postgres_url, "shared")
    check_each_trial_once(trials, budget, workers=2)
    listed = set().union(*(check_trials_json(out, trials) for out in outs))
    assert listed == {trial.number for trial in trials}


@needs_search
@needs_data
def test_search_killed_mid_trial_is_retried_by_the_next_run(postgres_url, tmp_path, start):
    # A budget the first machine cannot finish before it is killed in one of its trials.
    first = start_search(start, postgres_url, "killed", 1000, tmp_path / "first")
    killed = kill_in_a_trial(first, postgres_url)
    killed_at = time.monotonic()

    trials = load_trials(postgres_url, "killed")
    assert [trial.number for trial in trials if trial.state == TrialState.RUNNING] == [killed]
    done = sum(trial.state in FINISHED for trial in trials)

    sleep_past_grace(killed_at)
    second = start_search(start, postgres_url, "killed", done + 2, tmp_path / "second")
    finish(second, tmp_path / "second.out")

    trials = load_trials(postgres_url, "killed")
    assert trials[killed].state == TrialState.FAIL
    retries = [trial for trial in trials if retried_trial_number(trial) == killed]
    assert len(retries) == 1, [(t.number, t.state.name, t.system_attrs) for t in trials]
    # The retry keeps what the killed trial had drawn (it may have been killed before the rest).
    assert retries[0].state in FINISHED and trials[killed].params.items() <= retries[0].params.items()
    check_each_trial_once(trials, budget=done + 2, workers=1, killed=killed)
    assert check_trials_json(tmp_path / "second", trials) == {trial.number for trial in trials}


if __name__ == "__main__":
    main()
