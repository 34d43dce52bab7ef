"""The five benchmark models built from minigrad's layers, trained with minigrad's RMSprop.

Each model registers its parameters in the order of ``reference.py``'s ``params``
lists and of ``torch_models.py``, so weights copy across by position.
"""

from __future__ import annotations

from minigrad.creation import from_numpy
from minigrad.layers import LSTM, RNN, Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential
from minigrad.losses import cross_entropy
from minigrad.optim import RMSprop
from minigrad.tensor import Tensor


class SequenceClassifier(Module):
    """A recurrent layer over x (L, N, F) and a Linear layer on its last hidden state."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_classes: int = 10):
        super().__init__()
        self.cell = cell
        self.recurrent = {"rnn": RNN, "lstm": LSTM}[cell](input_size, hidden_size)
        self.head = Linear(hidden_size, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        _, state = self.recurrent(x)
        h_n = state[0] if self.cell == "lstm" else state  # the LSTM returns (h_n, c_n)
        return self.head(h_n[-1])


def build_model(workload) -> Module:
    """The minigrad model of a ``workloads.Workload``."""
    if workload.name == "mlp":
        return Sequential(Flatten(), Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10))
    if workload.name == "cnn":
        return Sequential(
            Conv2d(1, 16, 3, padding=1), ReLU(), MaxPool2d(2),
            Conv2d(16, 32, 3, padding=1), ReLU(), MaxPool2d(2),
            Flatten(), Linear(1568, 10),
        )
    return SequenceClassifier(workload.cell, workload.input_size, workload.hidden_size)


def make_trainer(workload, lr: float = 1e-3):
    """``(model, step)``: ``step(x, y)`` runs one training step and returns the loss."""
    model = build_model(workload)
    optimizer = RMSprop(model.parameters(), lr=lr, alpha=0.99, eps=1e-8)

    def step(x, y):
        optimizer.zero_grad()
        loss = cross_entropy(model(from_numpy(x)), y)  # no copy, as torch.from_numpy in torch_models.py
        loss.backward()
        optimizer.step()
        return loss

    return model, step
