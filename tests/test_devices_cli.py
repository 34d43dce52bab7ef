"""The command line on ``--device cuda``: the cnn and rnn models, ``--resume`` and
``compare`` give the numbers of the same run on the CPU.

Each test takes the ``cuda_device`` fixture (conftest.py): it runs on the strict CuPy
stand-in (every CI run) and on real CuPy when a GPU is present, and compares with a CPU
run of the same command (made once per module). The runs are tiny (32 training and 32
test examples, batches of 16) and use SGD with momentum: an update linear in the
gradient keeps the rounding differences of a GPU at the level of one op, where RMSprop
or Adam (g / sqrt(v), about sign(g) at the first steps) would amplify them.

The pictures are not drawn and the data set is read once per session (both cost more
than the tiny runs and have nothing to do with the device; test_train_cli.py tests them).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
from test_devices import FLOAT32
from test_train_cli import DATA, needs_data, run

import minigrad as mg
from minigrad import datasets, plots
from minigrad import train as training

pytestmark = needs_data

TINY = ["--limit", 32, "--test-limit", 32, "--batch-size", 16, "--data-dir", DATA.parent]
SGD_MOMENTUM = ["--optimizer", "sgd", "--momentum", 0.9]


@functools.cache
def _fashion_mnist(train: bool, root):
    return datasets.fashion_mnist(train=train, root=root)


@pytest.fixture
def quick(monkeypatch):
    """No pictures, and the data set read once (see the module docstring)."""
    monkeypatch.setattr(plots, "matplotlib_available", lambda: False)
    monkeypatch.setitem(training.LOADERS, "fashion-mnist", _fashion_mnist)


@pytest.fixture(scope="module")
def on_cpu(tmp_path_factory):
    """``on_cpu(command, *args)``: the folder of that command run with --device cpu,
    run once per module (the tests that ask for it have ``quick`` on)."""
    folders = {}

    def folder(*args) -> Path:
        if args not in folders:
            out = tmp_path_factory.mktemp("cpu")
            code, _, stderr = run(*args, "--device", "cpu", "--out", out)
            assert code == 0, stderr
            folders[args] = out
        return folders[args]

    return folder


def epochs_without_time(run_folder: Path) -> list:
    metrics = json.loads((run_folder / "metrics.json").read_text())
    return [{key: value for key, value in entry.items() if key != "seconds"} for entry in metrics["epochs"]]


def assert_same_run(got: Path, expected: Path) -> None:
    """The run in ``got`` (on cuda) reached the numbers of the run in ``expected`` (on the
    CPU): per-epoch losses and accuracies, then every weight and optimizer buffer."""
    metrics = json.loads((got / "metrics.json").read_text())
    assert metrics["config"]["device"] == "cuda" and "cupy" in metrics["versions"]
    got_epochs, expected_epochs = epochs_without_time(got), epochs_without_time(expected)
    assert [e["epoch"] for e in got_epochs] == [e["epoch"] for e in expected_epochs]
    for mine, theirs in zip(got_epochs, expected_epochs):
        for key in ("train_loss", "test_loss"):
            np.testing.assert_allclose(mine[key], theirs[key], **FLOAT32, err_msg=f"epoch {mine['epoch']} {key}")
        for key in ("train_accuracy", "test_accuracy"):
            assert mine[key] == theirs[key], f"epoch {mine['epoch']} {key}"
    mine, theirs = mg.load(got / "checkpoint.npz"), mg.load(expected / "checkpoint.npz")
    assert mine["epoch"] == theirs["epoch"]
    assert list(mine["model"]) == list(theirs["model"])
    for name, value in theirs["model"].items():
        np.testing.assert_allclose(mine["model"][name], value, **FLOAT32, err_msg=name)
    for index, state in theirs["optimizer"]["state"].items():
        np.testing.assert_allclose(mine["optimizer"]["state"][index]["momentum_buffer"], state["momentum_buffer"],
                                   **FLOAT32, err_msg=f"momentum buffer {index}")


@pytest.mark.parametrize("model", ["cnn", "rnn"])
def test_train_on_cuda_matches_cpu(cuda_device, quick, on_cpu, model, tmp_path):
    args = ("train", *TINY, *SGD_MOMENTUM, "--model", model, "--epochs", 1)
    code, stdout, stderr = run(*args, "--device", cuda_device, "--out", tmp_path)
    assert code == 0, stderr
    assert "device cuda" in stdout
    assert_same_run(tmp_path, on_cpu(*args))


def test_resume_on_cuda_matches_the_uninterrupted_cpu_run(cuda_device, quick, on_cpu, tmp_path):
    """One epoch on cuda, resumed on cuda for a second: the checkpoint (weights,
    momentum buffers, data order, schedule) lands on the device and goes on as the
    CPU run of two epochs did."""
    args = ("train", *TINY, *SGD_MOMENTUM, "--model", "mlp")
    code, _, stderr = run(*args, "--epochs", 1, "--device", cuda_device, "--out", tmp_path)
    assert code == 0, stderr
    code, stdout, stderr = run("train", "--resume", tmp_path, "--epochs", 2, "--device", cuda_device)
    assert code == 0, stderr
    assert "resuming from" in stdout and "device cuda" in stdout
    assert_same_run(tmp_path, on_cpu(*args, "--epochs", 2))


def test_compare_on_cuda_matches_cpu(cuda_device, quick, on_cpu, tmp_path):
    args = ("compare", *TINY, "--model", "mlp", "--epochs", 1, "--optimizers", "sgd", "sgd-momentum")
    code, _, stderr = run(*args, "--device", cuda_device, "--out", tmp_path)
    assert code == 0, stderr
    expected = on_cpu(*args)
    summary = json.loads((tmp_path / "compare.json").read_text())
    assert summary["config"]["device"] == "cuda"
    assert list(summary["runs"]) == ["sgd", "sgd-momentum"]
    for name in summary["runs"]:
        assert_same_run(tmp_path / name, expected / name)
