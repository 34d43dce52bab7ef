"""What can stop a search, as exceptions that ``minigrad search`` turns into one line
and an exit code (cli.py): ``SearchError`` 2, ``SearchUnavailable`` 1,
``SearchInterrupted`` 130. No Optuna here, so that the command line can use them
without it."""

from __future__ import annotations


class SearchError(ValueError):
    """Bad input, found before any trial runs: an unknown parameter, an empty or
    inverted range, a log range that reaches 0, a storage that cannot be reached, a
    study that was started with another search space. The message names the value and
    says what was expected."""


class SearchUnavailable(RuntimeError):
    """Something the search needs failed while it ran: the storage went away, or a
    worker process stopped with an error (its own message is printed above)."""


class SearchInterrupted(Exception):
    """Ctrl-C. The trials that finished are in the storage; the message says how to
    continue (``--resume``)."""
