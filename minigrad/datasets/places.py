"""Finding the files: the places searched, in order, the first one that holds a split, and
the message that lists them all when none does."""

from __future__ import annotations

import os
from pathlib import Path

from . import catalog

_ROOT = "data root (root= in Python, --data-dir on the command line)"  # place 1, in messages


def search_order(name: str, root):
    """(description, folder or None) for each place in search order; None = not available."""
    places = []
    if root is None:
        places.append((f"{_ROOT}: not given", None))
    else:
        places.append((f"{_ROOT}:", Path(root).expanduser() / catalog.FOLDERS[name]))
    environment = os.environ.get("MINIGRAD_DATA")
    if environment:
        places.append(("$MINIGRAD_DATA", Path(environment).expanduser() / catalog.FOLDERS[name]))
    else:
        places.append(("$MINIGRAD_DATA: not set", None))
    repository = catalog.REPO_DATA
    if repository is None:
        places.append(("repository datasets/ folder: none (not a source checkout)", None))
    elif not Path(repository).is_dir():
        places.append((f"repository datasets/ folder: {repository} does not exist", None))
    else:
        places.append(("repository folder", Path(repository) / catalog.FOLDERS[name]))
    if name in catalog.OS_DATA:
        places.append(("operating system copy", Path(catalog.OS_DATA[name])))
    else:
        places.append((f"operating system copy: none is packaged for {catalog.NAMES[name]}", None))
    return places


def search(name: str, files, root):
    """(the first folder in search order that holds every file of ``files``, or None;
    one line per place looked at, saying why it was passed over)."""
    searched = []
    for place, folder in search_order(name, root):
        if folder is None:
            searched.append(place)
            continue
        missing = find_files(folder, files)[1]
        if not missing:
            return folder, searched
        searched.append(f"{place} {folder} ({_describe_missing(folder, missing)})")
    return None, searched


def find_files(folder: Path, files):
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


def not_found_message(name: str, train: bool, searched) -> str:
    """Every place searched (``searched``: one line each) and the ways to provide the data."""
    folder, split = catalog.FOLDERS[name], "train" if train else "test"
    lines = [f"{catalog.NAMES[name]} ({split} split) was not found. Places searched, in order:"]
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
