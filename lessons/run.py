"""Run lesson notebooks top to bottom, as CI and the lesson authors do.

    python lessons/run.py lessons/07_rmsprop.ipynb          # full run, outputs not kept
    python lessons/run.py --fast lessons/*.ipynb            # MINIGRAD_FAST=1: small data, few epochs
    python lessons/run.py --save lessons/07_rmsprop.ipynb   # full run, outputs written back

Each notebook runs in a fresh kernel whose working directory is an empty temporary
folder (a lesson must not depend on where it is started from); figures are captured
inline as PNG outputs. ``--save`` records the mode and the run time in the
notebook's metadata (``metadata["minigrad"]``); the tests refuse committed outputs
that came from a fast run, because a learner browsing the repository should see the
real numbers.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from filelock import FileLock
from nbclient import NotebookClient

REPOSITORY = Path(__file__).resolve().parent.parent

# A kernel takes five free TCP ports some time before it binds them, so two kernels started
# at the same moment can take the same ones, and then one notebook waits forever
# (jupyter_client issue 487). The tests run notebooks on every core (pytest-xdist), so a
# kernel starts only while it holds this machine-wide lock, until it answers.
KERNEL_START_LOCK = Path(tempfile.gettempdir()) / "minigrad-lesson-kernel-start.lock"


def run_notebook(path: Path, fast: bool, timeout: int = 1200) -> tuple[nbformat.NotebookNode, float]:
    """Execute the notebook at ``path``; return it with outputs, and the seconds taken.

    Raises nbclient's CellExecutionError (with the failing cell and traceback) if any
    cell fails, an assert in a check cell included.
    """
    notebook = nbformat.read(path, as_version=4)
    env_before = {key: os.environ.get(key) for key in ("MINIGRAD_FAST", "PYTHONPATH")}
    os.environ["MINIGRAD_FAST"] = "1" if fast else "0"
    # the kernel imports this checkout's minigrad, installed or not
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), env_before["PYTHONPATH"]]))
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as folder:
            client = NotebookClient(
                notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": folder}}
            )
            with FileLock(KERNEL_START_LOCK):
                client.km = client.create_kernel_manager()
                client.start_new_kernel()  # in ``folder``, from the resources above
                client.start_new_kernel_client()  # returns once the kernel has answered
            client.execute()  # in that kernel, which it shuts down at the end
    finally:
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook, time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--fast", action="store_true", help="set MINIGRAD_FAST=1 (small data, few epochs)")
    parser.add_argument("--save", action="store_true", help="write the outputs back into the notebook")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        notebook, seconds = run_notebook(path, fast=args.fast)
        mode = "fast" if args.fast else "full"
        print(f"{path}: ran in {mode} mode in {seconds:.0f} s")
        if args.save:
            notebook.metadata["minigrad"] = {"mode": mode, "seconds": round(seconds)}
            nbformat.write(notebook, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
