"""What every measuring child shares: the pool of batches it trains on, PyTorch's
thread count, its memory (RSS, page faults), the BLAS it actually ran with, and the
tiny-op chain of the engine-overhead rows.

NumPy and the frameworks are imported inside the functions, never at the top: the
parent imports this module (through separate.py and interleaved.py) and must stay
free of them, and a child imports them only after the parent has set the thread
variables in its environment.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

POOL_IMAGES = 1024  # distinct real images the batches cycle through (8 batches of 128)
# The engine-overhead chain y <- tanh(y * w + b): tensors of this shape, this many links a chain.
ENGINE_SHAPE = (8, 32)
ENGINE_LINKS, ENGINE_LINKS_QUICK = 1000, 200


# -------------------------------------------------------------------------------------
# The data and the threads


def write_batch_pool(spec: dict) -> dict:
    """The first POOL_IMAGES training images and labels of Fashion-MNIST, found by
    ``minigrad.datasets.fashion_mnist``, saved for the measuring children: they load
    1 MB instead of the whole data set, which keeps the data set's own memory out of
    their peak RSS."""
    import numpy

    from minigrad.datasets import fashion_mnist

    images, labels = fashion_mnist(train=True, root=spec["data_dir"])
    numpy.savez(spec["out"], images=images[:POOL_IMAGES], labels=labels[:POOL_IMAGES])
    return {"images": POOL_IMAGES, "numpy": numpy.__version__}


def workload_and_batches(spec: dict) -> tuple:
    """The workload named ``spec["workload"]`` and its batches, cut from the pool the
    parent wrote (``spec["data"]``)."""
    import numpy

    from .workloads import WORKLOADS, batches

    workload = WORKLOADS[spec["workload"]]
    with numpy.load(spec["data"]) as pool:
        images, labels = pool["images"], pool["labels"]
    return workload, batches(workload, images, labels)


def set_torch_threads(names: list, threads: int) -> None:
    """PyTorch sizes its own thread pool (the environment variables alone do not)."""
    if "pytorch" in names:
        import torch

        torch.set_num_threads(threads)


# -------------------------------------------------------------------------------------
# Memory


def current_rss_mb() -> float:
    """The resident set size now (Linux: /proc/self/statm), or the peak where unknown."""
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()


def maxrss_mb() -> float:
    """``resource.getrusage(RUSAGE_SELF).ru_maxrss``: KiB on Linux, bytes on macOS. On
    Linux it includes the RSS of the parent at the time of the fork, which is why the
    parent of this runner stays small."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM of /proc/self/status on Linux (the high-water
    mark of this program's memory alone, reset by exec), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10  # reported in kB
    except (OSError, ValueError, IndexError):
        pass
    return maxrss_mb()


def minor_page_faults() -> int:
    """This process's minor page faults so far (``ru_minflt``)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


# -------------------------------------------------------------------------------------
# The BLAS


def blas_info(implementation: str) -> dict:
    """Which BLAS / OpenMP libraries are loaded and with how many threads (threadpoolctl
    when installed; otherwise what NumPy was built with)."""
    import numpy

    info: dict = {"pools": []}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        keys = ("user_api", "internal_api", "version", "num_threads", "architecture", "threading_layer", "prefix")
        info["pools"] = [{key: pool.get(key) for key in keys} for pool in threadpool_info()]
    try:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["numpy_blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # noqa: BLE001 - only a description; older NumPy has no mode="dicts"
        info["numpy_blas"] = None
    if implementation == "pytorch":
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["torch_mkl"] = bool(torch.backends.mkl.is_available())
    return info


def threads_seen(blas: dict) -> list:
    """The distinct thread counts of the BLAS pools (empty when threadpoolctl is missing)."""
    counts = {pool["num_threads"] for pool in blas["pools"] if pool.get("user_api") == "blas"}
    if blas.get("torch_threads") is not None:
        counts.add(blas["torch_threads"])
    return sorted(counts)


# -------------------------------------------------------------------------------------
# The engine's overhead


def engine_links(quick: bool) -> int:
    """Links a tiny-op chain has: ENGINE_LINKS, or ENGINE_LINKS_QUICK for a smoke run."""
    return ENGINE_LINKS_QUICK if quick else ENGINE_LINKS


def tiny_op_chain(framework: str, links: int):
    """A function that runs one chain y <- tanh(y * w + b), ``links`` links of three ops
    on ENGINE_SHAPE float32 tensors, forward and then backward (seeded with ones), and
    returns (forward seconds, total seconds). The arithmetic is negligible, so this is
    the per-op cost of the framework: recording each op, the graph bookkeeping and the
    backward engine. ``framework``: "minigrad" or "pytorch"."""
    import numpy

    values = [numpy.full(ENGINE_SHAPE, value, dtype=numpy.float32) for value in (0.5, 0.9, 0.1)]
    if framework == "pytorch":
        import torch

        x, w, b = (torch.from_numpy(array).requires_grad_() for array in values)
        seed = torch.ones(ENGINE_SHAPE)
    else:
        import minigrad

        x, w, b = (minigrad.tensor(array, requires_grad=True) for array in values)
        seed = minigrad.ones(ENGINE_SHAPE)

    def run_chain() -> tuple:
        started = time.perf_counter()
        y = x
        for _ in range(links):
            y = (y * w + b).tanh()
        forwarded = time.perf_counter()
        y.backward(seed)
        finished = time.perf_counter()
        x.grad = w.grad = b.grad = None
        return forwarded - started, finished - started

    return run_chain
