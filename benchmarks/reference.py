r"""The five benchmark models written by hand in NumPy: the yardstick minigrad is measured by.

A framework built on NumPy cannot be faster than a competent NumPy program of the same
model: that program is the physical limit on the CPU. This file is that program. Every
forward pass is written out, every backward pass is derived by hand next to it, and
the optimizer is PyTorch's RMSprop in a few lines. There is no graph, no Tensor, no
bookkeeping: only the arrays the math needs, float32 throughout.

Read it beside minigrad: every ``backward`` here is what minigrad's engine assembles
automatically from the ops' backward formulas.

Conventions
-----------
* Parameters are stored exactly as PyTorch (and minigrad) store them: a Linear weight
  is (out_features, in_features), a Conv2d weight (OC, C, kh, kw), recurrent weights
  stack their gates along the rows (LSTM: i, f, g, o). ``model.params`` is a list in the
  modules' registration order, so weights copy over by position from
  ``module.parameters()`` of the equivalent minigrad or PyTorch model.
* ``model.loss_and_gradients(x, y)`` returns the mean softmax cross-entropy of the batch
  and a list of gradients in the order of ``model.params``.
* ``RMSprop(params).step(grads)`` updates the parameters in place.

Shapes: N batch size, H hidden size, L sequence length, F features per time step.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = [
    "CNN", "LSTMClassifier", "MLP", "RMSprop", "RNNClassifier",
    "col2im", "cross_entropy", "im2col", "max_pool_2x2", "max_pool_2x2_backward",
]

FLOAT = np.float32
POOL_CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))  # (i, j) of a 2x2 window, row-major


def uniform(rng: np.random.Generator, shape: tuple, bound: float) -> np.ndarray:
    """U(-bound, bound) in float32: PyTorch's default initialisation for Linear, Conv2d
    (bound = 1/sqrt(fan_in)) and recurrent layers (bound = 1/sqrt(H))."""
    return rng.uniform(-bound, bound, size=shape).astype(FLOAT)


# -------------------------------------------------------------------------------------
# The loss


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    r"""Mean softmax cross-entropy of a batch and its gradient with respect to the logits.

    With z the logits (N, K) and y the labels (N,):

        log p[n, k] = z[n, k] - logsumexp_k z[n, :]          (shifted by max_k z for stability)
        loss        = -(1/N) sum_n log p[n, y_n]
        dloss/dz    = (softmax(z) - onehot(y)) / N

    The gradient is the famous "prediction minus target": computing it directly is
    cheaper and more accurate than backpropagating through log and exp separately.
    """
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    log_probs = shifted - np.log(sum_exp)
    loss = -log_probs[np.arange(n), labels].mean()
    dlogits = exp / sum_exp  # softmax
    dlogits[np.arange(n), labels] -= 1
    dlogits /= n
    return float(loss), dlogits


# -------------------------------------------------------------------------------------
# The multi-layer perceptron


class MLP:
    r"""784-256-128-10 with ReLU, on flattened images.

    Forward, with x (N, 784):

        a1 = x W1^T + b1,   h1 = relu(a1)
        a2 = h1 W2^T + b2,  h2 = relu(a2)
        z  = h2 W3^T + b3

    Backward of a Linear layer y = x W^T + b, given dy:

        dW = dy^T x,   db = sum_n dy[n],   dx = dy W

    and of ReLU: da = dh * (a > 0).
    """

    def __init__(self, sizes=(784, 256, 128, 10), seed: int = 0):
        rng = np.random.default_rng(seed)
        self.params = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            bound = 1 / np.sqrt(fan_in)
            self.params += [uniform(rng, (fan_out, fan_in), bound), uniform(rng, (fan_out,), bound)]

    def loss_and_gradients(self, images: np.ndarray, labels: np.ndarray):
        w1, b1, w2, b2, w3, b3 = self.params
        x = images.reshape(len(images), -1)
        h1 = np.maximum(x @ w1.T + b1, 0)
        h2 = np.maximum(h1 @ w2.T + b2, 0)
        logits = h2 @ w3.T + b3
        loss, dz = cross_entropy(logits, labels)

        dw3, db3 = dz.T @ h2, dz.sum(axis=0)
        da2 = (dz @ w3) * (h2 > 0)  # h2 > 0 exactly where a2 > 0
        dw2, db2 = da2.T @ h1, da2.sum(axis=0)
        da1 = (da2 @ w2) * (h1 > 0)
        dw1, db1 = da1.T @ x, da1.sum(axis=0)  # no dx: the input needs no gradient
        return loss, [dw1, db1, dw2, db2, dw3, db3]


# -------------------------------------------------------------------------------------
# Convolution by im2col, and 2x2 max pooling, on channels-last (N, H, W, C) arrays


def im2col(x: np.ndarray, kernel: int, padding: int) -> np.ndarray:
    r"""All kernel x kernel windows (stride 1) of x (N, H, W, C) as rows of a matrix.

        cols[(n, a, b), (i, j, c)] = xpad[n, a + i, b + j, c]        (N*OH*OW, k*k*C)

    ``as_strided`` gives a view of every window without copying (window [n, a, b] starts
    at pixel (a, b), and moving one step in a, b, i or j moves one row or column of the
    image); the reshape then makes the one copy im2col must pay, because windows
    overlap. Channels last means each window row is k runs of k*C contiguous numbers.
    """
    n, h, w, c = x.shape
    oh, ow = h + 2 * padding - kernel + 1, w + 2 * padding - kernel + 1
    xpad = np.zeros((n, h + 2 * padding, w + 2 * padding, c), dtype=x.dtype)
    xpad[:, padding:padding + h, padding:padding + w, :] = x
    s_n, s_h, s_w, s_c = xpad.strides
    windows = np.lib.stride_tricks.as_strided(
        xpad, shape=(n, oh, ow, kernel, kernel, c), strides=(s_n, s_h, s_w, s_h, s_w, s_c)
    )
    return windows.reshape(n * oh * ow, kernel * kernel * c)


def col2im(dcols: np.ndarray, image_shape: tuple, kernel: int, padding: int) -> np.ndarray:
    r"""The transpose of ``im2col``: add every entry of dcols back onto the pixel it
    was copied from. A pixel that appeared in several windows receives the sum:

        dx[n, h, w, c] = sum of dcols[(n, a, b), (i, j, c)] over a + i = h + p, b + j = w + p

    One sliced += per kernel offset (i, j): within one offset every window sends its
    entry to a different pixel, so the slices never collide.
    """
    n, h, w, c = image_shape
    oh, ow = h + 2 * padding - kernel + 1, w + 2 * padding - kernel + 1
    windows = dcols.reshape(n, oh, ow, kernel, kernel, c)
    dxpad = np.zeros((n, h + 2 * padding, w + 2 * padding, c), dtype=dcols.dtype)
    for i in range(kernel):
        for j in range(kernel):
            dxpad[:, i:i + oh, j:j + ow, :] += windows[:, :, :, i, j, :]
    return dxpad[:, padding:padding + h, padding:padding + w, :]


def max_pool_2x2(x: np.ndarray) -> tuple[np.ndarray, list]:
    r"""2x2 max pooling with stride 2 of x (N, H, W, C), H and W even.

        y[n, a, b, c] = max over (i, j) in {0, 1}^2 of x[n, 2a + i, 2b + j, c]

    The four entries of every window are four strided views of x, ``x[:, i::2, j::2]``
    (the window's corners in row-major order), so the maximum is three elementwise
    ``np.maximum`` calls, with no copy of x into windows.

    Returns y (N, H/2, W/2, C) and, for the backward pass, one boolean mask per corner
    marking where that corner won: the FIRST corner equal to the maximum, as in
    PyTorch, since ties are common after a ReLU (a window of zeros).
    """
    corners = [x[:, i::2, j::2, :] for i, j in POOL_CORNERS]
    y = np.maximum(np.maximum(corners[0], corners[1]), np.maximum(corners[2], corners[3]))
    taken = np.zeros(y.shape, dtype=bool)  # windows whose winner is already found
    winners = []
    for corner in corners:
        wins = corner == y
        wins &= ~taken
        taken |= wins
        winners.append(wins)
    return y, winners


def max_pool_2x2_backward(dy: np.ndarray, winners: list) -> np.ndarray:
    r"""dx[n, 2a + i, 2b + j, c] = dy[n, a, b, c] if corner (i, j) won window (a, b), else 0."""
    n, oh, ow, c = dy.shape
    dx = np.empty((n, 2 * oh, 2 * ow, c), dtype=dy.dtype)
    for (i, j), wins in zip(POOL_CORNERS, winners):
        np.multiply(dy, wins, out=dx[:, i::2, j::2, :])  # every entry of dx is one corner of one window
    return dx


class CNN:
    r"""Conv2d(1,16,3,p1)-ReLU-MaxPool2-Conv2d(16,32,3,p1)-ReLU-MaxPool2-Flatten-Linear(1568,10).

    A convolution with weight w (OC, C, k, k) is one matrix product on the im2col
    matrix. With Wm the weight flattened in the order of a cols row,
    Wm[(i, j, c), o] = w[o, c, i, j]:

        Y = cols Wm + b                     (N*OH*OW, OC) = the output, channels last
        dWm = cols^T dY,   db = sum of the rows of dY,   dcols = dY Wm^T,   dx = col2im(dcols)

    Activations are kept channels-last (N, H, W, C) so that the product's rows are
    already the next layer's layout: no transposes between layers. Only the small
    (N, 7, 7, 32) tensor before the classifier is turned to (N, 32, 7, 7), so that
    Flatten has PyTorch's (c, h, w) order and the weights are interchangeable.
    """

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.params = [
            uniform(rng, (16, 1, 3, 3), 1 / np.sqrt(9)), uniform(rng, (16,), 1 / np.sqrt(9)),
            uniform(rng, (32, 16, 3, 3), 1 / np.sqrt(144)), uniform(rng, (32,), 1 / np.sqrt(144)),
            uniform(rng, (10, 1568), 1 / np.sqrt(1568)), uniform(rng, (10,), 1 / np.sqrt(1568)),
        ]

    @staticmethod
    def _weight_matrix(w: np.ndarray) -> np.ndarray:
        """(OC, C, k, k) -> (k*k*C, OC), rows in the (i, j, c) order of an im2col row."""
        oc, c, kh, kw = w.shape
        return w.transpose(2, 3, 1, 0).reshape(kh * kw * c, oc)

    @staticmethod
    def _weight_gradient(dwm: np.ndarray, shape: tuple) -> np.ndarray:
        """The inverse of ``_weight_matrix``: (k*k*C, OC) -> (OC, C, k, k)."""
        oc, c, kh, kw = shape
        return dwm.reshape(kh, kw, c, oc).transpose(3, 2, 0, 1)

    def loss_and_gradients(self, images: np.ndarray, labels: np.ndarray):
        w1, b1, w2, b2, w3, b3 = self.params
        n = len(images)
        x = images.reshape(n, 28, 28, 1)  # one channel: NCHW and NHWC are the same bytes

        cols1 = im2col(x, 3, 1)  # (N*784, 9)
        a1 = (cols1 @ self._weight_matrix(w1) + b1).reshape(n, 28, 28, 16)
        h1 = np.maximum(a1, 0)
        p1, winners1 = max_pool_2x2(h1)  # (N, 14, 14, 16)

        cols2 = im2col(p1, 3, 1)  # (N*196, 144)
        wm2 = self._weight_matrix(w2)
        a2 = (cols2 @ wm2 + b2).reshape(n, 14, 14, 32)
        h2 = np.maximum(a2, 0)
        p2, winners2 = max_pool_2x2(h2)  # (N, 7, 7, 32)

        flat = p2.transpose(0, 3, 1, 2).reshape(n, 1568)  # PyTorch's flatten order (c, h, w)
        logits = flat @ w3.T + b3
        loss, dz = cross_entropy(logits, labels)

        dw3, db3 = dz.T @ flat, dz.sum(axis=0)
        dp2 = (dz @ w3).reshape(n, 32, 7, 7).transpose(0, 2, 3, 1)
        da2 = max_pool_2x2_backward(dp2, winners2) * (h2 > 0)
        da2 = da2.reshape(n * 196, 32)
        dw2, db2 = self._weight_gradient(cols2.T @ da2, w2.shape), da2.sum(axis=0)
        dp1 = col2im(da2 @ wm2.T, p1.shape, 3, 1)
        da1 = (max_pool_2x2_backward(dp1, winners1) * (h1 > 0)).reshape(n * 784, 16)
        dw1, db1 = self._weight_gradient(cols1.T @ da1, w1.shape), da1.sum(axis=0)
        return loss, [dw1, db1, dw2, db2, dw3, db3]


# -------------------------------------------------------------------------------------
# Recurrent networks: backpropagation through time written out


def sigmoid(x: np.ndarray) -> np.ndarray:
    """sigmoid(x) = 1 / (1 + e^-x) = (1 + tanh(x/2)) / 2: the second form never overflows."""
    return 0.5 * (1 + np.tanh(0.5 * x))


class RNNClassifier:
    r"""A tanh RNN over a sequence x (L, N, F), then a Linear layer on the last state.

    Forward (h_0 = 0):

        u_t = x_t W_ih^T + b_ih + b_hh          all L steps in ONE product: (L*N, F) x (F, H)
        h_t = tanh(u_t + h_{t-1} W_hh^T)        the only part that must wait for step t-1
        z   = h_L W^T + b

    Backward (backpropagation through time), from dh_L = dz W:

        for t = L, ..., 1:
            da_t     = dh_t * (1 - h_t^2)           through tanh
            dh_{t-1} = da_t W_hh                     the gradient flowing back in time

    and, because every step uses the same weights, their gradients are sums over t,
    done after the loop as single products over all steps at once:

        dW_hh = sum_t da_t^T h_{t-1},   dW_ih = sum_t da_t^T x_t,   db_ih = db_hh = sum_t,n da_t
    """

    def __init__(self, input_size: int, hidden_size: int, num_classes: int = 10, seed: int = 0):
        rng = np.random.default_rng(seed)
        b = 1 / np.sqrt(hidden_size)
        h, f = hidden_size, input_size
        self.params = [
            uniform(rng, (h, f), b), uniform(rng, (h, h), b), uniform(rng, (h,), b), uniform(rng, (h,), b),
            uniform(rng, (num_classes, h), b), uniform(rng, (num_classes,), b),
        ]

    def loss_and_gradients(self, x: np.ndarray, labels: np.ndarray):
        w_ih, w_hh, b_ih, b_hh, w, b = self.params
        steps, n, features = x.shape
        hidden = w_hh.shape[0]
        u = (x.reshape(steps * n, features) @ w_ih.T + (b_ih + b_hh)).reshape(steps, n, hidden)
        hs = np.zeros((steps + 1, n, hidden), dtype=FLOAT)  # hs[t] = h_t, hs[0] = h_0 = 0
        for t in range(steps):
            hs[t + 1] = np.tanh(u[t] + hs[t] @ w_hh.T)
        logits = hs[steps] @ w.T + b
        loss, dz = cross_entropy(logits, labels)

        dw, db = dz.T @ hs[steps], dz.sum(axis=0)
        da = np.empty_like(u)  # da[t] = dloss / du_t
        dh = dz @ w
        for t in reversed(range(steps)):
            da[t] = dh * (1 - hs[t + 1] * hs[t + 1])
            dh = da[t] @ w_hh
        da_all = da.reshape(steps * n, hidden)
        dw_ih = da_all.T @ x.reshape(steps * n, features)
        dw_hh = da_all.T @ hs[:steps].reshape(steps * n, hidden)
        db_ih = da_all.sum(axis=0)
        return loss, [dw_ih, dw_hh, db_ih, db_ih.copy(), dw, db]


class LSTMClassifier:
    r"""An LSTM over a sequence x (L, N, F), then a Linear layer on the last h.

    Forward (h_0 = c_0 = 0), gates in PyTorch's order i, f, g, o:

        u_t = x_t W_ih^T + b_ih + b_hh                       all steps in one product
        [i, f, g, o] = split(u_t + h_{t-1} W_hh^T)           four (N, H) blocks
        i, f, o = sigmoid(.)   g = tanh(.)
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)
        z   = h_L W^T + b

    Backward, from dh_L = dz W and dc_L = 0, for t = L, ..., 1:

        do = dh_t * tanh(c_t)
        dc = dc_t + dh_t * o * (1 - tanh(c_t)^2)      c_t reaches the loss through h_t and c_{t+1}
        di = dc * g,   dg = dc * i,   df = dc * c_{t-1}
        dc_{t-1} = dc * f
        da_t = [di * i(1-i), df * f(1-f), dg * (1-g^2), do * o(1-o)]   back through the gates
        dh_{t-1} = da_t W_hh

    and the weight gradients are sums over t, as in ``RNNClassifier``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_classes: int = 10, seed: int = 0):
        rng = np.random.default_rng(seed)
        b = 1 / np.sqrt(hidden_size)
        h, f = hidden_size, input_size
        self.params = [
            uniform(rng, (4 * h, f), b), uniform(rng, (4 * h, h), b),
            uniform(rng, (4 * h,), b), uniform(rng, (4 * h,), b),
            uniform(rng, (num_classes, h), b), uniform(rng, (num_classes,), b),
        ]

    def loss_and_gradients(self, x: np.ndarray, labels: np.ndarray):
        w_ih, w_hh, b_ih, b_hh, w, b = self.params
        steps, n, features = x.shape
        H = w_hh.shape[1]  # hidden size; the gates are the blocks [0:H], [H:2H], [2H:3H], [3H:4H]
        u = (x.reshape(steps * n, features) @ w_ih.T + (b_ih + b_hh)).reshape(steps, n, 4 * H)
        gates = np.empty_like(u)  # gates[t] = [i, f, g, o] after their nonlinearities
        hs = np.zeros((steps + 1, n, H), dtype=FLOAT)
        cs = np.zeros((steps + 1, n, H), dtype=FLOAT)
        tanh_cs = np.empty((steps, n, H), dtype=FLOAT)
        for t in range(steps):
            a = u[t] + hs[t] @ w_hh.T
            gate = gates[t]
            gate[:, :2 * H] = sigmoid(a[:, :2 * H])  # i and f
            gate[:, 2 * H:3 * H] = np.tanh(a[:, 2 * H:3 * H])  # g
            gate[:, 3 * H:] = sigmoid(a[:, 3 * H:])  # o
            i, f, g, o = gate[:, :H], gate[:, H:2 * H], gate[:, 2 * H:3 * H], gate[:, 3 * H:]
            cs[t + 1] = f * cs[t] + i * g
            tanh_cs[t] = np.tanh(cs[t + 1])
            hs[t + 1] = o * tanh_cs[t]
        logits = hs[steps] @ w.T + b
        loss, dz = cross_entropy(logits, labels)

        dw, db = dz.T @ hs[steps], dz.sum(axis=0)
        da = np.empty_like(u)
        dh = dz @ w
        dc = np.zeros((n, H), dtype=FLOAT)
        for t in reversed(range(steps)):
            gate = gates[t]
            i, f, g, o = gate[:, :H], gate[:, H:2 * H], gate[:, 2 * H:3 * H], gate[:, 3 * H:]
            tanh_c = tanh_cs[t]
            dc = dc + dh * o * (1 - tanh_c * tanh_c)
            da[t, :, :H] = dc * g * i * (1 - i)
            da[t, :, H:2 * H] = dc * cs[t] * f * (1 - f)
            da[t, :, 2 * H:3 * H] = dc * i * (1 - g * g)
            da[t, :, 3 * H:] = dh * tanh_c * o * (1 - o)
            dc = dc * f
            dh = da[t] @ w_hh
        da_all = da.reshape(steps * n, 4 * H)
        dw_ih = da_all.T @ x.reshape(steps * n, features)
        dw_hh = da_all.T @ hs[:steps].reshape(steps * n, H)
        db_ih = da_all.sum(axis=0)
        return loss, [dw_ih, dw_hh, db_ih, db_ih.copy(), dw, db]


# -------------------------------------------------------------------------------------
# The optimizer


class RMSprop:
    r"""PyTorch's RMSprop (no momentum, not centered, no weight decay), in place:

        v     <- alpha v + (1 - alpha) g^2           v starts at 0 ("square_avg")
        theta <- theta - lr g / (sqrt(v) + eps)

    in PyTorch's order of operations. ``scratch`` buffers hold the temporaries, so a
    step allocates nothing.
    """

    def __init__(self, params: list, lr: float = 1e-3, alpha: float = 0.99, eps: float = 1e-8):
        self.params, self.lr, self.alpha, self.eps = params, lr, alpha, eps
        self.square_avg = [np.zeros_like(p) for p in params]
        self.scratch = [np.empty_like(p) for p in params]

    def step(self, grads: list) -> None:
        for p, g, v, tmp in zip(self.params, grads, self.square_avg, self.scratch):
            v *= self.alpha
            np.multiply(g, g, out=tmp)
            tmp *= 1 - self.alpha
            v += tmp  # v = alpha v + (1 - alpha) g^2
            np.sqrt(v, out=tmp)
            tmp += self.eps  # sqrt(v) + eps
            np.divide(g, tmp, out=tmp)
            tmp *= self.lr
            p -= tmp
