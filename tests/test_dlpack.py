"""DLPack: zero-copy exchange of tensors with NumPy, PyTorch and (via the device fixture)
CuPy. "Zero-copy" is checked by writing through one side and reading the other."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import needs_torch, torch

import minigrad as mg
from minigrad import backend

DTYPES = [mg.float32, mg.float64, mg.int64, mg.bool_]
KDLCPU, KDLCUDA = 1, 2  # DLPack device types


def values(dtype):
    """[0, 1, 0, 1] in ``dtype``: two different values to write back and forth."""
    return np.array([0, 1, 0, 1]).astype(dtype)


def torch_dtype_name(t) -> str:
    return str(t.dtype).removeprefix("torch.")


def test_a_cpu_tensor_reports_the_cpu_device():
    assert mg.tensor([1.0]).__dlpack_device__() == (KDLCPU, 0)


# -- NumPy ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_numpy_from_dlpack_shares_memory_with_the_tensor(dtype):
    data = values(dtype)
    t = mg.tensor(data)
    a = np.from_dlpack(t)
    assert a.dtype == dtype and a.shape == t.shape
    a[0] = data[1]  # write through NumPy ...
    assert t.data[0] == data[1]  # ... read in minigrad
    t.data[3] = data[0]  # and the other way round
    assert a[3] == data[0]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_minigrad_from_dlpack_shares_memory_with_a_numpy_array(dtype):
    data = values(dtype)
    array = data.copy()
    t = mg.from_dlpack(array)
    assert isinstance(t, mg.Tensor)
    assert t.dtype == dtype and t.shape == array.shape and t.device == "cpu"
    assert t.is_leaf and not t.requires_grad
    array[0] = data[1]
    assert t.data[0] == data[1]
    t.data[3] = data[0]
    assert array[3] == data[0]


def test_shapes_and_strides_survive_the_trip():
    array = np.arange(24.0).reshape(2, 3, 4).transpose(2, 0, 1)[::2]  # a strided view
    t = mg.from_dlpack(array)
    assert t.shape == array.shape
    np.testing.assert_array_equal(t.numpy(), array)
    scalar = mg.from_dlpack(np.array(2.5))
    assert scalar.shape == () and scalar.item() == 2.5


def test_a_tensor_from_dlpack_takes_part_in_autograd():
    t = mg.from_dlpack(np.array([1.0, 2.0, 3.0])).requires_grad_()
    (t * t).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), 2 * t.numpy())


# -- PyTorch -------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_torch_from_dlpack_shares_memory_with_the_tensor(dtype):
    data = values(dtype)
    t = mg.tensor(data)
    theirs = torch.from_dlpack(t)
    assert torch_dtype_name(theirs) == str(dtype) and tuple(theirs.shape) == t.shape
    theirs[0] = bool(data[1]) if dtype == mg.bool_ else data[1].item()
    assert t.data[0] == data[1]
    t.data[3] = data[0]
    assert theirs[3].item() == data[0]


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_minigrad_from_dlpack_shares_memory_with_a_torch_tensor(dtype):
    data = values(dtype)
    theirs = torch.from_numpy(data.copy())
    t = mg.from_dlpack(theirs)
    assert t.dtype == dtype and t.shape == tuple(theirs.shape) and t.device == "cpu"
    theirs[0] = bool(data[1]) if dtype == mg.bool_ else data[1].item()
    assert t.data[0] == data[1]
    t.data[3] = data[0]
    assert theirs[3].item() == data[0]


@needs_torch
def test_a_strided_torch_tensor_keeps_its_layout():
    theirs = torch.arange(12.0).reshape(3, 4).T  # not contiguous
    t = mg.from_dlpack(theirs)
    assert t.shape == (4, 3)
    np.testing.assert_array_equal(t.numpy(), theirs.numpy())
    t.data[1, 2] = -1.0
    assert theirs[1, 2].item() == -1.0


# -- devices -------------------------------------------------------------------------------


def test_from_dlpack_keeps_the_device_and_shares_memory(device):
    t = mg.tensor([1.0, 2.0, 3.0], device=device)
    assert t.__dlpack_device__()[0] == (KDLCPU if device == "cpu" else KDLCUDA)
    u = mg.from_dlpack(t)
    assert u.device == device and u.dtype == t.dtype
    u.data[0] = 7.0
    assert t.numpy()[0] == 7.0
    theirs = backend.array_module_for(device).from_dlpack(t)  # numpy or cupy
    theirs[1] = -2.0
    assert t.numpy()[1] == -2.0


class ForeignDeviceArray:
    """An object living on a device minigrad does not know (kDLOpenCL = 4)."""

    def __init__(self, device_type):
        self.device_type = device_type

    def __dlpack_device__(self):
        return (self.device_type, 0)

    def __dlpack__(self, **kwargs):
        raise AssertionError("from_dlpack must check the device before asking for the data")


@pytest.mark.parametrize("device_type", [4, 7, 8])  # OpenCL, Vulkan, Metal
def test_an_unsupported_device_type_raises_value_error(device_type):
    with pytest.raises(ValueError, match=rf"unsupported DLPack device type {device_type}\b"):
        mg.from_dlpack(ForeignDeviceArray(device_type))


def test_cuda_memory_without_cupy_raises_a_clear_error(monkeypatch):
    monkeypatch.setattr(backend, "_cuda_module", None)
    monkeypatch.setattr(backend, "_cuda_import_error", ImportError("No module named 'cupy'"))
    with pytest.raises(RuntimeError, match="CuPy"):
        mg.from_dlpack(ForeignDeviceArray(KDLCUDA))
