"""Convolution and pooling, turned into one matrix product by im2col.

The convolution of deep learning (strictly a cross-correlation, as in every library)
of an input x of shape (N, C, H, W) with a weight w of shape (OC, C, kh, kw), stride
(sh, sw) and zero padding (ph, pw) is::

    y[n, o, a, b] = bias[o] + sum_{i, j, c} xpad[n, c, a*sh + i, b*sw + j] * w[o, c, i, j]

where xpad is x with ph rows of zeros above and below and pw columns of zeros left
and right, and the output has::

    OH = floor((H + 2*ph - kh) / sh) + 1,    OW = floor((W + 2*pw - kw) / sw) + 1.

**im2col.** For one output pixel (n, a, b) the sum runs over one window of kh*kw*C
numbers. im2col ("image to columns") copies every window into a row of a matrix::

    cols[(n, a, b), (i, j, c)] = xpad[n, c, a*sh + i, b*sw + j]      cols: (N*OH*OW, kh*kw*C)

Flatten each filter the same way, W[o, (i, j, c)] = w[o, c, i, j], a matrix of shape
(OC, kh*kw*C). Now every output pixel is a row of cols times a row of W: the
convolution is the linear layer y = x W^T + b applied to every window, and the whole
of it is ONE matrix product, which BLAS (or cuBLAS) does far faster than any loop we
could write::

    Y = cols @ W^T + bias      Y: (N*OH*OW, OC)  ->  reshape (N, OH, OW, OC)  ->  y (N, OC, OH, OW)

(PyTorch's ``unfold`` orders a row (c, i, j). We put the channel last because the
copy below then moves runs of C neighbouring numbers instead of runs of kw, which is
several times faster; any order works as long as W uses the same one.)

**Windows without a loop.** Entry [n, c, h, w] of an array lives at byte offset
n*sN + c*sC + h*sH + w*sW, where (sN, sC, sH, sW) are its strides. Window entry
[n, a, b, i, j, c] is xpad[n, c, a*sh + i, b*sw + j], at offset::

    n*sN + a*(sh*sH) + b*(sw*sW) + i*sH + j*sW + c*sC,

so ``as_strided(xpad, shape=(N, OH, OW, kh, kw, C), strides=(sN, sh*sH, sw*sW, sH, sW, sC))``
is a view of all windows that copies nothing. Reshaping it to (N*OH*OW, kh*kw*C) makes
the one copy im2col has to pay (windows overlap, so a pixel appears in several rows).

**Backward.** im2col only copies entries, so its backward adds them back up: col2im
sends every entry of a gradient dcols to the pixel it was copied from, and a pixel
that sat in several windows receives the sum::

    dx[n, c, h, w] = sum of dcols[(n, a, b), (i, j, c)] over all a*sh + i = h + ph, b*sw + j = w + pw.

Both are linear and each is the other's transpose (sum(im2col(x) * g) = sum(x * col2im(g))),
so the backward of im2col is col2im and the backward of col2im is im2col. Both are
Functions, and conv2d is built from them plus reshape, transpose and ``linear``: its
backward is then automatic, and differentiable again (second derivatives).

**Average pooling** uses the same windows one channel at a time: cols reshaped to
(N*OH*OW, kh*kw, C) holds, for every output pixel and channel, its window along the
middle axis, and avg_pool2d takes the mean along that axis, zero padding included
(PyTorch's count_include_pad=True).

**Max pooling** needs no copy into windows. Entry (i, j) of every window at once is
one strided view of the (padded) input, ``xpad[:, :, i::sh, j::sw]`` cut to (OH, OW),
so the maximum is a running elementwise maximum over the kh*kw views (``MaxPool``).
Its gradient goes to the FIRST maximal entry of each window in row-major order, as
PyTorch does (ties are common after a ReLU: a window of zeros), so forward remembers
for every window offset k = i*kw + j a mask of the windows it wins. The choice is
locally constant, so backward is linear in dy: ``ScatterToWinners`` sends each
window's gradient to its winner, and its own backward, ``GatherWinners``, picks each
window's winner out of an image; each of the two is the other's transpose.
Padding is the lowest float, so it never wins.
"""

from __future__ import annotations

import numbers

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .linalg import linear
from .shape import reshape, transpose

# -------------------------------------------------------------------------------------
# im2col and col2im: a pair of Functions whose backwards are each other.


class Im2col(Function):
    """cols[(n, a, b), (i, j, c)] = xpad[n, c, a*sh + i, b*sw + j];  dx = col2im(dcols).

    x: (N, C, H, W)  ->  cols: (N*OH*OW, kh*kw*C), padding filled with ``pad_value``
    (0 for convolution, the lowest float for max pooling). Padded entries are
    constants, so their gradient is dropped: col2im returns only the unpadded middle.
    """

    def forward(self, x, kernel, stride, padding, pad_value=0.0):
        self.input_shape, self.kernel, self.stride, self.padding = x.shape, kernel, stride, padding
        (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
        n, c, h, w = x.shape
        oh, ow = output_size(h, kh, sh, ph), output_size(w, kw, sw, pw)
        if ph or pw:
            x = _pad_channels_last(x, ph, pw, pad_value)
        stride_n, stride_c, stride_h, stride_w = x.strides  # in bytes; any memory layout works
        windows = get_array_module(x).lib.stride_tricks.as_strided(
            x,
            shape=(n, oh, ow, kh, kw, c),
            strides=(stride_n, sh * stride_h, sw * stride_w, stride_h, stride_w, stride_c),
        )
        return windows.reshape(n * oh * ow, kh * kw * c)  # the one copy: windows overlap

    def backward(self, grad):
        return col2im(grad, self.input_shape, self.kernel, self.stride, self.padding)


class Col2im(Function):
    """dx[n, c, h, w] = sum of cols[(n, a, b), (i, j, c)] over a*sh + i = h + ph,
    b*sw + j = w + pw;  dcols = im2col(dx) (zero padding).

    cols: (N*OH*OW, kh*kw*C)  ->  x: (N, C, H, W).
    """

    def forward(self, cols, input_shape, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding
        (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
        n, c, h, w = input_shape
        oh, ow = output_size(h, kh, sh, ph), output_size(w, kw, sw, pw)
        windows = cols.reshape(n, oh, ow, kh, kw, c)
        # Channels last, like the rows of cols, so both sides of the += below run over
        # (n, a, b, c) with the C numbers of a pixel next to each other in memory.
        padded = get_array_module(cols).zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=cols.dtype)
        # One step per kernel offset (i, j): entry (i, j) of every window lands on a
        # different pixel, so a sliced += adds them without collisions. Windows overlap
        # across offsets; that is where the sums come from.
        for i in range(kh):
            for j in range(kw):
                padded[:, i : i + sh * oh : sh, j : j + sw * ow : sw, :] += windows[:, :, :, i, j, :]
        return padded[:, ph : ph + h, pw : pw + w, :].transpose(0, 3, 1, 2)

    def backward(self, grad):
        return im2col(grad, self.kernel, self.stride, self.padding)


def window_views(x, kernel, stride, out_size) -> list:
    """For each window offset (i, j), in row-major order, the view of x holding entry
    (i, j) of every window: view[n, c, a, b] = x[n, c, a*sh + i, b*sw + j], (N, C, OH, OW)."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_size
    return [x[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw] for i in range(kh) for j in range(kw)]


class MaxPool(Function):
    """y[n, c, a, b] = the largest entry of window (a, b);  dx = scatter_to_winners(dy),
    each window's gradient to the FIRST of its largest entries in row-major order.

    x: (N, C, H, W) -> y: (N, C, OH, OW). Forward keeps one boolean mask per window
    offset k, ``wins[k]``: where offset k is its window's winner. Padding is ``lowest``
    (the lowest float), so it never wins.
    """

    def forward(self, x, kernel, stride, padding, lowest):
        self.input_shape, self.kernel, self.stride, self.padding = x.shape, kernel, stride, padding
        xp = get_array_module(x)
        (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
        out_size = (output_size(x.shape[2], kh, sh, ph), output_size(x.shape[3], kw, sw, pw))
        if ph or pw:
            x = _pad_channels_last(x, ph, pw, lowest)
        views = window_views(x, kernel, stride, out_size)
        best = views[0]
        for view in views[1:]:
            best = xp.maximum(best, view)
        # The winner of a window is the first offset equal to its maximum. (Masks of
        # contiguous booleans: 3x faster than tracking the winner's index in the loop.)
        self.wins, taken = [], xp.zeros(best.shape, dtype=bool)
        for view in views:
            wins = (view == best) & ~taken
            taken |= wins
            self.wins.append(wins)
        return best

    def backward(self, grad):
        return ScatterToWinners.apply(grad, wins=self.wins, input_shape=self.input_shape,
                                      kernel=self.kernel, stride=self.stride, padding=self.padding)


class ScatterToWinners(Function):
    """dx[n, c, h, w] = the sum of g[n, c, a, b] over the windows (a, b) whose winner
    is pixel (h, w);  dg = gather_winners(dx). The transpose of GatherWinners.

    g: (N, C, OH, OW) -> (N, C, H, W); ``wins[k]`` marks the windows won by offset k.
    """

    def forward(self, g, wins, input_shape, kernel, stride, padding):
        self.wins, self.kernel, self.stride, self.padding = wins, kernel, stride, padding
        xp = get_array_module(g)
        n, c, h, w = input_shape
        (ph, pw) = padding
        # channels last, like the output of conv2d that a pooling usually follows
        dx = xp.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=g.dtype).transpose(0, 3, 1, 2)
        overlapping = stride[0] < kernel[0] or stride[1] < kernel[1]
        for view, won in zip(window_views(dx, kernel, stride, g.shape[2:]), wins):
            if overlapping:
                view += g * won  # a pixel in several windows sums what it won in each
            else:
                xp.multiply(g, won, out=view)  # every pixel in at most one window: no sum (2x faster)
        return dx[:, :, ph : ph + h, pw : pw + w]

    def backward(self, grad):
        return GatherWinners.apply(grad, wins=self.wins, kernel=self.kernel, stride=self.stride,
                                   padding=self.padding)


class GatherWinners(Function):
    """y[n, c, a, b] = x at the winner of window (a, b);  dx = scatter_to_winners(dy).

    Needed only for second derivatives through max pooling. x: (N, C, H, W) -> (N, C, OH, OW).
    """

    def forward(self, x, wins, kernel, stride, padding):
        self.wins, self.input_shape = wins, x.shape
        self.kernel, self.stride, self.padding = kernel, stride, padding
        (ph, pw) = padding
        if ph or pw:
            x = _pad_channels_last(x, ph, pw, 0.0)  # padding never wins: any value will do
        y = get_array_module(x).zeros(wins[0].shape, dtype=x.dtype)
        for view, won in zip(window_views(x, kernel, stride, y.shape[2:]), wins):
            y += view * won
        return y

    def backward(self, grad):
        return ScatterToWinners.apply(grad, wins=self.wins, input_shape=self.input_shape,
                                      kernel=self.kernel, stride=self.stride, padding=self.padding)


def _pad_channels_last(x, ph, pw, value):
    """x (N, C, H, W) surrounded by ``value``, stored channels-last (N, H+2ph, W+2pw, C)
    in memory but returned as an (N, C, ...) view, so that a window's C numbers are
    neighbours for the im2col copy."""
    n, c, h, w = x.shape
    padded = get_array_module(x).full((n, h + 2 * ph, w + 2 * pw, c), value, dtype=x.dtype)
    padded[:, ph : ph + h, pw : pw + w, :] = x.transpose(0, 2, 3, 1)
    return padded.transpose(0, 3, 1, 2)


def im2col(x, kernel, stride, padding, pad_value=0.0):
    """All (kh, kw) windows of x (N, C, H, W) as the rows of a (N*OH*OW, kh*kw*C) matrix."""
    return Im2col.apply(x, kernel=kernel, stride=stride, padding=padding, pad_value=pad_value)


def col2im(cols, input_shape, kernel, stride, padding):
    """Add the rows of ``cols`` back onto an image of ``input_shape``: im2col's transpose."""
    return Col2im.apply(cols, input_shape=tuple(input_shape), kernel=kernel, stride=stride, padding=padding)


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """floor((size + 2*padding - kernel) / stride) + 1: how many windows fit."""
    return (size + 2 * padding - kernel) // stride + 1


# -------------------------------------------------------------------------------------
# The functions users call (through minigrad.functional).


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0) -> Tensor:
    """2-D convolution as PyTorch's ``torch.nn.functional.conv2d``.

    x: (N, C, H, W); weight: (OC, C, kh, kw); bias: (OC,) or None; ``stride`` and
    ``padding`` are ints or (height, width) pairs. Returns (N, OC, OH, OW):
    ``im2col(x) @ W + bias`` reshaped, as the module docstring derives.
    """
    _check_image(x, "conv2d", "input")
    _check_image(weight, "conv2d", "weight", "(out_channels, in_channels, kh, kw)")
    out_channels, in_channels, kh, kw = weight.shape
    if x.shape[1] != in_channels:
        raise ValueError(
            f"conv2d: the input has {x.shape[1]} channels (input shape {x.shape}) but the weight "
            f"expects {in_channels} (weight shape {weight.shape}); expected input.shape[1] == "
            "weight.shape[1]"
        )
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(
            f"conv2d: bias has shape {tuple(bias.shape)}, expected ({out_channels},) for a weight "
            f"with {out_channels} output channels (weight shape {weight.shape})"
        )
    kernel = _positive_pair((kh, kw), "conv2d", "kernel size (weight.shape[2:])")
    stride = _positive_pair(stride, "conv2d", "stride")
    padding = _padding_pair(padding, "conv2d")
    _check_fits(x.shape, kernel, padding, "conv2d")

    n, _, h, w = x.shape
    oh, ow = output_size(h, kh, stride[0], padding[0]), output_size(w, kw, stride[1], padding[1])
    cols = im2col(x, kernel, stride, padding)  # (N*OH*OW, kh*kw*C)
    # W[o, (i, j, c)] = w[o, c, i, j]: one row per output channel, in the (i, j, c) order
    # of a row of cols, so every window meets every filter in one product
    weight_rows = reshape(transpose(weight, (0, 2, 3, 1)), (out_channels, kh * kw * in_channels))
    out = linear(cols, weight_rows, bias)  # cols W^T + b, (N*OH*OW, OC): the convolution in one GEMM
    # The rows are ordered (n, a, b): a free reshape, then a transpose view to NCHW.
    return transpose(reshape(out, (n, oh, ow, out_channels)), (0, 3, 1, 2))


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    """Max pooling as PyTorch's ``torch.nn.functional.max_pool2d``.

    x: (N, C, H, W) -> (N, C, OH, OW), the maximum of each (kh, kw) window, where
    padding never wins; ``stride`` defaults to ``kernel_size``. Each window's gradient
    goes to its first maximal entry in row-major order (as PyTorch), not to all ties.
    """
    _check_image(x, "max_pool2d", "input")
    kernel, stride, padding = _pooling_geometry(x, kernel_size, stride, padding, "max_pool2d")
    # Pad with the lowest finite number rather than -inf: it still never beats a real
    # entry. (Only a window of -inf entries and padding differs from PyTorch.)
    lowest = float(get_array_module(x.data).finfo(x.dtype).min)
    return MaxPool.apply(x, kernel=kernel, stride=stride, padding=padding, lowest=lowest)


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    """Average pooling as PyTorch's ``torch.nn.functional.avg_pool2d`` (defaults).

    x: (N, C, H, W) -> (N, C, OH, OW), the mean of each (kh, kw) window of the
    zero-padded input: padded zeros count in the divisor kh*kw (count_include_pad=True).
    ``stride`` defaults to ``kernel_size``.
    """
    _check_image(x, "avg_pool2d", "input")
    windows, out_shape = _pooling_windows(x, kernel_size, stride, padding, "avg_pool2d")
    return _channels_first(windows.mean(axis=1), out_shape)


def _pooling_geometry(x, kernel_size, stride, padding, name) -> tuple:
    """Checked (kernel, stride, padding) pairs of a pooling; stride defaults to the kernel."""
    kernel = _positive_pair(kernel_size, name, "kernel_size")
    stride = kernel if stride is None else _positive_pair(stride, name, "stride")
    padding = _padding_pair(padding, name)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(
            f"{name}: padding {padding} is more than half the kernel size {kernel}; expected "
            f"padding <= kernel_size // 2 in each direction, i.e. at most {(kernel[0] // 2, kernel[1] // 2)}"
        )
    _check_fits(x.shape, kernel, padding, name)
    return kernel, stride, padding


def _pooling_windows(x, kernel_size, stride, padding, name):
    """The zero-padded pooling windows of x, shape (N*OH*OW, kh*kw, C), and the output
    shape (N, OH, OW, C)."""
    kernel, stride, padding = _pooling_geometry(x, kernel_size, stride, padding, name)
    n, c, h, w = x.shape
    oh, ow = (
        output_size(h, kernel[0], stride[0], padding[0]),
        output_size(w, kernel[1], stride[1], padding[1]),
    )
    cols = im2col(x, kernel, stride, padding)  # (N*OH*OW, kh*kw*C)
    # A row holds the windows of all C channels, interleaved: split them apart (free).
    return reshape(cols, (n * oh * ow, kernel[0] * kernel[1], c)), (n, oh, ow, c)


def _channels_first(values, shape):
    """One value per window, (N*OH*OW, C) -> the (N, C, OH, OW) result."""
    return transpose(reshape(values, shape), (0, 3, 1, 2))


# -------------------------------------------------------------------------------------
# Checking arguments, so that mistakes fail here with a message and not deep in NumPy.


def _check_image(t, name, what, layout="(N, C, H, W)"):
    if not isinstance(t, Tensor):
        raise TypeError(
            f"{name}: the {what} must be a Tensor, got {type(t).__name__}; wrap it with minigrad.tensor(...)"
        )
    if t.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D {what} of shape {layout}, got shape {t.shape} ({t.ndim}-D)")
    if t.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point {what}, got dtype {t.dtype}")


def _pair(value, name, what):
    """An int or a pair of ints -> a (height, width) pair of ints."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(_is_int(v) for v in pair):
        raise ValueError(f"{name}: {what} must be an int or a pair of ints, got {value!r}")
    return tuple(int(v) for v in pair)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _positive_pair(value, name, what):
    pair = _pair(value, name, what)
    if min(pair) <= 0:
        raise ValueError(f"{name}: {what} must be positive, got {value!r}")
    return pair


def _padding_pair(value, name):
    pair = _pair(value, name, "padding")
    if min(pair) < 0:
        raise ValueError(f"{name}: padding must be >= 0, got {value!r}")
    return pair


def _check_fits(shape, kernel, padding, name):
    padded = (shape[2] + 2 * padding[0], shape[3] + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(
            f"{name}: kernel size {kernel} is larger than the padded input {padded} (input "
            f"{shape[2:]} with padding {padding}); expected a kernel no larger than the padded input"
        )
