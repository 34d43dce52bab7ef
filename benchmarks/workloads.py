"""The five benchmark workloads: their shapes, their inputs, and a trainer for each implementation.

Every implementation receives the SAME NumPy arrays, prepared once before timing from
real Fashion-MNIST images (uint8 (N, 28, 28), scaled to float32 in [0, 1]):

==========  =====  ==================================================================
workload    batch  model input
==========  =====  ==================================================================
mlp         128    images (N, 1, 28, 28); the model flattens them to (N, 784)
cnn          64    images (N, 1, 28, 28)
rnn          64    rows as time steps: (L=28, N, F=28), time-major; hidden 128
lstm         64    the same as rnn, with an LSTM
deep_rnn      8    pixels as time steps: (L=1000, N, F=1), hidden 32
==========  =====  ==================================================================

deep_rnn reads an image one pixel at a time, in row-major order (the classic
"pixel-by-pixel MNIST" task), wrapping around after the 784th pixel to make 1,000
steps: step t reads pixel t mod 784. One feature per step keeps the per-step matrix
products tiny, so what is measured is the cost of a long chain of small ops, the
price of a framework's per-op overhead.

Labels are int64 class indices. The loss is the mean softmax cross-entropy; the
optimizer RMSprop with PyTorch's update, lr = 1e-3, alpha = 0.99, eps = 1e-8.

This module imports NumPy only: a framework is imported by ``make_trainer`` when asked
for, so that the process of one implementation never loads another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import reference

IMPLEMENTATIONS = ("minigrad", "reference", "pytorch")
DEEP_RNN_STEPS = 1000


@dataclass(frozen=True)
class Workload:
    name: str
    batch_size: int
    cell: str = ""  # "rnn" or "lstm" for sequence models
    input_size: int = 0  # features per time step
    hidden_size: int = 0
    steps: int = 0  # sequence length


WORKLOADS = {
    "mlp": Workload("mlp", 128),
    "cnn": Workload("cnn", 64),
    "rnn": Workload("rnn", 64, cell="rnn", input_size=28, hidden_size=128, steps=28),
    "lstm": Workload("lstm", 64, cell="lstm", input_size=28, hidden_size=128, steps=28),
    "deep_rnn": Workload("deep_rnn", 8, cell="rnn", input_size=1, hidden_size=32, steps=DEEP_RNN_STEPS),
}


def model_input(workload: Workload, images: np.ndarray) -> np.ndarray:
    """The float32 input array of ``workload`` for uint8 images (N, 28, 28)."""
    x = images.astype(np.float32) / 255
    n = len(images)
    if workload.name in ("mlp", "cnn"):
        return x.reshape(n, 1, 28, 28)
    if workload.name in ("rnn", "lstm"):
        return np.ascontiguousarray(x.transpose(1, 0, 2))  # (28 rows, N, 28 pixels)
    pixels = x.reshape(n, 784)[:, np.arange(workload.steps) % 784]  # (N, L), wrapping around
    return np.ascontiguousarray(pixels.T)[:, :, None]  # (L, N, 1)


def batches(workload: Workload, images: np.ndarray, labels: np.ndarray) -> list[tuple]:
    """Consecutive batches ``(x, y)`` of the workload's size cut from images and labels."""
    size = workload.batch_size
    count = len(images) // size
    if count == 0:
        raise ValueError(f"{workload.name}: {len(images)} images are fewer than one batch of {size}")
    return [
        (model_input(workload, images[k * size:(k + 1) * size]), labels[k * size:(k + 1) * size].astype(np.int64))
        for k in range(count)
    ]


def reference_model(workload: Workload, seed: int = 0):
    """The hand-written NumPy model of ``workload`` (see reference.py)."""
    if workload.name == "mlp":
        return reference.MLP(seed=seed)
    if workload.name == "cnn":
        return reference.CNN(seed=seed)
    cls = reference.LSTMClassifier if workload.cell == "lstm" else reference.RNNClassifier
    return cls(workload.input_size, workload.hidden_size, seed=seed)


def reference_trainer(workload: Workload, lr: float = 1e-3):
    """``(model, step)`` for the NumPy reference, like the frameworks' ``make_trainer``."""
    model = reference_model(workload)
    optimizer = reference.RMSprop(model.params, lr=lr, alpha=0.99, eps=1e-8)

    def step(x, y):
        loss, grads = model.loss_and_gradients(x, y)
        optimizer.step(grads)
        return loss

    return model, step


def make_trainer(implementation: str, workload: Workload):
    """``(model, step)`` for one implementation; ``step(x, y)`` is one training step
    (forward, backward, RMSprop update) on NumPy arrays and returns the loss."""
    if implementation == "reference":
        return reference_trainer(workload)
    if implementation == "minigrad":
        from . import minigrad_models

        return minigrad_models.make_trainer(workload)
    if implementation == "pytorch":
        from . import torch_models

        return torch_models.make_trainer(workload)
    raise ValueError(f"unknown implementation {implementation!r}; choose one of {', '.join(IMPLEMENTATIONS)}")


def loss_value(loss) -> float:
    """A loss returned by any implementation's step, as a Python float."""
    return float(loss.item()) if hasattr(loss, "item") else float(loss)
