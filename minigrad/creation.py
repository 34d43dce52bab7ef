"""Creating tensors: from data (``tensor``, ``from_numpy``, ``from_dlpack``) and filled
(``zeros``, ``ones``, ``full``, ``randn``, ``rand``, ``arange``, the ``_like`` forms).

Each factory takes ``dtype=``, ``device=`` and ``requires_grad=`` as PyTorch's do; the
default dtype is float32 for floating-point values and int64 for integers (tensor.py
explains why).
"""

from __future__ import annotations

import numpy

from . import backend
from . import random as _random
from .tensor import Tensor, _varargs, bool_, float32, int64


def tensor(data, requires_grad=False, dtype=None, device="cpu") -> Tensor:
    """A new leaf Tensor holding a copy of ``data``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def from_numpy(array: numpy.ndarray) -> Tensor:
    """A CPU Tensor sharing memory with the NumPy ``array`` (as ``torch.from_numpy``): no
    copy, so writes to one show in the other, and the dtype is the array's own. Feeding a
    batch to a model this way skips ``tensor``'s copy."""
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor._make(array)


def _factory(fill, shape, dtype, device, requires_grad):
    xp = backend.array_module_for(device)
    array = fill(xp, _varargs(shape), numpy.dtype(dtype or float32))
    return Tensor._make(array).requires_grad_(requires_grad) if requires_grad else Tensor._make(array)


def zeros(*shape, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    return _factory(lambda xp, s, d: xp.zeros(s, dtype=d), shape, dtype, device, requires_grad)


def ones(*shape, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    return _factory(lambda xp, s, d: xp.ones(s, dtype=d), shape, dtype, device, requires_grad)


def full(shape, value, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    if dtype is None:
        dtype = bool_ if isinstance(value, bool) else int64 if isinstance(value, int) else float32
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _factory(lambda xp, s, d: xp.full(s, value, dtype=d), (shape,), dtype, device, requires_grad)


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def randn(*shape, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """Standard normal samples from minigrad's generator (see ``manual_seed``)."""
    array = _random.generator().standard_normal(_varargs(shape)).astype(dtype or float32)
    return tensor(array, requires_grad=requires_grad, device=device)


def rand(*shape, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1) from minigrad's generator."""
    array = _random.generator().random(_varargs(shape)).astype(dtype or float32)
    return tensor(array, requires_grad=requires_grad, device=device)


def arange(start, stop=None, step=1, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """As ``numpy.arange``; int64 for integer arguments, float32 if any is a float."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        dtype = float32 if any(isinstance(v, float) for v in (start, stop, step)) else int64
    array = numpy.arange(start, stop, step, dtype=numpy.dtype(dtype))
    return tensor(array, requires_grad=requires_grad, device=device)


# DLPack's device types (dlpack.h) that minigrad imports
KDL_CPU, KDL_CUDA, KDL_CUDA_MANAGED = 1, 2, 13


def from_dlpack(obj) -> Tensor:
    """A Tensor sharing memory with ``obj`` (a NumPy/CuPy array, a torch or JAX tensor,
    anything with ``__dlpack__``): no copy, so writes to one show in the other.

    Host memory (DLPack device type 1) becomes a "cpu" tensor through NumPy; GPU memory
    becomes a "cuda" tensor through CuPy, which takes device memory (2) and CUDA managed
    memory (13, from ``cudaMallocManaged``) alike. Any other device type raises ValueError.
    """
    device_type = obj.__dlpack_device__()[0]
    if device_type == KDL_CPU:
        return Tensor._make(numpy.from_dlpack(obj))
    if device_type in (KDL_CUDA, KDL_CUDA_MANAGED):
        return Tensor._make(backend.cuda_module().from_dlpack(obj))
    raise ValueError(
        f"from_dlpack: unsupported DLPack device type {device_type}; minigrad imports "
        f"{KDL_CPU} (CPU), {KDL_CUDA} (CUDA) and {KDL_CUDA_MANAGED} (CUDA managed memory)"
    )


