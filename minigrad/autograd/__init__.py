"""Reverse-mode automatic differentiation, in three files:

* ``grad_mode.py``: ``no_grad``, ``enable_grad``, ``detect_anomaly``: the switches ops read;
* ``function.py``: ``Function``, the contract of every op (forward and backward side by
  side), and how ``apply`` records a node of the graph;
* ``engine.py``: ``backward`` and ``grad``, the walk of the graph from the output to the
  leaves (Kahn's algorithm, no recursion).
"""

from .engine import backward, grad, run_backward, sum_to
from .function import Function, constant
from .grad_mode import (
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)

__all__ = [
    "Function", "constant", "backward", "grad", "run_backward", "sum_to",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "detect_anomaly", "is_anomaly_enabled",
]
