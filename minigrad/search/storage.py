"""Where a study lives: ``--storage`` -> an Optuna storage.

A study is a table of trials in a storage that every worker reads and writes; each
worker asks the storage for the next trial, so a trial number is handed out exactly
once, however many processes and machines take part. Two kinds of storage:

* **A journal file** (the default: ``journal.log`` in the search's run folder; or a
  path given as ``--storage``). Optuna's ``JournalStorage`` with a
  ``JournalFileBackend``: every change to the study is one JSON line appended to the
  file under a lock, and a process reads the study back by replaying the lines. No
  server; the processes of one machine share it (or machines that share a disk).
* **PostgreSQL** (``--storage postgresql://user@host:port/database``). Optuna's
  ``RDBStorage`` on a database server that every machine can reach: start the same
  ``minigrad search`` command on each machine, and they share the study's trials.
  The driver is psycopg 3 (SQLAlchemy calls it ``postgresql+psycopg``; this module
  rewrites the URL). Keep the password out of the URL, where it would be printed and
  saved in search.json: the driver reads ``PGPASSWORD`` or ``~/.pgpass``.

Neither stores anything in pickles: the journal is JSON lines, the database holds
numbers and JSON text.

**A worker killed mid-trial.** On PostgreSQL, each worker writes a heartbeat for its
running trial every ``heartbeat_interval()`` seconds. A trial whose heartbeat is older
than the grace period (twice the interval) belongs to a worker that died (SIGKILL, a
crashed machine). The next worker that starts a trial marks it FAIL, and
``RetryHeartbeatStaleTrialCallback`` queues a copy of it with the same parameters
(state WAITING), which the next free worker runs first. The journal file has no
heartbeat; ``--resume`` does the same for the trials it finds left running (runner.py).

**Watching a study live.** ``optuna-dashboard`` (``pip install optuna-dashboard``) reads
the same storage and shows the trials, their per-epoch validation accuracy and the
parameter importances while the search runs::

    optuna-dashboard runs/search-20250101-120000/journal.log
    optuna-dashboard postgresql+psycopg://user@host:5432/database
"""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path

import optuna
import sqlalchemy.exc
from sqlalchemy.engine import make_url

from .errors import SearchError

JOURNAL = "journal.log"  # the default storage, in the run folder
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
HEARTBEAT_INTERVAL = 10  # seconds; $MINIGRAD_SEARCH_HEARTBEAT overrides it (see heartbeat_interval)
MAX_RETRIES = 3  # a trial whose worker died is run again at most this many times
CONNECT_TIMEOUT = 10  # seconds to wait for the database server before giving up
CREATE_ATTEMPTS = 5  # see _database


def is_journal(url: str) -> bool:
    """A file path (no ``scheme://``) is a journal file."""
    return "://" not in url


def open_storage(url: str):
    """The Optuna storage at ``url`` (a journal file path or a PostgreSQL URL). A URL
    of another kind, a folder that does not exist, or a database that cannot be
    reached raises ``SearchError``."""
    if is_journal(url):
        return _journal(Path(url))
    scheme, _, rest = url.partition("://")
    if scheme not in POSTGRES_SCHEMES:
        raise SearchError(f"--storage {shown_url(url)}: unknown kind of storage {scheme!r}; give a file path "
                          "(a journal file) or postgresql://user@host:port/database")
    return _database("postgresql+psycopg://" + rest, url)


def _journal(path: Path):
    if path.is_dir():
        raise SearchError(f"--storage {path}: is a folder; give the path of a journal file")
    if not path.parent.is_dir():
        raise SearchError(f"--storage {path}: the folder {path.parent} does not exist")
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))


def _database(url: str, given: str):
    """``RDBStorage`` with heartbeats (see the module docstring).

    The first process to open an empty database creates Optuna's tables. When several
    start at the same moment (machines started together), one of them wins and the
    others' CREATE TABLE fails with a duplicate-object error; those retry, and then
    find the tables made."""
    interval = heartbeat_interval()
    for attempt in range(CREATE_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(
                url, engine_kwargs={"connect_args": {"connect_timeout": CONNECT_TIMEOUT}, "pool_pre_ping": True},
                heartbeat_interval=interval, grace_period=2 * interval,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES))
        except ModuleNotFoundError as error:
            raise SearchError(f"--storage {shown_url(given)}: the PostgreSQL driver is missing ({error}); "
                              "pip install 'minigrad[search]'") from None
        except sqlalchemy.exc.OperationalError as error:  # refused, unknown host, no such database, bad login
            raise SearchError(f"--storage {shown_url(given)}: cannot reach the database: {_first_line(error)}") from None
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == CREATE_ATTEMPTS - 1:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


def _first_line(error: sqlalchemy.exc.DBAPIError) -> str:
    lines = str(error.orig or error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def heartbeat_interval() -> int:
    """``HEARTBEAT_INTERVAL`` seconds, or the whole number in the environment variable
    ``MINIGRAD_SEARCH_HEARTBEAT`` (inherited by the worker processes). A short one makes
    a killed worker's trial retried sooner, at the cost of more writes: the tests use 1."""
    text = os.environ.get("MINIGRAD_SEARCH_HEARTBEAT")
    if text is None:
        return HEARTBEAT_INTERVAL
    if not text.isdigit() or int(text) < 1:
        raise SearchError(f"MINIGRAD_SEARCH_HEARTBEAT={text!r}: expected a whole number of seconds >= 1")
    return int(text)


def shown_url(url: str) -> str:
    """The URL as messages show it: a password in it replaced by ``***``."""
    if is_journal(url):
        return url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        return url.split("://", 1)[0] + "://..."


def dashboard_command(url: str) -> str:
    """The command that shows the study live in optuna-dashboard (which needs the
    driver's name in a PostgreSQL URL)."""
    if is_journal(url):
        return f"optuna-dashboard {shlex.quote(url)}"
    _, _, rest = url.partition("://")
    return f"optuna-dashboard {shlex.quote(shown_url('postgresql+psycopg://' + rest))}"
