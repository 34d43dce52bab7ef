"""Shape ops: they move entries around without changing them.

So each backward moves the gradient back: reshape undoes reshape, transpose applies
the inverse permutation, indexing scatters the gradient into zeros at the same
places, concatenation slices it apart, and ``broadcast_to`` / ``sum_to`` undo each
other (a copied entry's gradient is the sum over its copies).
"""

from __future__ import annotations

import numpy

from ..autograd import Function, constant
from ..backend import get_array_module, is_cuda_array, scatter_add, to_device
from ..tensor import Tensor, as_tensors, check_same_device


class Reshape(Function):
    """y = x with another shape (same entries in row-major order);  dx = dy reshaped back."""

    def forward(self, x, shape):
        self.input_shape = x.shape
        return x.reshape(shape)

    def backward(self, grad):
        return reshape(grad, self.input_shape)


class Transpose(Function):
    """y = x with its axes permuted;  dx = dy with the inverse permutation."""

    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, grad):
        return transpose(grad, tuple(numpy.argsort(self.axes)))


class BroadcastTo(Function):
    """y = x repeated along axes of size 1 (and new leading axes);  dx = dy summed back."""

    def forward(self, x, shape):
        self.input_shape = x.shape
        return get_array_module(x).broadcast_to(x, shape)

    def backward(self, grad):
        return sum_to(grad, self.input_shape)


class SumTo(Function):
    """y = x summed down to ``shape`` (the inverse of broadcasting);  dx = dy broadcast."""

    def forward(self, x, shape):
        self.input_shape = x.shape
        extra = x.ndim - len(shape)
        # sum the new leading axes, and the axes where the target has size 1
        axes = tuple(range(extra)) + tuple(
            extra + i for i, n in enumerate(shape) if n == 1 and x.shape[extra + i] != 1
        )
        y = x.sum(axis=axes, keepdims=True) if axes else x
        return y.reshape(shape)

    def backward(self, grad):
        return broadcast_to(grad, self.input_shape)


class GetItem(Function):
    """y = x[index];  dx = zeros with dy added at the same places (repeats add up).

    ``getitem`` has checked the index's bounds on every device, so the backward's
    scatter-add never meets an entry that CuPy would silently wrap around."""

    def forward(self, x, index):
        self.input_shape, self.index = x.shape, index
        return x[index]

    def backward(self, grad):
        return IndexAdd.apply(grad, shape=self.input_shape, index=self.index)


class IndexAdd(Function):
    """y = zeros(shape) with y[index] += g (every repeat counted);  dg = dy[index]."""

    def forward(self, g, shape, index):
        self.index = index
        y = get_array_module(g).zeros(shape, dtype=g.dtype)
        if _is_basic(index):
            y[index] = g  # slices and ints: each place at most once, no need to add
        else:
            scatter_add(y, index, g)
        return y

    def backward(self, grad):
        return getitem(grad, self.index)


class Concatenate(Function):
    """y = the inputs joined along ``axis``;  each input's gradient is its slice of dy."""

    def forward(self, *xs, axis):
        self.axis = axis
        self.sizes = [x.shape[axis] for x in xs]
        return get_array_module(xs[0]).concatenate(xs, axis=axis)

    def backward(self, grad):
        grads, start = [], 0
        for size in self.sizes:
            index = [slice(None)] * grad.ndim
            index[self.axis] = slice(start, start + size)
            grads.append(getitem(grad, tuple(index)))
            start += size
        return tuple(grads)


class Stack(Function):
    """y = the same-shaped inputs joined along a new axis;  each input's gradient is its
    slice of dy (``unbind``)."""

    def forward(self, *xs, axis):
        self.axis = axis
        return get_array_module(xs[0]).stack(xs, axis=axis)

    def backward(self, grad):
        return unbind(grad, self.axis)


class Split(Function):
    """y_1, ..., y_k = x cut into pieces along ``axis`` (``numpy.split``);  dx = the
    pieces' gradients joined again, zeros for a piece that got none.

    An op with several outputs: cutting with k slices ``x[a:b]`` instead would give k
    backward arrays of x's full size, zero outside their slice, to be added up."""

    def forward(self, x, sections, axis):
        self.axis = axis
        pieces = get_array_module(x).split(x, sections, axis=axis)
        self.pieces = [_zeros_maker(piece) for piece in pieces]
        return tuple(pieces)

    def backward(self, *grads):
        return cat(_fill_missing(grads, self.pieces), axis=self.axis)


class Unbind(Function):
    """y_1, ..., y_n = x[0], ..., x[n-1] along ``axis`` (that axis removed);  dx = the
    gradients stacked again, zeros for a slice that got none. The time steps of a
    sequence, in one op (see Split for why one op)."""

    def forward(self, x, axis):
        self.axis = axis
        before = (slice(None),) * axis
        pieces = [x[before + (i,)] for i in range(x.shape[axis])]
        self.pieces = [_zeros_maker(piece) for piece in pieces]
        return tuple(pieces)

    def backward(self, *grads):
        return stack(_fill_missing(grads, self.pieces), axis=self.axis)


def _zeros_maker(piece):
    """(xp, shape, dtype) of a piece: enough to make its zero gradient later."""
    return get_array_module(piece), piece.shape, piece.dtype


def _fill_missing(grads, pieces) -> list:
    """Zeros in place of the gradients that a piece did not get (it was not used)."""
    return [constant(xp.zeros(shape, dtype)) if g is None else g
            for g, (xp, shape, dtype) in zip(grads, pieces)]


class Pad(Function):
    """y = x surrounded by ``value``;  dx = the middle of dy (padding gets no gradient)."""

    def forward(self, x, pad_width, value):
        self.inner = tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x.shape))
        return get_array_module(x).pad(x, pad_width, mode="constant", constant_values=value)

    def backward(self, grad):
        return getitem(grad, self.inner)


# -------------------------------------------------------------------------------------


def reshape(x, shape):
    shape = tuple(shape)
    if shape == x.shape:
        return x
    size = x.size
    known = numpy.prod([n for n in shape if n != -1], dtype=numpy.int64)
    if shape.count(-1) > 1 or (shape.count(-1) == 0 and known != size) or (
        shape.count(-1) == 1 and (known == 0 or size % known)
    ):
        raise ValueError(f"cannot reshape a tensor of shape {x.shape} ({size} entries) into shape {shape}")
    return Reshape.apply(x, shape=shape)


def transpose(x, axes=None):
    """Permute axes; with no axes, reverse them all (NumPy's ``.T``)."""
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    axes = tuple(a % x.ndim for a in axes) if x.ndim else ()
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"axes {axes} are not a permutation of the {x.ndim} axes of shape {x.shape}")
    return Transpose.apply(x, axes=axes)


def broadcast_to(x, shape):
    shape = tuple(shape)
    if x.shape == shape:
        return x
    try:
        numpy.broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ValueError(f"cannot broadcast shape {x.shape} to {shape}") from None
    return BroadcastTo.apply(x, shape=shape)


def sum_to(x, shape):
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return SumTo.apply(x, shape=shape)


def getitem(x, index):
    """``x[index]`` for ints, slices, None, Ellipsis, integer arrays, lists and boolean masks.

    An integer outside [-size, size) of its axis raises IndexError on every device."""
    if not isinstance(x, Tensor):  # a backward formula in plain mode: the index is ready
        return GetItem.apply(x, index=index)
    device = x.device
    index = _normalize_index(index, device)
    if device == "cuda":  # on the CPU, NumPy checks by itself: nothing added there
        _check_in_bounds(index, x.shape)
    return GetItem.apply(x, index=index)


def cat(tensors, axis=0):
    """Join tensors along an existing axis (``numpy.concatenate``)."""
    if not any(isinstance(t, Tensor) for t in tensors):  # raw arrays: a plain-mode backward
        return Concatenate.apply(*tensors, axis=axis)
    tensors = as_tensors(list(tensors))
    if not tensors:
        raise ValueError("cat() needs at least one tensor")
    check_same_device(tensors, "cat")
    first = tensors[0]
    if first.ndim == 0:
        raise ValueError("cat() cannot join 0-d tensors; use stack()")
    axis = axis % first.ndim
    for t in tensors[1:]:
        if t.ndim != first.ndim or any(
            a != b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != axis
        ):
            raise ValueError(
                f"cat() along axis {axis}: shapes {first.shape} and {t.shape} differ in another axis"
            )
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis."""
    if not any(isinstance(t, Tensor) for t in tensors):  # raw arrays: a plain-mode backward
        return Stack.apply(*tensors, axis=axis)
    tensors = as_tensors(list(tensors))
    if not tensors:
        raise ValueError("stack() needs at least one tensor")
    shape = tensors[0].shape
    for t in tensors[1:]:
        if t.shape != shape:
            raise ValueError(f"stack() needs tensors of one shape, got {shape} and {t.shape}")
    return Stack.apply(*tensors, axis=_check_axis(axis, len(shape) + 1, "stack"))


def split(x, sections, axis=0) -> tuple:
    """Cut ``x`` into pieces along ``axis``, as ``numpy.split``: ``sections`` is the
    number of equal pieces, or the sorted indices where to cut. Returns a tuple."""
    (x,) = as_tensors((x,))
    if x.ndim == 0:
        raise ValueError("split() cannot cut a 0-d tensor")
    axis = _check_axis(axis, x.ndim, "split")
    if isinstance(sections, int) and (sections <= 0 or x.shape[axis] % sections):
        raise ValueError(
            f"split(): axis {axis} of shape {x.shape} has {x.shape[axis]} entries, which do "
            f"not make {sections} equal pieces; pass the indices where to cut instead"
        )
    if not isinstance(sections, int):
        sections = [int(i) for i in sections]
    return Split.apply(x, sections=sections, axis=axis)


def unbind(x, axis=0) -> tuple:
    """The slices of ``x`` along ``axis``, that axis removed (``torch.unbind``): a tuple of
    x.shape[axis] tensors. ``for row in x`` uses it, so the gradient costs one op."""
    if not isinstance(x, Tensor):  # a raw array: a plain-mode backward
        return Unbind.apply(x, axis=axis)
    (x,) = as_tensors((x,))
    if x.ndim == 0:
        raise ValueError("unbind() needs a tensor with at least one axis, got a 0-d tensor")
    return Unbind.apply(x, axis=_check_axis(axis, x.ndim, "unbind"))


def _check_axis(axis, ndim: int, name: str) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}(): axis {axis} is out of range for {ndim} axes")
    return axis % ndim


def pad(x, pad_width, value=0):
    """Pad with a constant; ``pad_width`` as NumPy: an int, a (before, after) pair, or a
    pair per axis."""
    widths = numpy.broadcast_to(numpy.asarray(pad_width, dtype=numpy.int64), (x.ndim, 2))
    if (widths < 0).any():
        raise ValueError(f"pad widths must be >= 0, got {pad_width}")
    return Pad.apply(x, pad_width=tuple(map(tuple, widths.tolist())), value=value)


def _normalize_index(index, device):
    """Tensors and lists in an index become arrays on the tensor's device."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for item in index:
        if isinstance(item, Tensor):
            if item.device != device:
                raise RuntimeError(
                    f"indexing a '{device}' tensor with a '{item.device}' tensor; move the index with .to()"
                )
            item = item.data
        elif isinstance(item, (list, numpy.ndarray)):
            item = _index_array(item)  # [] selects nothing
            if item.dtype.kind not in "biu":
                raise IndexError(f"index arrays must be integer or boolean, got dtype {item.dtype}")
            item = to_device(item, device)
        out.append(item)
    return out[0] if len(out) == 1 else tuple(out)


def _check_in_bounds(index, shape: tuple) -> None:
    """Raise NumPy's IndexError for an integer index array with an entry outside
    [-size, size) of the axis it indexes.

    CuPy does not check integer arrays: it wraps such an entry around (index % size), so
    ``x[[0, 7]]`` of 5 rows silently reads row 2, and the backward's scatter-add adds
    into row 2. NumPy raises, and minigrad must behave the same on both devices. The
    cost is one min and one max per index array (each a wait for the GPU); ints, slices
    and boolean masks CuPy checks itself.
    """
    items = index if isinstance(index, tuple) else (index,)
    axis = 0
    for item in items:
        if item is Ellipsis:  # it stands for the axes that no other item indexes
            axis += len(shape) - sum(_axes_indexed(other) for other in items)
            continue
        if is_cuda_array(item) and item.dtype.kind in "iu" and item.size and axis < len(shape):
            size = shape[axis]
            low, high = int(item.min()), int(item.max())
            bad = high if high >= size else low if low < -size else None
            if bad is not None:
                raise IndexError(f"index {bad} is out of bounds for axis {axis} with size {size}")
        axis += _axes_indexed(item)


def _axes_indexed(item) -> int:
    """How many axes of x one index item consumes: None and ... none of their own, a
    boolean mask as many as it has dimensions, anything else one."""
    if item is None or item is Ellipsis or isinstance(item, bool):
        return 0
    if getattr(item, "dtype", None) is not None and item.dtype.kind == "b":
        return item.ndim
    return 1


def _index_array(values):
    """Indices (a list, tuple, int or array) as a NumPy or CuPy array. An empty list
    becomes int64: NumPy would make it float64, which no index may be."""
    array = get_array_module(values).asarray(values)
    if array.size == 0 and array.dtype.kind == "f":
        array = array.astype(numpy.int64)
    return array


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice, numpy.integer)) for i in items)
