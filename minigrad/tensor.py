"""Tensor: an array, its gradient, and the node of the graph that made it.

A Tensor is a thin wrapper: ``.data`` is the backend array (NumPy or CuPy) itself,
``.grad`` is another Tensor (or None), and ``._node`` is the ``Function`` that produced
it (None for a leaf: a tensor the user created). Every operator and method below just
calls an op from ``minigrad.ops``; the math lives there, forward beside backward.
"""

from __future__ import annotations

import itertools

import numpy

from . import autograd, backend

float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
int64 = numpy.dtype("int64")
bool_ = numpy.dtype("bool")

_hook_ids = itertools.count()


class RemovableHandle:
    """Returned by ``register_hook``; ``handle.remove()`` unregisters the hook."""

    def __init__(self, hooks: dict, key: int):
        self._hooks, self._key = hooks, key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    ``Tensor(data, requires_grad=False, dtype=None, device=None)`` wraps ``data`` (a
    NumPy/CuPy array, a Python number or nested list, or another Tensor). Python floats
    become float32 and Python ints int64; arrays keep their dtype. ``device=None``
    keeps the data where it is.
    """

    __slots__ = ("__weakref__", "_hooks", "_node", "_output_index", "_retains_grad", "data", "grad",
                 "requires_grad")
    # Make NumPy hand `ndarray + Tensor` to Tensor.__radd__ instead of converting us.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        self.data = _to_array(data, dtype, device)
        self.grad = None
        self._node = None
        self._output_index = None
        self._hooks = {}
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, array, node=None, output_index=None):
        """Wrap an array without copying or checking: the ops' fast path.
        ``output_index``: which output of ``node`` this is, for nodes with several."""
        if isinstance(array, numpy.generic):
            # NumPy returns scalars (numpy.float32, not 0-d arrays) from full reductions
            # and from arithmetic on 0-d arrays; .data must stay an ndarray (writable,
            # indexable with [()], accepted by from_dlpack and in-place updates).
            array = numpy.asarray(array)
        t = cls.__new__(cls)
        t.data, t.grad, t._node, t._output_index = array, None, node, output_index
        t.requires_grad = node is not None
        t._hooks, t._retains_grad = {}, False
        return t

    # -- properties --------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> numpy.dtype:
        return self.data.dtype

    @property
    def device(self) -> str:
        return backend.device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def __iter__(self):
        """``for row in t``: the slices along the first axis, as one op (``unbind``)."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(_shape.unbind(self))

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.dtype.kind not in "fc":
            raise TypeError(
                f"only floating point tensors can require gradients, got dtype {self.dtype}; "
                "convert first, e.g. tensor(data, dtype=minigrad.float32)"
            )
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad can only be switched off on leaf tensors; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    # -- autograd ----------------------------------------------------------------------
    def backward(self, grad=None, retain_graph=False, create_graph=False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf of the graph.

        ``grad`` is required unless self has one element: it is the vector v in the
        vector-Jacobian product v^T J that reverse mode computes.
        """
        autograd.backward(self, grad, retain_graph or create_graph, create_graph)

    def detach(self) -> Tensor:
        """The same data, cut off from the graph (shares memory, as in PyTorch)."""
        return Tensor._make(self.data)

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        self._retains_grad = True
        self._watch()
        return self

    def register_hook(self, fn) -> RemovableHandle:
        """Call ``fn(grad)`` when this tensor's gradient is computed; if it returns a
        Tensor, that replaces the gradient (as in PyTorch)."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        key = next(_hook_ids)
        self._hooks[key] = fn
        self._watch()
        return RemovableHandle(self._hooks, key)

    def _watch(self) -> None:
        """Tell this tensor's node that backward must look at its outputs (hooks,
        retain_grad): the engine skips that look for every other node."""
        if self._node is not None:
            self._node.outputs_watched = True

    # -- conversion ----------------------------------------------------------------------
    def numpy(self) -> numpy.ndarray:
        """A host NumPy array (the data itself on the CPU, a copy from a GPU)."""
        return backend.to_numpy(self.data)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def to(self, device) -> Tensor:
        """This tensor on ``device`` (itself when it is already there).

        The move is differentiable: gradients flow back to the original device.
        """
        device = backend.check_device(device)
        if device == self.device:
            return self
        return _elementwise.to_device(self, device)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self) -> Tensor:
        return self.to("cuda")

    def astype(self, dtype) -> Tensor:
        return _elementwise.cast(self, numpy.dtype(dtype))

    def float(self) -> Tensor:
        return self.astype(float32)

    def double(self) -> Tensor:
        return self.astype(float64)

    def __array__(self, dtype=None, copy=None):
        if self.device != "cpu":
            raise TypeError(
                "Implicit conversion of a 'cuda' tensor to a NumPy array is not allowed; "
                "call .numpy() to copy it to the host explicitly"
            )
        return self.data if dtype is None else self.data.astype(dtype)

    def __dlpack__(self, *args, **kwargs):
        return self.data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()

    def __repr__(self) -> str:
        body = numpy.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extras = []
        if self.dtype not in (float32, int64, bool_):
            extras.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self._node is not None:
            extras.append(f"grad_fn={type(self._node).__name__}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({', '.join([body, *extras])})"

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, got {self.dtype}")
        return int(self.item())

    # Tensors compare elementwise, so hash by identity (as PyTorch does).
    __hash__ = object.__hash__

    # -- arithmetic: each operator is one op ---------------------------------------------------
    def __add__(self, other):
        return _elementwise.add(self, other)

    def __radd__(self, other):
        return _elementwise.add(other, self)

    def __sub__(self, other):
        return _elementwise.sub(self, other)

    def __rsub__(self, other):
        return _elementwise.sub(other, self)

    def __mul__(self, other):
        return _elementwise.mul(self, other)

    def __rmul__(self, other):
        return _elementwise.mul(other, self)

    def __truediv__(self, other):
        return _elementwise.div(self, other)

    def __rtruediv__(self, other):
        return _elementwise.div(other, self)

    def __pow__(self, other):
        return _elementwise.pow(self, other)

    def __rpow__(self, other):
        return _elementwise.pow(other, self)

    def __neg__(self):
        return _elementwise.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def __matmul__(self, other):
        return _linalg.matmul(self, other)

    def __rmatmul__(self, other):
        return _linalg.matmul(other, self)

    # comparisons: no gradient, boolean result
    def _compare(self, other, name):
        a, b = as_tensors((self, other))
        check_same_device((a, b), name)
        return Tensor._make(getattr(a.data, name)(b.data))

    def __lt__(self, other):
        return self._compare(other, "__lt__")

    def __le__(self, other):
        return self._compare(other, "__le__")

    def __gt__(self, other):
        return self._compare(other, "__gt__")

    def __ge__(self, other):
        return self._compare(other, "__ge__")

    def __eq__(self, other):
        return self._compare(other, "__eq__")

    def __ne__(self, other):
        return self._compare(other, "__ne__")

    def __invert__(self):
        if self.dtype != bool_:
            raise TypeError(f"~ needs a boolean tensor, got {self.dtype}")
        return Tensor._make(~self.data)

    def __and__(self, other):
        return self._compare(other, "__and__")

    def __or__(self, other):
        return self._compare(other, "__or__")

    def any(self, axis=None, keepdims=False) -> Tensor:
        return Tensor._make(self.data.any(axis=axis, keepdims=keepdims))

    def all(self, axis=None, keepdims=False) -> Tensor:
        return Tensor._make(self.data.all(axis=axis, keepdims=keepdims))

    # -- elementwise ------------------------------------------------------------------------
    def exp(self):
        return _elementwise.exp(self)

    def log(self):
        return _elementwise.log(self)

    def sqrt(self):
        return _elementwise.sqrt(self)

    def tanh(self):
        return _elementwise.tanh(self)

    def sigmoid(self):
        return _elementwise.sigmoid(self)

    def relu(self):
        return _elementwise.relu(self)

    def abs(self):
        return _elementwise.abs(self)

    def clip(self, lo=None, hi=None):
        return _elementwise.clip(self, lo, hi)

    # -- reductions ---------------------------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        return _reduce.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return _reduce.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return _reduce.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return _reduce.min(self, axis, keepdims)

    def var(self, axis=None, keepdims=False, ddof=0):
        return _reduce.var(self, axis, keepdims, ddof)

    def logsumexp(self, axis=None, keepdims=False):
        return _reduce.logsumexp(self, axis, keepdims)

    def argmax(self, axis=None) -> Tensor:
        return Tensor._make(self.data.argmax(axis=axis))

    def argmin(self, axis=None) -> Tensor:
        return Tensor._make(self.data.argmin(axis=axis))

    def softmax(self, axis=-1):
        return _nn.softmax(self, axis)

    def log_softmax(self, axis=-1):
        return _nn.log_softmax(self, axis)

    # -- shape ----------------------------------------------------------------------------
    def reshape(self, *shape):
        return _shape.reshape(self, _varargs(shape))

    def view(self, *shape):
        return self.reshape(*shape)

    def transpose(self, *axes):
        return _shape.transpose(self, _varargs(axes) or None)

    def flatten(self, start_axis=0):
        start = start_axis % self.ndim if self.ndim else 0
        return self.reshape(*self.shape[:start], -1)

    def __getitem__(self, index):
        return _shape.getitem(self, index)


def _varargs(args):
    """Accept f(2, 3) and f((2, 3)) alike."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


# -------------------------------------------------------------------------------------
# Turning user data into arrays and Tensors.


def _to_array(data, dtype=None, device=None):
    """A fresh backend array for ``data`` with our dtype rules (see the module doc)."""
    if isinstance(data, Tensor):
        data = data.data
    source_device = backend.device_of(data)
    xp = backend.get_array_module(data)
    if dtype is None and not hasattr(data, "dtype"):
        # Python numbers and lists: NumPy would make float64; PyTorch makes float32.
        array = numpy.asarray(data)
        if array.dtype == float64:
            array = array.astype(float32)
        elif array.dtype.kind in "iu":
            array = array.astype(int64)
        elif array.dtype.kind not in "bfc":
            raise TypeError(f"cannot make a tensor from {type(data).__name__} with dtype {array.dtype}")
    else:
        array = xp.array(data, dtype=None if dtype is None else numpy.dtype(dtype), copy=True)
    if array.ndim == 0 and xp is numpy:
        array = numpy.asarray(array)  # NumPy scalars become 0-d arrays
    target = source_device if device is None else backend.check_device(device)
    return backend.to_device(array, target)


def as_tensors(values) -> list:
    """Tensors for op inputs: Python scalars take the dtype and device of the first
    Tensor (so ``x * 2.0`` stays float32 and on x's device); arrays keep their dtype."""
    for v in values:
        if not isinstance(v, Tensor):
            break
    else:
        return list(values)  # all Tensors already: the common case, kept cheap
    like = next((v for v in values if isinstance(v, Tensor)), None)
    out, python_float = [], False
    for v in values:
        if isinstance(v, Tensor):
            out.append(v)
        elif isinstance(v, (bool, int, float)) and like is not None:
            out.append(Tensor._make(_scalar_array(v, like)))
            python_float = python_float or isinstance(v, float)
        elif isinstance(v, numpy.generic) and like is not None:
            # a NumPy scalar (numpy.float32(2)) is a number, not host data: it goes to
            # the tensor's device (keeping its dtype) instead of failing on a GPU
            out.append(Tensor(v, device=like.device))
        else:
            out.append(Tensor(v))
    if python_float and like.dtype.kind in "iu":
        # int tensor op Python float: PyTorch gives the default float dtype (float32),
        # NumPy would give float64. Integer tensors carry no gradient, so no graph is lost.
        # (Booleans need nothing: NumPy's bool op float32 is already float32.)
        out = [Tensor._make(t.data.astype(float32)) if t.dtype.kind in "iu" else t for t in out]
    return out


def _scalar_array(value, like):
    """A 0-d array for a Python scalar next to tensor ``like``: never upcasts it."""
    kind = like.dtype.kind
    if isinstance(value, bool):
        dtype = bool_
    elif isinstance(value, int):
        dtype = like.dtype if kind in "iuf" else int64
    else:
        dtype = like.dtype if kind == "f" else float32
    xp = backend.get_array_module(like.data)
    return xp.asarray(value, dtype=dtype)


def check_same_device(tensors, op_name: str) -> None:
    if not backend.cuda_loaded():
        return  # without a CUDA array module every array is a NumPy array: nothing to mix
    first = tensors[0].device if tensors else "cpu"
    for t in tensors[1:]:
        if t.device != first:
            raise RuntimeError(
                f"{op_name}: expected all tensors on the same device, but found one on "
                f"'{first}' and one on '{t.device}'; move them with .to(device)"
            )


# The ops make Tensors, so they import this module: they are imported here, at the end,
# once Tensor exists. The methods above find them when they are called.
from .ops import elementwise as _elementwise
from .ops import linalg as _linalg
from .ops import nn as _nn
from .ops import reduce as _reduce
from .ops import shape as _shape
