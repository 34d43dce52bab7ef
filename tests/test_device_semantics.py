"""Where CuPy and NumPy disagree in silence, minigrad answers the same on every device.

CuPy wraps an out-of-range entry of an integer index array around (``x[[7]]`` of 5
rows reads row 2, and ``cupyx.scatter_add`` adds into row 2) where NumPy raises
IndexError; CuPy gives 0 for an integer to a negative integer power where NumPy raises
ValueError. minigrad checks both itself, so a program that fails on the CPU fails the
same way on a GPU instead of training on wrong numbers. And ``from_dlpack`` takes CUDA
managed memory, as CuPy does.

Each test takes the ``device`` fixture (conftest.py): the CPU, the CuPy stand-in, and
real CuPy when a GPU is present. The stand-in holds NumPy arrays, so its indexing
raises NumPy's IndexError by itself and would hide a missing check; the
``wraps_like_cupy`` fixture makes it wrap around as CuPy does, so only minigrad's own
check can raise.
"""

from __future__ import annotations

import re

import cupy_standin
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad import backend, losses
from minigrad.layers import Embedding

KDL_CUDA_HOST, KDL_CUDA_MANAGED = 3, 13  # DLPack device types


def _wrap_around(index, shape: tuple):
    """``index`` with each integer device array taken modulo the size of the axis it
    indexes: what CuPy's gather and scatter kernels do with an out-of-range entry."""
    items = index if isinstance(index, tuple) else (index,)
    named = sum(_axes(item) for item in items)
    wrapped, axis = [], 0
    for item in items:
        if item is Ellipsis:
            axis += len(shape) - named
        elif isinstance(item, cupy_standin.ndarray) and item.dtype.kind in "iu":
            item = cupy_standin.asarray(cupy_standin.asnumpy(item) % shape[axis])
        axis += _axes(item)
        wrapped.append(item)
    return tuple(wrapped) if isinstance(index, tuple) else wrapped[0]


def _axes(item) -> int:
    """The axes of the indexed array that one index item stands for (... counted apart)."""
    if item is None or item is Ellipsis:
        return 0
    return item.ndim if getattr(item, "dtype", None) is not None and item.dtype.kind == "b" else 1


@pytest.fixture
def wraps_like_cupy(device, monkeypatch):
    """``device``; on the stand-in, integer-array indexing and scatter-add wrap around as
    CuPy's do, instead of raising NumPy's IndexError. (NumPy raises by itself, real
    CuPy wraps by itself: nothing to change for them.)"""
    if device == "cuda" and backend.cuda_module() is cupy_standin:
        getitem, scatter_add = cupy_standin.ndarray.__getitem__, cupy_standin._scatter_add
        monkeypatch.setattr(
            cupy_standin.ndarray, "__getitem__", lambda self, index: getitem(self, _wrap_around(index, self.shape))
        )
        monkeypatch.setattr(
            cupy_standin,
            "_scatter_add",
            lambda target, index, values: scatter_add(target, _wrap_around(index, target.shape), values),
        )
    return device


def rows(device: str, requires_grad: bool = False) -> mg.Tensor:
    """A (4, 5) tensor whose entry [i, j] is 10 i + j, so a row read shows which row it was."""
    data = (10 * np.arange(4)[:, None] + np.arange(5)).astype(np.float32)
    return mg.tensor(data, device=device, requires_grad=requires_grad)


# -------------------------------------------------------------------------------------
# Integer-array indexing out of range


def test_the_backends_differ_without_a_check(wraps_like_cupy):
    """What the checks below guard against: CuPy (and the stand-in made to act like it)
    reads row 7 % 4 = 3 where NumPy raises."""
    data = rows(wraps_like_cupy).data
    index = backend.to_device(np.array([0, 7]), wraps_like_cupy)
    if wraps_like_cupy == "cpu":
        with pytest.raises(IndexError):
            data[index]
    else:
        assert backend.to_numpy(data[index])[:, 0].tolist() == [0.0, 30.0]


OUT_OF_RANGE = [  # (index into a (4, 5) tensor, the entry NumPy names, its axis and size)
    ([0, 7], 7, 0, 4),
    ([-5], -5, 0, 4),
    (np.array([[0], [6]]), 6, 0, 4),
    (np.array(7), 7, 0, 4),
    ((slice(None), [1, 5]), 5, 1, 5),
    (([0, 1], [2, 9]), 9, 1, 5),
    ((Ellipsis, [5]), 5, 1, 5),
    ((None, [4]), 4, 0, 4),
    ((1, [5]), 5, 1, 5),
    ((np.array([True, False, True, False]), [5, 0]), 5, 1, 5),
]


@pytest.mark.parametrize(("index", "bad", "axis", "size"), OUT_OF_RANGE)
def test_an_out_of_range_index_raises_numpys_index_error_on_every_device(wraps_like_cupy, index, bad, axis, size):
    x = rows(wraps_like_cupy)
    message = f"index {bad} is out of bounds for axis {axis} with size {size}"
    with pytest.raises(IndexError, match=f"^{re.escape(message)}$"):
        x[index]


def test_an_index_tensor_on_the_device_is_checked_too(wraps_like_cupy):
    x = rows(wraps_like_cupy)
    index = mg.tensor([3, -1, 4], device=wraps_like_cupy)
    with pytest.raises(IndexError, match="^index 4 is out of bounds for axis 0 with size 4$"):
        x[index]


def test_the_backward_never_scatters_an_out_of_range_index(wraps_like_cupy):
    """Out of range, the forward raises, so no graph is left whose backward would add the
    gradient into the wrapped-around row."""
    x = rows(wraps_like_cupy, requires_grad=True)
    with pytest.raises(IndexError, match="index 7 is out of bounds for axis 0 with size 4"):
        x[[1, 7]].sum().backward()
    assert x.grad is None


@pytest.mark.parametrize("create_graph", [False, True])
def test_negative_indices_in_range_stay_valid(wraps_like_cupy, create_graph):
    """-1 is the last row and -4 the first, forward and through the scatter-add of the
    backward (repeats add up), on every device."""
    x = rows(wraps_like_cupy, requires_grad=True)
    y = x[[-1, -4, 3, 3], 1:3]
    assert y.numpy().tolist() == [[31, 32], [1, 2], [31, 32], [31, 32]]
    (grad,) = mg.grad(y.sum(), [x], create_graph=create_graph)
    expected = np.zeros((4, 5))
    expected[0, 1:3], expected[3, 1:3] = 1, 3
    assert grad.device == wraps_like_cupy
    np.testing.assert_array_equal(grad.numpy(), expected)


@pytest.mark.parametrize("bad", [4, 9, -1])
def test_embedding_refuses_an_out_of_range_index_on_every_device(wraps_like_cupy, bad):
    """The embedding lookup checks its indices itself (PyTorch refuses negative ones too),
    before the integer-array indexing and the scatter-add of its backward."""
    weight = mg.tensor(np.ones((4, 3), np.float32), device=wraps_like_cupy, requires_grad=True)
    indices = mg.tensor([0, bad], device=wraps_like_cupy)
    with pytest.raises(ValueError, match=rf"embedding index {bad} is out of range.*\[0, 4\)"):
        F.embedding(indices, weight)
    layer = Embedding(4, 3).to(wraps_like_cupy)
    with pytest.raises(ValueError, match=rf"embedding index {bad} is out of range"):
        layer(indices)


@pytest.mark.parametrize("loss", [losses.cross_entropy, losses.nll_loss])
def test_class_losses_refuse_an_out_of_range_target_on_every_device(wraps_like_cupy, loss):
    logits = mg.tensor(np.zeros((2, 3), np.float32), device=wraps_like_cupy, requires_grad=True)
    target = mg.tensor([0, 3], device=wraps_like_cupy)
    with pytest.raises(ValueError, match=r"class index 3.*\[0, 3\)"):
        loss(logits, target)


# -------------------------------------------------------------------------------------
# Integers to negative integer powers

NEGATIVE_POWERS = {
    "int ** -1": lambda t: t ** -1,
    "int ** int tensor": lambda t: t ** mg.tensor([1, -2, 0], device=t.device),
    "int ** numpy int": lambda t: t ** np.int64(-3),
    "python int ** int tensor": lambda t: 2 ** (-t),
    "bool ** -2": lambda t: (t > 1) ** -2,
}


@pytest.mark.parametrize("power", NEGATIVE_POWERS.values(), ids=NEGATIVE_POWERS.keys())
def test_an_integer_to_a_negative_integer_power_raises_on_every_device(device, power):
    """NumPy raises ValueError, CuPy gives 0 (2 ** -1 is 0.5, not an integer): minigrad
    raises its own ValueError everywhere, before any backend computes anything."""
    t = mg.tensor([1, 2, 3], device=device)
    with pytest.raises(ValueError, match=r"^pow: integers to negative integer powers are not allowed"):
        power(t)


def test_integer_powers_that_are_integers_still_work_on_every_device(device):
    t = mg.tensor([1, 2, 3], device=device)
    assert (t**2).numpy().tolist() == [1, 4, 9]
    assert (t ** mg.tensor([0, 1, 2], device=device)).numpy().tolist() == [1, 2, 9]
    assert (2**t).numpy().tolist() == [2, 4, 8]
    assert (t.float() ** -1).numpy().tolist() == [1.0, 0.5, np.float32(1 / 3)]
    assert (t ** mg.tensor([], dtype="int64", device=device).reshape(0, 1)).shape == (0, 3)


# -------------------------------------------------------------------------------------
# DLPack: CUDA managed memory


class ManagedMemory:
    """A producer of CUDA managed memory (DLPack device type 13), in front of a device
    array whose memory it hands out."""

    def __init__(self, array):
        self.array = array

    def __dlpack_device__(self):
        return (KDL_CUDA_MANAGED, 0)

    def __dlpack__(self, **kwargs):
        return self.array.__dlpack__(**kwargs)


@pytest.mark.parametrize("device", ["standin", "cupy"], indirect=True)
def test_from_dlpack_takes_cuda_managed_memory(device, monkeypatch):
    """CuPy's from_dlpack imports managed memory as it imports device memory (type 2);
    minigrad hands both to it, and the tensor shares the memory."""
    cuda = backend.cuda_module()
    if cuda is cupy_standin:
        # The stand-in imports device type 2 only: show it the array behind the managed
        # memory, as CuPy 14 reads the same capsule whichever of the two types it has.
        standin_from_dlpack = cupy_standin.from_dlpack
        monkeypatch.setattr(cupy_standin, "from_dlpack", lambda obj: standin_from_dlpack(obj.array))
    array = cuda.asarray(np.array([1.0, 2.0, 3.0], np.float32))
    t = mg.from_dlpack(ManagedMemory(array))
    assert t.device == "cuda"
    array[0] = 5.0  # shared memory: the write shows in the tensor
    assert t.numpy().tolist() == [5.0, 2.0, 3.0]


@pytest.mark.parametrize("device", ["cupy"], indirect=True)
def test_from_dlpack_takes_real_managed_memory(device):
    cupy = backend.cuda_module()
    array = cupy.ndarray((3,), dtype=cupy.float32, memptr=cupy.cuda.malloc_managed(3 * 4))
    array[...] = cupy.asarray([1.0, 2.0, 3.0], dtype=cupy.float32)
    t = mg.from_dlpack(array)
    array[0] = 5.0
    assert t.device == "cuda"
    assert t.numpy().tolist() == [5.0, 2.0, 3.0]


def test_managed_memory_without_cupy_says_cupy_is_needed(monkeypatch):
    monkeypatch.setattr(backend, "_cuda_module", None)
    monkeypatch.setattr(backend, "_cuda_import_error", ImportError("No module named 'cupy'"))
    with pytest.raises(RuntimeError, match=r"CuPy.*pip install \"minigrad\[gpu\]\""):
        mg.from_dlpack(ManagedMemory(None))


class PinnedHostMemory:
    """DLPack device type 3 (kDLCUDAHost), which neither minigrad nor CuPy imports."""

    def __dlpack_device__(self):
        return (KDL_CUDA_HOST, 0)

    def __dlpack__(self, **kwargs):
        raise AssertionError("from_dlpack must check the device type before asking for the data")


def test_from_dlpack_refuses_other_memory_naming_what_it_takes():
    with pytest.raises(ValueError) as error:
        mg.from_dlpack(PinnedHostMemory())
    assert str(error.value) == (
        "from_dlpack: unsupported DLPack device type 3; minigrad imports 1 (CPU), 2 (CUDA) "
        "and 13 (CUDA managed memory)"
    )
