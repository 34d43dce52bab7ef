"""minigrad: a small, readable reverse-mode autograd framework on NumPy and CuPy.

Start with ``Tensor`` (tensor.py), then ``Function`` and the backward engine
(autograd/), then the ops in ``minigrad/ops/``. This file only re-exports.
"""

from . import data, datasets, functional, layers, losses, metrics, optim
from .autograd import detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import cuda_is_available
from .checkpoint import load, save
from .creation import (
    arange,
    from_dlpack,
    from_numpy,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .gradcheck import GradcheckError, gradcheck
from .ops.elementwise import maximum, minimum, where
from .ops.shape import cat, split, stack, unbind
from .random import manual_seed
from .tensor import Tensor, bool_, float32, float64, int64

__version__ = "0.1.0"

__all__ = [
    # tensors and factories
    "Tensor", "tensor", "zeros", "ones", "full", "randn", "rand", "arange", "zeros_like",
    "ones_like", "from_numpy", "from_dlpack", "float32", "float64", "int64", "bool_",
    # combinators
    "cat", "stack", "split", "unbind", "where", "maximum", "minimum",
    # autograd
    "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "detect_anomaly",
    # tools
    "gradcheck", "GradcheckError", "manual_seed", "save", "load", "cuda_is_available",
    # submodules
    "functional", "layers", "losses", "optim", "data", "datasets", "metrics",
]  # fmt: skip
