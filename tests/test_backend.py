"""The backend: device names, what happens without CuPy or without a GPU, lazy import,
and the contract of the CuPy stand-in that the device tests rely on."""

from __future__ import annotations

import operator
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
# The stand-in is strict: each check below is a way NumPy code breaks on a real GPU
# (NumPy functions on device data excepted: CuPy dispatches them, the stand-in insists
# on xp.f). If one of these passed silently, a green device test run would prove nothing.


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
        lambda x, h: x.__setitem__(x > 0, h),  # CuPy would copy h to the GPU
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
    """An op written against minigrad's rule: NumPy called directly on the data. (Real
    CuPy would dispatch np.exp to cupy.exp; the stand-in refuses on purpose, so that
    every device call is spelled xp.f: see its docstring.)"""

    def forward(self, x):
        return np.exp(x)


def test_standin_catches_numpy_only_ops(standin):
    assert NumpyOnlyExp.apply(mg.ones(2)).device == "cpu"  # fine on the CPU...
    with pytest.raises(TypeError):
        NumpyOnlyExp.apply(mg.ones(2, device="cuda"))  # ...refused on the stand-in


# -------------------------------------------------------------------------------------
# As strict as CuPy 14 (issue 15): one test per way the stand-in used to be more lenient
# than CuPy. Each rule was read in CuPy's own source, the 14.0.0 and 14.2.0 sdists from
# PyPI (the file is named in each test). The tests run on the stand-in and, on a machine
# with a GPU, on real CuPy too (``cuda_device``), so a wrong reading shows up there.


@pytest.fixture
def cupy_like(cuda_device):
    """The module behind device "cuda": the stand-in, or real CuPy where a GPU is present."""
    return backend.cuda_module()


@pytest.mark.parametrize("name", ["errstate", "seterr", "einsum_path", "emath", "ma", "asmatrix"])
def test_no_numpy_names_that_cupy_lacks(cupy_like, name):
    # cupy/__init__.py imports none of these and has no module __getattr__ (errstate
    # lives in cupyx); the stand-in used to hand out every NumPy name
    with pytest.raises(AttributeError):
        getattr(cupy_like, name)


@pytest.mark.parametrize(
    "get",
    [
        lambda m: m.linalg,  # CuPy has its own, smaller linalg; minigrad uses none of it
        lambda m: m.add,
        lambda m: m.lib.stride_tricks.sliding_window_view,
        lambda m: m.lib.npyio,
    ],
    ids=["linalg", "add", "sliding_window_view", "lib.npyio"],
)
def test_standin_offers_only_what_minigrad_uses(standin, get):
    # An explicit list: a new name used by minigrad must be added to the stand-in on
    # purpose, after checking that CuPy 14 has it (the test below checks on a GPU)
    with pytest.raises(AttributeError):
        get(standin)


def test_every_standin_name_is_in_cupy():
    cupy = pytest.importorskip("cupy")  # the check needs the real module, not a GPU
    modules = {"annotations", "sys", "numpy"}  # the stand-in's own imports
    names = [name for name in vars(cupy_standin) if not name.startswith("_") and name not in modules]
    missing = [name for name in names if not hasattr(cupy, name)]
    assert not missing, missing
    assert hasattr(cupy.lib.stride_tricks, "as_strided")


def test_version_is_cupys_not_numpys(cupy_like):
    # cupy/__init__.py: __version__ = cupy._version.__version__; metrics.json records it
    assert cupy_like.__version__ != np.__version__
    assert int(cupy_like.__version__.split(".")[0]) >= 14


def test_device_arrays_are_not_python_indices(cupy_like):
    # cupy/_core/core.pyx: ndarray defines __int__, __float__, __complex__, not __index__
    i = cupy_like.asarray(1)
    with pytest.raises(TypeError):
        [10, 20, 30][i]
    with pytest.raises(TypeError):
        operator.index(i)
    assert int(i) == 1  # an explicit conversion still works


@pytest.mark.parametrize(
    "call",
    [
        # what CuPy 14 raises, and where: TypeError from an argument typed ndarray or
        # from _kernel._preprocess_args ("Unsupported type"); AttributeError where
        # CuPy reads an attribute of the argument first
        lambda m, x: m.concatenate([x, [1.0]]),  # _routines_manipulation.pyx: TypeError
        lambda m, x: m.stack([x, [1.0, 2.0]]),  # expand_dims(ndarray a): TypeError
        lambda m, x: m.where([True, False], x, x),  # condition.astype: AttributeError
        lambda m, x: m.where(x > 0, [1.0, 2.0], x),  # the where ufunc: TypeError
        lambda m, x: m.broadcast_to([1.0], (2,)),  # broadcast_to(ndarray array): TypeError
        lambda m, x: m.split([1.0, 2.0], 2),  # ary.ndim: AttributeError
        lambda m, x: m.pad([1.0], 1),  # array.ndim: AttributeError
        lambda m, x: m.clip([1.0], 0, 1),  # a.clip: AttributeError
        lambda m, x: m.zeros_like([1.0]),  # prototype.dtype: AttributeError
        lambda m, x: m.full_like([1.0], 2.0),
        lambda m, x: m.lib.stride_tricks.as_strided([1.0], shape=(1,), strides=(8,)),  # x.shape
        lambda m, x: m.maximum(x, [1.0, 2.0]),  # ufuncs: TypeError
    ],
    ids=[
        "concatenate",
        "stack",
        "where_condition",
        "where_value",
        "broadcast_to",
        "split",
        "pad",
        "clip",
        "zeros_like",
        "full_like",
        "as_strided",
        "maximum",
    ],
)
def test_functions_refuse_lists(cupy_like, call):
    x = cupy_like.asarray([1.0, -2.0])
    with pytest.raises((TypeError, AttributeError)) as error:
        call(cupy_like, x)
    if cupy_like is cupy_standin:  # one kind of error, which names what it got
        assert error.type is TypeError and "list" in str(error.value), error.value
    assert type(cupy_like.asarray([1.0, 2.0])) is type(x)  # creating from a list is what asarray is for


def test_flags_are_cupys(cupy_like):
    # cupy/_core/flags.pyx: c_contiguous, f_contiguous and owndata (also by key) only;
    # core.pyx: owndata is `self.base is None`
    x = cupy_like.arange(6.0)
    flags = x.flags
    assert (flags.c_contiguous, flags.f_contiguous, flags.owndata) == (True, True, True)
    assert flags["OWNDATA"] and not hasattr(flags, "writeable")
    with pytest.raises(KeyError):
        flags["WRITEABLE"]
    assert not x[1:].flags.owndata  # a view has a base
    # cupy/lib/stride_tricks.py builds the view as ndarray(memptr=x.data), with no base:
    # CuPy says it owns its data (NumPy says it does not)
    windows = cupy_like.lib.stride_tricks.as_strided(x, shape=(3, 2), strides=(16, 8))
    assert windows.flags.owndata


def _scatter_sums(xp, values: np.ndarray, times: int) -> list:
    """The float32 sum of ``values`` added into one place by scatter-add, ``times`` times."""
    sums = []
    for _ in range(times):
        target = xp.zeros(1, dtype=np.float32)
        backend.scatter_add(target, xp.zeros(values.size, dtype=np.int64), xp.asarray(values))
        sums.append(float(target[0]))
    return sums


def test_scatter_add_order_is_not_fixed(cupy_like):
    # cupyx/_scatter.py -> _routines_indexing.pyx: one atomicAdd per value, so repeated
    # indices are added in no set order, and float sums differ in the last bits
    rng = np.random.default_rng(0)
    values = (rng.uniform(0.0, 1.0, 2000) * 10.0 ** rng.uniform(-3, 3, 2000)).astype(np.float32)
    sums = _scatter_sums(cupy_like, values, times=20)
    np.testing.assert_allclose(sums, values.astype(np.float64).sum(), rtol=1e-5)
    if cupy_like is cupy_standin:  # a GPU usually varies too, but nothing promises it
        assert len(set(sums)) > 1, sums


@pytest.mark.parametrize("dtype", [np.int8, np.bool_, np.int64])
def test_scatter_add_needs_an_atomic_add_dtype(cupy_like, dtype):
    # _routines_indexing.pyx, _scatter_op_single: "cupy.add.at only supports ..."; int64
    # only from CuPy 14.2 (14.0.0 refuses it), and the stand-in follows the oldest 14
    if dtype is np.int64 and cupy_like is not cupy_standin:
        pytest.skip("int64 depends on the CuPy 14 release")
    target = cupy_like.zeros(3, dtype=dtype)
    with pytest.raises(TypeError, match="only supports"):
        backend.scatter_add(target, cupy_like.asarray([0, 0]), cupy_like.ones(2, dtype=dtype))


def test_dlpack_copy_true_is_a_buffer_error(cupy_like):
    # core.pyx __dlpack__: BufferError("copy=True only supported for copy to CPU.")
    x = cupy_like.ones(2)
    with pytest.raises(BufferError, match="copy=True"):
        x.__dlpack__(copy=True)
    x.__dlpack__(copy=False)  # sharing the memory is what DLPack is for


def test_numpy_0d_arrays_compare_with_device_arrays(cupy_like):
    # core.pyx: __richcmp__ and __array_ufunc__ replace a NumPy 0-d operand of a
    # comparison by its number; in arithmetic _preprocess_args refuses it (TypeError)
    x = cupy_like.asarray([1.0, 3.0])
    limit = np.array(2.0)
    for result in (x < limit, limit > x):
        assert type(result) is type(x)
        np.testing.assert_array_equal(cupy_like.asnumpy(result), [True, False])
    with pytest.raises(TypeError):
        x + limit


def test_setitem_takes_one_host_number(cupy_like):
    # _routines_indexing.pyx _scatter_op: with ints and slices, a value that is not a
    # device array goes to x.fill(), which takes one number (a 0-d array is one)
    x = cupy_like.zeros(3)
    x[0] = np.array(5.0)
    x[1:] = np.float32(2.0)
    np.testing.assert_array_equal(cupy_like.asnumpy(x), [5.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="non-scalar"):
        x[1:] = np.ones(2)
