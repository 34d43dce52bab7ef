"""Conv2d: a learned filter bank slid over an image (the math is in ops/conv.py)."""

from __future__ import annotations

from .. import functional as F
from ..ops.conv import _pair
from ..tensor import Tensor
from . import init
from .module import Module


class Conv2d(Module):
    """y[n, o] = bias[o] + sum_c cross_correlate(x[n, c], weight[o, c]).

    x: (N, in_channels, H, W) -> y: (N, out_channels, OH, OW), with
    OH = (H + 2*padding - kh) // stride + 1 (and OW likewise). ``kernel_size``,
    ``stride`` and ``padding`` are ints or (height, width) pairs. Parameters, as
    PyTorch: ``weight`` (out_channels, in_channels, kh, kw) and ``bias``
    (out_channels,), both from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    fan_in = in_channels * kh * kw.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, *, bias: bool = True
    ):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        # 3 -> (3, 3): PyTorch stores sizes as pairs, and prints them so
        self.kernel_size = _pair(kernel_size, "Conv2d", "kernel_size")
        self.stride = _pair(stride, "Conv2d", "stride")
        self.padding = _pair(padding, "Conv2d", "padding")
        shape = (out_channels, in_channels, *self.kernel_size)
        fan_in = init.fan_in(shape)
        self.weight = init.fan_in_uniform(shape, fan_in)
        if bias:
            self.bias = init.fan_in_uniform((out_channels,), fan_in)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        text += f", stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.bias is None:
            text += ", bias=False"
        return text
