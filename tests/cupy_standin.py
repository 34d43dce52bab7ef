"""A strict CPU stand-in for CuPy 14, so every CI run exercises minigrad's "cuda" path.

There is no GPU in CI, yet code written for NumPy breaks on CuPy in ways that only a
GPU would reveal. This module *is* a fake ``cupy``: install it with
``minigrad.backend.use_cuda_module(cupy_standin)`` and device "cuda" arrays become
``cupy_standin.ndarray`` objects, which hold a NumPy array but obey CuPy's contract.
Each rule below was read in CuPy's own source (the 14.0.0 and 14.2.0 sdists; files
named in ``tests/test_backend.py``, which checks every rule here and, with a GPU, on
real CuPy):

1. **No implicit trip to the host.** ``numpy.asarray(x)`` raises TypeError (CuPy's
   ``__array__`` does, with the message below). Copies go through ``asnumpy(x)`` or
   ``x.get()``, and they *are* copies: writing to one never changes the other.
2. **No mixing with host arrays.** An operator, index or module function that gets a
   ``numpy.ndarray`` next to a device array raises TypeError. Python numbers and NumPy
   scalars are fine, as in CuPy; so is a NumPy 0-d array in a comparison (CuPy takes
   its number). ``x[ints or slices] = v`` takes a device array or one number (a 0-d
   array is one); a longer host array is a ValueError there, as CuPy's ``fill`` says.
3. **Only CuPy's functions, and only on device arrays.** The module offers an explicit
   list of names: those minigrad, its tests and lesson 16 use, each one CuPy 14 has.
   Any other name is an AttributeError (there is no ``errstate`` or ``einsum_path``
   here, as in CuPy), so a new use has to be added below, after checking CuPy. The
   functions that CuPy types or reads as arrays (``concatenate``, ``stack``,
   ``where``'s condition, ``broadcast_to``, ``split``, ``pad``, ``clip``, the
   ``*_like``, ``as_strided``) refuse a Python list; ufuncs take device arrays and
   scalars only. ``asarray``/``array`` are where host data becomes device data.
4. **Device results are arrays.** A full reduction or ``x[0]`` of a vector gives a 0-d
   device array, not a NumPy scalar (``float(x)``, ``int(x)`` and ``x.item()`` still
   work). Device arrays have no ``__index__``: ``[a, b][x]`` and ``range(x)`` fail.
5. **CuPy's metadata.** ``flags`` has ``c_contiguous``, ``f_contiguous`` and
   ``owndata`` only (no ``writeable``); a view made by ``as_strided`` says it owns its
   data, as CuPy's does (it has no base there). ``__version__`` is CuPy's, not NumPy's.
6. **Device memory is not host memory.** ``__dlpack_device__()`` is ``(2, 0)``
   (kDLCUDA, GPU 0), as CuPy reports; ``__dlpack__()`` hands out a token that only this
   module's ``from_dlpack`` accepts, so ``numpy.from_dlpack(x)`` fails as it does for
   CUDA memory; ``__dlpack__(copy=True)`` is a BufferError, as in CuPy.
7. **Scatter-add in no set order.** ``cupyx.scatter_add`` (here ``_scatter_add``) adds
   with one atomicAdd per value, so values landing on the same place are summed in an
   order that changes from call to call; the stand-in shuffles them the same way, and
   float32 results differ in the last bits. Tests compare devices with tolerances.

Where it is stricter than CuPy, on purpose (each is a silent copy or a shared write
on a real GPU, or a spelling minigrad insists on):

* ``numpy.exp(x)`` and ``numpy.concatenate([x, y])`` raise TypeError here; CuPy
  dispatches them to ``cupy.exp``/``cupy.concatenate`` (``__array_ufunc__``,
  ``__array_function__``). Refusing forbids no computation, since ``xp.exp(x)`` runs
  the same CuPy function, and it keeps every device call visibly CuPy's: minigrad
  writes ``xp = get_array_module(x); xp.exp(x)``, and lesson 16's exercise relies on
  the refusal. (Dispatch works only for names CuPy has, which is all the list below.)
* CuPy copies a host array to the GPU when it is an index array (``x[h]``), the value
  of ``x[index_array] = h``, or the values or indices of ``scatter_add``; here each is
  a TypeError. Its ufuncs have ``.at``/``.reduce``; its ``*_like`` and ``clip`` accept
  a NumPy array (``clip`` then returns a host array); its ``__dlpack__`` can export a
  host copy (``dl_device=(1, 0)``). None of these is offered here.
* Broadcast views (``broadcast_to``) are read-only here, as in NumPy; CuPy would let
  a write through to the shared memory, which is a bug in either case.

Where it is still more lenient, known and not needed by minigrad so far: ``x[i]`` of
a vector is a 0-d view of x in CuPy but a copy here; the functions take every keyword
NumPy's take, even ones CuPy's lack; an integer index array out of range raises
IndexError here where CuPy wraps it around (minigrad checks bounds itself).
"""

from __future__ import annotations

import sys

import numpy

# Dtypes, finfo and newaxis: CuPy re-exports NumPy's own objects.
from numpy import (  # noqa: F401 - the module's public names
    bool_,
    finfo,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    newaxis,
    uint8,
    uint16,
    uint32,
    uint64,
)

__version__ = "14.0.0+standin"  # the CuPy it imitates; metrics.json records this

_IMPLICIT_CONVERSION = (
    "Implicit conversion to a NumPy array is not allowed. "
    "Please use `.get()` to construct a NumPy array explicitly."
)
_SCALARS = (bool, int, float, complex, numpy.generic)  # what CuPy takes next to arrays


class ndarray:  # lower case: the name CuPy uses
    """A device array: NumPy memory behind CuPy's rules (see the module docstring)."""

    # NumPy must not handle us: with __array_ufunc__ = None, numpy.exp(x) raises
    # TypeError and `numpy_array + x` falls through to our __radd__ (which refuses).
    __array_ufunc__ = None
    _owndata = None  # None: as NumPy says; as_strided sets True, as CuPy says

    def __init__(self, shape, dtype=float):
        self._array = numpy.empty(shape, dtype=dtype)  # uninitialised, as cupy.ndarray()

    @classmethod
    def _wrap(cls, array: numpy.ndarray) -> ndarray:
        """A device array sharing ``array``'s memory (views stay views)."""
        x = cls.__new__(cls)
        x._array = array
        return x

    def __array__(self, dtype=None, copy=None):
        raise TypeError(_IMPLICIT_CONVERSION)

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
    T = property(lambda self: ndarray._wrap(self._array.T))

    @property
    def flags(self) -> _Flags:
        """CuPy's three flags; owndata is "has no base", as CuPy computes it."""
        numpy_flags = self._array.flags
        owndata = self._array.base is None if self._owndata is None else self._owndata
        return _Flags(numpy_flags.c_contiguous, numpy_flags.f_contiguous, owndata)

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
        if copy is True:  # CuPy's words: it copies only to the host
            raise BufferError("copy=True only supported for copy to CPU.")
        return _DeviceCapsule(self._array)

    # -- indexing --------------------------------------------------------------------------
    def __getitem__(self, index):
        return _wrap(self._array[_unwrap(index, "indexing")])

    def __setitem__(self, index, value):
        if _is_basic(index) and not isinstance(value, ndarray):
            value = _fill_value(value)
        self._array[_unwrap(index, "indexing")] = _unwrap(value, "assignment")

    def __len__(self) -> int:
        return len(self._array)

    def __iter__(self):
        return (_wrap(row) for row in self._array)

    # -- conversions to Python numbers (CuPy copies the value from the GPU) -----------------
    # No __index__: CuPy's ndarray has none, so a device array is never a list index.
    def __float__(self):
        return float(self._array)

    def __int__(self):
        return int(self._array)

    def __bool__(self):
        return bool(self._array)

    def __complex__(self):
        return complex(self._array)

    def __repr__(self) -> str:
        return repr(self._array)

    def __str__(self) -> str:
        return str(self._array)


class _Flags:
    """``cupy.ndarray.flags``: three read-only flags, also by key ("OWNDATA")."""

    def __init__(self, c_contiguous: bool, f_contiguous: bool, owndata: bool):
        self.c_contiguous, self.f_contiguous, self.owndata = c_contiguous, f_contiguous, owndata

    def __getitem__(self, name: str) -> bool:
        keys = {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous, "OWNDATA": self.owndata}
        if name not in keys:
            raise KeyError(f"{name} is not defined for cupy.ndarray.flags")
        return keys[name]

    def __repr__(self) -> str:
        return "\n".join(f"  {name} : {self[name]}" for name in ("C_CONTIGUOUS", "F_CONTIGUOUS", "OWNDATA"))


_COMPARISONS = ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__")


def _operator(name: str):
    """The method ``name`` (e.g. "__add__") of ndarray: NumPy's, after unwrapping."""

    def method(self, other):
        if not isinstance(other, (ndarray, numpy.ndarray, *_SCALARS)):
            return NotImplemented  # let Python try the other operand (e.g. a Tensor)
        if name in _COMPARISONS and isinstance(other, numpy.ndarray) and other.ndim == 0:
            other = other.item()  # CuPy compares with the number a 0-d array holds
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
for _name in _COMPARISONS:
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


def _device_array(value, where: str) -> numpy.ndarray:
    """The memory of a device array; anything else (a list, a host array) is refused."""
    if not isinstance(value, ndarray):
        raise TypeError(
            f"{where}: Unsupported type {type(value)}: CuPy wants a cupy.ndarray here; "
            f"move host data to the device with asarray() first"
        )
    return value._array


def _operand(value, where: str):
    """An operand of a CuPy ufunc: a device array or a scalar (CuPy's _preprocess_args)."""
    if isinstance(value, _SCALARS):
        return value
    return _device_array(value, where)


def _wrap(value):
    """NumPy results back to device arrays; NumPy scalars become 0-d arrays, as in CuPy."""
    if isinstance(value, numpy.ndarray):
        return ndarray._wrap(value)
    if isinstance(value, numpy.generic):
        return ndarray._wrap(numpy.asarray(value))
    if type(value) in (list, tuple):
        return type(value)(_wrap(v) for v in value)
    return value


def _is_basic(index) -> bool:
    """Is ``index`` made of ints, slices, None and ``...`` only (no arrays, lists or bools)?"""
    items = index if isinstance(index, tuple) else (index,)
    return all(
        item is None
        or item is Ellipsis
        or isinstance(item, slice)
        or (isinstance(item, (int, numpy.integer)) and not isinstance(item, (bool, numpy.bool_)))
        for item in items
    )


def _fill_value(value):
    """The value of ``x[ints or slices] = value`` when it is not a device array: CuPy
    calls ``x[...].fill(value)``, which takes one number (a 0-d array is one)."""
    host = numpy.asarray(value)
    if host.shape != ():
        raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
    return host[()]


def _device_function(function, name: str):
    """``function`` (a NumPy function or array method) on device arrays: arguments
    unwrapped (host arrays refused), array results wrapped."""

    def on_device(*args, **kwargs):
        return _wrap(function(*_unwrap(args, name), **_unwrap(kwargs, name)))

    on_device.__name__ = name
    return on_device


def _ufunc(function: numpy.ufunc):
    """A CuPy ufunc: operands are device arrays or scalars (a list is "Unsupported type")."""
    name = function.__name__

    def on_device(*operands, out=None, **kwargs):
        if out is not None:
            kwargs["out"] = _device_array(out, name)
        return _wrap(function(*(_operand(x, name) for x in operands), **kwargs))

    on_device.__name__ = name
    return on_device


def _on_array(function, name: str):
    """A CuPy function whose first argument must be a device array (CuPy types it
    ``ndarray`` or reads ``.ndim``/``.dtype`` from it, so a list fails)."""

    def on_device(array, *args, **kwargs):
        return _wrap(function(_device_array(array, name), *_unwrap(args, name), **_unwrap(kwargs, name)))

    on_device.__name__ = name
    return on_device


def _on_arrays(function, name: str):
    """A CuPy function of a sequence of device arrays (``concatenate``, ``stack``)."""

    def on_device(arrays, *args, **kwargs):
        arrays = [_device_array(a, name) for a in arrays]
        return _wrap(function(arrays, *_unwrap(args, name), **_unwrap(kwargs, name)))

    on_device.__name__ = name
    return on_device


# -------------------------------------------------------------------------------------
# The module's functions: minigrad's, its tests' and lesson 16's, each one in CuPy 14
# (cupy/__init__.py). A name missing here is an AttributeError, as on a GPU without it.

# ufuncs
abs = _ufunc(numpy.abs)  # cupy.abs, as numpy.abs
exp = _ufunc(numpy.exp)
isfinite = _ufunc(numpy.isfinite)
log = _ufunc(numpy.log)
log1p = _ufunc(numpy.log1p)
maximum = _ufunc(numpy.maximum)
minimum = _ufunc(numpy.minimum)
multiply = _ufunc(numpy.multiply)
sign = _ufunc(numpy.sign)
sqrt = _ufunc(numpy.sqrt)
tanh = _ufunc(numpy.tanh)

# new arrays from a shape
arange = _device_function(numpy.arange, "arange")
empty = _device_function(numpy.empty, "empty")
zeros = _device_function(numpy.zeros, "zeros")
ones = _device_function(numpy.ones, "ones")
full = _device_function(numpy.full, "full")

# functions of one device array
empty_like = _on_array(numpy.empty_like, "empty_like")
zeros_like = _on_array(numpy.zeros_like, "zeros_like")
ones_like = _on_array(numpy.ones_like, "ones_like")
full_like = _on_array(numpy.full_like, "full_like")
broadcast_to = _on_array(numpy.broadcast_to, "broadcast_to")
split = _on_array(numpy.split, "split")
pad = _on_array(numpy.pad, "pad")
clip = _on_array(numpy.clip, "clip")

# functions of several device arrays
concatenate = _on_arrays(numpy.concatenate, "concatenate")
stack = _on_arrays(numpy.stack, "stack")


def where(condition, x, y) -> ndarray:
    """``cupy.where(condition, x, y)``: condition a device array (CuPy calls its
    ``.astype``), x and y device arrays or scalars (an elementwise kernel)."""
    condition = _device_array(condition, "where")
    return _wrap(numpy.where(condition, _operand(x, "where"), _operand(y, "where")))


def result_type(*arrays_and_dtypes):
    """As ``cupy.result_type``: device arrays stand for their dtype, NumPy does the rest."""
    return numpy.result_type(*(a.dtype if isinstance(a, ndarray) else a for a in arrays_and_dtypes))


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


# CUDA's atomicAdd types, as CuPy 14.0 lists them for an integer-array index (14.2 adds int64)
_ATOMIC_ADD_DTYPES = frozenset(
    map(numpy.dtype, ("int32", "uint32", "uint64", "float16", "float32", "float64"))
)
_atomic_order = numpy.random.default_rng(0)  # seeded: a run can be repeated exactly


def _scatter_add(target: ndarray, indices, values) -> None:
    """``target[indices] += values`` with repeated indices adding up: ``cupyx.scatter_add``.

    On a GPU every value is added by its own thread with atomicAdd, so the values that
    land on one place are summed in whatever order the threads get there, which changes
    from call to call. Here they are added one at a time in a fresh random order on
    every call, so float sums come out different in the last bits, as on a GPU.
    """
    array = _device_array(target, "scatter_add")
    index = _unwrap(indices, "scatter_add")
    if _has_integer_array(index) and array.dtype not in _ATOMIC_ADD_DTYPES:
        raise TypeError(
            "cupy.add.at only supports int32, float16, float32, float64, uint32, uint64 as data type"
        )
    # each update as (flat position in target, value), then all of them in a shuffled order
    positions = numpy.asarray(numpy.arange(array.size).reshape(array.shape)[index])
    updates = numpy.broadcast_to(
        numpy.asarray(_unwrap(values, "scatter_add"), dtype=array.dtype), positions.shape
    )
    order = _atomic_order.permutation(positions.size)
    numpy.add.at(array, numpy.unravel_index(positions.ravel()[order], array.shape), updates.ravel()[order])


def _has_integer_array(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(
        isinstance(item, (list, numpy.ndarray)) and numpy.asarray(item).dtype.kind in "iu" for item in items
    )


class _Cuda:
    """``cupy.cuda``: the pretend GPU is always there."""

    @staticmethod
    def is_available() -> bool:
        return True


class _StrideTricks:
    """``cupy.lib.stride_tricks``, with the one function minigrad uses."""

    @staticmethod
    def as_strided(x, shape=None, strides=None) -> ndarray:
        """A view of x's memory with any shape and strides. CuPy builds it as a new
        ndarray on x's memory pointer, with no base, so its flags say owndata=True."""
        view = ndarray._wrap(
            numpy.lib.stride_tricks.as_strided(_device_array(x, "as_strided"), shape, strides)
        )
        view._owndata = True
        return view


class _Lib:
    stride_tricks = _StrideTricks()


cuda = _Cuda()
lib = _Lib()
