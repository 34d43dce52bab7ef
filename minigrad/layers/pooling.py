"""Pooling layers: summarise each window of an image by its maximum or its mean."""

from __future__ import annotations

from .. import functional as F
from ..tensor import Tensor
from .module import Module


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride  # windows side by side
        self.padding = padding

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """y[n, c, a, b] = max of the (kh, kw) window of x[n, c] at (a*sh, b*sw).

    (N, C, H, W) -> (N, C, OH, OW) with OH = (H + 2*padding - kh) // stride + 1;
    ``stride`` defaults to ``kernel_size``. The gradient of a window goes to its
    (first) maximal entry; the others get none.
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """y[n, c, a, b] = mean of the (kh, kw) window of x[n, c] at (a*sh, b*sw).

    Shapes as MaxPool2d. Padded zeros count in the mean (PyTorch's default), and each
    entry of a window receives 1/(kh*kw) of its gradient.
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)
