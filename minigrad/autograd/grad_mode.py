"""Grad mode and anomaly mode: two switches that every op reads.

* Grad mode (``no_grad``, ``enable_grad``, ``set_grad_enabled``): whether ops record
  the graph. Off, an op is plain array arithmetic: no node, no saved arrays.
* Anomaly mode (``detect_anomaly``): whether every op checks its results for NaN and
  inf, and remembers where in the user's code it was created.

Both are per thread, like PyTorch's, so a data-loading thread under ``no_grad`` does
not switch off recording in the training thread.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import traceback


class _Mode(threading.local):
    """Each thread starts with these class values and keeps its own changes."""

    grad_enabled = True
    anomaly = False


_mode = _Mode()


def is_grad_enabled() -> bool:
    return _mode.grad_enabled


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator that sets grad mode and restores it on exit."""

    enabled = True

    def __new__(cls, *args):
        # `@no_grad` without parentheses (PyTorch 2 allows it): decorate at once
        if len(args) == 1 and callable(args[0]):
            return cls()(args[0])
        return super().__new__(cls)

    def __enter__(self):
        self._previous = _mode.grad_enabled
        _mode.grad_enabled = self.enabled
        return self

    def __exit__(self, *exc_info):
        _mode.grad_enabled = self._previous
        return False

    def __call__(self, fn):
        # a fresh instance per call, so one decorator can be re-entered (recursion,
        # threads) without sharing `_previous`
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Do not record operations: results do not require grad. Saves memory and time."""

    enabled = False


class enable_grad(_GradMode):
    """Record operations again inside a ``no_grad`` region."""

    enabled = True


class set_grad_enabled(_GradMode):
    def __init__(self, enabled: bool):
        self.enabled = bool(enabled)

    def __call__(self, fn):
        enabled = self.enabled

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(enabled):
                return fn(*args, **kwargs)

        return wrapper


def is_anomaly_enabled() -> bool:
    return _mode.anomaly


@contextlib.contextmanager
def detect_anomaly():
    """Raise FloatingPointError at the first op whose forward or backward gives NaN/inf.

    The error names the op and the file:line of the user code that created it. This
    costs a finiteness check per op and a stack walk per node, so it is off by default.
    """
    previous = _mode.anomaly
    _mode.anomaly = True
    try:
        yield
    finally:
        _mode.anomaly = previous


@contextlib.contextmanager
def _anomaly_paused():
    """Anomaly checks off for a moment: the engine judges what a node's backward
    returns, not the ops inside its formula (see engine._node_backward)."""
    previous = _mode.anomaly
    _mode.anomaly = False
    try:
        yield
    finally:
        _mode.anomaly = previous


# the minigrad package folder, with the separator, so that a user folder like
# "minigrad_lessons/" is not taken for ours
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def user_frame() -> str:
    """file:line of the innermost caller outside the minigrad package."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno}"
    return "<unknown>"


def check_finite(array, what: str, fn) -> None:
    """Raise FloatingPointError if ``array`` (the ``what`` of op ``fn``) holds NaN or inf."""
    from ..backend import get_array_module

    if array.dtype.kind in "fc" and not bool(get_array_module(array).isfinite(array).all()):
        raise FloatingPointError(
            f"{what} of {type(fn).__name__} produced NaN or inf; "
            f"the op was created at {fn.created_at or '<unknown: not under detect_anomaly()>'}"
        )
