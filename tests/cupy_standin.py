"""A strict CPU stand-in for CuPy, so every CI run exercises minigrad's "cuda" path.

There is no GPU in CI, yet code written for NumPy breaks on CuPy in ways that only a
GPU would reveal. This module *is* a fake ``cupy``: install it with
``minigrad.backend.use_cuda_module(cupy_standin)`` and device "cuda" arrays become
``cupy_standin.ndarray`` objects, which hold a NumPy array but obey CuPy's contract:

1. **No implicit trip to the host.** ``numpy.asarray(x)`` raises TypeError (CuPy's
   ``__array__`` does, with the message below). Copies go through ``asnumpy(x)`` or
   ``x.get()``, and they *are* copies: writing to one never changes the other.
2. **No mixing with host arrays.** An operator, index or module function that gets a
   ``numpy.ndarray`` next to a device array raises TypeError. Python numbers and NumPy
   scalars are fine, as in CuPy.
3. **No NumPy functions on device arrays.** ``numpy.exp(x)`` and ``numpy.pad(x, 1)``
   raise TypeError. minigrad must write ``xp = get_array_module(x); xp.exp(x)``.
4. **Device results are arrays.** A full reduction or ``x[0]`` of a vector gives a 0-d
   device array, not a NumPy scalar (``float(x)`` and ``x.item()`` still work).
5. **Device memory is not host memory.** ``__dlpack_device__()`` is ``(2, 0)``
   (kDLCUDA, GPU 0), as CuPy reports, and ``__dlpack__()`` hands out a token that only
   this module's ``from_dlpack`` accepts: ``numpy.from_dlpack(x)`` fails, as it does
   for CUDA memory.

Where it is stricter than CuPy (each is a silent copy or dispatch on a real GPU, and
a bug or a slowdown in minigrad): CuPy lets ``numpy.exp(x)`` dispatch to ``cupy.exp``
(NEP 13/18), accepts NumPy arrays as index arrays and as values in ``x[i] = v``
(copying them to the GPU each time), and its ufuncs have ``.at``/``.reduce`` methods
(minigrad uses ``cupyx.scatter_add``, here ``_scatter_add``).

Everything not written out below is NumPy's function of the same name, wrapped by the
module-level ``__getattr__``: device arrays in the arguments are unwrapped, NumPy is
called, and array results are wrapped again. Dtype rules are therefore NumPy's, which
CuPy follows.
"""

from __future__ import annotations

import sys
import types

import numpy

IMPLICIT_CONVERSION = (
    "Implicit conversion to a NumPy array is not allowed. "
    "Please use `.get()` to construct a NumPy array explicitly."
)
newaxis = None


class ndarray:  # lower case: the name CuPy uses
    """A device array: NumPy memory behind CuPy's rules (see the module docstring)."""

    # NumPy must not handle us: with __array_ufunc__ = None, numpy.exp(x) raises
    # TypeError and `numpy_array + x` falls through to our __radd__ (which refuses).
    __array_ufunc__ = None

    def __init__(self, shape, dtype=float):
        self._array = numpy.empty(shape, dtype=dtype)  # uninitialised, as cupy.ndarray()

    @classmethod
    def _wrap(cls, array: numpy.ndarray) -> ndarray:
        """A device array sharing ``array``'s memory (views stay views)."""
        x = cls.__new__(cls)
        x._array = array
        return x

    def __array__(self, dtype=None, copy=None):
        raise TypeError(IMPLICIT_CONVERSION)

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(
            f"numpy.{func.__name__} was called on a device array; write "
            f"xp = get_array_module(x) and call xp.{func.__name__}"
        )

    # -- attributes ----------------------------------------------------------------------
    shape = property(lambda self: self._array.shape)
    dtype = property(lambda self: self._array.dtype)
    ndim = property(lambda self: self._array.ndim)
    size = property(lambda self: self._array.size)
    strides = property(lambda self: self._array.strides)
    itemsize = property(lambda self: self._array.itemsize)
    nbytes = property(lambda self: self._array.nbytes)
    flags = property(lambda self: self._array.flags)
    T = property(lambda self: ndarray._wrap(self._array.T))

    # Methods that behave as NumPy's once the arguments are unwrapped. Anything else
    # (``.ctypes``, ``.base``, ...) is an AttributeError: CuPy has no such thing, or
    # it means something else there.
    _METHODS = frozenset((
        "all", "any", "argmax", "argmin", "argsort", "astype", "clip", "copy", "cumsum", "dot",
        "fill", "flatten", "item", "max", "mean", "min", "nonzero", "prod", "ravel", "repeat",
        "reshape", "round", "sort", "squeeze", "std", "sum", "swapaxes", "take", "tolist",
        "transpose", "var", "view",
    ))  # fmt: skip

    def __getattr__(self, name):
        if name not in ndarray._METHODS:
            raise AttributeError(f"the CuPy stand-in's ndarray has no attribute {name!r}")
        return _device_function(getattr(self._array, name), f"ndarray.{name}")

    # -- transfers -----------------------------------------------------------------------
    def get(self) -> numpy.ndarray:
        """Copy to the host (``cupy.ndarray.get``)."""
        return self._array.copy()

    def set(self, host: numpy.ndarray) -> None:
        """Copy host data into this array (``cupy.ndarray.set``)."""
        self._array[...] = numpy.asarray(host)

    def __dlpack_device__(self) -> tuple:
        return (2, 0)  # kDLCUDA, device 0: what a CuPy array reports

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        if dl_device is not None and tuple(dl_device) != (2, 0):
            raise BufferError(f"a device array cannot be exported to DLPack device {dl_device}")
        return _DeviceCapsule(self._array)

    # -- indexing --------------------------------------------------------------------------
    def __getitem__(self, index):
        return _wrap(self._array[_unwrap(index, "indexing")])

    def __setitem__(self, index, value):
        self._array[_unwrap(index, "indexing")] = _unwrap(value, "assignment")

    def __len__(self) -> int:
        return len(self._array)

    def __iter__(self):
        return (_wrap(row) for row in self._array)

    # -- conversions to Python numbers (CuPy copies the value from the GPU) -----------------
    def __float__(self):
        return float(self._array)

    def __int__(self):
        return int(self._array)

    def __index__(self):
        return self._array.__index__()

    def __bool__(self):
        return bool(self._array)

    def __complex__(self):
        return complex(self._array)

    def __repr__(self) -> str:
        return repr(self._array)

    def __str__(self) -> str:
        return str(self._array)


def _operator(name: str):
    """The method ``name`` (e.g. "__add__") of ndarray: NumPy's, after unwrapping."""

    def method(self, other):
        if not isinstance(other, (ndarray, numpy.ndarray, numpy.generic, bool, int, float, complex)):
            return NotImplemented  # let Python try the other operand (e.g. a Tensor)
        result = getattr(self._array, name)(_unwrap(other, f"operator {name}"))
        return self if name.startswith("__i") else _wrap(result)  # in-place: same object

    method.__name__ = name
    return method


def _unary(name: str):
    return lambda self: _wrap(getattr(self._array, name)())


_KINDS = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor", "lshift", "rshift")  # fmt: skip
for _kind in _KINDS:
    for _name in (f"__{_kind}__", f"__r{_kind}__", f"__i{_kind}__"):
        setattr(ndarray, _name, _operator(_name))
for _name in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
    setattr(ndarray, _name, _operator(_name))
for _name in ("__neg__", "__pos__", "__abs__", "__invert__"):
    setattr(ndarray, _name, _unary(_name))
ndarray.__hash__ = None  # arrays compare elementwise, so they cannot be dict keys


class _DeviceCapsule:
    """What ``ndarray.__dlpack__`` returns instead of a PyCapsule of CUDA memory.

    Only ``from_dlpack`` below understands it; NumPy, PyTorch (CPU) and JAX refuse it,
    as they refuse memory that lives on a GPU.
    """

    def __init__(self, array: numpy.ndarray):
        self.array = array


# -------------------------------------------------------------------------------------
# Crossing the device boundary: unwrap arguments, wrap results.


def _unwrap(value, where: str):
    """Replace device arrays by their NumPy arrays (in lists and tuples too); refuse host arrays."""
    if isinstance(value, ndarray):
        return value._array
    if isinstance(value, numpy.ndarray):
        raise TypeError(
            f"{where}: got a numpy.ndarray where device arrays are expected (CuPy: "
            f"Unsupported type <class 'numpy.ndarray'>); move it with asarray() first"
        )
    if type(value) in (list, tuple):
        return type(value)(_unwrap(v, where) for v in value)
    if type(value) is dict:
        return {k: _unwrap(v, where) for k, v in value.items()}
    return value


def _wrap(value):
    """NumPy results back to device arrays; NumPy scalars become 0-d arrays, as in CuPy."""
    if isinstance(value, numpy.ndarray):
        return ndarray._wrap(value)
    if isinstance(value, numpy.generic):
        return ndarray._wrap(numpy.asarray(value))
    if type(value) in (list, tuple):
        return type(value)(_wrap(v) for v in value)
    return value


def _device_function(function, name: str):
    """``function`` (a NumPy function, ufunc or array method) working on device arrays."""

    def on_device(*args, **kwargs):
        if isinstance(function, numpy.ufunc):
            for arg in args:
                if isinstance(arg, (list, tuple)):  # CuPy ufuncs take arrays and scalars only
                    raise TypeError(f"{name}: Unsupported type {type(arg)}")
        return _wrap(function(*_unwrap(args, name), **_unwrap(kwargs, name)))

    on_device.__name__ = name
    return on_device


class _Namespace:
    """A sub-module such as ``cupy.lib.stride_tricks``: NumPy's functions, wrapped."""

    def __init__(self, numpy_module):
        self._numpy_module = numpy_module

    def __getattr__(self, name):
        return _device_function(getattr(self._numpy_module, name), name)


def __getattr__(name: str):
    """``cupy_standin.<name>``: NumPy's function of that name, working on device arrays.

    Dtypes and constants (``float32``, ``pi``) are NumPy's own objects, as in CuPy.
    NumPy's sub-modules are not offered: CuPy's differ (``cupy.random``) or live in
    ``cupyx``; those minigrad needs are defined below.
    """
    value = getattr(numpy, name)  # AttributeError for names NumPy lacks too
    if isinstance(value, type) or not callable(value):
        if isinstance(value, types.ModuleType):  # attribute lookups fail with AttributeError
            raise AttributeError(f"the CuPy stand-in does not provide the sub-module {name!r}")  # noqa: TRY004
        return value
    return _device_function(value, name)


# -------------------------------------------------------------------------------------
# The functions that move data, and the few that CuPy has and NumPy does not.


def _from_host(obj):
    """Host data (NumPy arrays, lists, numbers) as NumPy, with device arrays unwrapped."""
    if isinstance(obj, ndarray):
        return obj._array
    if type(obj) in (list, tuple):
        return [_from_host(v) for v in obj]
    return obj


def array(obj, dtype=None, copy=True, order="K", ndmin=0) -> ndarray:
    """A new device array (``cupy.array``): host data is always copied to the device."""
    if isinstance(obj, ndarray) and not copy:
        return asarray(obj, dtype)
    return ndarray._wrap(numpy.array(_from_host(obj), dtype=dtype, copy=True, order=order, ndmin=ndmin))


def asarray(obj, dtype=None, order=None) -> ndarray:
    """``obj`` itself if it is a device array of that dtype, else a copy on the device."""
    if isinstance(obj, ndarray) and (dtype is None or obj.dtype == numpy.dtype(dtype)):
        return obj
    return array(obj, dtype=dtype, order=order or "K")


def asnumpy(obj, stream=None) -> numpy.ndarray:
    """Device to host (a copy); host data passes through, as in CuPy."""
    return obj.get() if isinstance(obj, ndarray) else numpy.asarray(obj)


def from_dlpack(obj) -> ndarray:
    """A device array sharing memory with ``obj``, which must live on the device."""
    device_type = obj.__dlpack_device__()[0]
    if device_type != 2:
        raise BufferError(
            f"from_dlpack: the CuPy stand-in imports CUDA memory only, got device type {device_type}"
        )
    capsule = obj.__dlpack__()
    if not isinstance(capsule, _DeviceCapsule):
        raise TypeError("from_dlpack: this CUDA memory does not come from the CuPy stand-in")
    return ndarray._wrap(capsule.array)


def get_array_module(*args):
    """This module if any argument is a device array, else NumPy (``cupy.get_array_module``)."""
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else numpy


def _scatter_add(target: ndarray, indices, values) -> None:
    """``target[indices] += values`` with repeated indices adding up: ``cupyx.scatter_add``."""
    if not isinstance(target, ndarray):
        raise TypeError(f"scatter_add: target must be a device array, got {type(target).__name__}")
    numpy.add.at(target._array, _unwrap(indices, "scatter_add"), _unwrap(values, "scatter_add"))


class _Cuda:
    """``cupy.cuda``: the pretend GPU is always there."""

    @staticmethod
    def is_available() -> bool:
        return True


cuda = _Cuda()
linalg = _Namespace(numpy.linalg)


class _Lib:
    stride_tricks = _Namespace(numpy.lib.stride_tricks)  # as_strided on the wrapped memory


lib = _Lib()
