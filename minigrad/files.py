"""Writing a file so that it is never half-written: a temporary name, then a rename.

A program can stop at any moment: Ctrl-C, a full disk, a crash, a power cut. If it
was writing ``metrics.json`` in place at that moment, the file is left truncated, and
the good copy from before is gone too. The cure is the same everywhere (editors,
databases, package managers): write the new content under a temporary name in the same
folder, force it to disk, and only then rename it over the final name. A rename within
one folder is atomic (``os.replace``): whoever reads the file sees the old content or
the new one, never a mixture.

::

    with atomic_path("run/metrics.json") as temporary:
        temporary.write_text(text)       # or figure.savefig(temporary), numpy.savez(...)

On success the temporary file becomes ``run/metrics.json``; on any failure (an
exception, or Ctrl-C) it is removed and ``run/metrics.json`` is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; when the block ends without an error,
    flush it to disk and rename it over ``path``. On any error, remove it.

    The temporary name is hidden (a leading dot), random (two writers never collide)
    and keeps the suffix of ``path``, because tools such as ``savefig`` choose the file
    format from it: ``run/curves.png`` is written as ``run/.curves.3f9a0c1d5e7b2a64.png``.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.{secrets.token_hex(8)}{path.suffix}")
    try:
        yield temporary
        _flush_to_disk(temporary)  # the bytes are on disk before the rename makes them visible
        os.replace(temporary, path)
    except BaseException:  # KeyboardInterrupt too: never leave a half-written file behind
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def _flush_to_disk(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

