"""The stateless, differentiable functions of neural networks: ``minigrad.functional``.

Layers (``minigrad.layers``) hold parameters and call these. Shapes follow PyTorch:
images are (N, C, H, W); a linear weight is (out_features, in_features); a conv
weight is (out_channels, in_channels, kernel_h, kernel_w). Each function is a thin
door to the op that does the work, in ``minigrad/ops/``.
"""

from __future__ import annotations

from .ops.conv import avg_pool2d, conv2d, max_pool2d
from .ops.elementwise import leaky_relu, relu, sigmoid, tanh
from .ops.linalg import linear
from .ops.nn import batch_norm, dropout, embedding, layer_norm, log_softmax, softmax
from .ops.shape import pad

__all__ = [
    "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "linear", "conv2d",
    "max_pool2d", "avg_pool2d", "dropout", "embedding", "batch_norm", "layer_norm", "pad",
]

