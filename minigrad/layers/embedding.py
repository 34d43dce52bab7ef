"""Embedding: a learned vector for each of num_embeddings tokens."""

from __future__ import annotations

from .. import functional as F
from ..tensor import Tensor
from . import init
from .module import Module


class Embedding(Module):
    """y[..., :] = weight[indices[...], :], a table lookup.

    indices: integers in [0, num_embeddings) of any shape S -> y: S + (embedding_dim,).
    ``weight`` (num_embeddings, embedding_dim) is drawn from N(0, 1), as PyTorch.
    Looking up row k is the same as multiplying a one-hot vector by ``weight``, so a
    row's gradient is the sum of the output gradients wherever token k appeared.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.weight = init.normal((num_embeddings, embedding_dim))

    def forward(self, indices) -> Tensor:
        return F.embedding(indices, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
