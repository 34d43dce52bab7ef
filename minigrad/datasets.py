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
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import secrets
import struct
import tarfile
import urllib.request
import zlib
from pathlib import Path, PurePosixPath

import numpy

__all__ = ["fashion_mnist", "mnist", "cifar10", "locate", "CLASSES", "ChecksumError"]


class ChecksumError(ValueError):
    """A file's content is not the one expected (damaged, truncated or a different file)."""


CLASSES = {
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "mnist": ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer",
                "dog", "frog", "horse", "ship", "truck"),
}  # fmt: skip

# The files of each split, by official name (the IDX files may also be found gzipped).
FILES = {
    "fashion-mnist": {
        True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    },
    "mnist": {
        True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    },
    "cifar10": {
        True: tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
        False: ("test_batch.bin",),
    },
}

# SHA-256 of each file's decompressed content. Sources and cross-checks: datasets/README.md.
SHA256 = {
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "cifar10": {
        "data_batch_1.bin": "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5",
        "data_batch_2.bin": "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed",
        "data_batch_3.bin": "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67",
        "data_batch_4.bin": "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48",
        "data_batch_5.bin": "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add",
        "test_batch.bin": "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b",
    },
}

# CIFAR-10 comes as one archive; its own SHA-256 is checked before it is opened.
CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"
ARCHIVE_SHA256 = {CIFAR10_ARCHIVE: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"}

# Base URLs, tried in order. MNIST's original host (yann.lecun.com) refuses downloads.
MIRRORS = {
    "fashion-mnist": [
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",  # the mirror torchvision uses
        "https://storage.googleapis.com/cvdf-datasets/mnist/",  # the one TensorFlow uses
    ],
    "cifar10": ["https://www.cs.toronto.edu/~kriz/"],
}

# The folder of each data set under a data root (official names).
FOLDERS = {"fashion-mnist": "fashion-mnist", "mnist": "mnist", "cifar10": "cifar-10-batches-bin"}

# The operating system's copies (the folder itself, not a data root).
OS_DATA = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist")}

# The repository's datasets/ folder, only when minigrad runs from a source checkout.
_CHECKOUT = Path(__file__).resolve().parent.parent
REPO_DATA = _CHECKOUT / "datasets" if (_CHECKOUT / "pyproject.toml").is_file() else None

TIMEOUT = 30  # seconds without an answer before a mirror counts as unreachable
_CHUNK = 1 << 20
_NAMES = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10"}
_ROOT = "data root (root= in Python, --data-dir on the command line)"  # place 1, in messages


# ---------------------------------------------------------------------------------------
# The three loaders


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


def _load(name: str, train: bool, root, download: bool):
    """Search, else download, then verify and parse; or one error that says it all."""
    files = FILES[name][bool(train)]
    folder, searched = _search(name, files, root)  # searched: one line per place, for the error
    if folder is not None:
        return _read(name, _find_files(folder, files)[0])

    if not download:
        searched.append("download: not attempted (download=False)")
    else:
        target, created = _download_root(root)
        if target is None:
            searched.append(
                "download: nowhere to put the files (no root given, MINIGRAD_DATA not set, "
                "and not running from a source checkout with a writable datasets/ folder)"
            )
        else:
            folder = target / FOLDERS[name]
            try:
                created = _make_folders(folder) + created  # innermost first
                failures = _download(name, files, folder)  # raises ChecksumError on a corrupt download
            except OSError as error:  # the folder cannot be made, or the disk is full, ...
                failures = [f"{type(error).__name__}: {error}"]
            finally:
                _remove_empty(created)  # a failed download leaves no folder of its own behind
            if not failures:
                paths, missing = _find_files(folder, files)
                if not missing:
                    return _read(name, paths)
                failures = [f"the download did not contain {', '.join(missing)}"]
            searched.append(f"download into {folder}:")
            searched.extend(f"    {failure}" for failure in failures)
    raise FileNotFoundError(_not_found_message(name, train, searched))


# ---------------------------------------------------------------------------------------
# Finding files


def _places(name: str, root):
    """(description, folder or None) for each place in search order; None = not available."""
    places = []
    if root is None:
        places.append((f"{_ROOT}: not given", None))
    else:
        places.append((f"{_ROOT}:", Path(root).expanduser() / FOLDERS[name]))
    environment = os.environ.get("MINIGRAD_DATA")
    if environment:
        places.append(("$MINIGRAD_DATA", Path(environment).expanduser() / FOLDERS[name]))
    else:
        places.append(("$MINIGRAD_DATA: not set", None))
    if REPO_DATA is None:
        places.append(("repository datasets/ folder: none (not a source checkout)", None))
    elif not Path(REPO_DATA).is_dir():
        places.append((f"repository datasets/ folder: {REPO_DATA} does not exist", None))
    else:
        places.append(("repository folder", Path(REPO_DATA) / FOLDERS[name]))
    if name in OS_DATA:
        places.append(("operating system copy", Path(OS_DATA[name])))
    else:
        places.append((f"operating system copy: none is packaged for {_NAMES[name]}", None))
    return places


def locate(name: str, train: bool = True, root=None) -> Path | None:
    """The folder that ``name``'s split is read from: the first place in the search order
    (see the module docstring) that holds all its files, or None when none does yet."""
    if name not in FILES:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(FILES)}")
    return _search(name, FILES[name][bool(train)], root)[0]


def _search(name: str, files, root):
    """(the first folder in search order that holds every file of ``files``, or None;
    one line per place looked at, saying why it was passed over)."""
    searched = []
    for place, folder in _places(name, root):
        if folder is None:
            searched.append(place)
            continue
        missing = _find_files(folder, files)[1]
        if not missing:
            return folder, searched
        searched.append(f"{place} {folder} ({_describe_missing(folder, missing)})")
    return None, searched


def _find_files(folder: Path, files):
    """The path of each file in ``folder`` (plain preferred to .gz) and the names not found."""
    paths, missing = [], []
    for file in files:
        candidates = [folder / file] if file.endswith(".bin") else [folder / file, folder / f"{file}.gz"]
        found = next((path for path in candidates if path.is_file()), None)
        if found is None:
            missing.append(file)
        else:
            paths.append(found)
    return paths, missing


def _describe_missing(folder: Path, missing) -> str:
    if not folder.is_dir():
        return "not a folder" if folder.exists() else "folder does not exist"
    return "missing " + ", ".join(name if name.endswith(".bin") else f"{name}[.gz]" for name in missing)


def _not_found_message(name: str, train: bool, searched) -> str:
    folder = FOLDERS[name]
    lines = [
        f"{_NAMES[name]} ({'train' if train else 'test'} split) was not found. Places searched, in order:"
    ]
    lines += [
        f"  {i}. {line}" if not line.startswith("    ") else f"    {line}"
        for i, line in enumerate(searched, 1)
    ]
    ways = [
        (
            f"put the files, with their official names, in <data root>/{folder}/ and pass "
            "root=<data root> in Python or --data-dir <data root> on the command line, or set "
            "the environment variable MINIGRAD_DATA=<data root>;"
        ),
        (
            "allow the download (download=True, the default) on a machine with network access "
            "(sources: datasets/README.md)."
        ),
    ]
    if name == "fashion-mnist":
        ways.insert(1, "install the Debian/Ubuntu package: sudo apt-get install dataset-fashion-mnist;")
    lines.append("Ways to provide the data:")
    lines += [f"  {i}. {way}" for i, way in enumerate(ways, 1)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Verifying and parsing


def _read(name: str, paths):
    """Verify every file, then parse them into (images uint8, labels int64)."""
    contents = [_verified_content(path, SHA256[name][_official_name(path)]) for path in paths]
    if name == "cifar10":
        parts = [_parse_cifar(content, path) for content, path in zip(contents, paths, strict=True)]
        images = numpy.concatenate([images for images, _ in parts])
        labels = numpy.concatenate([labels for _, labels in parts])
    else:
        images = _parse_idx(contents[0], paths[0], ndim=3)
        labels = _parse_idx(contents[1], paths[1], ndim=1)
        if images.shape[1:] != (28, 28):
            raise ValueError(f"{paths[0]}: images are {images.shape[1:]}, expected 28x28")
        if len(images) != len(labels):
            raise ValueError(
                f"{paths[0]} holds {len(images)} images but {paths[1]} holds {len(labels)} labels"
            )
        labels = labels.astype(numpy.int64)
        images = images.copy()  # a writable array that owns its memory, not a view of bytes
    if labels.size and labels.max() >= len(CLASSES[name]):
        raise ValueError(f"{paths[-1]}: label {labels.max()} is out of range 0..{len(CLASSES[name]) - 1}")
    return images, labels


def _official_name(path: Path) -> str:
    return path.name.removesuffix(".gz")


def _verified_content(path: Path, expected: str) -> bytes:
    """The file's (decompressed) bytes, after checking their SHA-256."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        try:
            data = _gunzip(data)
        except (OSError, EOFError, zlib.error) as error:  # not gzip, or cut short
            raise ChecksumError(
                f"{path} is not a readable gzip file ({error}); the SHA-256 of its content "
                f"should be {expected}. Delete it and provide the file again."
            ) from error
    _check_sha256(data, expected, str(path))
    return data


def _gunzip(data: bytes) -> bytes:
    """Decompress a gzip file; zlib directly is a third faster than ``gzip.decompress``."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # 16+: expect a gzip header
    content = decompressor.decompress(data)
    if not decompressor.eof or decompressor.unused_data:
        content = gzip.decompress(data)  # cut short, or several gzip members: let gzip decide
    return content


def _check_sha256(data: bytes, expected: str, what: str) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ChecksumError(
            f"{what}: SHA-256 of the content is {actual}, expected {expected}. The file is "
            "damaged, truncated or not the official one; delete it and provide it again."
        )


def _parse_idx(data: bytes, path: Path, ndim: int) -> numpy.ndarray:
    """An IDX file of unsigned bytes: magic 0x00 0x00 0x08 ndim, ndim big-endian uint32
    sizes, then the values in row-major order."""
    magic = bytes([0, 0, 0x08, ndim])
    if data[:4] != magic:
        raise ValueError(
            f"{path}: not an IDX file of unsigned bytes with {ndim} dimension(s): it starts "
            f"with {data[:4].hex()}, expected {magic.hex()}"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(data)} bytes, expected at least {header})")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(numpy.prod(shape))
    if len(data) != expected:
        raise ValueError(f"{path}: {len(data)} bytes, but an IDX file of shape {shape} has {expected}")
    return numpy.frombuffer(data, dtype=numpy.uint8, offset=header).reshape(shape)


def _parse_cifar(data: bytes, path: Path):
    """Records of 1 label byte + 3072 pixel bytes (3 channels x 32 rows x 32 columns)."""
    record = 1 + 3 * 32 * 32
    if len(data) == 0 or len(data) % record:
        raise ValueError(f"{path}: {len(data)} bytes is not a whole number of {record}-byte CIFAR-10 records")
    records = numpy.frombuffer(data, dtype=numpy.uint8).reshape(-1, record)
    images = records[:, 1:].reshape(-1, 3, 32, 32).copy()
    return images, records[:, 0].astype(numpy.int64)


# ---------------------------------------------------------------------------------------
# Downloading


def _download_root(root) -> tuple[Path | None, list[Path]]:
    """The first writable data root of: root, $MINIGRAD_DATA, the repository's datasets/
    (created if need be), and the folders created for it; (None, []) when none is."""
    for candidate in (root, os.environ.get("MINIGRAD_DATA") or None, REPO_DATA):
        if candidate is None:
            continue
        folder = Path(candidate).expanduser()
        try:
            created = _make_folders(folder)
        except OSError:
            continue
        if os.access(folder, os.W_OK | os.X_OK):
            return folder, created
        _remove_empty(created)
    return None, []


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the ones created, innermost first."""
    created = [path for path in (folder, *folder.parents) if not path.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        _remove_empty(created)
        raise
    return created


def _remove_empty(folders) -> None:
    """Remove each folder that is empty, in the order given; one that holds anything stays."""
    for folder in folders:
        with contextlib.suppress(OSError):  # not empty, or already gone
            folder.rmdir()


def _mirrors(name: str):
    override = os.environ.get("MINIGRAD_DATA_MIRROR", "").split()
    return override or MIRRORS[name]


def _download(name: str, files, folder: Path):
    """Fetch the missing ``files`` into ``folder`` (which exists); return a list of failures
    (empty = done). CIFAR-10 comes as one archive holding both splits, so all of it is extracted.
    """
    if name == "cifar10":
        return _download_cifar(folder)
    for file in _find_files(folder, files)[1]:  # only the ones not there yet
        failures = _download_gzip(name, file, folder)
        if failures:  # no mirror delivered this file: the next one would fail the same way
            return failures
    return []


def _download_gzip(name: str, file: str, folder: Path):
    """One gzipped IDX file from the first mirror that delivers it whole."""
    failures = []
    for base in _mirrors(name):
        url = base.rstrip("/") + f"/{file}.gz"
        with _temporary(folder, f"{file}.gz") as temporary:
            try:
                _fetch(url, temporary)
            except (OSError, http.client.HTTPException) as error:  # URLError is an OSError
                failures.append(f"{url}: {_reason(error)}")
                continue
            try:
                data = _gunzip(temporary.read_bytes())
            except (OSError, EOFError, zlib.error) as error:
                raise ChecksumError(
                    f"downloaded {url} is not a readable gzip file ({error}); the SHA-256 of "
                    f"{file} should be {SHA256[name][file]}. Nothing was kept."
                ) from error
            _check_sha256(data, SHA256[name][file], f"downloaded {url} (nothing was kept)")
            os.replace(temporary, folder / f"{file}.gz")
            return []
    return failures


def _download_cifar(folder: Path):
    """The binary archive: fetch, check its SHA-256, extract and check every .bin file."""
    failures = []
    for base in _mirrors("cifar10"):
        url = base.rstrip("/") + f"/{CIFAR10_ARCHIVE}"
        with _temporary(folder, CIFAR10_ARCHIVE) as archive:
            try:
                _fetch(url, archive)
            except (OSError, http.client.HTTPException) as error:
                failures.append(f"{url}: {_reason(error)}")
                continue
            _check_sha256(
                archive.read_bytes(), ARCHIVE_SHA256[CIFAR10_ARCHIVE], f"downloaded {url} (nothing was kept)"
            )
            _extract_cifar(archive, url, folder)
            return []
    return failures


def _extract_cifar(archive: Path, url: str, folder: Path) -> None:
    """Copy the six .bin files out of the archive, each checked before it gets its name.

    Every member is inspected first: an absolute name, a ``..`` or a link could write
    outside ``folder`` with a careless ``extractall``, so such an archive is refused.
    """
    wanted = {f"{FOLDERS['cifar10']}/{file}": file for file in SHA256["cifar10"]}
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        for member in members:
            parts = PurePosixPath(member.name).parts
            if member.name.startswith("/") or ".." in parts or not (member.isfile() or member.isdir()):
                raise ValueError(f"{url}: refusing the archive: unsafe member {member.name!r}")
        by_name = {member.name: member for member in members if member.isfile()}
        for member_name, file in wanted.items():
            if member_name not in by_name:
                raise ValueError(f"{url}: the archive has no member {member_name}")
            data = tar.extractfile(by_name[member_name]).read()
            _check_sha256(data, SHA256["cifar10"][file], f"{file} in downloaded {url} (nothing was kept)")
            with _temporary(folder, file) as temporary:
                temporary.write_bytes(data)
                os.replace(temporary, folder / file)


@contextlib.contextmanager
def _temporary(folder: Path, name: str):
    """A fresh temporary path next to the final one, removed on the way out unless renamed."""
    path = folder / f".{name}.{secrets.token_hex(6)}.part"
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _fetch(url: str, destination: Path) -> None:
    """Stream ``url`` into ``destination`` with a progress bar; a short transfer raises."""
    from tqdm import tqdm  # imported when a download starts: it adds 0.1 s to `import minigrad`

    with urllib.request.urlopen(url, timeout=TIMEOUT) as response, open(destination, "xb") as file:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        # disable=None: the bar shows only when stderr is a terminal, never in a log file
        with tqdm(total=total, desc=url.rsplit("/", 1)[-1], unit="B", unit_scale=True, disable=None) as bar:
            while chunk := response.read(_CHUNK):
                file.write(chunk)
                bar.update(len(chunk))
        received = file.tell()
    # http.client returns b"" (no exception) when the server hangs up early: check the count
    if total is not None and received != total:
        raise ConnectionError(f"connection dropped after {received} of {total} bytes")


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None)  # URLError wraps the socket error
    return f"{type(error).__name__}: {reason if reason is not None else error}"
