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
"""

from __future__ import annotations

import numpy

DEVICES = ("cpu", "cuda")
INSTALL_HINT = 'install CuPy for CUDA 12 with: pip install "minigrad[gpu]"'

# The CUDA array module once loaded, or the reason it could not be. Tests swap in a
# strict CPU stand-in of CuPy with `use_cuda_module`.
_cuda_module = None
_cuda_import_error: Exception | None = None


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
    """True when CuPy imports and sees at least one CUDA device."""
    cp = _load_cuda_module()
    if cp is None:
        return False
    try:
        return bool(cp.cuda.is_available())
    except Exception:  # noqa: BLE001 - a broken driver means no usable GPU
        return False


def cuda_module():
    """Return the CUDA array module, or raise an error that says what is missing."""
    cp = _load_cuda_module()
    if cp is None:
        raise RuntimeError(
            f"device 'cuda' needs CuPy, which could not be imported "
            f"({type(_cuda_import_error).__name__}: {_cuda_import_error}); {INSTALL_HINT}"
        )
    if not cuda_is_available():
        raise RuntimeError(
            "device 'cuda' was requested and CuPy is installed, but it sees no CUDA GPU "
            "(check the NVIDIA driver with `nvidia-smi`); use device='cpu' instead"
        )
    return cp


def check_device(device) -> str:
    """Normalise a device name; raise ValueError for anything but "cpu" / "cuda"."""
    name = str(device)
    if name.startswith("cuda:"):  # "cuda:0" as in PyTorch; minigrad has one GPU
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
