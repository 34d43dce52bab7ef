"""Default initial values of the layers' parameters (PyTorch's defaults).

Why not zeros: every unit of a layer would compute the same thing and receive the
same gradient, and would stay identical forever. Random values break that symmetry.
Their scale matters too: Linear and Conv2d draw from::

    U(-1/sqrt(fan_in), 1/sqrt(fan_in)),      fan_in = inputs per output unit

(in_features for Linear, in_channels * kh * kw for Conv2d), so that a sum of fan_in
terms keeps roughly the scale of its inputs. PyTorch writes this as
``kaiming_uniform_(w, a=sqrt(5))``: its bound sqrt(6 / ((1 + a^2) fan_in)) is then
exactly 1/sqrt(fan_in). Such a uniform has standard deviation bound / sqrt(3).

Everything is drawn from minigrad's generator (``minigrad.manual_seed`` repeats it)
on the CPU, in float64, and stored as float32.
"""

from __future__ import annotations

import math

import numpy

from .. import random as _random
from .module import Parameter


def fan_in(shape: tuple) -> int:
    """Inputs per output unit of a weight: (out, in) -> in; (out, in, kh, kw) -> in*kh*kw."""
    return math.prod(shape[1:])


def uniform(shape: tuple, bound: float) -> Parameter:
    """A float32 Parameter with entries drawn from U(-bound, bound)."""
    values = _random.generator().uniform(-bound, bound, size=shape)
    return Parameter(values.astype(numpy.float32))


def fan_in_uniform(shape: tuple, fan: int) -> Parameter:
    """U(-1/sqrt(fan), 1/sqrt(fan)): Linear's and Conv2d's weight and bias (bound 0
    when fan is 0, as PyTorch)."""
    return uniform(shape, 1 / math.sqrt(fan) if fan > 0 else 0.0)


def normal(shape: tuple, std: float = 1.0) -> Parameter:
    """A float32 Parameter with entries drawn from N(0, std^2)."""
    values = _random.generator().normal(0.0, std, size=shape)
    return Parameter(values.astype(numpy.float32))


def ones(shape: tuple) -> Parameter:
    return Parameter(numpy.ones(shape, dtype=numpy.float32))


def zeros(shape: tuple) -> Parameter:
    return Parameter(numpy.zeros(shape, dtype=numpy.float32))
