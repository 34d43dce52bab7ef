"""Reading a split: every file is verified first (the SHA-256 of its decompressed content),
then parsed (IDX files for MNIST and Fashion-MNIST, binary records for CIFAR-10)."""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from pathlib import Path

import numpy

from . import catalog


class ChecksumError(ValueError):
    """A file's content is not the one expected (damaged, truncated or a different file)."""


def read_split(name: str, paths):
    """Verify every file, then parse them into (images uint8, labels int64)."""
    contents = [_verified_content(path, catalog.SHA256[name][_official_name(path)]) for path in paths]
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
    classes = catalog.CLASSES[name]
    if labels.size and labels.max() >= len(classes):
        raise ValueError(f"{paths[-1]}: label {labels.max()} is out of range 0..{len(classes) - 1}")
    return images, labels


def _official_name(path: Path) -> str:
    return path.name.removesuffix(".gz")


def _verified_content(path: Path, expected: str) -> bytes:
    """The file's (decompressed) bytes, after checking their SHA-256."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        try:
            data = gunzip(data)
        except (OSError, EOFError, zlib.error) as error:  # not gzip, or cut short
            raise ChecksumError(
                f"{path} is not a readable gzip file ({error}); the SHA-256 of its content "
                f"should be {expected}. Delete it and provide the file again."
            ) from error
    check_sha256(data, expected, str(path))
    return data


def gunzip(data: bytes) -> bytes:
    """Decompress a gzip file; zlib directly is a third faster than ``gzip.decompress``."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # 16+: expect a gzip header
    content = decompressor.decompress(data)
    if not decompressor.eof or decompressor.unused_data:
        content = gzip.decompress(data)  # cut short, or several gzip members: let gzip decide
    return content


def check_sha256(data: bytes, expected: str, what: str) -> None:
    """Raise ChecksumError, naming ``what``, unless ``data`` hashes to ``expected``."""
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
