"""Fashion-MNIST, MNIST and CIFAR-10 as NumPy arrays: find the files, verify, download, parse.

>>> images, labels = minigrad.datasets.fashion_mnist(train=True)
>>> images.shape, images.dtype, labels.shape, labels.dtype
((60000, 28, 28), dtype('uint8'), (60000,), dtype('int64'))
>>> minigrad.datasets.CLASSES["fashion-mnist"][labels[0]]
'Ankle boot'

**Where the files are looked for**, in this order; the first place that holds every file
of the requested split is used:

1. ``root``, the argument (a *data root*; ``--data-dir`` on the command line);
2. the data root named by the environment variable ``MINIGRAD_DATA``;
3. the repository's ``datasets/`` folder (only in a source checkout: the folder next to
   ``pyproject.toml``, never a ``datasets`` folder of an installed package);
4. the operating system's copy (Fashion-MNIST only: the Debian/Ubuntu package
   ``dataset-fashion-mnist`` installs ``/usr/share/datasets/fashion-mnist/``);
5. a download (unless ``download=False``) into the first *writable* one of ``root``,
   ``$MINIGRAD_DATA`` and the repository's ``datasets/`` folder.

``locate(name, train, root)`` answers "which folder would be read?" without reading or
downloading anything: the first of places 1-4 that holds the split, or None (so a run can
report which data it used).

Under a data root the files keep their official names: ``fashion-mnist/`` and ``mnist/``
hold the four IDX files (gzipped, ``train-images-idx3-ubyte.gz``, or not), and
``cifar-10-batches-bin/`` holds the binary CIFAR-10 files (``data_batch_1.bin`` ...
``data_batch_5.bin``, ``test_batch.bin``).

**Every file is verified before it is parsed**: the SHA-256 of its *decompressed* content
must equal the value in ``SHA256`` (hashing the content, not the ``.gz``, accepts any
faithful copy: Debian's package recompressed the Fashion-MNIST archives, so their bytes
differ from Zalando's, but what they decompress to does not). A file that fails raises
``ChecksumError`` and the search stops there: a damaged copy is a problem to fix, and
quietly reading another copy would hide it. Nothing is cached in memory: each call
reads and verifies the files again (about a second for Fashion-MNIST's training set).

**Downloads** stream into a temporary name in the target folder, are verified, and only
then renamed to the official name (``os.replace``, atomic). A corrupt download raises
``ChecksumError``; a network error or a connection dropped mid-file moves on to the next
mirror. Either way nothing is left behind: no temporary file, and no folder that the
download created and could not fill. A progress bar (tqdm) shows on a terminal only. The
base URLs are in ``MIRRORS``; the environment variable ``MINIGRAD_DATA_MIRROR`` (one or
more base URLs separated by spaces) replaces them for every data set, e.g. for a local
mirror.

When the data are nowhere and cannot be downloaded, one ``FileNotFoundError`` lists every
place searched and the ways to provide the data.

CIFAR-10 is read from its *binary* distribution: each record is one label byte followed
by 3072 pixel bytes (1024 red, 1024 green, 1024 blue, each a 32x32 image row by row).
The "python version" of CIFAR-10 is a pickle, and unpickling can run arbitrary code, so
minigrad never reads it.

**The files of this package**, in reading order: this one (the loaders, and the order in
which they search, download and read), ``catalog.py`` (what and where: class names, files,
checksums, mirrors, folders, and the settings ``REPO_DATA``, ``OS_DATA``, ``TIMEOUT``,
read from there each time they are used: ``minigrad.datasets.catalog.TIMEOUT = 120``),
``places.py`` (the search), ``verify.py`` (verifying and parsing a file) and
``download.py``. The tables (``CLASSES``, ``FILES``, ``SHA256``, ``MIRRORS`` ...) are
also reachable here, as the same dicts.
"""

from __future__ import annotations

from pathlib import Path

import numpy

from . import catalog
from .catalog import ARCHIVE_SHA256, CIFAR10_ARCHIVE, CLASSES, FILES, FOLDERS, MIRRORS, SHA256  # noqa: F401
from .download import download_root, download_split, make_folders, remove_empty
from .places import find_files, not_found_message, search
from .verify import ChecksumError, read_split

__all__ = ["fashion_mnist", "mnist", "cifar10", "locate", "CLASSES", "ChecksumError"]


# ---------------------------------------------------------------------------------------
# The three loaders, and locate


def fashion_mnist(
    train: bool = True, root=None, download: bool = True
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Zalando's Fashion-MNIST: ``(images, labels)``, uint8 ``(N, 28, 28)`` and int64 ``(N,)``.

    N is 60,000 (``train=True``) or 10,000. Class names: ``CLASSES["fashion-mnist"]``.
    """
    return _load("fashion-mnist", train, root, download)


def mnist(train: bool = True, root=None, download: bool = True) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Handwritten digits: ``(images, labels)``, uint8 ``(N, 28, 28)`` and int64 ``(N,)``.

    N is 60,000 (``train=True``) or 10,000. Class names: ``CLASSES["mnist"]``.
    """
    return _load("mnist", train, root, download)


def cifar10(train: bool = True, root=None, download: bool = True) -> tuple[numpy.ndarray, numpy.ndarray]:
    """CIFAR-10: ``(images, labels)``, uint8 ``(N, 3, 32, 32)`` (channels R, G, B) and int64 ``(N,)``.

    N is 50,000 (``train=True``) or 10,000. Class names: ``CLASSES["cifar10"]``.
    """
    return _load("cifar10", train, root, download)


def locate(name: str, train: bool = True, root=None) -> Path | None:
    """The folder that ``name``'s split is read from: the first place in the search order
    (see the module docstring) that holds all its files, or None when none does yet."""
    if name not in catalog.FILES:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(catalog.FILES)}")
    return search(name, catalog.FILES[name][bool(train)], root)[0]


def _load(name: str, train: bool, root, download: bool):
    """Search, else download, then verify and parse; or one error that says it all."""
    files = catalog.FILES[name][bool(train)]
    folder, searched = search(name, files, root)  # searched: one line per place, for the error
    if folder is not None:
        return read_split(name, find_files(folder, files)[0])

    if not download:
        searched.append("download: not attempted (download=False)")
    else:
        target, created = download_root(root)
        if target is None:
            searched.append(
                "download: nowhere to put the files (no root given, MINIGRAD_DATA not set, "
                "and not running from a source checkout with a writable datasets/ folder)"
            )
        else:
            folder = target / catalog.FOLDERS[name]
            try:
                created = make_folders(folder) + created  # innermost first
                failures = download_split(name, files, folder)  # raises ChecksumError if corrupt
            except OSError as error:  # the folder cannot be made, or the disk is full, ...
                failures = [f"{type(error).__name__}: {error}"]
            finally:
                remove_empty(created)  # a failed download leaves no folder of its own behind
            if not failures:
                paths, missing = find_files(folder, files)
                if not missing:
                    return read_split(name, paths)
                failures = [f"the download did not contain {', '.join(missing)}"]
            searched.append(f"download into {folder}:")
            searched.extend(f"    {failure}" for failure in failures)
    raise FileNotFoundError(not_found_message(name, train, searched))
