"""Convolution and pooling (placeholder until implemented)."""


def conv2d(x, weight, bias=None, stride=1, padding=0):
    raise NotImplementedError


def max_pool2d(x, kernel_size, stride=None, padding=0):
    raise NotImplementedError


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    raise NotImplementedError
