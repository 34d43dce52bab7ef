"""The random number generator behind parameter init, dropout, randn/rand and shuffling.

One NumPy ``Generator`` for the whole library, so ``manual_seed(0)`` makes a run
repeatable. Random numbers are always drawn on the CPU and then moved to the tensor's
device: slower on a GPU, but the same seed gives the same numbers on every device.
"""

from __future__ import annotations

import numpy

_generator = numpy.random.default_rng()


def manual_seed(seed: int) -> None:
    """Reset the generator: everything random after this call repeats exactly."""
    global _generator
    if not isinstance(seed, (int, numpy.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    _generator = numpy.random.default_rng(int(seed))


def generator() -> numpy.random.Generator:
    return _generator


def get_state() -> dict:
    """The generator's state (a plain dict), for checkpoints."""
    return _generator.bit_generator.state


def set_state(state: dict) -> None:
    _generator.bit_generator.state = state
