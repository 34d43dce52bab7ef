"""Loss functions: one number that says how wrong the predictions are.

Each loss computes a per-example value ``loss`` and then reduces it: ``"mean"`` (the
default) averages every entry, ``"sum"`` adds them up, ``"none"`` returns them as they
are. The numbers (values and gradients) are PyTorch's for the same inputs.

Cross-entropy, for logits x of shape (N, C) and class indices t of shape (N,)::

    log_probs = log_softmax(x) = x - logsumexp(x)            (along the class axis)
    loss_n    = -log_probs[n, t_n]                           (nll_loss)

With label smoothing s the one-hot target is softened to
q = (1 - s) * one_hot(t) + s / C, and loss_n = -sum_c q_c log_probs[n, c]
= (1 - s) * (-log_probs[n, t_n]) + s * mean_c(-log_probs[n, c]). Either way
dloss_n/dx_n = softmax(x_n) - q_n: the prediction minus the target.

Why through log_softmax and not log(softmax(x)): softmax(x)_c = e^{x_c} / sum_j e^{x_j}
overflows for x = 1e4 (e^{1e4} = inf, and inf / inf = nan), and for the wrong classes
it underflows to 0, whose log is -inf. log_softmax uses the log-sum-exp trick::

    logsumexp(x) = m + log(sum_j e^{x_j - m})    with m = max_j x_j,

so every exponent is <= 0 (no overflow) and the largest term is e^0 = 1 (the log is
never log 0). log_probs stays finite for logits of any size, and so do the gradients.

Images (or sequences) work the same way: logits (N, C, d1, ...) with targets
(N, d1, ...) give one loss per position, as in PyTorch.

Mean squared error, for predictions x and targets y of the same shape::

    loss = (x - y)^2                     dloss/dx = 2 (x - y)

Binary cross-entropy with logits, for logits x and probabilities y in [0, 1] (same
shape): with p = sigmoid(x) = 1 / (1 + e^{-x})::

    loss = -[y log p + (1 - y) log(1 - p)]
         = max(x, 0) - x*y + log(1 + e^{-|x|})           dloss/dx = sigmoid(x) - y

The second line is the same number computed without forming p (see
``binary_cross_entropy_with_logits``), so it is stable for ``|x|`` = 1e4.

Targets may be Tensors, NumPy arrays or lists; arrays are moved to the device of the
predictions. The classes (``CrossEntropyLoss``, ...) hold the options and call the
functions.
"""

from __future__ import annotations

from .autograd import Function
from .backend import get_array_module, to_device
from .creation import tensor
from .ops.elementwise import sigmoid
from .ops.nn import SoftmaxCrossEntropy, log_softmax
from .ops.shape import _index_array
from .tensor import Tensor, check_same_device, int64

__all__ = [
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "MSELoss",
    "NLLLoss",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "mse_loss",
    "nll_loss",
]

REDUCTIONS = ("mean", "sum", "none")


# -------------------------------------------------------------------------------------
# The functions


def cross_entropy(logits, target, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between ``softmax(logits)`` and the true classes ``target``.

    ``logits``: (N, C), or (N, C, d1, ...) for one prediction per position, or (C,) for
    one example. ``target``: integer class indices in [0, C) of shape (N,),
    (N, d1, ...) or () respectively. With s = ``label_smoothing``::

        log_probs = log_softmax(logits, axis=1)                  (axis 0 for (C,))
        loss      = (1 - s) * (-log_probs[t]) + s * mean_c(-log_probs[c])

    which is -sum_c q_c log_probs[c] for the smoothed target
    q = (1 - s) * one_hot(t) + s / C. Then ``reduction`` ("mean", "sum", "none").
    Going through log_softmax (not log of softmax) keeps logits of 1e4 finite.
    """
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    logits = _as_prediction(logits, "cross_entropy", "logits")
    class_axis = _class_axis(logits, "cross_entropy", "logits")
    target = _class_target(target, logits, class_axis, "cross_entropy", "logits")
    if logits.ndim == 2 and label_smoothing == 0:
        # the usual case, (N, C) logits, as one op (ops/nn.py): the same numbers, faster
        return _reduce(SoftmaxCrossEntropy.apply(logits, target=target), reduction)
    log_probs = log_softmax(logits, axis=class_axis)
    loss = -_pick_classes(log_probs, target, class_axis)
    if label_smoothing > 0:
        # the s/C spread over every class: -sum_c (s/C) log_probs[c] = s * mean_c(-log_probs[c])
        uniform = -log_probs.mean(axis=class_axis)
        loss = (1.0 - label_smoothing) * loss + label_smoothing * uniform
    return _reduce(loss, reduction)


def nll_loss(log_probs, target, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: loss = -log_probs[t], the class axis being axis 1.

    ``log_probs`` (usually ``log_softmax(logits, axis=1)``) has shape (N, C),
    (N, C, d1, ...) or (C,); ``target`` holds integer class indices in [0, C) of shape
    (N,), (N, d1, ...) or (). ``cross_entropy(x, t)`` is
    ``nll_loss(log_softmax(x, axis=1), t)``. The gradient is -1 at the picked entry of
    each example (divided by the count for "mean") and 0 elsewhere.
    """
    _check_reduction(reduction)
    log_probs = _as_prediction(log_probs, "nll_loss", "log_probs")
    class_axis = _class_axis(log_probs, "nll_loss", "log_probs")
    target = _class_target(target, log_probs, class_axis, "nll_loss", "log_probs")
    return _reduce(-_pick_classes(log_probs, target, class_axis), reduction)


def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """Mean squared error: loss = (input - target)^2, then ``reduction``.

    ``input`` and ``target`` must have the same shape. PyTorch broadcasts different
    shapes with only a warning; here it is an error, because predictions (N, 1) against
    targets (N,) broadcast to (N, N) and silently train on the wrong loss.
    """
    _check_reduction(reduction)
    input = _as_prediction(input, "mse_loss", "input")
    target = _value_target(target, input, "mse_loss")
    if target.dtype.kind in "iub":
        # PyTorch's promotion: a float tensor with an integer one keeps the float dtype
        # (NumPy would make float32 - int64 float64).
        target = target.astype(input.dtype)
    if target.shape != input.shape:
        raise ValueError(
            f"mse_loss: input has shape {input.shape} but target has shape {target.shape}; "
            "they must be the same (reshape one of them, e.g. target.reshape(input.shape); "
            "broadcasting (N, 1) against (N,) would compare every prediction with every target)"
        )
    diff = input - target
    return _reduce(diff * diff, reduction)


def binary_cross_entropy_with_logits(logits, target, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of ``sigmoid(logits)`` against probabilities ``target``.

    With p = sigmoid(x) = 1 / (1 + e^{-x}), log p = -log(1 + e^{-x}) and
    log(1 - p) = -x - log(1 + e^{-x}), so::

        loss = -[y log p + (1 - y) log(1 - p)] = x - x*y + log(1 + e^{-x}).

    For x < 0, e^{-x} overflows (x = -1e4); there log(1 + e^{-x}) = -x + log(1 + e^{x}).
    Both cases in one formula::

        loss = max(x, 0) - x*y + log(1 + e^{-|x|}) = softplus(x) - x*y

    where the exponent ``-|x|`` is never positive. dloss/dx = sigmoid(x) - y and
    dloss/dy = -x. ``target`` must be floating point (soft labels are fine) and have
    the shape of ``logits``.
    """
    _check_reduction(reduction)
    logits = _as_prediction(logits, "binary_cross_entropy_with_logits", "logits")
    target = _value_target(target, logits, "binary_cross_entropy_with_logits")
    if target.dtype.kind != "f":
        raise TypeError(
            f"binary_cross_entropy_with_logits: target must be floating point (probabilities "
            f"in [0, 1]), got dtype {target.dtype}; convert it, e.g. target.astype(logits.dtype)"
        )
    if target.shape != logits.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: target has shape {target.shape} but logits "
            f"have shape {logits.shape}; they must be the same"
        )
    return _reduce(Softplus.apply(logits) - logits * target, reduction)


class Softplus(Function):
    """y = softplus(x) = log(1 + e^x) = max(x, 0) + ``log(1 + e^{-|x|})``;  dy/dx = sigmoid(x).

    Written as one Function, not as ``relu(x) + log(1 + exp(-|x|))`` from Tensor ops: that
    sum is smooth, but its two pieces have kinks at x = 0 whose one-sided slopes cancel
    only in the limit; at exactly x = 0 the ops would give relu'(0) = 0 and sign(0) = 0,
    a slope of 0 instead of sigmoid(0) = 1/2 (and zero-initialised logits are common).
    The backward is the Tensor op sigmoid, so second derivatives still work.
    """

    def forward(self, x):
        xp = get_array_module(x)
        self.save_for_backward(x)
        # log1p keeps the small term e^{-|x|} that 1 + e^{-|x|} would round away
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * sigmoid(x)


# -------------------------------------------------------------------------------------
# The classes: hold the options, call the functions. (Plain classes for now; they have
# PyTorch's forward / __call__ / extra_repr shape so they can become Modules later.)


class _Loss:
    """Shared by the loss classes: ``loss_fn(input, target)`` calls ``forward``."""

    def __init__(self, reduction: str = "mean"):
        self.reduction = _check_reduction(reduction)

    def forward(self, input, target) -> Tensor:
        raise NotImplementedError

    def __call__(self, input, target) -> Tensor:
        return self.forward(input, target)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class CrossEntropyLoss(_Loss):
    """``cross_entropy(input, target, reduction, label_smoothing)`` as an object."""

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
        self.label_smoothing = label_smoothing

    def forward(self, input, target) -> Tensor:
        return cross_entropy(input, target, self.reduction, self.label_smoothing)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, label_smoothing={self.label_smoothing}"


class NLLLoss(_Loss):
    """``nll_loss(input, target, reduction)`` as an object; input is log-probabilities."""

    def forward(self, input, target) -> Tensor:
        return nll_loss(input, target, self.reduction)


class MSELoss(_Loss):
    """``mse_loss(input, target, reduction)`` as an object."""

    def forward(self, input, target) -> Tensor:
        return mse_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """``binary_cross_entropy_with_logits(input, target, reduction)`` as an object."""

    def forward(self, input, target) -> Tensor:
        return binary_cross_entropy_with_logits(input, target, self.reduction)


# -------------------------------------------------------------------------------------
# Helpers: checking inputs, picking the true class, reducing.


def _check_reduction(reduction) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of 'mean', 'sum', 'none', got {reduction!r}")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _as_prediction(x, fn_name: str, name: str) -> Tensor:
    """The predictions as a floating point Tensor (arrays and lists are wrapped)."""
    if not isinstance(x, Tensor):
        x = tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(
            f"{fn_name}: {name} must be floating point, got dtype {x.dtype}; "
            f"convert them, e.g. {name}.astype(minigrad.float32)"
        )
    return x


def _value_target(target, predictions: Tensor, fn_name: str) -> Tensor:
    """Targets that are values (not classes) as a Tensor on the device of ``predictions``.

    A Tensor target is used as it is, graph included (PyTorch lets gradients flow into
    targets too). An array or list is copied to the predictions' device, keeping its
    dtype as ``torch.tensor(array)`` would (so float64 targets promote the loss)."""
    if isinstance(target, Tensor):
        check_same_device((predictions, target), fn_name)
        return target
    return Tensor(target, device=predictions.device)


def _class_axis(x: Tensor, fn_name: str, name: str) -> int:
    """Axis 1 holds the classes, as in PyTorch; a single example (C,) has them on axis 0."""
    if x.ndim == 0:
        raise ValueError(
            f"{fn_name}: {name} must have a class axis, shape (N, C), (N, C, d1, ...) or (C,); "
            "got a 0-d tensor"
        )
    return 0 if x.ndim == 1 else 1


def _class_target(target, predictions: Tensor, class_axis: int, fn_name: str, name: str):
    """Check class indices and return them as an int64 backend array on the device of
    ``predictions``. The expected shape is that of ``predictions`` without the class axis."""
    if isinstance(target, Tensor):
        check_same_device((predictions, target), fn_name)
        array = target.data
    else:
        array = to_device(_index_array(target), predictions.device)
    if array.dtype.kind not in "iu":
        raise TypeError(
            f"{fn_name}: target must hold int64 class indices, got dtype {array.dtype}; "
            "convert whole-number labels with .astype('int64')"
        )
    classes = predictions.shape[class_axis]
    expected = predictions.shape[:class_axis] + predictions.shape[class_axis + 1 :]
    if array.shape != expected:
        raise ValueError(
            f"{fn_name}: target has shape {array.shape} but {name} have shape "
            f"{predictions.shape}, so target must have shape {expected} "
            f"({name} without the class axis {class_axis})"
        )
    if array.size:
        # Check before indexing: a negative index would silently count from the end,
        # and one >= C would fail later with a less helpful IndexError.
        low, high = int(array.min()), int(array.max())
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            raise ValueError(
                f"{fn_name}: target contains class index {bad}, but {name} have {classes} "
                f"classes (shape {predictions.shape}), so class indices must be in "
                f"[0, {classes}), i.e. 0 to {classes - 1}"
            )
    return array.astype(int64, copy=False)


def _pick_classes(log_probs: Tensor, target, class_axis: int) -> Tensor:
    """log_probs[n, target[n, d...], d...] for every position (n, d...): the entry of the
    true class. The class axis is moved last and every position becomes a row, so one
    (row, column) integer index picks them all; its gradient (a scatter of the output
    gradient into zeros) comes from ``getitem``."""
    classes = log_probs.shape[class_axis]
    if log_probs.ndim > 2:  # (N, C, d1, ...) -> (N, d1, ..., C)
        axes = (0, *range(2, log_probs.ndim), 1)
        log_probs = log_probs.transpose(axes)
    rows = log_probs.reshape(-1, classes)
    columns = target.reshape(-1)
    row_index = get_array_module(columns).arange(columns.size)
    return rows[row_index, columns].reshape(target.shape)
