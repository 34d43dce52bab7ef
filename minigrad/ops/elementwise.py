"""Elementwise ops: z = f(x) or z = f(x, y), applied entry by entry.

Each backward returns dL/dx = dL/dz * dz/dx in the shape of z. When x was broadcast
(a (3, 1) tensor added to a (3, 4) one), the engine sums that gradient back to x's
shape (``autograd.sum_to``), so nothing here deals with broadcasting.

Each backward is one formula for both of the engine's modes (see autograd/function.py):
operators and these functions, on the raw arrays of a plain backward, or on Tensors
under ``create_graph=True``, where it is recorded and can be differentiated again.
What a backward only reads (which entries were positive, which input was larger) is
saved by forward as a mask: a constant in either mode.
"""

from __future__ import annotations

import numpy

from ..autograd import Function
from ..backend import device_of, get_array_module
from ..backend import to_device as _array_to_device
from ..tensor import Tensor, as_tensors, float32


class Add(Function):
    """z = x + y;  dz/dx = 1, dz/dy = 1."""

    def forward(self, x, y):
        return x + y

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    """z = x - y;  dz/dx = 1, dz/dy = -1."""

    def forward(self, x, y):
        return x - y

    def backward(self, grad):
        return grad, -grad


class Mul(Function):
    """z = x * y;  dz/dx = y, dz/dy = x."""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x * y

    def backward(self, grad):
        x, y = self.saved_tensors
        return (grad * y if self.needs_grad(0) else None, grad * x if self.needs_grad(1) else None)


class Div(Function):
    """z = x / y;  dz/dx = 1 / y, dz/dy = -x / y^2."""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x / y

    def backward(self, grad):
        x, y = self.saved_tensors
        grad_x = grad / y if self.needs_grad(0) else None
        grad_y = -grad * x / (y * y) if self.needs_grad(1) else None
        return grad_x, grad_y


class Neg(Function):
    """z = -x;  dz/dx = -1."""

    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad


class PowScalar(Function):
    """z = x ** p for a constant number p;  dz/dx = p * x ** (p - 1)."""

    def forward(self, x, exponent):
        self.exponent = exponent
        self.save_for_backward(x)
        return x**exponent

    def backward(self, grad):
        (x,) = self.saved_tensors
        p = self.exponent
        if p == 0:
            return grad * 0.0
        return grad * (p * x ** (p - 1)) if p != 1 else grad


class Pow(Function):
    """z = x ** y;  dz/dx = y * x ** (y - 1), dz/dy = z * log(x)."""

    def forward(self, x, y):
        z = x**y
        self.save_for_backward(x, y, z)
        return z

    def backward(self, grad):
        x, y, z = self.saved_tensors
        grad_x = grad * y * x ** (y - 1) if self.needs_grad(0) else None
        grad_y = grad * z * log(x) if self.needs_grad(1) else None
        return grad_x, grad_y


class Exp(Function):
    """y = e^x;  dy/dx = e^x = y (so we keep y, not x)."""

    def forward(self, x):
        y = get_array_module(x).exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * y


class Log(Function):
    """y = ln x;  dy/dx = 1 / x."""

    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).log(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / x


class Sqrt(Function):
    """y = sqrt(x);  dy/dx = 1 / (2 sqrt(x)) = 1 / (2 y)."""

    def forward(self, x):
        y = get_array_module(x).sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad / (2.0 * y)


class Tanh(Function):
    """y = tanh x;  dy/dx = 1 - y^2."""

    def forward(self, x):
        y = get_array_module(x).tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return TanhBackward.apply(grad, y)  # grad * (1 - y^2), as one op


class TanhBackward(Function):
    """z = g (1 - y^2), the backward of tanh as one op;  dz/dg = 1 - y^2, dz/dy = -2 g y.

    Written with Tensor ops, ``grad * (1.0 - y * y)`` would be three ops to record and
    run every time; as one Function (PyTorch has the same, ``tanh_backward``) it is one,
    with its own backward so that second derivatives still work. Recurrent networks run
    it at every time step.
    """

    def forward(self, g, y):
        self.save_for_backward(g, y)
        return g * (1 - y * y)

    def backward(self, grad):
        g, y = self.saved_tensors
        grad_g = grad * (1.0 - y * y) if self.needs_grad(0) else None
        grad_y = grad * g * y * -2.0 if self.needs_grad(1) else None
        return grad_g, grad_y


def sigmoid_array(x):
    """1 / (1 + e^-x) of a NumPy or CuPy array, as an array: nothing is recorded. Sigmoid
    and the LSTM and GRU loops of ops/recurrent.py compute it here.

    For x below about -88 (float32) e^-x overflows to inf, and 1 / (1 + inf) = 0 is then
    the right answer (the true value is below 1e-38): the overflow is expected, so its
    warning is silenced. (Avoiding it by branching on the sign of x cost twice the time
    of this formula; sigmoid is three of the four gates of every LSTM step.)
    """
    with numpy.errstate(over="ignore"):
        return 1 / (1 + get_array_module(x).exp(-x))


class Sigmoid(Function):
    """y = 1 / (1 + e^-x) (``sigmoid_array``);  dy/dx = y (1 - y)."""

    def forward(self, x):
        y = sigmoid_array(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return SigmoidBackward.apply(grad, y)  # grad * y (1 - y), as one op


class SigmoidBackward(Function):
    """z = g y (1 - y), the backward of sigmoid as one op (see TanhBackward for why);
    dz/dg = y (1 - y), dz/dy = g (1 - 2y)."""

    def forward(self, g, y):
        self.save_for_backward(g, y)
        return g * (y * (1 - y))

    def backward(self, grad):
        g, y = self.saved_tensors
        grad_g = grad * (y * (1.0 - y)) if self.needs_grad(0) else None
        grad_y = grad * g * (1.0 - 2.0 * y) if self.needs_grad(1) else None
        return grad_g, grad_y


class ReLU(Function):
    """y = max(x, 0);  dy/dx = 1 where x > 0, else 0 (PyTorch's choice at x = 0)."""

    def forward(self, x):
        # a boolean mask: float * bool keeps the float dtype, and skips a conversion pass
        self.save_for_backward(x > 0)
        return get_array_module(x).maximum(x, 0)

    def backward(self, grad):
        (positive,) = self.saved_tensors
        return grad * positive


class LeakyReLU(Function):
    """y = x where x > 0, else s x;  dy/dx = 1 or s."""

    def forward(self, x, negative_slope):
        xp = get_array_module(x)
        self.save_for_backward(xp.where(x > 0, 1.0, negative_slope).astype(x.dtype))  # dy/dx
        return xp.where(x > 0, x, x * negative_slope)

    def backward(self, grad):
        (slope,) = self.saved_tensors
        return grad * slope


class Abs(Function):
    """y = ``|x|``;  dy/dx = sign(x) (0 at x = 0, as PyTorch)."""

    def forward(self, x):
        xp = get_array_module(x)
        self.save_for_backward(xp.sign(x))  # dy/dx
        return xp.abs(x)

    def backward(self, grad):
        (sign,) = self.saved_tensors
        return grad * sign


class Clip(Function):
    """y = min(max(x, lo), hi);  dy/dx = 1 where lo <= x <= hi, else 0.

    Either bound may be None (no bound on that side). With lo > hi every entry is hi (hi
    is applied last, as in NumPy and PyTorch) and the gradient is 0 everywhere.

    At x == lo and x == hi, y has a kink and no derivative, so the gradient there is a
    convention. minigrad takes 1 (the closed interval), as torch.clamp does up to torch
    2.13.0, the version our parity tests are pinned to. PyTorch 2.14 switched to 0 there (the minimum-norm subgradient, which relu and hardtanh use); we keep 1 because
    clipping itself puts values exactly on a bound (a weight clipped to [0, 1] last step),
    and with 0 such a value would never receive a gradient again, not even one that
    points back inside.
    """

    def forward(self, x, lo, hi):
        xp = get_array_module(x)
        inside = xp.ones(x.shape, dtype=bool)  # dy/dx, as a mask
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        self.save_for_backward(inside)
        if lo is not None and hi is not None and lo > hi:
            # spelled out so that every backend gives hi: NumPy documents this order, the
            # array API standard leaves clip with lo > hi to the implementation
            return xp.minimum(xp.maximum(x, lo), hi)
        return xp.clip(x, lo, hi)

    def backward(self, grad):
        (inside,) = self.saved_tensors
        return grad * inside


class Maximum(Function):
    """z = max(x, y) entrywise;  the larger input gets the gradient, ties split it 1/2 each."""

    def forward(self, x, y):
        self.save_for_backward(_share(x > y, x == y, x.dtype))
        return get_array_module(x).maximum(x, y)

    def backward(self, grad):
        (share_x,) = self.saved_tensors
        return grad * share_x, grad * (1.0 - share_x)


class Minimum(Function):
    """z = min(x, y) entrywise;  the smaller input gets the gradient, ties split it 1/2 each."""

    def forward(self, x, y):
        self.save_for_backward(_share(x < y, x == y, x.dtype))
        return get_array_module(x).minimum(x, y)

    def backward(self, grad):
        (share_x,) = self.saved_tensors
        return grad * share_x, grad * (1.0 - share_x)


def _share(wins, ties, dtype):
    """x's share of the gradient: 1 where x won, 1/2 where it tied, else 0 (y gets 1 - it)."""
    return (wins + 0.5 * ties).astype(dtype)


class Where(Function):
    """z = x where cond else y;  the gradient goes to whichever input was picked."""

    def forward(self, cond, x, y):
        self.save_for_backward(cond)
        return get_array_module(x).where(cond, x, y)

    def backward(self, grad):
        (cond,) = self.saved_tensors
        zero = grad * 0.0
        return None, where(cond, grad, zero), where(cond, zero, grad)


class Cast(Function):
    """y = x converted to another dtype;  the gradient is converted back."""

    def forward(self, x, dtype):
        self.input_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, grad):
        return cast(grad, self.input_dtype)


class Copy(Function):
    """y = x in memory of its own;  dy/dx = 1. The engine stores gradients with it under
    create_graph=True, so that ``.grad`` never shares memory and stays differentiable."""

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return grad


class ToDevice(Function):
    """y = x copied to another device;  the gradient is copied back."""

    def forward(self, x, device):
        self.input_device = device_of(x)
        return _array_to_device(x, device)

    def backward(self, grad):
        return to_device(grad, self.input_device)


# -------------------------------------------------------------------------------------
# The functions that Tensor's operators and methods call.


def broadcast_inputs(name, *values):
    """The inputs as Tensors, after checking that their shapes broadcast together.

    NumPy would say "operands could not be broadcast together with shapes (2,3) (4,5)"
    from deep inside forward; this names the op and both shapes. Raw arrays without a
    Tensor (a backward formula in plain mode) pass through as they are.
    """
    is_tensor = [isinstance(v, Tensor) for v in values]
    if True not in is_tensor:
        return values
    tensors = values if False not in is_tensor else as_tensors(values)
    shapes = [t.data.shape for t in tensors]
    if shapes.count(shapes[0]) == len(shapes):
        return tensors
    for i, shape in enumerate(shapes):
        for other in shapes[i + 1:]:
            if shape != other and not _broadcastable(shape, other):
                raise ValueError(
                    f"{name}: shapes {' and '.join(map(str, shapes))} cannot be broadcast together "
                    "(aligned from the right, each pair of sizes must be equal or one of them 1)"
                )
    return tensors


def _broadcastable(shape_a: tuple, shape_b: tuple) -> bool:
    """NumPy's rule, aligned from the right: each pair of sizes is equal or has a 1.
    (Shapes that pass pairwise broadcast all together.)"""
    return all(a == b or a == 1 or b == 1 for a, b in zip(reversed(shape_a), reversed(shape_b)))


def add(x, y):
    return Add.apply(*broadcast_inputs("add", x, y))


def sub(x, y):
    return Sub.apply(*broadcast_inputs("sub", x, y))


def mul(x, y):
    return Mul.apply(*broadcast_inputs("mul", x, y))


def div(x, y):
    x, y = broadcast_inputs("div", x, y)
    if x.dtype.kind in "biu" and y.dtype.kind in "biu":
        # true division of integers gives the default float dtype, as PyTorch (NumPy: float64)
        x, y = cast(x, float32), cast(y, float32)
    return Div.apply(x, y)


def neg(x):
    return Neg.apply(x)


def pow(x, y):
    """x ** y, entry by entry. An integer base to a negative integer power raises
    ValueError on every device (2 ** -1 is not an integer: NumPy and PyTorch refuse it,
    CuPy would silently give 0)."""
    if isinstance(y, (int, float)) and not isinstance(y, bool) and isinstance(x, Tensor):
        if isinstance(y, float) and x.dtype.kind in "biu":
            x = cast(x, float32)  # int tensor ** 0.5 is float32, as PyTorch (NumPy: float64)
        if y < 0 and x.dtype.kind in "biu":
            raise _negative_integer_power(x.dtype, y)
        return PowScalar.apply(x, exponent=y)
    x, y = broadcast_inputs("pow", x, y)
    if isinstance(y, Tensor) and x.dtype.kind in "biu" and y.dtype.kind == "i" and y.size:
        lowest = int(y.data.min())  # only for integer ** integer tensors
        if lowest < 0:
            raise _negative_integer_power(x.dtype, lowest)
    return Pow.apply(x, y)


def _negative_integer_power(dtype, exponent) -> ValueError:
    return ValueError(
        f"pow: integers to negative integer powers are not allowed ({dtype} base, exponent "
        f"{exponent}); make the base floating-point first, e.g. x.astype('float32') ** {exponent}"
    )


def _floating(x):
    """Integer and bool tensors as float32: e^x, log x, ... of integers are not integers
    (PyTorch gives float32; NumPy float64, or for sigmoid an integer array of zeros)."""
    return cast(x, float32) if isinstance(x, Tensor) and x.dtype.kind in "biu" else x


def exp(x):
    return Exp.apply(_floating(x))


def log(x):
    return Log.apply(_floating(x))


def sqrt(x):
    return Sqrt.apply(_floating(x))


def tanh(x):
    """tanh(x), elementwise (``Tanh`` above); integer and bool tensors become float32."""
    return Tanh.apply(_floating(x))


def sigmoid(x):
    """1 / (1 + e^{-x}), elementwise (``Sigmoid`` above); integer and bool tensors become float32."""
    return Sigmoid.apply(_floating(x))


def relu(x):
    """max(x, 0), elementwise (``ReLU`` above)."""
    return ReLU.apply(x)


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else ``negative_slope`` * x, elementwise (``LeakyReLU`` above)."""
    return LeakyReLU.apply(x, negative_slope=negative_slope)


def abs(x):
    return Abs.apply(x)


def clip(x, lo=None, hi=None):
    if lo is None and hi is None:
        raise ValueError("clip needs at least one of lo and hi")
    return Clip.apply(x, lo=lo, hi=hi)


def maximum(x, y):
    """Entrywise maximum of x and y (broadcasting); ties give each input half."""
    return Maximum.apply(*broadcast_inputs("maximum", x, y))


def minimum(x, y):
    """Entrywise minimum of x and y (broadcasting); ties give each input half."""
    return Minimum.apply(*broadcast_inputs("minimum", x, y))


def where(cond, x, y):
    """x where cond is True, else y (broadcasting, as ``numpy.where``)."""
    # x and y first: a Python scalar takes the dtype of the other branch, not the bool
    # condition's (where(cond, x, 0) stays float32)
    x, y, cond = broadcast_inputs("where", x, y, cond)
    if cond.dtype.kind != "b":
        raise TypeError(f"where() needs a boolean condition, got dtype {cond.dtype}")
    return Where.apply(cond, x, y)


def cast(x, dtype):
    if x.dtype == dtype:
        return x
    if numpy.dtype(dtype).kind not in "fc" or not isinstance(x, Tensor):
        # integers and booleans carry no gradient (as PyTorch): a conversion off the graph
        return Tensor._make(x.data.astype(dtype)) if isinstance(x, Tensor) else x.astype(dtype)
    return Cast.apply(x, dtype=dtype)


def copy(x):
    return Copy.apply(x)


def to_device(x, device):
    return ToDevice.apply(x, device=device)
