"""The four image classifiers that ``minigrad train`` knows: mlp, cnn, rnn, lstm.

Each is built only from ``minigrad.layers``, so a learner can read every model in a
few lines, and the same model written with ``torch.nn`` has the same ``state_dict``
keys and shapes (copy the weights across and the outputs agree).

Images arrive as float32 arrays of shape (N, C, H, W): (N, 1, 28, 28) for
Fashion-MNIST and MNIST, (N, 3, 32, 32) for CIFAR-10. ``build_model(name,
image_shape, num_classes)`` sizes each model to the data set, so one name works on all
three data sets.

The four tell a story the lessons follow:

* ``mlp``  ignores that pixels have neighbours: every pixel is one input feature.
* ``cnn``  looks at small neighbourhoods with shared filters: fewer weights, better
  accuracy, the standard choice for images.
* ``rnn``  reads the image one row at a time, like a sentence of H words of C*W
  numbers; the last hidden state has to remember everything it saw.
* ``lstm`` reads the same way but with gates and a cell that carry information across
  many steps, so it forgets less than the plain RNN.
"""

from __future__ import annotations

from .layers import GRU, LSTM, RNN, Conv2d, Dropout, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential
from .tensor import Tensor

MODELS = ("mlp", "cnn", "rnn", "lstm")


def mlp(image_shape: tuple, num_classes: int = 10) -> Sequential:
    """A multi-layer perceptron: Flatten -> Linear(C*H*W, 256) -> ReLU ->
    Linear(256, 128) -> ReLU -> Linear(128, num_classes).

    The simplest network that learns non-linear boundaries. It treats an image as a
    bag of C*H*W unrelated numbers, so it must learn separately, for every position,
    what an edge looks like there: that is why it needs 235k weights for Fashion-MNIST
    and still lands a few points below the CNN.
    """
    channels, height, width = image_shape
    return Sequential(
        Flatten(),
        Linear(channels * height * width, 256),
        ReLU(),
        Linear(256, 128),
        ReLU(),
        Linear(128, num_classes),
    )


def cnn(image_shape: tuple, num_classes: int = 10) -> Sequential:
    """A small convolutional network::

        Conv2d(C, 16, 3, padding=1) -> ReLU -> MaxPool2d(2)       (N, 16, H/2, W/2)
        Conv2d(16, 32, 3, padding=1) -> ReLU -> MaxPool2d(2)      (N, 32, H/4, W/4)
        Flatten -> Dropout(0.25) -> Linear(32*H/4*W/4, 128) -> ReLU -> Linear(128, num_classes)

    Each 3x3 filter is slid over the whole image, so a pattern learnt in one place is
    recognised everywhere; pooling halves the resolution so the second layer sees
    7x7 pixel neighbourhoods of the input. The widths (16 and 32 filters) are chosen for
    a 2-core CPU: minigrad's convolution is one matrix product (im2col), and doubling
    the widths roughly doubles the time per epoch while gaining only a few tenths of a
    point on Fashion-MNIST. Dropout before the wide Linear layer (which holds most of
    the weights) keeps it from memorising the training set in later epochs.
    """
    channels, height, width = image_shape
    features = 32 * (height // 4) * (width // 4)  # two 2x2 poolings, rounding down like PyTorch
    return Sequential(
        Conv2d(channels, 16, 3, padding=1),
        ReLU(),
        MaxPool2d(2),
        Conv2d(16, 32, 3, padding=1),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Dropout(0.25),
        Linear(features, 128),
        ReLU(),
        Linear(128, num_classes),
    )


class RowReader(Module):
    """Read an image row by row with a recurrent layer and classify its last state.

    An image (N, C, H, W) becomes a sequence of H steps, each step one row of the
    image with its C colour channels side by side (C*W numbers: 28 for Fashion-MNIST,
    96 for CIFAR-10). After the last row, the hidden state h_H (hidden_size numbers)
    goes through one Linear layer to the class scores. Nothing but h_H reaches the
    classifier, so the network must carry what it saw in the top rows through all
    the steps below them: a direct test of how well a recurrent cell remembers.

    ``cell`` is ``"rnn"`` (Elman: h' = tanh(x W_ih^T + h W_hh^T + b)), ``"lstm"`` or
    ``"gru"``.
    Submodule names are ``recurrent`` and ``head``, so the state_dict keys are
    ``recurrent.weight_ih_l0``, ..., ``head.weight``, ``head.bias``.
    """

    def __init__(self, image_shape: tuple, num_classes: int = 10, cell: str = "lstm", hidden_size: int = 128):
        super().__init__()
        channels, _, width = image_shape  # the height is the number of steps, known at run time
        layer = {"rnn": RNN, "lstm": LSTM, "gru": GRU}[cell]
        self.cell = cell
        self.recurrent = layer(channels * width, hidden_size, batch_first=True)
        self.head = Linear(hidden_size, num_classes)

    def forward(self, images: Tensor) -> Tensor:
        n, channels, height, width = images.shape
        # (N, C, H, W) -> (N, H, C, W) -> (N, H, C*W): row r of every channel, side by side
        rows = images.transpose(0, 2, 1, 3).reshape(n, height, channels * width)
        _, state = self.recurrent(rows)
        last_hidden = state[0] if self.cell == "lstm" else state  # LSTM returns (h_n, c_n)
        return self.head(last_hidden[-1])  # h_n is (num_layers, N, H): take the top layer


def rnn(image_shape: tuple, num_classes: int = 10) -> RowReader:
    """A one-layer tanh RNN with 128 hidden units reading the image row by row (see
    ``RowReader``). Its gradient through time is a product of H Jacobians, which
    shrinks or explodes over the 28 steps: the plain RNN trains, but slower and less
    far than the LSTM. Training clips the gradient norm for it (see train.py)."""
    return RowReader(image_shape, num_classes, cell="rnn")


def lstm(image_shape: tuple, num_classes: int = 10) -> RowReader:
    """A one-layer LSTM with 128 hidden units reading the image row by row (see
    ``RowReader``). The cell state is updated by addition (c' = f*c + i*g), so the
    gradient reaches the first rows scaled by the forget gates rather than squashed at
    every step: it remembers the top of the image better than the plain RNN."""
    return RowReader(image_shape, num_classes, cell="lstm")


_BUILDERS = {"mlp": mlp, "cnn": cnn, "rnn": rnn, "lstm": lstm}


def build_model(name: str, image_shape: tuple, num_classes: int = 10) -> Module:
    """The model called ``name`` (one of ``MODELS``) for images of ``image_shape``
    (C, H, W) and ``num_classes`` classes, with fresh parameters drawn from minigrad's
    generator (call ``minigrad.manual_seed`` first for a repeatable model)."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (channels, height, width), got {tuple(image_shape)}")
    return _BUILDERS[name](tuple(image_shape), num_classes)
