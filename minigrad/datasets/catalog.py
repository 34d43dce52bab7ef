"""What the data sets are and where they come from: class names, files, checksums, mirrors,
folders, and the settings the search and the download read.

The rest of the package reads every name here as ``catalog.NAME`` at the moment it runs, so
a test can replace one (``monkeypatch.setattr(minigrad.datasets.catalog, "TIMEOUT", 5)``)
and a user can change one (``minigrad.datasets.catalog.TIMEOUT = 120``).
"""

from __future__ import annotations

from pathlib import Path

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

# The repository's datasets/ folder, only when minigrad runs from a source checkout:
# this file is <checkout>/minigrad/datasets/catalog.py, and a checkout has a pyproject.toml.
_CHECKOUT = Path(__file__).resolve().parents[2]
REPO_DATA = _CHECKOUT / "datasets" if (_CHECKOUT / "pyproject.toml").is_file() else None

TIMEOUT = 30  # seconds without an answer before a mirror counts as unreachable

# Each data set's name as people write it, in messages.
NAMES = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10"}
