"""Feeding a model: data sets, and a loader that cuts them into shuffled mini-batches.

A **data set** answers two questions: how many examples (``len(dataset)``) and what is
example ``i`` (``dataset[i]``). A **loader** walks a data set in mini-batches and turns
each batch into Tensors::

    train = TensorDataset(images, labels)           # NumPy arrays, first axis = examples
    loader = DataLoader(train, batch_size=64, shuffle=True)
    for epoch in range(epochs):
        for x, y in loader:                          # x: float32 (64, ...), y: int64 (64,)
            loss = cross_entropy(model(x.to(device)), y.to(device))

Why shuffle, and why again every epoch? Stochastic gradient descent assumes that each
mini-batch is a random sample of the data. Files are often sorted (by class, by date),
and a batch of nothing but sandals gives a gradient that only says "predict sandal".
Reshuffling every epoch also gives every epoch different batches, so the noise in the
gradient is not the same noise each time round; with one fixed order the model can
learn the order. Each epoch still sees every example exactly once.

Why one fancy index per batch? Python runs roughly ten million simple operations a
second; NumPy copies gigabytes a second. Building a batch of 64 images by asking for 64
examples one at a time and stacking them is 64 trips through the interpreter, which on
a small CNN costs more than the forward pass. For a ``TensorDataset`` the loader
instead asks for ``images[indices]`` with the whole index array at once (``images[a:b]``
when not shuffling): one call per array per batch, the copying done in C. A generic
``Dataset`` (one that computes examples in Python, e.g. reads files) has no such
shortcut, so the loader falls back to asking for each example and stacking them.

Reproducibility: each loader owns a NumPy random generator and draws one permutation
from it per epoch. ``seed=`` seeds it directly; without it, the generator is seeded from
minigrad's global generator when the loader is created, so ``minigrad.manual_seed(0)``
before building the loader makes the shuffling repeat. ``state_dict()`` /
``load_state_dict()`` save and restore where the loader is in its sequence of
permutations, so that a training run resumed from a checkpoint sees the same batches as
one that never stopped.
"""

from __future__ import annotations

import copy
import math

import numpy

from . import random as _random
from .tensor import Tensor, int64


class Dataset:
    """The interface every data set follows: ``len(dataset)`` and ``dataset[i]``.

    Subclass it and implement both; ``dataset[i]`` returns one example, usually a tuple
    such as ``(image, label)`` of NumPy arrays, Tensors or Python numbers.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


class TensorDataset(Dataset):
    """Examples held in arrays: example ``i`` is ``(arrays[0][i], arrays[1][i], ...)``.

    The arrays (NumPy arrays or Tensors; Tensors are copied to the host) must have the
    same length along their first axis. ``dataset[i]`` with an int, a slice or an array
    of indices returns a tuple with one entry per array, each indexed once: this is what
    lets ``DataLoader`` build a whole batch with one fancy index.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        # Tensors go to the host (batches are made on the CPU and moved by the training
        # loop). asanyarray keeps ndarray subclasses such as numpy.memmap, so data on disk
        # stays on disk until a batch asks for it.
        self.arrays = tuple(a.numpy() if isinstance(a, Tensor) else numpy.asanyarray(a) for a in arrays)
        if any(a.ndim == 0 for a in self.arrays):
            raise ValueError("TensorDataset arrays need a first axis (examples); got a 0-d array")
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) != 1:
            raise ValueError(
                f"TensorDataset arrays must have the same length along the first axis, got lengths {lengths}"
            )

    def __getitem__(self, index) -> tuple:
        return tuple(array[index] for array in self.arrays)

    def __len__(self) -> int:
        return len(self.arrays[0])


def _check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, numpy.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
    return int(seed)


def _as_batch_tensor(array, copy: bool = False) -> Tensor:
    """A CPU Tensor for one batch array: floats keep their dtype, integers become int64.

    ``copy=True`` for a slice, which is a view of the data set: a training loop that
    changes a batch in place must not change the data set with it.
    """
    array = numpy.asarray(array)  # drops ndarray subclasses (memmap), no copy
    if array.dtype.kind in "iu" and array.dtype != int64:
        return Tensor._make(array.astype(int64))  # class labels: int64, as the losses expect
    return Tensor._make(array.copy() if copy else array)


def _stack(values) -> numpy.ndarray:
    """Stack one field of several examples (arrays, Tensors or Python numbers)."""
    first = values[0]
    if isinstance(first, Tensor):
        return numpy.stack([v.numpy() for v in values])
    if isinstance(first, bool):
        return numpy.array(values, dtype=bool)
    if isinstance(first, float):
        return numpy.array(values, dtype=numpy.float32)  # Python floats -> float32, as tensor()
    return numpy.stack([numpy.asarray(v) for v in values])


def collate(samples: list) -> tuple:
    """Turn a list of examples into one batch: a tuple of Tensors, one per field.

    Each example is a tuple ``(field_0, field_1, ...)`` (or a single value, treated as a
    one-field tuple); field ``k`` of the batch stacks field ``k`` of every example.
    """
    if not isinstance(samples[0], (tuple, list)):
        samples = [(sample,) for sample in samples]
    return tuple(_as_batch_tensor(_stack([sample[k] for sample in samples])) for k in range(len(samples[0])))


class DataLoader:
    """Iterate over ``dataset`` in mini-batches of Tensors.

    ``DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False, seed=None)``

    * Each ``for batch in loader`` is one epoch: every example appears in exactly one
      batch. A batch is a tuple of CPU Tensors, one per field of the examples (floats
      keep their dtype, integers become int64).
    * ``shuffle=True`` draws a new random order every epoch from the loader's own
      generator (see the module docstring for why).
    * ``len(loader)`` is the number of batches: ``ceil(N / batch_size)``, or
      ``floor(N / batch_size)`` with ``drop_last=True``, which drops a last batch smaller
      than ``batch_size`` (useful when a small, noisy last batch hurts, e.g. BatchNorm).
    * ``seed`` seeds the loader's generator and wins over ``minigrad.manual_seed``;
      without it the generator is seeded from minigrad's global generator when the loader
      is created.
    * ``state_dict()`` / ``load_state_dict(state)`` save and restore the shuffling state
      (generator, epoch, position inside the epoch) for checkpoints.
    """

    def __init__(
        self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False, seed=None
    ):
        self.dataset = dataset
        self.batch_size = _check_positive_int("batch_size", batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        if seed is None:
            # Seeded from the global generator: manual_seed(...) then DataLoader(...) repeats.
            seed = int(_random.generator().integers(2**63))
        self.seed = _check_seed(seed)
        self._generator = numpy.random.default_rng(self.seed)
        self.epoch = 0  # epochs started so far; the current one is epoch - 1 while iterating
        # Where the current epoch started, so a checkpoint taken mid-epoch can replay it.
        self._epoch_start_state = None
        self._batches_done = 0
        self._skip_batches = 0  # set by load_state_dict: batches the next epoch skips

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.dataset) // self.batch_size
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        self._epoch_start_state = copy.deepcopy(self._generator.bit_generator.state)
        self.epoch += 1
        size = len(self.dataset)
        order = self._generator.permutation(size) if self.shuffle else None
        first, self._skip_batches = self._skip_batches, 0
        self._batches_done = first
        for number in range(first, len(self)):
            start = number * self.batch_size
            stop = min(start + self.batch_size, size)
            # A slice of the identity order is a slice of the data: cheaper than a fancy index.
            indices = slice(start, stop) if order is None else order[start:stop]
            batch = self._fetch(indices)
            self._batches_done = number + 1
            yield batch
        self._epoch_start_state = None  # the epoch is over

    def _fetch(self, indices) -> tuple:
        if isinstance(self.dataset, TensorDataset):
            # The fast path: one index per array for the whole batch, no Python loop.
            is_view = isinstance(indices, slice)
            return tuple(_as_batch_tensor(array, copy=is_view) for array in self.dataset[indices])
        if isinstance(indices, slice):
            indices = range(indices.start, indices.stop)
        return collate([self.dataset[int(i)] for i in indices])

    # -- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Where the loader is in its sequence of epochs, as plain values.

        ``{"generator": <NumPy bit-generator state>, "epoch": e, "batch": b}``: the next
        batch the loader gives is batch ``b`` of epoch ``e`` (0-based), whose order is drawn
        from ``generator``. Taken between epochs, ``b`` is 0; taken inside an epoch, the
        generator state is the one from before that epoch's permutation, so that a resumed
        loader redraws the same permutation and skips the ``b`` batches already used.
        Everything is ints and strings, so ``minigrad.save`` can store it.
        """
        in_epoch = self._epoch_start_state is not None and self._batches_done < len(self)
        if in_epoch:
            generator, epoch, batch = self._epoch_start_state, self.epoch - 1, self._batches_done
        else:
            generator, epoch, batch = self._generator.bit_generator.state, self.epoch, self._skip_batches
        return {"generator": copy.deepcopy(generator), "epoch": epoch, "batch": batch}

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state`` (from ``state_dict()``): the next ``for batch in loader``
        gives the batches an uninterrupted loader would have given next."""
        missing = {"generator", "epoch", "batch"} - set(state)
        if missing:
            raise ValueError(f"DataLoader state is missing the keys {sorted(missing)}")
        batch = int(state["batch"])
        if not 0 <= batch <= len(self):
            raise ValueError(f"DataLoader state has batch {batch}, but an epoch has {len(self)} batches")
        self._generator.bit_generator.state = copy.deepcopy(state["generator"])
        self.epoch = int(state["epoch"])
        self._skip_batches = batch
        self._epoch_start_state = None
        self._batches_done = 0
