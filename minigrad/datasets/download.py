"""Downloading a data set: each file streams into a temporary name, is verified, and only
then gets its official name, so a failed or corrupt download leaves nothing behind."""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import tarfile
import urllib.request
import zlib
from pathlib import Path, PurePosixPath

from . import catalog
from .places import find_files
from .verify import ChecksumError, check_sha256, gunzip

_CHUNK = 1 << 20


def download_root(root) -> tuple[Path | None, list[Path]]:
    """The first writable data root of: root, $MINIGRAD_DATA, the repository's datasets/
    (created if need be), and the folders created for it; (None, []) when none is."""
    for candidate in (root, os.environ.get("MINIGRAD_DATA") or None, catalog.REPO_DATA):
        if candidate is None:
            continue
        folder = Path(candidate).expanduser()
        try:
            created = make_folders(folder)
        except OSError:
            continue
        if os.access(folder, os.W_OK | os.X_OK):
            return folder, created
        remove_empty(created)
    return None, []


def make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the ones created, innermost first."""
    created = [path for path in (folder, *folder.parents) if not path.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        remove_empty(created)
        raise
    return created


def remove_empty(folders) -> None:
    """Remove each folder that is empty, in the order given; one that holds anything stays."""
    for folder in folders:
        with contextlib.suppress(OSError):  # not empty, or already gone
            folder.rmdir()


def _mirrors(name: str):
    override = os.environ.get("MINIGRAD_DATA_MIRROR", "").split()
    return override or catalog.MIRRORS[name]


def download_split(name: str, files, folder: Path):
    """Fetch the missing ``files`` into ``folder`` (which exists); return a list of failures
    (empty = done). CIFAR-10 comes as one archive holding both splits, so all of it is extracted.
    """
    if name == "cifar10":
        return _download_cifar(folder)
    for file in find_files(folder, files)[1]:  # only the ones not there yet
        failures = _download_gzip(name, file, folder)
        if failures:  # no mirror delivered this file: the next one would fail the same way
            return failures
    return []


def _download_gzip(name: str, file: str, folder: Path):
    """One gzipped IDX file from the first mirror that delivers it whole."""
    failures = []
    expected = catalog.SHA256[name][file]
    for base in _mirrors(name):
        url = base.rstrip("/") + f"/{file}.gz"
        with _temporary(folder, f"{file}.gz") as temporary:
            try:
                _fetch(url, temporary)
            except (OSError, http.client.HTTPException) as error:  # URLError is an OSError
                failures.append(f"{url}: {_reason(error)}")
                continue
            try:
                data = gunzip(temporary.read_bytes())
            except (OSError, EOFError, zlib.error) as error:
                raise ChecksumError(
                    f"downloaded {url} is not a readable gzip file ({error}); the SHA-256 of "
                    f"{file} should be {expected}. Nothing was kept."
                ) from error
            check_sha256(data, expected, f"downloaded {url} (nothing was kept)")
            os.replace(temporary, folder / f"{file}.gz")
            return []
    return failures


def _download_cifar(folder: Path):
    """The binary archive: fetch, check its SHA-256, extract and check every .bin file."""
    failures = []
    archive_name = catalog.CIFAR10_ARCHIVE
    for base in _mirrors("cifar10"):
        url = base.rstrip("/") + f"/{archive_name}"
        with _temporary(folder, archive_name) as archive:
            try:
                _fetch(url, archive)
            except (OSError, http.client.HTTPException) as error:
                failures.append(f"{url}: {_reason(error)}")
                continue
            check_sha256(
                archive.read_bytes(), catalog.ARCHIVE_SHA256[archive_name], f"downloaded {url} (nothing was kept)"
            )
            _extract_cifar(archive, url, folder)
            return []
    return failures


def _extract_cifar(archive: Path, url: str, folder: Path) -> None:
    """Copy the six .bin files out of the archive, each checked before it gets its name.

    Every member is inspected first: an absolute name, a ``..`` or a link could write
    outside ``folder`` with a careless ``extractall``, so such an archive is refused.
    """
    checksums = catalog.SHA256["cifar10"]
    wanted = {f"{catalog.FOLDERS['cifar10']}/{file}": file for file in checksums}
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
            check_sha256(data, checksums[file], f"{file} in downloaded {url} (nothing was kept)")
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

    with urllib.request.urlopen(url, timeout=catalog.TIMEOUT) as response, open(destination, "xb") as file:
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
