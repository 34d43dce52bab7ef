"""The five benchmark models in PyTorch (``torch.nn``, ``torch.optim.RMSprop``), on the CPU.

Same layers, shapes, parameter order and initialisation as ``minigrad_models.py``.
"""

from __future__ import annotations

import torch
from torch import nn


class SequenceClassifier(nn.Module):
    """A recurrent layer over x (L, N, F) and a Linear layer on its last hidden state."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_classes: int = 10):
        super().__init__()
        self.cell = cell
        self.recurrent = {"rnn": nn.RNN, "lstm": nn.LSTM}[cell](input_size, hidden_size)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, state = self.recurrent(x)
        h_n = state[0] if self.cell == "lstm" else state
        return self.head(h_n[-1])


def build_model(workload) -> nn.Module:
    """The PyTorch model of a ``workloads.Workload``."""
    if workload.name == "mlp":
        return nn.Sequential(
            nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
        )
    if workload.name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(1568, 10),
        )
    return SequenceClassifier(workload.cell, workload.input_size, workload.hidden_size)


def make_trainer(workload, lr: float = 1e-3):
    """``(model, step)``: ``step(x, y)`` takes NumPy arrays (wrapped without a copy),
    runs one training step and returns the loss."""
    model = build_model(workload)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=lr, alpha=0.99, eps=1e-8)
    loss_fn = nn.CrossEntropyLoss()

    def step(x, y):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        optimizer.step()
        return loss

    return model, step
