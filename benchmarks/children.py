"""How the parent starts one measurement: a fresh interpreter running ``run.py --child
SPEC``, with the thread count of every BLAS and OpenMP pool fixed in its environment
before NumPy (or PyTorch) is imported, and its one line of JSON read back.

Like every module the parent imports, this one imports no NumPy: on Linux a child's
``ru_maxrss`` starts from the RSS of the process it was forked from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNNER = Path(__file__).resolve().parent / "run.py"

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Set on some processors so that old OpenBLAS builds pick a safe kernel; they slow a
# current NumPy down. The children run without both (see README, "Caveats").
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# glibc's malloc hands arrays above a threshold back to the system when freed, and the
# threshold moves with what the process freed before: a fresh child faults the pages of
# its arrays in again every step, a process that loaded a data set first does not. The
# interleaved children pin both thresholds at the values glibc's own rule reaches at its
# maximum (32 MiB, trim at twice that), so that no ratio depends on that history.
STEADY_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(64 * 2**20)}


def removed_overrides(keep_openblas_env: bool) -> dict:
    """The OpenBLAS overrides of this environment that the children will run without
    (none when kept), by name and value, for the report's ``meta``."""
    if keep_openblas_env:
        return {}
    return {name: os.environ[name] for name in OPENBLAS_OVERRIDES if name in os.environ}


def malloc_environment(args) -> dict:
    """The malloc variables the measuring children get: STEADY_MALLOC for the
    interleaved mode unless --default-malloc, none for the separate mode (whose peak
    RSS would grow with a higher trim threshold)."""
    return dict(STEADY_MALLOC) if args.interleaved and not args.default_malloc else {}


def child_environment(threads: int, keep_openblas_env: bool, malloc: dict | None = None) -> dict:
    """The parent's environment with the thread count fixed, the OpenBLAS overrides
    removed (unless kept) and the ``malloc`` variables (e.g. STEADY_MALLOC) added."""
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = str(threads)
    if not keep_openblas_env:
        for name in OPENBLAS_OVERRIDES:
            env.pop(name, None)  # both together: the L2 size only makes sense with the core type
    env.update(malloc or {})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_child(spec: dict, env: dict, timeout: float) -> dict:
    """Run one measurement in a fresh interpreter and return its JSON result (or the error)."""
    command = [sys.executable, str(RUNNER), "--child", json.dumps(spec)]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {"error": f"exit code {done.returncode}: " + " | ".join(tail)}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    return result


def progress(message: str) -> None:
    """Say on stderr which child runs now (stdout carries only the tables)."""
    print(message, file=sys.stderr, flush=True)
