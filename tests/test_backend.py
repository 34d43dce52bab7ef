"""The backend: device names, what happens without CuPy or without a GPU, lazy import,
and the contract of the CuPy stand-in that the device tests rely on."""

from __future__ import annotations

import os
import subprocess
import sys
import types

import cupy_standin
import numpy as np
import pytest

import minigrad as mg
from minigrad import backend
from minigrad.autograd import Function

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def fresh_backend(monkeypatch):
    """The backend as in a new process: CuPy not imported yet (restored afterwards)."""
    monkeypatch.setattr(backend, "_cuda_module", None)
    monkeypatch.setattr(backend, "_cuda_import_error", None)


@pytest.fixture
def standin(monkeypatch):
    """Device "cuda" backed by the stand-in for this test only."""
    monkeypatch.setattr(backend, "_cuda_module", None)
    monkeypatch.setattr(backend, "_cuda_import_error", None)
    backend.use_cuda_module(cupy_standin)
    return cupy_standin


# -------------------------------------------------------------------------------------
# Device names


@pytest.mark.parametrize(
    "make",
    [
        lambda: mg.zeros(2, device="gpu"),
        lambda: mg.tensor([1.0], device="CUDA"),
        lambda: mg.tensor([1.0]).to("tpu"),
        lambda: mg.arange(3, device="cuda0"),
    ],
    ids=["zeros", "tensor", "to", "arange"],
)
def test_unknown_device_is_a_value_error(make):
    with pytest.raises(ValueError, match="unknown device .*expected 'cpu' or 'cuda'"):
        make()


def test_device_names():
    assert backend.check_device("cpu") == "cpu"
    assert backend.check_device("cuda") == "cuda"
    assert backend.check_device("cuda:0") == "cuda"  # PyTorch's spelling of the one GPU
    assert mg.zeros(1).device == "cpu"


# -------------------------------------------------------------------------------------
# Asking for the GPU when it cannot be had


def test_cuda_without_cupy_says_how_to_install(fresh_backend, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    assert mg.cuda_is_available() is False
    for make in (lambda: mg.zeros(2, device="cuda"), lambda: mg.tensor([1.0]).to("cuda")):
        with pytest.raises(RuntimeError) as error:
            make()
        message = str(error.value)
        assert "CuPy" in message and 'pip install "minigrad[gpu]"' in message, message
        assert "import of cupy halted" in message  # the original import error is shown


def _fake_cupy(is_available):
    fake = types.ModuleType("cupy")
    fake.ndarray = type("ndarray", (), {})
    fake.cuda = types.SimpleNamespace(is_available=is_available)
    return fake


def _broken_driver():
    raise OSError("CUDA driver version is insufficient for CUDA runtime version")


@pytest.mark.parametrize("is_available", [lambda: False, _broken_driver], ids=["no_gpu", "broken_driver"])
def test_cupy_without_gpu_says_no_gpu(fresh_backend, monkeypatch, is_available):
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(is_available))
    assert mg.cuda_is_available() is False
    with pytest.raises(RuntimeError, match="sees no CUDA GPU") as error:
        mg.ones(2, device="cuda")
    assert "pip install" not in str(error.value)  # CuPy is there; installing it again won't help


def _machine_has_gpu() -> bool:
    try:
        import cupy

        return bool(cupy.cuda.is_available())
    except Exception:  # noqa: BLE001 - not importable, or a broken driver: no GPU
        return False


def test_cuda_is_available_reports_the_machine(fresh_backend):
    # False on a machine without CuPy or a GPU (CI); True only with both
    assert mg.cuda_is_available() is _machine_has_gpu()


def test_cuda_is_available_with_the_standin(standin):
    assert mg.cuda_is_available() is True


def test_use_cuda_module_none_forgets(standin):
    backend.use_cuda_module(None)
    assert backend._cuda_module is None and backend._cuda_import_error is None


def test_import_minigrad_does_not_import_cupy(tmp_path):
    # A `cupy` that fails loudly if imported, placed first on the path: `import minigrad`
    # must not touch it (nor cupyx); CuPy is imported only when a GPU is asked for.
    for name in ("cupy", "cupyx"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise AssertionError('{name} was imported')\n")
    code = (
        "import importlib.util, sys\n"
        "assert importlib.util.find_spec('cupy') is not None\n"
        "import minigrad, minigrad.functional\n"
        "x = minigrad.tensor([1.0, 2.0], requires_grad=True)\n"
        "(x * x).sum().backward()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('cupy', 'cupyx'))\n"
        "assert not loaded, loaded\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), REPO]))
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr


# -------------------------------------------------------------------------------------
# The stand-in is strict: each check below is a way NumPy code breaks on a real GPU.
# If one of these passed silently, a green device test run would prove nothing.


def test_standin_refuses_implicit_conversion(standin):
    x = standin.asarray([1.0, 2.0])
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(x)
    with pytest.raises(TypeError):
        np.array([x, x])


@pytest.mark.parametrize(
    "call",
    [
        lambda x: np.exp(x),
        lambda x: np.maximum(x, 0),
        lambda x: np.pad(x, 1),
        lambda x: np.concatenate([x, x]),
        lambda x: np.where(x > 0, x, 0),
        lambda x: np.add.at(x, [0], 1.0),
        lambda x: np.from_dlpack(x),
    ],
    ids=["exp", "maximum", "pad", "concatenate", "where", "add.at", "from_dlpack"],
)
def test_standin_refuses_numpy_functions(standin, call):
    with pytest.raises((TypeError, ValueError, BufferError)):
        call(standin.asarray([1.0, -2.0]))


@pytest.mark.parametrize(
    "call",
    [
        lambda x, h: x + h,
        lambda x, h: h * x,
        lambda x, h: x < h,
        lambda x, h: h == x,
        lambda x, h: x.__iadd__(h),
        lambda x, h: x @ h,
        lambda x, h: x[h.astype(np.int64)],
        lambda x, h: x.__setitem__(slice(None), h),
        lambda x, h: cupy_standin.concatenate([x, h]),
        lambda x, h: cupy_standin.exp(h),
        lambda x, h: cupy_standin.where(x > 0, h, x),
        lambda x, h: cupy_standin._scatter_add(x, h.astype(np.int64), 1.0),
    ],
    ids=[
        "add",
        "rmul",
        "lt",
        "req",
        "iadd",
        "matmul",
        "index",
        "setitem",
        "concatenate",
        "exp",
        "where",
        "scatter",
    ],
)
def test_standin_refuses_host_arrays(standin, call):
    with pytest.raises(TypeError, match="numpy.ndarray"):
        call(standin.asarray([1.0, 0.0]), np.array([1.0, 0.0]))


def test_standin_accepts_scalars_and_returns_device_arrays(standin):
    x = standin.asarray(np.arange(4, dtype=np.float32))
    y = 2 * x + np.float32(1) - x**2.0 / 3
    assert type(y) is standin.ndarray and y.dtype == np.float32
    total = y.sum()
    assert type(total) is standin.ndarray and total.shape == ()  # not a NumPy scalar
    assert type(x[0]) is standin.ndarray
    assert float(total) == pytest.approx(float(y.get().sum()))
    assert standin.get_array_module(x) is standin and standin.get_array_module(1.0) is np
    assert standin.float32 is np.float32 and standin.cuda.is_available()


def test_standin_transfers_copy(standin):
    host = np.zeros(3)
    device = standin.asarray(host)
    device[0] = 5.0
    assert host[0] == 0.0  # host -> device is a copy
    back = standin.asnumpy(device)
    back[1] = 7.0
    assert device.get()[1] == 0.0  # device -> host is a copy
    assert type(device.get()) is np.ndarray and standin.asnumpy(host) is host


def test_standin_dlpack(standin):
    x = standin.asarray([1.0, 2.0])
    assert x.__dlpack_device__() == (2, 0)  # reports CUDA memory, as CuPy does
    shared = standin.from_dlpack(x)
    shared[0] = 9.0
    assert float(x[0]) == 9.0
    with pytest.raises(BufferError):
        standin.from_dlpack(np.ones(2))  # host memory is not device memory


def test_standin_views_and_scatter(standin):
    x = standin.arange(6.0)
    windows = standin.lib.stride_tricks.as_strided(x, shape=(3, 2), strides=(16, 8))
    np.testing.assert_array_equal(windows.get(), [[0, 1], [2, 3], [4, 5]])
    windows[0, 0] = 10.0  # a view of x's memory, as in CuPy
    assert float(x[0]) == 10.0
    target = standin.zeros(3)
    standin._scatter_add(target, standin.asarray([0, 2, 2]), standin.asarray([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(target.get(), [1.0, 0.0, 5.0])  # repeats add up


def test_standin_has_no_unknown_attributes(standin):
    x = standin.ones(2)
    with pytest.raises(AttributeError):
        x.ctypes  # noqa: B018
    with pytest.raises(AttributeError):
        standin.random  # noqa: B018 - CuPy's random module differs from NumPy's


class NumpyOnlyExp(Function):
    """An op written the wrong way: NumPy called directly on the data."""

    def forward(self, x):
        return np.exp(x)


def test_standin_catches_numpy_only_ops(standin):
    assert NumpyOnlyExp.apply(mg.ones(2)).device == "cpu"  # fine on the CPU...
    with pytest.raises(TypeError):
        NumpyOnlyExp.apply(mg.ones(2, device="cuda"))  # ...caught before it reaches a GPU
