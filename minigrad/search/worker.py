"""One worker of a search: ``python -m minigrad.search.worker RUN_FOLDER NUMBER PARENT_PID``.

``minigrad search --workers K`` starts K of these and watches the study; each one
opens the study in the storage, loads the data once, and runs trials
(``study.optimize``) until the budget is taken, the time is up, or the grid is done.
A worker is an ordinary process with its own interpreter (no pickled state crosses
over: it reads its settings from ``RUN_FOLDER/search.json``), and a worker on this
machine is no different from a process on another machine that joins the same study.

Exit codes: 0 done, 1 an error (one line on stderr), 130 stopped by Ctrl-C (SIGINT,
which ``minigrad search`` forwards). The worker stops on its own, after its trial,
when the process that started it is gone.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import warnings
from pathlib import Path

import optuna
import sqlalchemy.exc

from .errors import SearchError
from .objective import Objective, load_search_data
from .settings import read_settings
from .space import from_canonical
from .storage import JOURNAL, open_storage
from .study import TAKEN, budget_callback, count, make_pruner, make_sampler, open_study, sampler_seed


def run_worker(folder: Path, number: int, parent: int | None = None) -> None:
    """Run trials of the search in ``folder`` until there is nothing left to do."""
    settings = read_settings(folder)
    url = settings.storage or str(folder / JOURNAL)
    space = from_canonical(settings.space)
    study = open_study(open_storage(url), settings.study, settings.trial_settings())
    if count(study, TAKEN) >= settings.trials:
        return
    seed = sampler_seed(settings.seed, number, len(study.trials), shared=settings.storage is not None)
    study.sampler = make_sampler(settings.sampler, space, seed)
    study.pruner = make_pruner(settings.pruner)
    data = load_search_data(settings.base_config())
    objective = Objective(space, settings.base_config(), data, worker=f"{socket.gethostname()}-{number}")
    signal.signal(signal.SIGINT, objective.interrupt)  # from here on, Ctrl-C waits for a safe point
    callbacks = [budget_callback(settings.trials), _stop_when_asked(objective)]
    if parent is not None:
        callbacks.append(_stop_when_orphaned(parent))
    study.optimize(objective, timeout=settings.timeout, callbacks=callbacks, gc_after_trial=False)
    if objective.stop_requested:  # Ctrl-C came between two trials
        raise KeyboardInterrupt


def _stop_when_asked(objective: Objective):
    """A callback that ends the loop after a trial when Ctrl-C came during its last
    writes to the storage (objective.py)."""

    def stop_if_asked(study: optuna.Study, trial) -> None:
        if objective.stop_requested:
            study.stop()

    return stop_if_asked


def _stop_when_orphaned(parent: int):
    """A callback that stops the loop when ``parent`` is no longer this process's
    parent (it died without stopping its workers, e.g. killed with SIGKILL)."""

    def stop_if_orphaned(study: optuna.Study, trial) -> None:
        if os.getppid() != parent:
            study.stop()

    return stop_if_orphaned


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: python -m minigrad.search.worker RUN_FOLDER NUMBER [PARENT_PID]", file=sys.stderr)
        return 2
    folder, number = Path(argv[0]), int(argv[1])
    parent = int(argv[2]) if len(argv) == 3 else None
    # Optuna logs every trial at INFO and a failed trial's traceback at WARNING; the
    # watching process shows the progress, and an error ends here in one line.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    try:
        run_worker(folder, number, parent)
    except KeyboardInterrupt:
        return 130
    except (SearchError, ValueError, OSError) as error:  # settings, storage, data
        print(f"minigrad search: worker {number}: error: {error}", file=sys.stderr)
        return 1
    except sqlalchemy.exc.SQLAlchemyError as error:  # the database went away
        print(f"minigrad search: worker {number}: error: the storage failed: {error}".splitlines()[0], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
