"""``search(...)``: K worker processes on one Optuna study, one progress bar, the
outputs, and the final run of the best configuration.

How a search runs:

1. Its settings (``SearchSettings``) are checked and written to ``search.json`` in the
   run folder (``--out``, by default ``runs/search-<date>-<time>``); ``--resume DIR``
   reads them back from ``DIR/search.json``.
2. The data is loaded here once (found, or downloaded, and verified) before any worker
   starts, so that K workers never download it at the same time.
3. The study is created in the storage, or joined when it exists; its trial settings
   (space, model, epochs, data, seed) must be this search's (study.py).
4. Trials that were cut short before (Ctrl-C, a killed worker) are queued to run again
   first (``study.fail_left_running``, ``study.retry_failed``).
5. K worker processes (worker.py) run the trials. This process trains nothing: it reads
   the study from the storage twice a second and draws one progress bar over the
   study's finished trials (from every process and machine on the study), with the best
   validation accuracy so far.
6. Outputs: trials.json, trials.csv, history.png, lr_alpha.png, importances.png and
   best.json (results.py, plots.py), and the ``minigrad train`` command line of the best
   configuration.
7. The final run: the best configuration trained on the whole training set (the
   validation split included) and tested, once, on the test set. It is an ordinary
   ``minigrad train`` run, in the folder ``best/`` of the search.

**Ctrl-C** stops the workers (each gets SIGINT; its trial ends FAIL, marked
"interrupted"), writes trials.json and trials.csv, and tells how to continue: ``minigrad
search --resume DIR`` runs the interrupted trials again, then new ones until the budget
is complete. Everything finished before is kept: it is in the storage.

**Several machines** run the same command with ``--storage postgresql://...`` and the
same ``--study`` name: each is a set of workers on the shared study, and the budget
counts every machine's trials. Each machine writes its own run folder (its progress,
its copy of the outputs, and its own final run if not ``--no-final``: give it to one).

**Watching live**: ``optuna-dashboard <storage>``, printed when the search starts (see
storage.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import optuna
import sqlalchemy.exc
from optuna.trial import TrialState
from tqdm import tqdm

from ..models import MODELS
from ..train import default_out_dir, join_names, train
from .errors import SearchError, SearchInterrupted, SearchUnavailable
from .objective import load_search_data, trial_config
from .plots import draw_pictures
from .results import best_summary, best_trial, trial_rows, write_best, write_trials
from .settings import (
    DEFAULT_STUDY,
    PRUNERS,
    SAMPLERS,
    SETTINGS_FILE,
    SearchSettings,
    read_settings,
    write_settings,
)
from .space import build_space, canonical, from_canonical
from .storage import JOURNAL, dashboard_command, open_storage, shown_url
from .study import FINISHED, TAKEN, count, fail_left_running, open_study, retry_failed

POLL_SECONDS = 0.5  # how often the progress bar reads the study
STOP_SECONDS = 30  # how long a worker has to finish after Ctrl-C before it is killed
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds minigrad/, for the workers' imports


def search(model: str = "cnn", params: dict | None = None, space_file=None, trials: int | None = 20,
           timeout: float | None = None, workers: int | None = 1, seed: int = 0, sampler: str = "tpe",
           pruner: str = "median", epochs: int | None = None, limit: int | None = None, storage: str | None = None,
           study: str | None = None, resume=None, out=None, data_dir=None, device: str | None = "cpu",
           final: bool = True, plots: bool = True, log=print) -> dict:
    """Search hyperparameters of ``minigrad train`` for ``model`` with Optuna; return
    ``{"out", "study", "storage", "trials", "best", "final"}`` (the trial rows of
    trials.json, the best.json dict, the final run's metrics).

    ``params`` maps names to specs (``{"lr": "1e-4:1e-1:log", "alpha": "0.9,0.99"}``)
    and ``space_file`` is a TOML or JSON file of them (see space.py; ``params`` wins
    where both name a parameter); with neither, the default space for the model:
    ``lr`` 1e-4 to 1e-2 (log), ``alpha`` 0.9, 0.99 or 0.999, ``eps`` 1e-10 to 1e-4
    (log), ``batch-size`` half, once or twice the model's default
    (``space.default_space``). ``trials`` is the study's budget of finished trials
    (COMPLETE or PRUNED, from every process on the study), ``timeout`` the seconds
    after which no worker starts a new trial, ``workers`` the processes run here.
    ``sampler`` is ``"grid"``, ``"random"`` or ``"tpe"``; ``pruner`` ``"median"``,
    ``"halving"`` or ``"none"``. ``epochs`` (default: the model's) and ``limit`` (the
    first N training examples) apply to every trial and to the final run. ``storage``
    is a journal file path or ``postgresql://user@host:port/db`` (default: journal.log
    in the run folder), ``study`` the study's name there (``"minigrad-search"``).

    ``resume`` is the folder of an earlier search to continue: its settings come from
    its search.json, and only ``trials``, ``timeout``, ``workers``, ``device``,
    ``data_dir``, ``final``, ``plots`` and ``log`` apply (None keeps the search's own).
    ``plots=False`` skips the three PNGs (drawing them takes about a second and a
    half: much of a tiny search's time).

    Raises ``SearchError`` for bad input (before any trial), ``SearchUnavailable``
    when a worker or the storage fails, ``SearchInterrupted`` on Ctrl-C, and the data
    set's FileNotFoundError when there is no data.
    """
    with warnings.catch_warnings(), _quiet_optuna():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats, retries, plots
        if resume is not None:
            folder = Path(resume)
            settings = _resumed_settings(folder, trials=trials, timeout=timeout, workers=workers, device=device,
                                         data_dir=data_dir)
        else:
            folder = Path(out) if out is not None else default_out_dir("search-")
            _check_new_folder(folder)
            settings = _new_settings(model=model, params=params, space_file=space_file, trials=trials,
                                     timeout=timeout, workers=workers, seed=seed, sampler=sampler, pruner=pruner,
                                     epochs=epochs, limit=limit, storage=storage, study=study, device=device,
                                     data_dir=data_dir)
        return _run(settings, folder, resumed=resume is not None, final=final, plots=plots, log=log)


@contextlib.contextmanager
def _quiet_optuna():
    """Optuna logs every trial; the progress bar and the summary say it here."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


# ------------------------------------------------------------------------------------
# Settings


def _new_settings(*, model, params, space_file, trials, timeout, workers, seed, sampler, pruner, epochs, limit,
                  storage, study, device, data_dir) -> SearchSettings:
    """The settings of a new search, every argument checked (``SearchError``)."""
    for name, value, choices in (("model", model, MODELS), ("sampler", sampler, SAMPLERS),
                                 ("pruner", pruner, PRUNERS)):
        if value not in choices:
            raise SearchError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    _check_counts(trials=trials, workers=workers, timeout=timeout)
    if not (isinstance(seed, int) and seed >= 0):
        raise SearchError(f"seed must be a whole number >= 0, got {seed!r}")
    space = build_space(params, space_file, model)
    settings = SearchSettings(model=model, space=canonical(space), epochs=epochs, limit=limit, seed=seed,
                              sampler=sampler, pruner=pruner, storage=storage, study=study or DEFAULT_STUDY,
                              trials=20 if trials is None else trials, timeout=timeout,
                              workers=1 if workers is None else workers, device=device or "cpu",
                              data_dir=None if data_dir is None else str(data_dir))
    try:
        resolved = settings.base_config().resolved()  # epochs, limit, device, data_dir
    except ValueError as error:
        raise SearchError(str(error)) from None
    return dataclasses.replace(settings, epochs=resolved.epochs, device=resolved.device)


def _check_counts(trials, workers, timeout) -> None:
    for name, value in (("trials", trials), ("workers", workers)):
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            raise SearchError(f"{name} must be a whole number >= 1, got {value!r}")
    if timeout is not None and not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise SearchError(f"timeout must be a number of seconds > 0, got {timeout!r}")


def _resumed_settings(folder: Path, *, trials, timeout, workers, device, data_dir) -> SearchSettings:
    try:
        settings = read_settings(folder)
    except ValueError as error:
        raise SearchError(f"--resume {folder}: {error}") from None
    _check_counts(trials=trials, workers=workers, timeout=timeout)
    changes = {"trials": trials, "timeout": timeout, "workers": workers, "device": device,
               "data_dir": None if data_dir is None else str(data_dir)}
    settings = dataclasses.replace(settings, **{name: value for name, value in changes.items() if value is not None})
    try:
        settings.base_config().resolved()
    except ValueError as error:
        raise SearchError(f"--resume {folder}: {error}") from None
    return settings


def _check_new_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise SearchError(f"--out {folder}: is a file, not a folder")
    if (folder / SETTINGS_FILE).exists():
        raise SearchError(f"--out {folder}: holds a search already; continue it with --resume {folder}, "
                          "or choose another --out")


# ------------------------------------------------------------------------------------
# The search


def _run(settings: SearchSettings, out: Path, resumed: bool, final: bool, plots: bool, log) -> dict:
    started = time.perf_counter()
    data = load_search_data(settings.base_config())  # before any folder or worker: missing data stops here
    if settings.storage is None:
        out.mkdir(parents=True, exist_ok=True)  # the default storage lives in the run folder
    url = settings.storage or str(out / JOURNAL)
    study = open_study(open_storage(url), settings.study, settings.trial_settings())
    out.mkdir(parents=True, exist_ok=True)
    write_settings(out, settings)
    optuna.storages.fail_stale_trials(study)  # PostgreSQL: trials of workers that died are failed and queued again
    if resumed and settings.storage is None:
        fail_left_running(study)
    retried = []
    if count(study, TAKEN) < settings.trials:  # with the budget complete, a queued trial would never run
        retried = retry_failed(study)
    space = from_canonical(settings.space)
    log(_start_message(settings, url, data, out))
    if retried:
        log(f"trial{'s' if len(retried) > 1 else ''} {join_names([str(n) for n in retried])} did not finish "
            "before; queued to run again first")
    try:
        codes = _run_workers(out, settings, study)
    except KeyboardInterrupt:
        write_trials(out, trial_rows(study), _header(settings, url, study))
        raise SearchInterrupted(f"interrupted; {count(study, FINISHED)} of {settings.trials} trials finished, "
                                f"kept in {shown_url(url)}. Continue with: minigrad search --resume {out}") from None
    except (sqlalchemy.exc.SQLAlchemyError, OSError) as error:
        raise SearchUnavailable(f"the storage {shown_url(url)} failed: {str(error).splitlines()[0]}") from None
    result = _write_outputs(study, settings, space, url, out, plots, log)
    log(_summary_message(study, time.perf_counter() - started))
    problems = _worker_problems(codes)
    if problems and count(study, FINISHED) < settings.trials:
        raise SearchUnavailable(f"{problems}; the finished trials are kept. Continue with: "
                                f"minigrad search --resume {out}")
    if problems:
        log(f"note: {problems}; the budget was completed by the others")
    best = result["best"]
    if best is None:
        log("no trial completed, so there is no best configuration to train")
        return result
    if final:
        log("training the best configuration on the whole training set, and testing it once:")
        result["final"] = train(trial_config(best["params"], settings.base_config()), out / "best", log=log)
        best.update(test_accuracy=result["final"]["test_accuracy"], final_run=str(out / "best"))
        write_best(out, best)
    log(f"best: trial {best['trial']}, validation accuracy {best['validation_accuracy']:.4f}"
        + (f", test accuracy {best['test_accuracy']:.4f}" if best["test_accuracy"] is not None else "")
        + f". Train it with:\n{best['command']}")
    return result


def _start_message(settings: SearchSettings, url: str, data, out: Path) -> str:
    space = " ".join(f"{name}={spec}" for name, spec in settings.space.items())
    workers = f"{settings.workers} worker{'s' if settings.workers > 1 else ''}"
    return (f"searching {space} for {settings.model} ({settings.epochs} epoch{'s' if settings.epochs > 1 else ''} "
            f"per trial, {len(data.train_labels)} training and {len(data.validation_labels)} validation examples), "
            f"sampler {settings.sampler}, pruner {settings.pruner}, {settings.trials} trials, {workers}; "
            f"study {settings.study!r} in {shown_url(url)}; writing to {out}\n"
            f"watch it live with: {dashboard_command(url)}")


# ------------------------------------------------------------------------------------
# Workers and the progress bar


def _run_workers(out: Path, settings: SearchSettings, study: optuna.Study) -> list[int]:
    """Start the workers, show the progress until they have all stopped, and return
    their exit codes. On Ctrl-C, stop them first (``_stop``)."""
    room = settings.trials - count(study, TAKEN)
    if room <= 0:
        return []
    # No more workers than trials left: each would start one, and the budget would be overrun.
    processes = [_start_worker(out, number) for number in range(min(settings.workers, room))]
    progress = tqdm(total=settings.trials, initial=count(study, FINISHED), desc="trials", unit="trial",
                    file=sys.stderr, dynamic_ncols=True, mininterval=0.1 if sys.stderr.isatty() else 30)
    try:
        while any(process.poll() is None for process in processes):
            _show_progress(progress, study)
            time.sleep(POLL_SECONDS)
        _show_progress(progress, study)
    except BaseException:  # Ctrl-C, or the storage failing: no worker is left behind
        _stop(processes)
        raise
    finally:
        progress.close()
    return [process.returncode for process in processes]


def _start_worker(out: Path, number: int) -> subprocess.Popen:
    """``python -m minigrad.search.worker OUT NUMBER PID``, in a session of its own, so
    that the terminal's Ctrl-C reaches this process only, and it stops the workers
    itself, each exactly once (``_stop``)."""
    path = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.Popen([sys.executable, "-m", "minigrad.search.worker", str(out), str(number), str(os.getpid())],
                            env={**os.environ, "PYTHONPATH": path}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, start_new_session=True)


def _show_progress(progress: tqdm, study: optuna.Study) -> None:
    trials = study.get_trials(deepcopy=False)
    finished = [trial for trial in trials if trial.state in FINISHED]
    completed = [trial for trial in finished if trial.state == TrialState.COMPLETE]
    if len(finished) > progress.n:
        pruned, running = len(finished) - len(completed), sum(trial.state == TrialState.RUNNING for trial in trials)
        best = max(completed, key=lambda trial: trial.value, default=None)
        best_text = "no trial complete yet" if best is None else f"best {best.value:.4f} (trial {best.number})"
        progress.set_postfix_str(f"{best_text}, {pruned} pruned, {running} running", refresh=False)
        progress.update(len(finished) - progress.n)


def _stop(processes: list[subprocess.Popen]) -> None:
    """SIGINT to every worker still running (its trial ends FAIL, "interrupted"); a
    worker that has not stopped after ``STOP_SECONDS`` is killed."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _worker_problems(codes: list[int]) -> str:
    problems = []
    for number, code in enumerate(codes):
        if code < 0:
            problems.append(f"worker {number} was killed by signal {-code}")
        elif code != 0:
            problems.append(f"worker {number} stopped with exit code {code}")
    return "; ".join(problems)


# ------------------------------------------------------------------------------------
# Outputs


def _header(settings: SearchSettings, url: str, study: optuna.Study) -> dict:
    return {"study": settings.study, "storage": shown_url(url), "direction": "maximize", "space": settings.space,
            "budget": settings.trials, "finished": count(study, FINISHED), "settings": settings.trial_settings()}


def _write_outputs(study: optuna.Study, settings: SearchSettings, space: dict, url: str, out: Path, plots: bool,
                   log) -> dict:
    rows = trial_rows(study)
    write_trials(out, rows, _header(settings, url, study))
    written = ["trials.json", "trials.csv", *(draw_pictures(study, space, out, log) if plots else [])]
    trial = best_trial(study)
    best = None
    if trial is not None:
        best = best_summary(trial, trial_config(trial.params, settings.base_config()))
        write_best(out, best)
        written.append("best.json")
    log(f"wrote {join_names(written)} to {out}")
    return {"out": str(out), "study": settings.study, "storage": shown_url(url), "trials": rows, "best": best,
            "final": None}


def _summary_message(study: optuna.Study, seconds: float) -> str:
    states = [trial.state for trial in study.get_trials(deepcopy=False)]
    parts = [f"{states.count(state)} {state.name.lower()}" for state in TrialState if states.count(state)]
    return f"the study has {len(states)} trials ({', '.join(parts) or 'none'}); this run took {seconds:.1f} s"
