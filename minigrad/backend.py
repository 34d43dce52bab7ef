"""Array backends: NumPy on the CPU, CuPy on a CUDA GPU.

This is the only module that imports CuPy. Everything else asks it two questions:

* ``get_array_module(array)`` -> ``numpy`` or ``cupy``: the module whose functions
  work on that array. Ops write ``xp = get_array_module(x)`` and then ``xp.exp(x)``,
  so one piece of code runs on both devices.
* ``to_device(array, device)``: copy an array to ``"cpu"`` or ``"cuda"``.

CuPy is imported lazily, the first time a ``"cuda"`` array is asked for, so that
``import minigrad`` stays fast and works on machines without a GPU. If the import
fails we keep the original error and show it when a GPU is requested (as Chainer
does), because "No module named cupy" and "libcudart.so not found" need different
fixes.

A GPU is usable only when CuPy can run a kernel on it: CuPy compiles its kernels
at run time (with NVRTC, from the CUDA toolkit), so an import that works and a GPU
that CuPy sees are not enough. ``cuda_is_available()`` therefore runs one tiny
kernel, once, and keeps the reason when it fails (see ``why_cuda_is_unavailable``).
"""

from __future__ import annotations

import numpy

DEVICES = ("cpu", "cuda")
# The fixes that the error messages name. The gpu extra installs "cupy-cuda12x[ctk]":
# CuPy with the CUDA libraries it needs (NVRTC, cuBLAS, ...) from PyPI.
INSTALL_HINT = 'install CuPy for CUDA 12 with: pip install "minigrad[gpu]"'
DRIVER_HINT = "check the NVIDIA driver with `nvidia-smi`"
TOOLKIT_HINT = (
    'install CuPy with the CUDA libraries it needs: pip install "minigrad[gpu]", or update the '
    "NVIDIA driver if the CUDA version that `nvidia-smi` shows is older than those libraries"
)

# The CUDA array module once loaded, or the reason it could not be. Tests swap in a
# strict CPU stand-in of CuPy with `use_cuda_module`.
_cuda_module = None
_cuda_import_error: Exception | None = None
# What the kernel test found, for the module it tested: (module, None or the reason).
_cuda_check: tuple | None = None


def use_cuda_module(module) -> None:
    """Use ``module`` (CuPy, or a stand-in with CuPy's contract) for device "cuda".

    Pass ``None`` to forget it, so the next use imports CuPy again.
    """
    global _cuda_module, _cuda_import_error
    _cuda_module = module
    _cuda_import_error = None


def _load_cuda_module():
    """Import CuPy once; return it or None (keeping the import error)."""
    global _cuda_module, _cuda_import_error
    if _cuda_module is None and _cuda_import_error is None:
        try:
            import cupy  # lazy on purpose, see the module docstring

            _cuda_module = cupy
        except Exception as error:  # noqa: BLE001 - ImportError, or a broken CUDA install
            _cuda_import_error = error
    return _cuda_module


def cuda_is_available() -> bool:
    """True when CuPy imports, sees a CUDA GPU and can run a kernel on it.

    The first call runs one tiny kernel (it starts CUDA on the GPU and may take a
    second); the answer is kept. ``why_cuda_is_unavailable()`` says what is wrong.
    """
    return why_cuda_is_unavailable() is None


def why_cuda_is_unavailable() -> str | None:
    """None when device "cuda" can be used; else one line that says what is missing
    and how to fix it: CuPy (install it), a GPU (the driver), or a working CUDA toolkit."""
    global _cuda_check
    cp = _load_cuda_module()
    if cp is None:
        error = _cuda_import_error
        if isinstance(error, ModuleNotFoundError) and error.name == "cupy":
            return f"CuPy is not installed ({_one_line(error)}); {INSTALL_HINT}"
        return f"CuPy is installed but could not be imported ({_one_line(error)}); {DRIVER_HINT}, or {INSTALL_HINT}"
    if _cuda_check is None or _cuda_check[0] is not cp:  # asked once per module
        _cuda_check = (cp, _run_a_kernel(cp))
    return _cuda_check[1]


def _run_a_kernel(cp) -> str | None:
    """Ask CuPy for a GPU, then compute 2 * [0, 1, 2] on it; None when that works.

    Each CUDA failure surfaces at its own place: no driver or no GPU in
    ``is_available()`` (which may also raise), a missing or broken toolkit at the first
    kernel (CompileException, or libnvrtc not found), a driver older than the toolkit
    at the first kernel or allocation (CUDARuntimeError, or CUDADriverError
    CUDA_ERROR_UNSUPPORTED_PTX_VERSION when it loads the compiled kernel). ``.get()`` waits for the
    kernel to finish, so an error that the GPU reports late is caught here too.
    """
    try:
        if not cp.cuda.is_available():
            return f"CuPy is installed, but it sees no CUDA GPU; {DRIVER_HINT}"
    except Exception as error:  # noqa: BLE001 - a broken driver means no usable GPU
        return f"CuPy is installed, but it sees no CUDA GPU ({_one_line(error)}); {DRIVER_HINT}"
    try:
        result = (cp.arange(3, dtype="float32") * 2).get().tolist()
    except Exception as error:  # noqa: BLE001 - whatever CUDA raises, the GPU cannot be used
        return f"CuPy sees a GPU but cannot run a kernel on it ({_one_line(error)}); {TOOLKIT_HINT}"
    if result != [0.0, 2.0, 4.0]:
        return f"CuPy ran a test kernel on the GPU but got a wrong result ({result}); {TOOLKIT_HINT}"
    return None


def _one_line(error: Exception) -> str:
    """``Name: message`` on one line. A compiler's log or CuPy's import error runs to
    many lines: keep the first that says something (it names the problem) and the last
    (CuPy ends with the original error)."""
    lines = [line.strip() for line in str(error).splitlines() if any(c.isalpha() for c in line)]
    if not lines:
        return type(error).__name__
    first, last = lines[0], lines[-1]
    return f"{type(error).__name__}: {first}" + ("" if last == first else f" ... {last}")


def cuda_module():
    """Return the CUDA array module, or raise a RuntimeError that says what is missing."""
    why = why_cuda_is_unavailable()
    if why is not None:
        raise RuntimeError(f"device 'cuda' cannot be used: {why}; or use device='cpu'")
    return _cuda_module


def check_device(device) -> str:
    """Normalise a device name to "cpu" or "cuda"; raise ValueError for anything else.

    minigrad uses one GPU: CuPy's current device, the first one CUDA shows unless the
    program chose another. PyTorch's spelling "cuda:0" is accepted for it; "cuda:1"
    is refused rather than silently mapped to that GPU. Running on another GPU would
    mean every array remembering its GPU, and every op, transfer and new array
    running inside ``cupy.cuda.Device(i)``: far more than this backend should hold.
    To use another GPU, show only that one to the process (``CUDA_VISIBLE_DEVICES=1``).
    """
    name = str(device)
    kind, colon, index = name.partition(":")
    if kind == "cuda" and colon and index.isdecimal():
        if int(index) != 0:
            raise ValueError(
                f"device {name!r} is not supported: minigrad uses one GPU, 'cuda' (also 'cuda:0'); to run on "
                f"GPU {int(index)}, make it the only one the process sees: CUDA_VISIBLE_DEVICES={int(index)}"
            )
        name = "cuda"
    if name not in DEVICES:
        raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")
    return name


def cuda_loaded() -> bool:
    """Has a CUDA array module been loaded? If not, every array is on the CPU."""
    return _cuda_module is not None


def is_cuda_array(array) -> bool:
    return _cuda_module is not None and isinstance(array, _cuda_module.ndarray)


def get_array_module(array):
    """``numpy`` for NumPy arrays (and scalars), the CUDA module for CUDA arrays."""
    return _cuda_module if is_cuda_array(array) else numpy


def device_of(array) -> str:
    return "cuda" if is_cuda_array(array) else "cpu"


def to_device(array, device: str):
    """Return ``array`` on ``device`` (the same object when it is already there)."""
    device = check_device(device)
    if device == device_of(array):
        return array
    if device == "cuda":
        return cuda_module().asarray(array)
    return _cuda_module.asnumpy(array)


def to_numpy(array) -> numpy.ndarray:
    """A host NumPy array with the contents of ``array`` (copies from the GPU)."""
    return _cuda_module.asnumpy(array) if is_cuda_array(array) else numpy.asarray(array)


def array_module_for(device: str):
    device = check_device(device)
    return cuda_module() if device == "cuda" else numpy


def scatter_add(target, indices, values) -> None:
    """``target[indices] += values`` where repeated indices all add up (in place).

    Plain ``target[indices] += values`` keeps only one of the repeated updates;
    NumPy has ``np.add.at`` for this and CuPy ``cupyx.scatter_add``.
    """
    if is_cuda_array(target):
        scatter = getattr(_cuda_module, "_scatter_add", None)  # a stand-in's version
        if scatter is None:
            import cupyx  # lazy: only on a real GPU

            scatter = cupyx.scatter_add
        scatter(target, indices, values)
    else:
        numpy.add.at(target, indices, values)
