"""Linear (fully connected) layer, and Flatten, which turns images into its input."""

from __future__ import annotations

from .. import functional as F
from ..tensor import Tensor
from . import init
from .module import Module


class Linear(Module):
    """y = x W^T + b.

    x: (..., in_features) -> y: (..., out_features). Parameters, as PyTorch:
    ``weight`` (out_features, in_features) and ``bias`` (out_features,), both drawn
    from U(-1/sqrt(in_features), 1/sqrt(in_features)) (see ``init.py``).
    ``bias=False`` leaves ``self.bias`` None.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = init.fan_in_uniform((out_features, in_features), in_features)
        if bias:
            self.bias = init.fan_in_uniform((out_features,), in_features)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


class Flatten(Module):
    """Merge all axes from ``start_axis`` on: (N, C, H, W) -> (N, C*H*W) with the
    default ``start_axis=1``, so a convolutional feature map can enter a Linear."""

    def __init__(self, start_axis: int = 1):
        super().__init__()
        self.start_axis = start_axis

    def forward(self, x: Tensor) -> Tensor:
        if not -x.ndim <= self.start_axis < x.ndim:
            raise ValueError(
                f"Flatten(start_axis={self.start_axis}) needs an input with more axes, got shape {x.shape}"
            )
        return x.flatten(self.start_axis)

    def extra_repr(self) -> str:
        return f"start_axis={self.start_axis}"
