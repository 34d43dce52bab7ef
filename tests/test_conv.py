"""Tests for minigrad/ops/conv.py: conv2d, max_pool2d, avg_pool2d and im2col/col2im.

Expected values come from three independent places: naive loop implementations
written below in plain NumPy (straight from the definitions), central finite
differences (gradcheck), and PyTorch (parity, skipped when torch is absent).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import compare_with_torch, gradcheck_second, leaf64, needs_torch, torch

import minigrad as mg
from minigrad.functional import avg_pool2d, conv2d, max_pool2d
from minigrad.ops.conv import col2im, im2col

if torch is not None:
    import torch.nn.functional as F


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# ---------------------------------------------------------------------------------
# Naive references: loops over every output pixel, read off the definitions.


def naive_conv2d(x, w, b=None, stride=1, padding=0):
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    n, _, h, wd = x.shape
    oc, _, kh, kw = w.shape
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((n, oc, oh, ow), dtype=np.float64)
    for i in range(n):
        for o in range(oc):
            for a in range(oh):
                for bb in range(ow):
                    window = xpad[i, :, a * sh : a * sh + kh, bb * sw : bb * sw + kw]
                    y[i, o, a, bb] = (window * w[o]).sum() + (0.0 if b is None else b[o])
    return y


def naive_pool2d(x, kernel, stride=None, padding=0, mode="max"):
    """Forward values, and (for max) the gradient of sum(y * g) with the gradient of
    each window going to its first maximum in row-major order."""
    (kh, kw) = pair(kernel)
    (sh, sw) = pair(kernel if stride is None else stride)
    (ph, pw) = pair(padding)
    n, c, h, w = x.shape
    fill = -np.inf if mode == "max" else 0.0
    xpad = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    y = np.zeros((n, c, oh, ow))
    winners = {}
    for i in range(n):
        for ch in range(c):
            for a in range(oh):
                for b in range(ow):
                    window = xpad[i, ch, a * sh : a * sh + kh, b * sw : b * sw + kw]
                    if mode == "max":
                        flat = window.reshape(-1)
                        k = int(np.argmax(flat))  # NumPy's argmax: first maximum
                        y[i, ch, a, b] = flat[k]
                        winners[i, ch, a, b] = (a * sh + k // kw - ph, b * sw + k % kw - pw)
                    else:
                        y[i, ch, a, b] = window.sum() / (kh * kw)
    return y, winners


def distinct_values(*shape, seed=0):
    """float64 values at least 0.1 apart, in random order: no ties, even at +-eps."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    return (rng.permutation(size) * 0.1 - size * 0.05).reshape(shape)


# ---------------------------------------------------------------------------------
# Forward values against the naive loops (no torch needed).

CONV_CASES = [
    # x shape, weight shape, bias, stride, padding
    ((1, 1, 5, 5), (1, 1, 3, 3), False, 1, 0),
    ((2, 3, 5, 6), (4, 3, 3, 3), True, 1, 0),
    ((2, 2, 6, 6), (3, 2, 3, 3), True, 2, 0),
    ((1, 2, 5, 5), (2, 2, 3, 3), True, 1, 1),
    ((2, 2, 5, 7), (3, 2, 2, 3), True, 1, 0),
    ((1, 2, 7, 6), (2, 2, 3, 2), True, (2, 1), (1, 2)),
    ((3, 1, 4, 4), (2, 1, 4, 4), False, 1, 0),  # kernel as large as the image
    ((1, 2, 6, 5), (2, 2, 1, 1), True, (1, 2), 0),  # 1x1 convolution
]


@pytest.mark.parametrize("x_shape, w_shape, with_bias, stride, padding", CONV_CASES)
def test_conv2d_matches_naive_loops(x_shape, w_shape, with_bias, stride, padding):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if with_bias else None
    y = conv2d(mg.tensor(x), mg.tensor(w), None if b is None else mg.tensor(b), stride, padding)
    expected = naive_conv2d(x, w, b, stride, padding)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


POOL_CASES = [
    # kernel, stride, padding
    (2, None, 0),
    (3, 2, 1),
    (3, 1, 0),  # overlapping windows
    ((2, 3), (1, 2), (1, 1)),
    ((3, 2), None, (1, 0)),
]


@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
def test_max_pool2d_matches_naive_loops_including_first_max_gradient(kernel, stride, padding):
    # small integers: many ties inside windows, which the gradient rule must settle
    x = np.random.default_rng(3).integers(0, 3, size=(2, 3, 7, 6)).astype(np.float64)
    g = np.random.default_rng(4).standard_normal(naive_pool2d(x, kernel, stride, padding)[0].shape)
    expected_y, winners = naive_pool2d(x, kernel, stride, padding, "max")
    expected_grad = np.zeros_like(x)
    for (i, ch, a, b), (h, w) in winners.items():
        expected_grad[i, ch, h, w] += g[i, ch, a, b]

    xt = mg.tensor(x, requires_grad=True)
    y = max_pool2d(xt, kernel, stride, padding)
    (y * mg.tensor(g)).sum().backward()
    np.testing.assert_array_equal(y.numpy(), expected_y)
    np.testing.assert_allclose(xt.grad.numpy(), expected_grad, atol=1e-12)


@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
def test_avg_pool2d_matches_naive_loops(kernel, stride, padding):
    x = np.random.default_rng(5).standard_normal((2, 3, 7, 6))
    expected, _ = naive_pool2d(x, kernel, stride, padding, "avg")
    y = avg_pool2d(mg.tensor(x), kernel, stride, padding)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_im2col_rows_are_windows_and_col2im_is_its_transpose():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 5, 6))
    kernel, stride, padding = (2, 3), (2, 1), (1, 1)
    cols = im2col(mg.tensor(x), kernel, stride, padding).numpy()
    xpad = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    oh, ow = (5 + 2 - 2) // 2 + 1, (6 + 2 - 3) // 1 + 1
    assert cols.shape == (2 * oh * ow, 2 * 3 * 3)
    for n, a, b in [(0, 0, 0), (1, 2, 5), (1, oh - 1, 3)]:
        window = xpad[n, :, 2 * a : 2 * a + 2, b : b + 3]  # (c, i, j)
        np.testing.assert_array_equal(cols[(n * oh + a) * ow + b], window.transpose(1, 2, 0).reshape(-1))
    # adjoint: sum(im2col(x) * g) == sum(x * col2im(g)) for every x and g
    g = rng.standard_normal(cols.shape)
    back = col2im(mg.tensor(g), x.shape, kernel, stride, padding).numpy()
    assert back.shape == x.shape
    np.testing.assert_allclose((cols * g).sum(), (x * back).sum(), rtol=1e-12)


# ---------------------------------------------------------------------------------
# Gradients against finite differences (float64).


@pytest.mark.parametrize("x_shape, w_shape, with_bias, stride, padding", CONV_CASES[:6])
def test_conv2d_gradcheck(x_shape, w_shape, with_bias, stride, padding):
    x, w = leaf64(*x_shape, seed=1), leaf64(*w_shape, seed=2)
    inputs = [x, w] + ([leaf64(w_shape[0], seed=3)] if with_bias else [])
    assert mg.gradcheck(lambda *t: conv2d(*t, stride=stride, padding=padding), inputs)


@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
def test_max_pool2d_gradcheck(kernel, stride, padding):
    x = mg.tensor(distinct_values(2, 2, 5, 6), requires_grad=True)
    assert mg.gradcheck(lambda t: max_pool2d(t, kernel, stride, padding), [x])


@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
def test_avg_pool2d_gradcheck(kernel, stride, padding):
    x = leaf64(2, 2, 5, 6, seed=4)
    assert mg.gradcheck(lambda t: avg_pool2d(t, kernel, stride, padding), [x])


def test_col2im_gradcheck():
    g = leaf64(2 * 3 * 3, 2 * 2 * 2, seed=5)  # (N*OH*OW, kh*kw*C) for x (2, 2, 4, 4)
    assert mg.gradcheck(lambda t: col2im(t, (2, 2, 4, 4), (2, 2), (2, 1), (1, 0)), [g])


@pytest.mark.parametrize("squared", [False, True], ids=["linear", "squared"])
@pytest.mark.parametrize("stride, padding", [(1, 0), ((2, 1), (1, 1))])
def test_conv2d_second_derivative(stride, padding, squared):
    # squaring makes d/dx of the gradient go through col2im's backward (im2col)
    x, w, b = leaf64(2, 2, 4, 5, seed=6), leaf64(2, 2, 2, 3, seed=7), leaf64(2, seed=8)

    def fn(x, w, b):
        y = conv2d(x, w, b, stride=stride, padding=padding)
        return y * y if squared else y

    assert gradcheck_second(fn, x, w, b)


def test_avg_pool2d_second_derivative():
    x = leaf64(1, 2, 5, 5, seed=9)
    assert gradcheck_second(lambda t: avg_pool2d(t, 3, 2, 1) ** 2, x)


def test_max_pool2d_second_derivative():
    x = mg.tensor(distinct_values(1, 2, 5, 5, seed=1), requires_grad=True)
    assert gradcheck_second(lambda t: max_pool2d(t, (3, 2), (2, 1), 1) ** 2, x)


def test_second_derivative_through_two_convolutions():
    x, w1, w2 = leaf64(1, 1, 6, 6, seed=10), leaf64(2, 1, 3, 3, seed=11), leaf64(1, 2, 2, 2, seed=12)
    assert gradcheck_second(lambda x, a, b: conv2d(conv2d(x, a, padding=1).tanh(), b, stride=2), x, w1, w2)


# ---------------------------------------------------------------------------------
# Parity with PyTorch: outputs, gradients, shapes, dtypes (float32 unless stated).


TORCH_CONV_GRID = [
    # x shape, weight shape, bias, stride, padding
    ((2, 3, 8, 8), (4, 3, 3, 3), True, 1, 0),
    ((2, 3, 8, 8), (4, 3, 3, 3), False, 1, 1),
    ((4, 1, 28, 28), (8, 1, 5, 5), True, 1, 2),
    ((2, 8, 14, 14), (16, 8, 3, 3), True, 1, 1),
    ((2, 3, 9, 7), (5, 3, 2, 3), True, 2, 0),
    ((1, 4, 9, 10), (2, 4, 3, 2), True, (2, 3), (1, 0)),
    ((3, 2, 5, 6), (3, 2, 1, 1), True, 1, 0),
    ((1, 2, 6, 6), (3, 2, 3, 3), True, 3, (0, 2)),
]


@needs_torch
@pytest.mark.parametrize("x_shape, w_shape, with_bias, stride, padding", TORCH_CONV_GRID)
def test_conv2d_matches_torch(x_shape, w_shape, with_bias, stride, padding):
    rng = np.random.default_rng(0)
    arrays = [
        rng.standard_normal(x_shape).astype(np.float32),
        rng.standard_normal(w_shape).astype(np.float32),
    ]
    if with_bias:
        arrays.append(rng.standard_normal(w_shape[0]).astype(np.float32))
    compare_with_torch(
        lambda *t: conv2d(*t, stride=stride, padding=padding),
        lambda *t: F.conv2d(*t, stride=stride, padding=padding),
        *arrays,
        atol=1e-4,
    )


TORCH_POOL_GRID = [
    # x shape, kernel, stride, padding
    ((2, 3, 8, 8), 2, None, 0),
    ((2, 3, 7, 7), 2, None, 0),  # odd size: the last row and column are dropped
    ((2, 3, 7, 9), 3, 2, 1),
    ((1, 2, 6, 6), 3, 1, 1),
    ((2, 2, 7, 8), (2, 3), (1, 2), (1, 1)),
    ((1, 3, 9, 5), (3, 2), None, (1, 0)),
    ((4, 8, 28, 28), 2, 2, 0),
]


@needs_torch
@pytest.mark.parametrize("pool", ["max", "avg"])
@pytest.mark.parametrize("x_shape, kernel, stride, padding", TORCH_POOL_GRID)
def test_pooling_matches_torch(pool, x_shape, kernel, stride, padding):
    ours, theirs = (max_pool2d, F.max_pool2d) if pool == "max" else (avg_pool2d, F.avg_pool2d)
    x = np.random.default_rng(1).standard_normal(x_shape).astype(np.float32)
    compare_with_torch(
        lambda t: ours(t, kernel, stride, padding), lambda t: theirs(t, kernel, stride, padding), x
    )


@needs_torch
@pytest.mark.parametrize("op", ["conv", "max", "avg"])
def test_float64_stays_float64_like_torch(op):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, 6, 6))
    if op == "conv":
        compare_with_torch(
            lambda a, b: conv2d(a, b, padding=1),
            lambda a, b: F.conv2d(a, b, padding=1),
            x,
            rng.standard_normal((3, 2, 3, 3)),
        )
    else:
        ours, theirs = (max_pool2d, F.max_pool2d) if op == "max" else (avg_pool2d, F.avg_pool2d)
        compare_with_torch(lambda t: ours(t, 3, 2, 1), lambda t: theirs(t, 3, 2, 1), x)


@needs_torch
@pytest.mark.parametrize(
    "name, image",
    [
        ("all zeros", np.zeros((2, 3, 8, 8))),
        ("small integers", np.random.default_rng(7).integers(0, 3, size=(2, 3, 9, 9))),
        ("negative constant, padded", np.full((1, 2, 5, 5), -1.0)),
        ("binary image", np.random.default_rng(8).integers(0, 2, size=(2, 1, 10, 10))),
    ],
)
@pytest.mark.parametrize(
    "kernel, stride, padding", [(2, None, 0), (3, 1, 1), (3, 2, 1), ((2, 3), (1, 2), (1, 1))]
)
def test_max_pool2d_ties_give_torchs_gradient(name, image, kernel, stride, padding):
    # A window's gradient landing on a wrong element would be off by about |w| ~ 1;
    # atol covers only the rounding of adding overlapping windows in another order.
    x = image.astype(np.float32)
    out = compare_with_torch(
        lambda t: max_pool2d(t, kernel, stride, padding),
        lambda t: F.max_pool2d(t, kernel, stride, padding),
        x,
        atol=1e-6,
        rtol=0,
    )
    assert out.dtype == mg.float32


@needs_torch
def test_small_cnn_matches_torch():
    # chained layers feed conv and pooling non-contiguous (transposed) inputs
    rng = np.random.default_rng(9)
    arrays = [
        rng.standard_normal((3, 2, 12, 12)).astype(np.float32),
        (rng.standard_normal((4, 2, 3, 3)) * 0.3).astype(np.float32),
        rng.standard_normal(4).astype(np.float32),
        (rng.standard_normal((6, 4, 3, 3)) * 0.3).astype(np.float32),
    ]

    def net(fn_conv, fn_max, fn_avg):
        def forward(x, w1, b1, w2):
            h = fn_max(fn_conv(x, w1, b1, 1, 1).relu(), 2)
            return fn_avg(fn_conv(h, w2, None, 1, 1).tanh(), 3, 2, 1)

        return forward

    compare_with_torch(
        net(conv2d, max_pool2d, avg_pool2d), net(F.conv2d, F.max_pool2d, F.avg_pool2d), *arrays
    )


# ---------------------------------------------------------------------------------
# Graph bookkeeping.


def test_only_inputs_that_require_grad_get_one():
    x = mg.randn(1, 2, 5, 5)
    w = mg.randn(3, 2, 3, 3, requires_grad=True)
    b = mg.zeros(3)
    conv2d(x, w, b).sum().backward()
    assert x.grad is None and b.grad is None
    assert w.grad.shape == w.shape and w.grad.dtype == mg.float32


def test_no_grad_records_nothing():
    w = mg.randn(3, 2, 3, 3, requires_grad=True)
    with mg.no_grad():
        y = max_pool2d(conv2d(mg.randn(1, 2, 6, 6), w), 2)
    assert not y.requires_grad and y.shape == (1, 3, 2, 2)


def test_float32_stays_float32():
    x = mg.randn(2, 3, 6, 6, requires_grad=True)
    w = mg.randn(4, 3, 3, 3, requires_grad=True)
    y = avg_pool2d(max_pool2d(conv2d(x, w, mg.zeros(4), padding=1), 2, 1), 2)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == w.grad.dtype == mg.float32


def test_max_pool2d_padding_does_not_trip_detect_anomaly():
    x = mg.randn(1, 2, 5, 5, requires_grad=True)
    with mg.detect_anomaly():
        y = max_pool2d(x, 3, 2, 1)
        y.sum().backward()
    assert np.isfinite(y.numpy()).all() and np.isfinite(x.grad.numpy()).all()


def test_pairs_may_be_lists_and_numpy_ints():
    x = mg.tensor(np.random.default_rng(11).standard_normal((1, 2, 7, 6)))
    w = mg.tensor(np.random.default_rng(12).standard_normal((3, 2, 3, 2)))
    a = conv2d(x, w, stride=[2, 1], padding=(np.int64(1), 0))
    b = conv2d(x, w, stride=(2, 1), padding=(1, 0))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(
        max_pool2d(x, [3, 2], np.int32(1)).numpy(), max_pool2d(x, (3, 2), 1).numpy()
    )


def test_second_derivatives_on_device_match_cpu(device):
    # conftest's `device` fixture: the CPU, the strict CuPy stand-in, real CuPy if present
    rng = np.random.default_rng(13)
    arrays = [rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)]

    def grads_of_grads(device):
        x, w, b = (mg.tensor(a, requires_grad=True, device=device) for a in arrays)
        y = conv2d(x, w, b, stride=1, padding=1).tanh()
        loss = (max_pool2d(y, 2) ** 2).sum() + (avg_pool2d(y, 3, 2, 1) ** 2).sum()
        gx, gw = mg.grad(loss, [x, w], create_graph=True)
        (gx.sum() + (gw * gw).sum()).backward()
        assert all(t.grad.device == device for t in (x, w, b))
        return [t.grad.numpy() for t in (x, w, b)]

    for got, expected in zip(grads_of_grads(device), grads_of_grads("cpu")):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------
# Bad input: ValueError (TypeError for dtypes) with the values and what was expected.


def test_conv2d_rejects_bad_input():
    x, w = mg.zeros(1, 3, 5, 5), mg.zeros(4, 3, 3, 3)
    with pytest.raises(ValueError, match=r"4-D input .*got shape \(3, 5, 5\)"):
        conv2d(mg.zeros(3, 5, 5), w)
    with pytest.raises(ValueError, match=r"4-D weight .*got shape \(4, 3, 3\)"):
        conv2d(x, mg.zeros(4, 3, 3))
    with pytest.raises(
        ValueError, match=r"input has 3 channels \(input shape \(1, 3, 5, 5\)\).*expects 2.*\(4, 2, 3, 3\)"
    ):
        conv2d(x, mg.zeros(4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"bias has shape \(3,\), expected \(4,\)"):
        conv2d(x, w, mg.zeros(3))
    with pytest.raises(ValueError, match=r"kernel size \(6, 6\) is larger than the padded input \(5, 5\)"):
        conv2d(x, mg.zeros(1, 3, 6, 6))
    with pytest.raises(ValueError, match=r"stride must be positive, got 0"):
        conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match=r"stride must be positive, got \(1, -1\)"):
        conv2d(x, w, stride=(1, -1))
    with pytest.raises(ValueError, match=r"padding must be >= 0, got -1"):
        conv2d(x, w, padding=-1)
    with pytest.raises(ValueError, match=r"padding must be an int or a pair of ints, got \(1, 2, 3\)"):
        conv2d(x, w, padding=(1, 2, 3))
    with pytest.raises(ValueError, match=r"kernel size .* must be positive"):
        conv2d(x, mg.zeros(4, 3, 0, 3))
    with pytest.raises(TypeError, match=r"floating-point input, got dtype int64"):
        conv2d(mg.tensor(np.zeros((1, 3, 5, 5), dtype=np.int64)), w)


@pytest.mark.parametrize("pool", [max_pool2d, avg_pool2d])
def test_pooling_rejects_bad_input(pool):
    name = pool.__name__
    x = mg.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match=rf"{name}: expected a 4-D input .*got shape \(2, 4, 4\)"):
        pool(mg.zeros(2, 4, 4), 2)
    with pytest.raises(ValueError, match=r"kernel_size must be positive, got 0"):
        pool(x, 0)
    with pytest.raises(ValueError, match=r"stride must be positive, got 0"):
        pool(x, 2, 0)
    with pytest.raises(ValueError, match=r"padding must be >= 0, got -1"):
        pool(x, 2, 2, -1)
    with pytest.raises(ValueError, match=r"padding \(2, 2\) is more than half the kernel size \(3, 3\)"):
        pool(x, 3, 1, 2)
    with pytest.raises(ValueError, match=r"padding \(0, 2\) is more than half the kernel size \(2, 3\)"):
        pool(x, (2, 3), 1, (0, 2))
    with pytest.raises(ValueError, match=r"kernel size \(5, 5\) is larger than the padded input \(4, 4\)"):
        pool(x, 5)
    with pytest.raises(ValueError, match=r"kernel_size must be an int or a pair of ints, got 2.5"):
        pool(x, 2.5)
