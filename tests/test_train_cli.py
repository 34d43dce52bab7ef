"""``minigrad train`` and ``minigrad compare`` end to end, on the real Fashion-MNIST.

The runs are tiny (a few hundred examples, one or two epochs) so that each takes a few
seconds; they check the plumbing (outputs, resume, divergence, interrupts, argument
errors), not the accuracy, which benchmarks/ measures on full runs. The commands run
in-process through ``cli.main`` to save interpreter start-up, except one subprocess
test of ``python -m minigrad``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cupy_standin
import numpy
import pytest

import minigrad as mg
from minigrad import backend, cli
from minigrad import train as training

DATA = Path("/usr/share/datasets/fashion-mnist")
needs_data = pytest.mark.skipif(
    not DATA.is_dir(),
    reason=f"real Fashion-MNIST not found in {DATA}: apt-get install dataset-fashion-mnist (CI does)",
)

# A tiny run: 256 training and 200 test examples, 8 batches per epoch.
SMALL = ["--limit", "256", "--test-limit", "200", "--batch-size", "32", "--data-dir", str(DATA.parent)]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
METRICS_KEYS = {"config", "epochs", "test_accuracy", "report", "wall_seconds", "versions"}
EPOCH_KEYS = {"epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds"}


def run(*args) -> tuple[int, str, str]:
    """``minigrad ARGS`` in this process: (exit code, stdout, stderr). argparse errors
    exit with SystemExit, which becomes the exit code here."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = cli.main([str(arg) for arg in args])
        except SystemExit as exit:
            code = exit.code
    return code, stdout.getvalue(), stderr.getvalue()


def train(out, *args) -> tuple[int, str, str]:
    return run("train", *SMALL, "--out", out, *args)


def epochs_without_time(metrics: dict) -> list[dict]:
    return [{key: value for key, value in entry.items() if key != "seconds"} for entry in metrics["epochs"]]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory):
    """One CNN run of 2 epochs, shared by the tests that only read its outputs."""
    if not DATA.is_dir():
        pytest.skip(f"real Fashion-MNIST not found in {DATA}")
    out = tmp_path_factory.mktemp("two_epochs")
    code, stdout, stderr = train(out, "--epochs", 2)
    assert code == 0, stderr
    return out, stdout, stderr


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory):
    """The same run stopped after its first epoch (copied by the tests that resume it)."""
    if not DATA.is_dir():
        pytest.skip(f"real Fashion-MNIST not found in {DATA}")
    out = tmp_path_factory.mktemp("one_epoch")
    code, _, stderr = train(out, "--epochs", 1)
    assert code == 0, stderr
    return out


def copy_run(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(source, target)
    return target


# ------------------------------------------------------------------------------------
# A complete run and its outputs


@needs_data
def test_train_writes_every_output(two_epochs):
    out, _, _ = two_epochs
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == METRICS_KEYS
    assert [entry["epoch"] for entry in metrics["epochs"]] == [1, 2]
    for entry in metrics["epochs"]:
        assert set(entry) == EPOCH_KEYS
        assert 0 <= entry["train_accuracy"] <= 1 and 0 <= entry["test_accuracy"] <= 1
        assert entry["train_loss"] > 0 and entry["seconds"] > 0
    config = metrics["config"]
    assert (config["model"], config["dataset"], config["optimizer"]) == ("cnn", "fashion-mnist", "rmsprop")
    assert (config["lr"], config["epochs"], config["batch_size"], config["limit"]) == (1e-3, 2, 32, 256)
    assert metrics["versions"]["minigrad"] == mg.__version__
    assert metrics["wall_seconds"] >= sum(entry["seconds"] for entry in metrics["epochs"])
    for picture in ("curves.png", "confusion_matrix.png"):
        assert (out / picture).read_bytes()[:8] == PNG_SIGNATURE, picture
    checkpoint = mg.load(out / "checkpoint.npz")
    assert checkpoint["epoch"] == 2
    assert set(checkpoint) >= {"config", "model", "optimizer", "rng", "loader", "history"}
    assert "0.weight" in checkpoint["model"]  # the first Conv2d of the Sequential


@needs_data
def test_printed_numbers_match_metrics_json(two_epochs):
    out, stdout, stderr = two_epochs
    metrics = json.loads((out / "metrics.json").read_text())
    printed = float(re.search(r"test accuracy: ([0-9.]+) \((\d+)/200\)", stdout).group(1))
    assert printed == round(metrics["test_accuracy"], 4)
    assert metrics["test_accuracy"] == metrics["report"]["accuracy"] == metrics["epochs"][-1]["test_accuracy"]
    for entry in metrics["epochs"]:
        line = re.search(rf"epoch {entry['epoch']}/2: train loss ([0-9.]+), train accuracy ([0-9.]+), "
                         r"test loss ([0-9.]+), test accuracy ([0-9.]+)", stdout)
        assert [float(value) for value in line.groups()] == [
            round(entry[key], 4) for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy")
        ]
    # the per-class report names the classes and shows the same support and numbers
    for name in ("T-shirt/top", "Trouser", "Ankle boot", "macro avg"):
        assert name in stdout
        row = metrics["report"][name]
        assert re.search(rf"{re.escape(name)}\s+{row['precision']:.4f}\s+{row['recall']:.4f}", stdout)
    assert sum(metrics["report"][name]["support"] for name in mg.datasets.CLASSES["fashion-mnist"]) == 200
    assert "epoch 1/2" in stderr  # the progress bar (tqdm or the plain fallback) writes to stderr


@needs_data
def test_runs_repeat_from_the_same_seed(two_epochs, one_epoch):
    """Epoch 1 of the 2-epoch run equals the 1-epoch run: the seed fixes everything
    (and the cosine schedule starts at the same rate whatever the number of epochs)."""
    first = json.loads((one_epoch / "metrics.json").read_text())
    both = json.loads((two_epochs[0] / "metrics.json").read_text())
    assert epochs_without_time(first) == epochs_without_time(both)[:1]


# ------------------------------------------------------------------------------------
# Resume, divergence, Ctrl-C


@needs_data
def test_resume_equals_uninterrupted(two_epochs, one_epoch, tmp_path):
    resumed = copy_run(one_epoch, tmp_path)
    code, stdout, stderr = run("train", "--resume", resumed, "--epochs", 2)
    assert code == 0, stderr
    assert "resuming from" in stdout
    straight = json.loads((two_epochs[0] / "metrics.json").read_text())
    again = json.loads((resumed / "metrics.json").read_text())
    assert epochs_without_time(again) == epochs_without_time(straight)
    assert again["report"] == straight["report"]
    expected, got = mg.load(two_epochs[0] / "checkpoint.npz"), mg.load(resumed / "checkpoint.npz")
    assert got["epoch"] == 2
    for name, value in expected["model"].items():
        numpy.testing.assert_array_equal(got["model"][name], value, err_msg=name)  # bit for bit
    for index, state in expected["optimizer"]["state"].items():
        numpy.testing.assert_array_equal(got["optimizer"]["state"][index]["square_avg"], state["square_avg"])


@needs_data
def test_resume_refuses_a_different_model(one_epoch, tmp_path):
    resumed = copy_run(one_epoch, tmp_path)
    code, _, stderr = run("train", "--resume", resumed, "--model", "mlp")
    assert code == 2
    assert "--model mlp" in stderr and "the run used cnn" in stderr


def test_resume_needs_a_checkpoint(tmp_path):
    code, _, stderr = run("train", "--resume", tmp_path)
    assert code == 2
    assert "no checkpoint.npz" in stderr


@needs_data
def test_huge_learning_rate_stops_and_keeps_the_last_good_checkpoint(one_epoch, tmp_path):
    resumed = copy_run(one_epoch, tmp_path)
    before = digest(resumed / "checkpoint.npz")
    code, _, stderr = run("train", "--resume", resumed, "--epochs", 3, "--lr", "1e10")
    assert code == training_exit_diverged()
    assert "stopped in epoch 2" in stderr and "nan" in stderr
    assert "lr=1e+10" in stderr and "try a lower one" in stderr
    assert f"--resume {resumed}" in stderr  # says how to continue from the good epoch
    assert digest(resumed / "checkpoint.npz") == before  # the last good checkpoint, untouched
    assert mg.load(resumed / "checkpoint.npz")["epoch"] == 1


@needs_data
def test_divergence_in_the_first_epoch_leaves_no_checkpoint(tmp_path):
    code, _, stderr = train(tmp_path, "--model", "mlp", "--optimizer", "sgd", "--lr", "1e4", "--epochs", 1)
    assert code == training_exit_diverged()
    assert "sgd lr=10000" in stderr and "no checkpoint was written" in stderr
    assert not (tmp_path / "checkpoint.npz").exists()


def training_exit_diverged() -> int:
    return cli.EXIT_DIVERGED


@needs_data
def test_ctrl_c_keeps_the_last_epoch_and_says_how_to_resume(tmp_path, monkeypatch):
    real_epoch = training.train_one_epoch
    calls = []

    def interrupted_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(training, "train_one_epoch", interrupted_in_epoch_2)
    code, _, stderr = train(tmp_path, "--model", "mlp", "--epochs", 3)
    assert code == 130
    assert "interrupted during epoch 2" in stderr
    assert f"minigrad train --resume {tmp_path}" in stderr
    assert mg.load(tmp_path / "checkpoint.npz")["epoch"] == 1
    monkeypatch.setattr(training, "train_one_epoch", real_epoch)
    code, _, stderr = run("train", "--resume", tmp_path)
    assert code == 0, stderr
    assert [e["epoch"] for e in json.loads((tmp_path / "metrics.json").read_text())["epochs"]] == [1, 2, 3]


# ------------------------------------------------------------------------------------
# Arguments


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--model", "vgg16"], "vgg16"),
        (["--dataset", "imagenet"], "imagenet"),
        (["--optimizer", "lbfgs"], "lbfgs"),
        (["--lr", "0"], "--lr: must be a finite number > 0, got 0"),
        (["--lr", "-0.1"], "got -0.1"),
        (["--lr", "fast"], "'fast'"),
        (["--epochs", "0"], "--epochs: must be at least 1, got 0"),
        (["--limit", "0"], "--limit: must be at least 1, got 0"),
        (["--batch-size", "-4"], "got -4"),
        (["--device", "tpu"], "tpu"),
    ],
)
def test_bad_arguments_are_named(args, named):
    code, _, stderr = run("train", *args)
    assert code == 2
    assert named in stderr


def test_compare_rejects_an_unknown_optimizer():
    code, _, stderr = run("compare", "--optimizers", "adam", "lion")
    assert code == 2
    assert "'lion'" in stderr


def test_cuda_without_a_gpu_fails_clearly(tmp_path):
    if mg.cuda_is_available():
        pytest.skip("a GPU is available here")
    code, _, stderr = train(tmp_path, "--device", "cuda")
    assert code == 1
    assert "device 'cuda'" in stderr and "cpu" in stderr


# ------------------------------------------------------------------------------------
# Every model, the GPU path, compare


@needs_data
@pytest.mark.parametrize("model", ["mlp", "cnn", "rnn", "lstm"])
def test_every_model_trains_one_tiny_epoch(model, tmp_path):
    code, stdout, stderr = run("train", "--model", model, "--limit", 64, "--test-limit", 50, "--epochs", 1,
                               "--batch-size", 32, "--out", tmp_path)
    assert code == 0, stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["model"] == model
    assert metrics["config"]["clip"] == (1.0 if model == "rnn" else 0.0)
    assert f"test accuracy: {metrics['test_accuracy']:.4f}" in stdout


@needs_data
def test_training_on_the_cuda_path(tmp_path):
    """--device cuda on the strict CPU stand-in of CuPy: the model and every batch
    really live on the "cuda" device (a host array slipping in would raise)."""
    previous = (backend._cuda_module, backend._cuda_import_error)
    backend.use_cuda_module(cupy_standin)
    try:
        code, _, stderr = train(tmp_path, "--model", "mlp", "--epochs", 1, "--device", "cuda")
    finally:
        backend._cuda_module, backend._cuda_import_error = previous
    assert code == 0, stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["device"] == "cuda"
    assert mg.load(tmp_path / "checkpoint.npz")["model"]["1.weight"].shape == (256, 784)


@needs_data
def test_compare_writes_one_figure_and_a_table(tmp_path):
    code, stdout, stderr = run("compare", "--model", "mlp", *SMALL, "--epochs", 2, "--out", tmp_path)
    assert code == 0, stderr
    summary = json.loads((tmp_path / "compare.json").read_text())
    assert list(summary["runs"]) == ["sgd", "sgd-momentum", "rmsprop", "adam"]
    assert summary["runs"]["sgd-momentum"]["momentum"] == 0.9
    assert (tmp_path / "compare.png").read_bytes()[:8] == PNG_SIGNATURE
    table = stdout[stdout.index("optimizer"):]
    for name, result in summary["runs"].items():
        assert re.search(rf"^{name}\s.*{result['test_accuracy']:.4f}", table, re.MULTILINE)
        assert len(result["epochs"]) == 2
    # same seed, same start: the first batches see the same initial model, so every run
    # starts from the same loss; a different optimizer then makes them differ
    losses = {round(run["epochs"][0]["train_loss"], 6) for run in summary["runs"].values()}
    assert len(losses) == 4


# ------------------------------------------------------------------------------------
# python -m minigrad


def test_python_dash_m_train_help():
    result = subprocess.run([sys.executable, "-m", "minigrad", "train", "--help"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    for option in ("--model", "--dataset", "--optimizer", "--lr", "--epochs", "--batch-size", "--seed",
                   "--device", "--data-dir", "--out", "--limit", "--resume"):
        assert option in result.stdout


@needs_data
def test_python_dash_m_train_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "minigrad", "train", "--model", "mlp", "--epochs", "1", *SMALL, "--out",
         str(tmp_path)], capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert f"test accuracy: {metrics['test_accuracy']:.4f}" in result.stdout


# ------------------------------------------------------------------------------------
# Optional dependencies: tqdm and matplotlib


def test_progress_without_tqdm_prints_plain_lines(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `from tqdm import tqdm` fail
    stream = io.StringIO()
    progress = training.Progress(100, "epoch 1/1", stream=stream)
    for _ in range(10):
        progress.update(10, loss=0.5, accuracy=0.75)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert 1 < len(lines) <= 11
    assert lines[-1].startswith("epoch 1/1: 100/100 examples, loss 0.5000, accuracy 0.7500,")
    assert lines[-1].endswith("ex/s")


def test_outputs_without_matplotlib_skip_the_pictures_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    notes = []
    result = {"config": {"model": "mlp", "dataset": "mnist", "optimizer": "adam", "lr": 1e-3},
              "epochs": [], "test_accuracy": 0.5}
    training.write_outputs(tmp_path, result, numpy.eye(2, dtype=numpy.int64), ["a", "b"], notes.append)
    assert json.loads((tmp_path / "metrics.json").read_text()) == result
    assert not list(tmp_path.glob("*.png"))
    assert len(notes) == 1 and "matplotlib is not installed" in notes[0]


def test_missing_data_is_an_error_message_not_a_traceback(tmp_path, monkeypatch):
    def not_found(train=True, root=None, download=True):
        raise FileNotFoundError("Fashion-MNIST was not found; searched: (the places)")

    monkeypatch.setitem(training.LOADERS, "fashion-mnist", not_found)
    code, _, stderr = train(tmp_path, "--epochs", 1)
    assert code == 1
    assert stderr.startswith("minigrad train: error: Fashion-MNIST was not found")
