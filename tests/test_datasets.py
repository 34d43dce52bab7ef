"""Data set loaders: the real Fashion-MNIST, the search order, verification, parsing, and
downloads from a local HTTP server that serves files the tests generate.

No test reaches the network: every URL points at 127.0.0.1, and the ``isolated`` fixture
hides the real places (environment variable, repository folder, operating system copy)
unless a test puts them back.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import re
import socket
import struct
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from minigrad import datasets

OS_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = datasets.FILES["mnist"][True] + datasets.FILES["mnist"][False]
CIFAR_FILES = datasets.FILES["cifar10"][True] + datasets.FILES["cifar10"][False]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------
# Fixtures: an isolated search path, generated data, a local HTTP server


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No $MINIGRAD_DATA, no repository folder, no operating system copy, no mirror override."""
    monkeypatch.delenv("MINIGRAD_DATA", raising=False)
    monkeypatch.delenv("MINIGRAD_DATA_MIRROR", raising=False)
    monkeypatch.setattr(datasets.catalog, "REPO_DATA", None)
    monkeypatch.setattr(datasets.catalog, "OS_DATA", {"fashion-mnist": tmp_path / "no-os-copy"})
    monkeypatch.setattr(datasets.catalog, "TIMEOUT", 5)
    return tmp_path


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_idx_files(seed: int = 0, train_count: int = 30, test_count: int = 20) -> dict[str, bytes]:
    """A small data set in the four MNIST/Fashion-MNIST files (decompressed content)."""
    rng = np.random.default_rng(seed)
    files = {}
    for prefix, count in (("train", train_count), ("t10k", test_count)):
        files[f"{prefix}-images-idx3-ubyte"] = idx_bytes(rng.integers(0, 256, (count, 28, 28)))
        files[f"{prefix}-labels-idx1-ubyte"] = idx_bytes(np.arange(count) % 10)
    return files


def expect(monkeypatch, name: str, files: dict[str, bytes]) -> None:
    """Make ``files`` the official content of data set ``name`` for this test."""
    monkeypatch.setitem(datasets.SHA256, name, {file: sha256(data) for file, data in files.items()})


def make_cifar_files(records_per_file: int = 4) -> dict[str, bytes]:
    rng = np.random.default_rng(1)
    files = {}
    for file in CIFAR_FILES:
        labels = rng.integers(0, 10, (records_per_file, 1))
        pixels = rng.integers(0, 256, (records_per_file, 3072))
        files[file] = np.concatenate([labels, pixels], axis=1).astype(np.uint8).tobytes()
    return files


def make_tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def cifar_archive(files: dict[str, bytes], extra: dict[str, bytes] | None = None) -> bytes:
    members = {f"cifar-10-batches-bin/{file}": data for file, data in files.items()}
    members["cifar-10-batches-bin/batches.meta.txt"] = "\n".join(datasets.CLASSES["cifar10"]).encode()
    members.update(extra or {})
    return make_tar_gz(members)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.routes``: path -> bytes, or ("drop", bytes) to hang up halfway."""

    timeout = 5  # a stuck client cannot hold a server thread for long

    def do_GET(self):
        route = self.server.routes.get(self.path)
        self.server.requests.append(self.path)
        if route is None:
            self.send_error(404)
            return
        drop = isinstance(route, tuple)
        data = route[1] if drop else route
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))  # the whole size, even when dropping
        self.end_headers()
        self.wfile.write(data[: len(data) // 2] if drop else data)
        self.close_connection = True

    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1 (ephemeral port) in a thread; ``server.url`` is its base."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.routes, httpd.requests = {}, []
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def serve_idx(server, folder: str, files: dict[str, bytes]) -> None:
    for file, data in files.items():
        server.routes[f"/{folder}/{file}.gz"] = gzip.compress(data)


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.rglob("*")) if folder.exists() else []


# ---------------------------------------------------------------------------------------
# The real Fashion-MNIST (CI installs the Debian package dataset-fashion-mnist)

needs_fashion_mnist = pytest.mark.skipif(
    not OS_FASHION_MNIST.is_dir(),
    reason=f"{OS_FASHION_MNIST} is absent: install it with `apt-get install dataset-fashion-mnist`",
)


@needs_fashion_mnist
@pytest.mark.parametrize(("train", "count"), [(True, 60000), (False, 10000)])
def test_real_fashion_mnist_from_the_os_copy(monkeypatch, isolated, train, count):
    monkeypatch.setattr(datasets.catalog, "OS_DATA", {"fashion-mnist": OS_FASHION_MNIST})
    images, labels = datasets.fashion_mnist(train=train, download=False)
    assert images.shape == (count, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (count,) and labels.dtype == np.int64
    assert labels.min() == 0 and labels.max() == 9
    assert np.bincount(labels, minlength=10).tolist() == [count // 10] * 10  # perfectly balanced
    assert images.max() == 255 and images.flags.writeable


@needs_fashion_mnist
def test_real_fashion_mnist_from_an_explicit_root(isolated):
    root = isolated / "data"
    (root / "fashion-mnist").mkdir(parents=True)
    for path in OS_FASHION_MNIST.iterdir():
        (root / "fashion-mnist" / path.name).symlink_to(path)
    images, labels = datasets.fashion_mnist(train=False, root=root, download=False)
    assert images.shape == (10000, 28, 28)
    assert np.bincount(labels).tolist() == [1000] * 10
    assert len(datasets.CLASSES["fashion-mnist"]) == 10


def test_the_repository_folder_is_the_checkouts_datasets_folder():
    """Place 3 of the search: the datasets/ folder next to pyproject.toml, found from where
    the package's files are (minigrad/datasets/catalog.py, two folders below the checkout)."""
    repository = Path(__file__).resolve().parent.parent
    if Path(datasets.__file__).resolve().parents[2] != repository:
        pytest.skip("minigrad is installed, not imported from this checkout")
    assert datasets.catalog.REPO_DATA == repository / "datasets"


def test_classes_are_ten_names_each():
    assert set(datasets.CLASSES) == {"fashion-mnist", "mnist", "cifar10"}
    assert all(isinstance(names, tuple) and len(names) == 10 for names in datasets.CLASSES.values())
    assert datasets.CLASSES["mnist"] == tuple("0123456789")
    assert issubclass(datasets.ChecksumError, ValueError)


# ---------------------------------------------------------------------------------------
# Search order and verification of local files


def write_idx(folder: Path, files: dict[str, bytes], gzipped: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for file, data in files.items():
        if gzipped:
            (folder / f"{file}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / file).write_bytes(data)


def test_search_order_root_then_env_then_repo_then_os(monkeypatch, isolated):
    """Each place holds a copy; every place after the expected one holds a corrupt copy, which
    would raise ChecksumError if it were read. So a clean load proves which place won."""
    good = make_idx_files()
    expect(monkeypatch, "fashion-mnist", good)
    corrupt = {file: data[:-1] + bytes([data[-1] ^ 1]) for file, data in good.items()}
    places = {name: isolated / name for name in ("root", "env", "repo", "os")}
    monkeypatch.setenv("MINIGRAD_DATA", str(places["env"]))
    monkeypatch.setattr(datasets.catalog, "REPO_DATA", places["repo"])
    monkeypatch.setattr(datasets.catalog, "OS_DATA", {"fashion-mnist": places["os"]})
    folder = {
        "root": places["root"] / "fashion-mnist",
        "env": places["env"] / "fashion-mnist",
        "repo": places["repo"] / "fashion-mnist",
        "os": places["os"],  # the OS copy is the folder itself, not a data root
    }
    order = ["root", "env", "repo", "os"]
    for winner_index, winner in enumerate(order):
        for index, name in enumerate(order):
            if index < winner_index:
                continue  # earlier places are left out
            write_idx(folder[name], good if name == winner else corrupt, gzipped=name in ("repo", "os"))
        images, labels = datasets.fashion_mnist(root=places["root"], download=False)
        assert images.shape == (30, 28, 28) and labels.tolist() == [i % 10 for i in range(30)]
        for file in good:  # take this place away before the next round
            (folder[winner] / file).unlink(missing_ok=True)
            (folder[winner] / f"{file}.gz").unlink(missing_ok=True)


def test_a_corrupt_file_raises_instead_of_falling_through(monkeypatch, isolated):
    good = make_idx_files()
    expect(monkeypatch, "mnist", good)
    write_idx(isolated / "env" / "mnist", good)  # a good copy later in the order
    monkeypatch.setenv("MINIGRAD_DATA", str(isolated / "env"))
    bad = dict(good, **{"train-labels-idx1-ubyte": good["train-labels-idx1-ubyte"][:-3]})
    write_idx(isolated / "root" / "mnist", bad)
    with pytest.raises(datasets.ChecksumError) as caught:
        datasets.mnist(root=isolated / "root", download=False)
    message = str(caught.value)
    assert str(isolated / "root" / "mnist" / "train-labels-idx1-ubyte") in message
    assert datasets.SHA256["mnist"]["train-labels-idx1-ubyte"] in message  # expected
    assert sha256(bad["train-labels-idx1-ubyte"]) in message  # actual


def test_gzipped_and_plain_files_mix(monkeypatch, isolated):
    files = make_idx_files()
    expect(monkeypatch, "mnist", files)
    folder = isolated / "mnist"
    write_idx(folder, {k: v for k, v in files.items() if "images" in k}, gzipped=True)
    write_idx(folder, {k: v for k, v in files.items() if "labels" in k})
    images, labels = datasets.mnist(train=False, root=isolated, download=False)
    assert images.shape == (20, 28, 28) and labels.dtype == np.int64
    expected = np.frombuffer(files["t10k-images-idx3-ubyte"], np.uint8, offset=16).reshape(20, 28, 28)
    np.testing.assert_array_equal(images, expected)


def test_a_truncated_gzip_file_is_a_checksum_error(monkeypatch, isolated):
    files = make_idx_files()
    expect(monkeypatch, "mnist", files)
    write_idx(isolated / "mnist", files, gzipped=True)
    path = isolated / "mnist" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(datasets.ChecksumError, match="t10k-images-idx3-ubyte.gz"):
        datasets.mnist(train=False, root=isolated, download=False)


@pytest.mark.parametrize(
    ("file", "damage", "message"),
    [
        ("t10k-images-idx3-ubyte", lambda data: b"\x00\x00\x08\x01" + data[4:], "starts with 00000801"),
        ("t10k-labels-idx1-ubyte", lambda data: b"\x00\x00\x0d\x01" + data[4:], "starts with 00000d01"),
        ("t10k-images-idx3-ubyte", lambda data: data[:-100], "bytes, but an IDX file of shape"),
        ("t10k-images-idx3-ubyte", lambda data: data[:10], "truncated IDX header"),
        ("t10k-labels-idx1-ubyte", lambda data: data[:8] + bytes([10]) + data[9:], "out of range"),
        ("t10k-labels-idx1-ubyte", lambda data: idx_bytes(np.zeros(19)), "holds 20 images but"),
    ],
)
def test_malformed_idx_raises_value_error_naming_the_file(monkeypatch, isolated, file, damage, message):
    files = make_idx_files()
    files[file] = damage(files[file])
    expect(monkeypatch, "mnist", files)  # the checksum passes: the parser must catch it
    write_idx(isolated / "mnist", files)
    with pytest.raises(ValueError, match=message) as caught:
        datasets.mnist(train=False, root=isolated, download=False)
    assert not isinstance(caught.value, datasets.ChecksumError)
    assert "t10k-" in str(caught.value)


def test_cifar_binary_files_from_a_root(monkeypatch, isolated):
    files = make_cifar_files()
    monkeypatch.setitem(datasets.SHA256, "cifar10", {file: sha256(data) for file, data in files.items()})
    folder = isolated / "cifar-10-batches-bin"
    folder.mkdir()
    for file, data in files.items():
        (folder / file).write_bytes(data)
    images, labels = datasets.cifar10(train=True, root=isolated, download=False)
    assert images.shape == (20, 3, 32, 32) and images.dtype == np.uint8
    assert labels.shape == (20,) and labels.dtype == np.int64
    first = np.frombuffer(files["data_batch_1.bin"], np.uint8)
    assert labels[0] == first[0]
    np.testing.assert_array_equal(images[0, 1], first[1 + 1024 : 1 + 2048].reshape(32, 32))  # green
    test_images, _ = datasets.cifar10(train=False, root=isolated, download=False)
    assert test_images.shape == (4, 3, 32, 32)


def test_not_found_lists_every_place_and_the_three_ways(isolated):
    with pytest.raises(FileNotFoundError) as caught:
        datasets.fashion_mnist(root=isolated / "nowhere", download=False)
    message = str(caught.value)
    for expected in (
        str(isolated / "nowhere" / "fashion-mnist"),
        "$MINIGRAD_DATA: not set",
        "repository",
        str(isolated / "no-os-copy"),
        "download=False",
        "MINIGRAD_DATA=",
        "apt-get install dataset-fashion-mnist",
        "network access",
    ):
        assert expected in message, expected


@pytest.mark.parametrize("given", [True, False])
def test_not_found_names_the_data_root_for_python_and_cli_users(isolated, given):
    """The first place is the data root, named as both audiences know it: root= and --data-dir."""
    root = isolated / "nowhere" if given else None
    with pytest.raises(FileNotFoundError) as caught:
        datasets.mnist(root=root, download=False)
    message = str(caught.value)
    first_place = message.splitlines()[1]
    assert first_place.startswith("  1. data root") and "root=" in first_place and "--data-dir" in first_place
    assert (str(root / "mnist") in first_place) if given else first_place.endswith("not given")
    assert "root argument" not in message
    assert "root=<data root> in Python or --data-dir <data root> on the command line" in message
    assert "apt-get" not in message  # the Debian package holds Fashion-MNIST only


# ---------------------------------------------------------------------------------------
# locate: which folder a split would be read from


def test_locate_returns_the_folder_the_loader_reads(monkeypatch, isolated):
    files = make_idx_files()
    expect(monkeypatch, "mnist", files)
    assert datasets.locate("mnist", root=isolated / "root") is None  # nowhere yet
    write_idx(isolated / "env" / "mnist", files)
    monkeypatch.setenv("MINIGRAD_DATA", str(isolated / "env"))
    assert datasets.locate("mnist", root=isolated / "root") == isolated / "env" / "mnist"
    write_idx(isolated / "root" / "mnist", {k: v for k, v in files.items() if k.startswith("t10k")})
    # the root holds the test split only: the training split still comes from $MINIGRAD_DATA
    assert datasets.locate("mnist", train=False, root=isolated / "root") == isolated / "root" / "mnist"
    assert datasets.locate("mnist", train=True, root=isolated / "root") == isolated / "env" / "mnist"
    (isolated / "env" / "mnist" / "t10k-images-idx3-ubyte").write_bytes(b"damaged")
    images, _ = datasets.mnist(train=False, root=isolated / "root", download=False)  # reads the root
    assert images.shape == (20, 28, 28)


def test_locate_finds_the_os_copy_and_rejects_unknown_names(monkeypatch, isolated):
    write_idx(isolated / "os", make_idx_files(), gzipped=True)
    monkeypatch.setattr(datasets.catalog, "OS_DATA", {"fashion-mnist": isolated / "os"})
    assert datasets.locate("fashion-mnist", train=False) == isolated / "os"
    assert datasets.locate("cifar10", train=False) is None
    with pytest.raises(ValueError, match="unknown data set 'fashion_mnist'; expected one of fashion-mnist"):
        datasets.locate("fashion_mnist")


# ---------------------------------------------------------------------------------------
# Downloads from a local server


def test_download_success(monkeypatch, isolated, server):
    files = make_idx_files()
    expect(monkeypatch, "mnist", files)
    serve_idx(server, "mnist", files)
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [server.url + "/mnist/"])
    images, labels = datasets.mnist(train=True, root=isolated / "data")
    assert images.shape == (30, 28, 28) and labels.tolist() == [i % 10 for i in range(30)]
    assert leftovers(isolated / "data" / "mnist") == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]
    # a second call finds the files and does not download again
    count = len(server.requests)
    datasets.mnist(train=True, root=isolated / "data")
    assert len(server.requests) == count


def test_download_goes_to_minigrad_data_when_no_root(monkeypatch, isolated, server):
    files = make_idx_files()
    expect(monkeypatch, "fashion-mnist", files)
    serve_idx(server, "fashion", files)
    monkeypatch.setenv("MINIGRAD_DATA", str(isolated / "env"))
    monkeypatch.setenv("MINIGRAD_DATA_MIRROR", server.url + "/fashion")  # the override, no slash
    images, _ = datasets.fashion_mnist(train=False)
    assert images.shape == (20, 28, 28)
    assert (isolated / "env" / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").is_file()


def test_download_checksum_mismatch_keeps_nothing(monkeypatch, isolated, server):
    files = make_idx_files()
    expect(monkeypatch, "mnist", files)
    served = dict(files, **{"t10k-images-idx3-ubyte": make_idx_files(seed=7)["t10k-images-idx3-ubyte"]})
    serve_idx(server, "mnist", served)
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [server.url + "/mnist/"])
    with pytest.raises(datasets.ChecksumError) as caught:
        datasets.mnist(train=False, root=isolated)
    message = str(caught.value)
    assert "t10k-images-idx3-ubyte" in message
    assert datasets.SHA256["mnist"]["t10k-images-idx3-ubyte"] in message
    assert not (isolated / "mnist" / "t10k-images-idx3-ubyte.gz").exists()
    assert not [name for name in leftovers(isolated) if name.endswith(".part")]


def test_download_connection_dropped_mid_file(monkeypatch, isolated, server):
    files = make_idx_files()
    expect(monkeypatch, "mnist", files)
    serve_idx(server, "mnist", files)
    path = "/mnist/t10k-labels-idx1-ubyte.gz"
    server.routes[path] = ("drop", server.routes[path])
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [server.url + "/mnist/"])
    with pytest.raises(FileNotFoundError) as caught:
        datasets.mnist(train=False, root=isolated)
    message = str(caught.value)
    assert "t10k-labels-idx1-ubyte.gz" in message and "connection dropped after" in message
    assert leftovers(isolated / "mnist") == ["t10k-images-idx3-ubyte.gz"]  # the good one stays


def test_download_server_absent_lists_the_places_searched(monkeypatch, isolated):
    with socket.socket() as probe:  # a port on which nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setitem(datasets.MIRRORS, "fashion-mnist", [f"http://127.0.0.1:{port}/"])
    with pytest.raises(FileNotFoundError) as caught:
        datasets.fashion_mnist(root=isolated / "data")
    message = str(caught.value)
    assert str(isolated / "data" / "fashion-mnist") in message
    assert "$MINIGRAD_DATA: not set" in message and str(isolated / "no-os-copy") in message
    assert f"http://127.0.0.1:{port}/train-images-idx3-ubyte.gz" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert not (isolated / "data").exists()  # the folders the download made are gone again


def test_a_failed_download_removes_only_the_folders_it_created(monkeypatch, isolated, server):
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [server.url + "/nothing-here/"])  # 404 for all
    nested = isolated / "new" / "data" / "root"
    with pytest.raises(FileNotFoundError, match="HTTPError"):
        datasets.mnist(root=nested)
    assert leftovers(isolated) == []  # new/, data/, root/ and mnist/ were all made by the download
    users = isolated / "users-root"
    (users / "mnist").mkdir(parents=True)  # the user's folders, empty
    with pytest.raises(FileNotFoundError, match="HTTPError"):
        datasets.mnist(root=users)
    assert leftovers(isolated) == ["mnist", "users-root"]  # both kept


def test_a_data_set_folder_that_is_a_file_is_reported(monkeypatch, isolated, server):
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [server.url + "/"])
    (isolated / "mnist").write_bytes(b"not a folder")
    with pytest.raises(FileNotFoundError) as caught:
        datasets.mnist(root=isolated)
    message = str(caught.value)
    assert f"{isolated / 'mnist'} (not a folder)" in message and "FileExistsError" in message
    assert server.requests == []


def test_the_progress_bar_shows_on_a_terminal_only(monkeypatch, isolated, server, capsys):
    files = make_idx_files()
    expect(monkeypatch, "mnist", files)
    serve_idx(server, "mnist", files)
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [server.url + "/mnist/"])
    datasets.mnist(train=False, root=isolated / "quiet")
    assert capsys.readouterr().err == ""  # pytest's stderr is not a terminal

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    datasets.mnist(train=False, root=isolated / "loud")
    shown = terminal.getvalue()
    assert "t10k-images-idx3-ubyte.gz" in shown and "t10k-labels-idx1-ubyte.gz" in shown
    assert "100%" in shown


def test_download_falls_through_to_the_next_mirror(monkeypatch, isolated, server):
    files = make_idx_files()
    expect(monkeypatch, "mnist", files)
    serve_idx(server, "good", files)
    server.routes["/dropping/t10k-images-idx3-ubyte.gz"] = (
        "drop",
        gzip.compress(files["t10k-images-idx3-ubyte"]),
    )
    monkeypatch.setitem(
        datasets.MIRRORS,
        "mnist",
        [server.url + "/missing/", server.url + "/dropping/", server.url + "/good/"],
    )
    images, _ = datasets.mnist(train=False, root=isolated)
    assert images.shape == (20, 28, 28)
    assert server.requests[:3] == [
        "/missing/t10k-images-idx3-ubyte.gz",  # 404
        "/dropping/t10k-images-idx3-ubyte.gz",  # cut short
        "/good/t10k-images-idx3-ubyte.gz",
    ]
    assert not [name for name in leftovers(isolated) if name.endswith(".part")]


def test_cifar_download_and_extract(monkeypatch, isolated, server):
    files = make_cifar_files()
    archive = cifar_archive(files)
    monkeypatch.setitem(datasets.SHA256, "cifar10", {file: sha256(data) for file, data in files.items()})
    monkeypatch.setitem(datasets.ARCHIVE_SHA256, datasets.CIFAR10_ARCHIVE, sha256(archive))
    server.routes["/kriz/cifar-10-binary.tar.gz"] = archive
    monkeypatch.setitem(datasets.MIRRORS, "cifar10", [server.url + "/kriz/"])
    images, labels = datasets.cifar10(train=False, root=isolated)
    assert images.shape == (4, 3, 32, 32) and labels.dtype == np.int64
    assert leftovers(isolated) == ["cifar-10-batches-bin", *sorted(CIFAR_FILES)]  # no archive, no .part
    train_images, _ = datasets.cifar10(train=True, root=isolated, download=False)  # both splits extracted
    assert train_images.shape == (20, 3, 32, 32)


def test_cifar_archive_checksum_mismatch(monkeypatch, isolated, server):
    files = make_cifar_files()
    monkeypatch.setitem(datasets.SHA256, "cifar10", {file: sha256(data) for file, data in files.items()})
    server.routes["/cifar-10-binary.tar.gz"] = cifar_archive(files)  # the real archive hash stays
    monkeypatch.setitem(datasets.MIRRORS, "cifar10", [server.url])
    with pytest.raises(datasets.ChecksumError, match=datasets.ARCHIVE_SHA256[datasets.CIFAR10_ARCHIVE]):
        datasets.cifar10(root=isolated)
    assert leftovers(isolated) == []  # no archive, no .part, no empty folder


def test_cifar_archive_with_path_traversal_is_refused(monkeypatch, isolated, server):
    files = make_cifar_files()
    archive = cifar_archive(files, extra={"../escaped.bin": b"gotcha"})
    monkeypatch.setitem(datasets.SHA256, "cifar10", {file: sha256(data) for file, data in files.items()})
    monkeypatch.setitem(datasets.ARCHIVE_SHA256, datasets.CIFAR10_ARCHIVE, sha256(archive))
    server.routes["/cifar-10-binary.tar.gz"] = archive
    monkeypatch.setitem(datasets.MIRRORS, "cifar10", [server.url + "/"])
    root = isolated / "root"
    with pytest.raises(ValueError, match=r"unsafe member '\.\./escaped\.bin'"):
        datasets.cifar10(root=root)
    assert not (isolated / "escaped.bin").exists()
    assert not root.exists()  # nothing extracted, and the folders the download made are gone


def test_the_data_readme_names_only_files_of_the_repository():
    """datasets/README.md must stand on its own in a clone: every file it names exists."""
    repository = Path(__file__).resolve().parent.parent
    readme = (repository / "datasets" / "README.md").read_text()
    named = re.findall(r"`([\w./-]+\.(?:md|py|toml))`", readme)
    assert named, "the pattern found no file names: the test would prove nothing"
    assert [name for name in named if not (repository / name).is_file()] == []
