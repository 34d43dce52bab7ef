"""Setting up the GPU: is it usable, what the error says when it is not, which device
names are accepted, and the GPU check script (benchmarks/gpu_check.sh) with the timings
it prints (benchmarks/gpu_times.py).

A CUDA setup can fail at three depths, and each needs another fix: CuPy is not
installed (install the gpu extra), CuPy sees no GPU (the NVIDIA driver), or CuPy sees a
GPU but cannot run a kernel (its CUDA toolkit is missing or does not fit the driver).
The last one used to pass ``cuda_is_available()`` and fail at the first op; here fake
``cupy`` modules fail the way CuPy does, without a GPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import cupy_standin
import numpy as np
import pytest
from helpers import run_minigrad as run

import minigrad as mg
from minigrad import backend, cli

ROOT = Path(__file__).resolve().parent.parent
GPU_CHECK = ROOT / "benchmarks" / "gpu_check.sh"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# after ROOT is on the path:
from benchmarks import gpu_times, workloads

# -------------------------------------------------------------------------------------
# Fake CuPy modules: each fails (or works) where the real one does


class CompileException(Exception):
    """Named as ``cupy.cuda.compiler.CompileException``: NVRTC could not compile a kernel."""


class CUDARuntimeError(RuntimeError):
    """Named as ``cupy_backends.cuda.api.runtime.CUDARuntimeError``."""


class CUDADriverError(RuntimeError):
    """Named as ``cupy_backends.cuda.api.driver.CUDADriverError``."""


# What CuPy raises at its first kernel when the toolkit or the driver is wrong. A compile
# error carries the compiler's log: several lines.
KERNEL_ERRORS = {
    "compile_error": CompileException(
        "/tmp/tmpab12/kern.cu(8): catastrophic error: cannot open source file \"cuda_fp16.h\"\n"
        "  #include <cuda_fp16.h>\n                         ^\n\n1 catastrophic error detected"
    ),
    "no_libnvrtc": RuntimeError(
        "CuPy failed to load libnvrtc.so.12: OSError: libnvrtc.so.12: cannot open shared object file: "
        "No such file or directory"
    ),
    "old_driver": CUDARuntimeError(
        "cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version"
    ),
    "driver_older_than_nvrtc": CUDADriverError(
        "CUDA_ERROR_UNSUPPORTED_PTX_VERSION: the provided PTX was compiled with an unsupported toolchain."
    ),
}


class FakeDeviceArray:
    def __init__(self, values: np.ndarray):
        self.values = values

    def __mul__(self, other):
        return FakeDeviceArray(self.values * other)

    def get(self) -> np.ndarray:
        return self.values.copy()


def fake_cupy(gpu_seen=True, kernel_error: Exception | None = None, wrong_result=False):
    """A ``cupy`` module whose ``cuda.is_available()`` answers ``gpu_seen`` and whose
    kernels raise ``kernel_error`` (or compute garbage with ``wrong_result``).
    ``module.kernels`` counts the kernels launched."""
    module = types.ModuleType("cupy")
    module.ndarray = FakeDeviceArray
    module.kernels = 0
    module.cuda = types.SimpleNamespace(is_available=lambda: gpu_seen)

    def arange(*args, **kwargs):
        module.kernels += 1
        if kernel_error is not None:
            raise kernel_error
        values = np.arange(*args, **kwargs)
        return FakeDeviceArray(np.zeros_like(values) if wrong_result else values)

    module.arange = arange
    return module


@pytest.fixture
def fresh_backend(monkeypatch):
    """The backend as in a new process: CuPy not imported, nothing checked yet (the
    module's state is restored afterwards)."""
    monkeypatch.setattr(backend, "_cuda_module", None)
    monkeypatch.setattr(backend, "_cuda_import_error", None)
    monkeypatch.setattr(backend, "_cuda_check", None)


def install_cupy(monkeypatch, module) -> None:
    """Make ``import cupy`` return ``module`` (None: make it fail)."""
    monkeypatch.setitem(sys.modules, "cupy", module)


# -------------------------------------------------------------------------------------
# cuda_is_available() runs a kernel


@pytest.mark.parametrize("error", KERNEL_ERRORS.values(), ids=KERNEL_ERRORS.keys())
def test_a_gpu_that_cannot_run_a_kernel_is_not_available(fresh_backend, monkeypatch, error):
    install_cupy(monkeypatch, fake_cupy(kernel_error=error))
    assert mg.cuda_is_available() is False
    with pytest.raises(RuntimeError) as raised:
        mg.zeros(2, device="cuda")
    message = str(raised.value)
    assert "\n" not in message, message  # the compiler's log is cut to one line
    first_line = str(error).splitlines()[0]
    assert f"{type(error).__name__}: {first_line}" in message, message
    assert "cannot run a kernel" in message, message
    # the two fixes: the toolkit that the gpu extra brings, and the driver
    assert 'pip install "minigrad[gpu]"' in message and "driver" in message, message


def test_a_kernel_with_a_wrong_result_is_not_available(fresh_backend, monkeypatch):
    install_cupy(monkeypatch, fake_cupy(wrong_result=True))
    assert mg.cuda_is_available() is False
    assert "wrong result" in backend.why_cuda_is_unavailable()


def test_a_working_gpu_is_available(fresh_backend, monkeypatch):
    cupy = fake_cupy()
    install_cupy(monkeypatch, cupy)
    assert mg.cuda_is_available() is True
    assert backend.why_cuda_is_unavailable() is None
    assert cupy.kernels == 1


def test_no_gpu_is_found_without_running_a_kernel(fresh_backend, monkeypatch):
    cupy = fake_cupy(gpu_seen=False)
    install_cupy(monkeypatch, cupy)
    assert mg.cuda_is_available() is False
    assert "sees no CUDA GPU" in backend.why_cuda_is_unavailable()
    assert cupy.kernels == 0


@pytest.mark.parametrize("make", [lambda: fake_cupy(), lambda: fake_cupy(kernel_error=KERNEL_ERRORS["old_driver"])],
                         ids=["works", "broken"])
def test_the_answer_is_kept(fresh_backend, monkeypatch, make):
    cupy = make()
    install_cupy(monkeypatch, cupy)
    answers = {mg.cuda_is_available() for _ in range(3)}
    assert len(answers) == 1 and cupy.kernels == 1  # one kernel, however often it is asked


def test_another_module_is_checked_again(fresh_backend, monkeypatch):
    """The answer belongs to one module: swapping in another (as the tests do) asks again."""
    backend.use_cuda_module(fake_cupy(kernel_error=KERNEL_ERRORS["compile_error"]))
    assert mg.cuda_is_available() is False
    backend.use_cuda_module(cupy_standin)
    assert mg.cuda_is_available() is True


# -------------------------------------------------------------------------------------
# The CLI's --device cuda: one line that says what is missing and how to fix it




def _train_on_cuda(tmp_path) -> tuple[int, str]:
    code, stdout, stderr = run("train", "--device", "cuda", "--out", tmp_path / "run")
    assert stdout == ""  # stopped before any data was loaded
    return code, stderr


@pytest.mark.parametrize("error", KERNEL_ERRORS.values(), ids=KERNEL_ERRORS.keys())
def test_cli_with_a_broken_toolkit(fresh_backend, monkeypatch, tmp_path, error):
    install_cupy(monkeypatch, fake_cupy(kernel_error=error))
    code, stderr = _train_on_cuda(tmp_path)
    assert code == cli.EXIT_UNAVAILABLE
    assert stderr.count("\n") == 1 and stderr.startswith("minigrad train: error: "), stderr
    assert type(error).__name__ in stderr and 'pip install "minigrad[gpu]"' in stderr, stderr
    assert "driver" in stderr and "--device cpu" in stderr, stderr
    assert not (tmp_path / "run").exists()


CUPY_IMPORT_ERROR = """
================================================================
Failed to import CuPy.

If you installed CuPy via wheels (cupy-cudaXXX or cupy-rocm-X-X), make sure that the package matches
with the version of CUDA or ROCm installed.

Original error:
  ImportError: libcuda.so.1: cannot open shared object file: No such file or directory
================================================================
"""


def test_cli_with_cupy_that_cannot_load_cuda(fresh_backend, monkeypatch, tmp_path):
    """CuPy installed, the driver's libcuda missing: CuPy's own error runs to a dozen
    lines; the message keeps its first and its last (the original error) on one."""
    package = tmp_path / "site" / "cupy"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"raise ImportError({CUPY_IMPORT_ERROR!r})\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    code, stderr = _train_on_cuda(tmp_path)
    assert code == cli.EXIT_UNAVAILABLE and stderr.count("\n") == 1, stderr
    assert "ImportError: Failed to import CuPy. ... ImportError: libcuda.so.1: cannot open" in stderr, stderr
    assert "nvidia-smi" in stderr and 'pip install "minigrad[gpu]"' in stderr, stderr


@pytest.mark.parametrize(
    ("cupy", "expected"),
    [(None, 'pip install "minigrad[gpu]"'), (fake_cupy(gpu_seen=False), "nvidia-smi")],
    ids=["no_cupy", "no_gpu"],
)
def test_cli_without_cupy_or_gpu(fresh_backend, monkeypatch, tmp_path, cupy, expected):
    install_cupy(monkeypatch, cupy)
    code, stderr = _train_on_cuda(tmp_path)
    assert code == cli.EXIT_UNAVAILABLE
    assert stderr.count("\n") == 1 and expected in stderr and "--device cpu" in stderr, stderr


def test_cli_compare_checks_the_gpu_too(fresh_backend, monkeypatch, tmp_path):
    install_cupy(monkeypatch, fake_cupy(kernel_error=KERNEL_ERRORS["no_libnvrtc"]))
    code, stdout, stderr = run("compare", "--device", "cuda", "--out", tmp_path / "cmp")
    assert code == cli.EXIT_UNAVAILABLE and stdout == ""
    assert stderr.startswith("minigrad compare: error: ") and "libnvrtc" in stderr, stderr


# -------------------------------------------------------------------------------------
# Device names: one GPU, "cuda" (or "cuda:0"); another index is refused, not ignored


@pytest.fixture
def standin(monkeypatch):
    """Device "cuda" backed by the stand-in for this test only."""
    monkeypatch.setattr(backend, "_cuda_module", None)
    monkeypatch.setattr(backend, "_cuda_import_error", None)
    monkeypatch.setattr(backend, "_cuda_check", None)
    backend.use_cuda_module(cupy_standin)


@pytest.mark.parametrize("name", ["cuda:1", "cuda:7"])
@pytest.mark.parametrize(
    "make",
    [
        lambda name: backend.check_device(name),
        lambda name: mg.zeros(2, device=name),
        lambda name: mg.tensor([1.0]).to(name),
        lambda name: mg.layers.Linear(2, 2).to(name),
    ],
    ids=["check_device", "zeros", "Tensor.to", "Module.to"],
)
def test_another_gpu_index_is_refused(standin, make, name):
    with pytest.raises(ValueError) as raised:
        make(name)
    message = str(raised.value)
    assert f"'{name}'" in message and "CUDA_VISIBLE_DEVICES" in message, message


def test_cuda_0_is_the_gpu(standin):
    assert backend.check_device("cuda:0") == "cuda"
    assert mg.zeros(2, device="cuda:0").device == "cuda"


@pytest.mark.parametrize("name", ["cuda:", "cuda:x", "cuda:-1", "cuda:0:0"])
def test_malformed_gpu_names_are_unknown(name):
    with pytest.raises(ValueError, match="unknown device"):
        backend.check_device(name)


# -------------------------------------------------------------------------------------
# benchmarks/gpu_check.sh


def test_gpu_check_is_valid_bash():
    result = subprocess.run(["bash", "-n", str(GPU_CHECK)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def _run_gpu_check(tmp_path, path: str) -> subprocess.CompletedProcess:
    """The script with PATH=path. Were the GPU test wrong, it would go on to make a venv:
    that goes to tmp_path, and the timeout stops it."""
    environment = {**os.environ, "PATH": path, "GPU_CHECK_VENV": str(tmp_path / "venv")}
    return subprocess.run(["/bin/bash", str(GPU_CHECK)], capture_output=True, text=True, env=environment,
                          timeout=60, check=False)


def test_gpu_check_without_nvidia_smi_says_no_gpu(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    result = _run_gpu_check(tmp_path, str(empty))  # no nvidia-smi anywhere on PATH
    assert result.returncode == 0, result.stderr
    assert "no GPU" in result.stdout and result.stderr == ""
    assert not (tmp_path / "venv").exists()


def test_gpu_check_with_a_failing_nvidia_smi_says_no_gpu(tmp_path):
    """nvidia-smi installed but no driver loaded (exit 9): no GPU either."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA "
                    "driver.\" >&2\nexit 9\n")
    fake.chmod(0o755)
    result = _run_gpu_check(tmp_path, f"{bin_dir}:{os.environ['PATH']}")
    assert result.returncode == 0, result.stderr
    assert "no GPU" in result.stdout
    assert not (tmp_path / "venv").exists()


# -------------------------------------------------------------------------------------
# benchmarks/gpu_times.py: the workloads' training step on each device


@pytest.mark.parametrize("name", workloads.WORKLOADS)
def test_gpu_times_trains_each_workload_on_the_device(standin, name):
    """On the strict stand-in: the model and its batch really live on "cuda" (a host
    array slipping in would raise), and a step returns the loss as a float."""
    workload = workloads.WORKLOADS[name]
    images, labels = gpu_times.stand_in_images(workload.batch_size)
    model, step = gpu_times.training_step(workload, "cuda", images, labels)
    before = [p.numpy().copy() for p in model.parameters()]
    losses = [step() for _ in range(2)]
    assert all(isinstance(loss, float) and np.isfinite(loss) for loss in losses), losses
    assert all(p.device == "cuda" for p in model.parameters())
    assert all((p.numpy() != old).any() for p, old in zip(model.parameters(), before))  # RMSprop stepped


def test_gpu_times_table():
    rows = [("CNN epoch (s)", 2.0, 8.0), ("mlp step (ms)", 1.5, "failed (RuntimeError)")]
    lines = gpu_times.format_table(rows).splitlines()
    assert lines[0] == "| what | cuda | cpu | cpu / cuda |"
    assert lines[2] == "| CNN epoch (s) | 2.00 | 8.00 | 4.0x |"
    assert lines[3] == "| mlp step (ms) | 1.50 | failed (RuntimeError) | - |"
