"""Normalisation layers: rescale activations to zero mean and unit variance, then let
the network learn the scale (``weight``) and shift (``bias``) it actually wants.

BatchNorm normalises each channel over the batch (the math is in ``ops/nn.py``,
``batch_norm``) and keeps running averages of the batch statistics in buffers, to use
at test time. LayerNorm normalises each example over its own last axes.
"""

from __future__ import annotations

import numpy

from .. import functional as F
from ..tensor import Tensor
from . import init
from .module import Module


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share; they differ in the inputs they accept.

    Parameters ``weight`` (C,) = 1 and ``bias`` (C,) = 0; buffers ``running_mean``
    (C,) = 0, ``running_var`` (C,) = 1 and ``num_batches_tracked`` (an int64 scalar),
    the names and order of PyTorch's state dict.

    Training: normalise with this batch's statistics, then update
    running = (1 - momentum) * running + momentum * batch statistic
    (``momentum=None`` uses the plain average over all batches seen:
    momentum = 1 / num_batches_tracked). Eval: normalise with the running statistics.
    ``affine=False`` drops weight and bias; ``track_running_stats=False`` keeps no
    running statistics and always uses the batch's.
    """

    accepted = ""  # the input shapes, for error messages

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = init.ones((num_features,))
            self.bias = init.zeros((num_features,))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(numpy.zeros(num_features, dtype=numpy.float32)))
            self.register_buffer("running_var", Tensor(numpy.ones(num_features, dtype=numpy.float32)))
            self.register_buffer("num_batches_tracked", Tensor(numpy.array(0, dtype=numpy.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def _check_input(self, x: Tensor) -> None:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}) expects {self.num_features} channels "
                f"(axis 1), got input of shape {x.shape}"
            )
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1  # in place: stays a buffer on its device
            if momentum is None:
                momentum = 1.0 / int(self.num_batches_tracked.item())
        # running_mean is None when track_running_stats=False: then always batch stats
        return F.batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            training=self.training or self.running_mean is None,
            momentum=0.0 if momentum is None else momentum,
            eps=self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) features or (N, C, L) sequences: per channel c,
    over the N (or N*L) values, y = (x - mean) / sqrt(var + eps) * weight + bias."""

    def _check_input(self, x: Tensor) -> None:
        if x.ndim not in (2, 3):
            raise ValueError(f"BatchNorm1d expects a 2-D (N, C) or 3-D (N, C, L) input, got shape {x.shape}")


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images: per channel c, over the N*H*W
    values, y = (x - mean) / sqrt(var + eps) * weight + bias."""

    def _check_input(self, x: Tensor) -> None:
        if x.ndim != 4:
            raise ValueError(f"BatchNorm2d expects a 4-D (N, C, H, W) input, got shape {x.shape}")


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, with mean and var taken over
    the last len(normalized_shape) axes of each example (which must equal
    ``normalized_shape``; an int means one axis).

    Any input shape ``(..., *normalized_shape)`` -> the same shape. ``weight`` = 1 and
    ``bias`` = 0 have shape normalized_shape (``elementwise_affine=False`` drops both,
    ``bias=False`` only the bias). Same in training and eval.
    """

    def __init__(
        self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True
    ):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape = shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = init.ones(shape)
        else:
            self.register_parameter("weight", None)
        if elementwise_affine and bias:
            self.bias = init.zeros(shape)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
