"""save / load: checkpoints as one ``.npz`` file, without pickle, written atomically.

Why not pickle? ``pickle.load`` runs whatever code the file tells it to run, so opening
a checkpoint someone sent you would be as dangerous as running their script. A
checkpoint only needs arrays and a few plain values, and both have safe formats:

* every array (NumPy array, or a Tensor's data copied to the host) goes into the
  archive as its own member, ``arr_0``, ``arr_1``, ..., written by ``numpy.savez``;
* the nesting around them (dicts, lists, tuples, numbers, strings, None) is written as
  JSON text (a 0-d string array) in the member ``structure``, where each array appears
  as ``{"array": "arr_0"}`` (a NumPy scalar as ``{"scalar": ...}``, so it comes back as
  one). Containers are tagged (``{"dict": [[key, value], ...]}``,
  ``{"list": [...]}``, ``{"tuple": [...]}``) so that tuples stay tuples and int keys
  stay ints.

``load`` reads with ``numpy.load(..., allow_pickle=False)`` and refuses anything that
is not such an archive before NumPy can look at it, so no file can make minigrad
unpickle. ``save`` writes to a temporary file next to ``path``, forces it to disk and
then renames it over ``path`` in one step (``files.atomic_path``): a crash mid-save
leaves the previous checkpoint intact.

>>> minigrad.save({"model": model.state_dict(), "epoch": 3}, "run/checkpoint.npz")
>>> state = minigrad.load("run/checkpoint.npz")
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
import zlib

import numpy

from . import backend
from .files import atomic_path
from .tensor import Tensor

try:
    from lzma import LZMAError
except ImportError:  # a Python built without lzma: zipfile then raises RuntimeError instead
    LZMAError = RuntimeError

FORMAT = "minigrad-checkpoint"
VERSION = 1
_ZIP_MAGIC = b"PK\x03\x04"  # how every zip (and so every .npz) file starts


def save(state, path) -> None:
    """Write ``state`` (nested dicts with str or int keys, lists, tuples, None, bools,
    numbers, strings, NumPy arrays and Tensors) to exactly ``path``, atomically."""
    arrays = {}
    tree = _encode(state, "state", arrays)  # all TypeErrors happen before any file is touched
    text = json.dumps({"format": FORMAT, "version": VERSION, "root": tree})
    # "x": never overwrite a file that is not ours; a file object, not a name: given a
    # name, numpy.savez would append ".npz"
    with atomic_path(path) as temporary, open(temporary, "xb") as file:
        numpy.savez(file, structure=numpy.array(text), **arrays)


def _encode(value, key_path: str, arrays: dict):
    """The JSON form of ``value``; arrays are added to ``arrays`` and referenced by name."""
    if isinstance(value, Tensor):
        value = value.data
    if backend.is_cuda_array(value):
        value = backend.to_numpy(value)
    if isinstance(value, (numpy.ndarray, numpy.generic)):
        array = numpy.asarray(value)
        if array.dtype.hasobject:
            raise ValueError(
                f"{key_path} is an array of Python objects (dtype {array.dtype}); "
                "saving it would need pickle, which minigrad never uses"
            )
        name = f"arr_{len(arrays)}"
        arrays[name] = array
        # a NumPy scalar (numpy.float32(1.5)) comes back as one, a 0-d array as an array;
        # checked before float because numpy.float64 is a subclass of float
        return {"scalar" if isinstance(value, numpy.generic) else "array": name}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value  # JSON keeps these apart (true vs 1, 1 vs 1.0)
    if isinstance(value, dict):
        pairs = []
        for key, item in value.items():
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise TypeError(
                    f"{key_path} has a key {key!r} of type {type(key).__name__}; "
                    "checkpoint keys must be str or int"
                )
            pairs.append([key, _encode(item, f"{key_path}[{json.dumps(key)}]", arrays)])
        return {"dict": pairs}
    if isinstance(value, (list, tuple)):
        items = [_encode(item, f"{key_path}[{i}]", arrays) for i, item in enumerate(value)]
        return {"list" if isinstance(value, list) else "tuple": items}
    raise TypeError(
        f"{key_path} has type {type(value).__module__}.{type(value).__qualname__}, which a "
        "checkpoint cannot hold (use dicts, lists, tuples, None, bools, numbers, "
        "strings, NumPy arrays or Tensors)"
    )


# What reading a damaged or foreign file can raise, and from where. Each means "this
# file is not a checkpoint we can read"; anything else (KeyboardInterrupt, a bug) passes.
_DAMAGED = (
    zipfile.BadZipFile,  # the zip structure: bad signatures, CRC mismatches, truncation
    OSError, EOFError,  # data that ends early; a "bzip2" member that is not bzip2
    zlib.error, LZMAError,  # a "deflate" or "lzma" member whose bytes are not
    NotImplementedError,  # a compression method or flag that zipfile does not support
    RuntimeError,  # a member marked as encrypted
    RecursionError,  # a structure nested deeper than Python's stack (save cannot write one)
    MemoryError,  # an array header declaring more than the machine's memory
    struct.error, OverflowError,  # header fields of the wrong size, absurd sizes or offsets
    ValueError, KeyError, IndexError, TypeError,  # NumPy's and JSON's parsers; a structure
)  # that does not match the arrays


def load(path) -> object:
    """Read a checkpoint written by ``save``; arrays come back as NumPy arrays."""
    path = os.fspath(path)
    with open(path, "rb") as file:
        head = file.read(len(_ZIP_MAGIC))
    if head != _ZIP_MAGIC:
        # numpy.load would unpickle such a file (or read a bare .npy): we stop here
        raise ValueError(
            f"{path!r} is not a minigrad checkpoint (not a .npz archive). minigrad never "
            "unpickles files, because unpickling can run arbitrary code"
        )
    try:
        with numpy.load(path, allow_pickle=False) as archive:
            if "structure" not in archive.files:
                raise ValueError("it has no 'structure' entry")
            header = json.loads(str(archive["structure"][()]))
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise ValueError("its 'structure' entry is not a minigrad header")
            return _decode(header["root"], archive)
    except _DAMAGED as error:
        if "allow_pickle" in str(error):  # NumPy refused an object array inside the archive
            raise ValueError(
                f"{path!r} holds an array of Python objects; loading it would need "
                "unpickling, and minigrad never unpickles"
            ) from error
        raise ValueError(f"{path!r} is not a readable minigrad checkpoint: {_one_line(error)}") from error


def _one_line(error: BaseException) -> str:
    """What went wrong, in one line; named unless it is a ValueError, whose text (NumPy's,
    JSON's or ours) says it all, where zipfile's may not ("Invalid data stream")."""
    text = " ".join(str(error).split())
    return text if isinstance(error, ValueError) else f"{text} ({type(error).__name__})"


def _decode(node, archive):
    """Undo ``_encode``: rebuild containers, fetch arrays from the archive."""
    if not isinstance(node, dict):
        return node  # None, bool, int, float or str
    [(tag, content)] = node.items()  # one tag per node
    if tag == "dict":
        return {key: _decode(item, archive) for key, item in content}
    if tag == "list":
        return [_decode(item, archive) for item in content]
    if tag == "tuple":
        return tuple(_decode(item, archive) for item in content)
    if tag == "array":
        return archive[content]
    if tag == "scalar":
        return archive[content][()]
    raise ValueError(f"unknown entry {tag!r} in the structure")
