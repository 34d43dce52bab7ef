"""Shared fixtures. Kept minimal on purpose: nothing here is autouse.

``device`` runs a test once per device: "cpu" (NumPy), "standin" (minigrad's "cuda"
path on the strict CPU stand-in of CuPy in ``cupy_standin.py``, so every CI run
exercises it) and "cupy" (real CuPy, only when it imports and sees a GPU). The test
receives the minigrad device string, "cpu" or "cuda". ``cuda_device`` is the same
without the CPU.
"""

from __future__ import annotations

import cupy_standin
import pytest

from minigrad import backend


def _real_cupy():
    """The CuPy module when it imports and sees a GPU; otherwise skip the test."""
    try:
        import cupy
    except Exception as error:  # noqa: BLE001 - ImportError, or a CUDA library missing
        pytest.skip(f"real CuPy not tested: it cannot be imported ({type(error).__name__}: {error})")
    try:
        has_gpu = bool(cupy.cuda.is_available())
    except Exception:  # noqa: BLE001 - a broken driver means no GPU to test on
        has_gpu = False
    if not has_gpu:
        pytest.skip("real CuPy not tested: CuPy imports but sees no CUDA GPU")
    return cupy


def _cuda_backed_by(name: str):
    """Yield "cuda" with minigrad's CuPy being ``name`` ("standin" or "cupy") meanwhile."""
    module = cupy_standin if name == "standin" else _real_cupy()
    previous = (backend._cuda_module, backend._cuda_import_error)
    backend.use_cuda_module(module)
    try:
        yield "cuda"
    finally:  # put back whatever the rest of the test session had
        backend._cuda_module, backend._cuda_import_error = previous


@pytest.fixture(params=["cpu", "standin", "cupy"])
def device(request):
    if request.param == "cpu":
        yield "cpu"
        return
    yield from _cuda_backed_by(request.param)


@pytest.fixture(params=["standin", "cupy"])
def cuda_device(request):
    """``device`` without the CPU: "cuda" on the stand-in, then on real CuPy (skipped
    without a GPU). For tests that make their own CPU reference (the command line's)."""
    yield from _cuda_backed_by(request.param)
