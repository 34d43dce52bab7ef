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
import math
import re
import shutil
import struct
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import cupy_standin
import numpy
import pytest
from helpers import DATA, needs_data
from helpers import run_minigrad as run

import minigrad as mg
from minigrad import backend, cli, plots
from minigrad import train as training

# A tiny run: 256 training and 200 test examples, 8 batches per epoch.
SMALL = ["--limit", "256", "--test-limit", "200", "--batch-size", "32", "--data-dir", str(DATA.parent)]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
METRICS_KEYS = {"config", "data", "epochs", "test_accuracy", "report", "wall_seconds", "versions"}
EPOCH_KEYS = {"epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds"}




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
    assert metrics["data"] == {"train": str(DATA), "test": str(DATA)}  # the folder the run read
    checkpoint = mg.load(out / "checkpoint.npz")
    assert checkpoint["epoch"] == 2
    assert set(checkpoint) >= {"config", "model", "optimizer", "scheduler", "rng", "loader", "history"}
    assert "0.weight" in checkpoint["model"]  # the first Conv2d of the Sequential
    # the library's CosineAnnealingLR, stepped once per epoch, over the run's 2 epochs
    assert (checkpoint["scheduler"]["T_max"], checkpoint["scheduler"]["last_epoch"]) == (2, 2)


@needs_data
def test_train_draws_the_pictures(two_epochs):
    pytest.importorskip("matplotlib")
    out, stdout, _ = two_epochs
    for picture in ("curves.png", "confusion_matrix.png"):
        assert (out / picture).read_bytes()[:8] == PNG_SIGNATURE, picture
    assert f"wrote metrics.json, curves.png, confusion_matrix.png and checkpoint.npz to {out}" in stdout


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
    assert "epoch 1/2" in stderr  # tqdm's progress bar writes to stderr
    assert f"data: {DATA}\n" in stdout  # where the data came from
    assert "for 2 epochs," in stdout


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
    # what was resumed: which checkpoint, which epoch, the settings it brought, what changed
    assert (f"resuming from {resumed / 'checkpoint.npz'} after epoch 1; settings from the checkpoint: model cnn, "
            "dataset fashion-mnist, optimizer rmsprop, momentum 0.0, alpha 0.99, eps 1e-08, centered False, "
            "preset pytorch, schedule cosine, batch size 32, clip 0.0, "
            "seed 0, limit 256, test limit 200; changed: epochs 2 (was 1)\n") in stdout
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
    assert got["optimizer"]["param_groups"] == expected["optimizer"]["param_groups"]  # the same lr
    assert got["scheduler"] == expected["scheduler"]


@needs_data
def test_resume_with_more_epochs_and_another_lr_follows_the_new_cosine(one_epoch, tmp_path, monkeypatch):
    """Resumed after epoch 1 with --epochs 3 --lr 5e-4, epochs 2 and 3 train at
    lr (1 + cos(pi (e - 1) / 3)) / 2 with lr = 5e-4: the cosine of the new settings."""
    resumed = copy_run(one_epoch, tmp_path)
    real_epoch, rates = training.train_one_epoch, []

    def recording(model, loader, optimizer, *args):
        rates.append(optimizer.param_groups[0]["lr"])
        return real_epoch(model, loader, optimizer, *args)

    monkeypatch.setattr(training, "train_one_epoch", recording)
    code, stdout, stderr = run("train", "--resume", resumed, "--epochs", 3, "--lr", "5e-4")
    assert code == 0, stderr
    assert "changed: epochs 3 (was 1), lr 0.0005 (was 0.001)" in stdout
    assert rates == pytest.approx([5e-4 * (1 + math.cos(math.pi * e / 3)) / 2 for e in (1, 2)], rel=1e-12)
    metrics = json.loads((resumed / "metrics.json").read_text())
    assert [entry["epoch"] for entry in metrics["epochs"]] == [1, 2, 3]
    assert (metrics["config"]["epochs"], metrics["config"]["lr"]) == (3, 5e-4)


@needs_data
def test_resume_refuses_a_different_model(one_epoch, tmp_path):
    resumed = copy_run(one_epoch, tmp_path)
    code, _, stderr = run("train", "--resume", resumed, "--model", "mlp")
    assert code == 2
    assert "--model mlp" in stderr and "the run used cnn" in stderr


@pytest.fixture(scope="module")
def unusual_run(tmp_path_factory):
    """A run whose settings are NOT the defaults: an option given on the command line
    at its default value asks for something else than this run used."""
    if not DATA.is_dir():
        pytest.skip(f"real Fashion-MNIST not found in {DATA}")
    out = tmp_path_factory.mktemp("unusual")
    code, _, stderr = run("train", "--model", "mlp", "--optimizer", "sgd", "--seed", 1, "--schedule", "constant",
                          "--limit", 64, "--test-limit", 50, "--epochs", 1, "--data-dir", DATA.parent, "--out", out)
    assert code == 0, stderr
    return out


@needs_data
@pytest.mark.parametrize(("option", "default", "used"), [
    ("--model", "cnn", "mlp"), ("--optimizer", "rmsprop", "sgd"), ("--seed", "0", "1"),
    ("--schedule", "cosine", "constant"), ("--dataset", "fashion-mnist", "mnist"), ("--momentum", "0", "0.5"),
])
def test_resume_refuses_an_option_given_at_its_default(unusual_run, tmp_path, option, default, used):
    resumed = copy_run(unusual_run, tmp_path)
    if option in ("--dataset", "--momentum"):  # not worth a training run: the checkpoint says so
        state = mg.load(resumed / "checkpoint.npz")
        state["config"][option[2:]] = float(used) if option == "--momentum" else used
        mg.save(state, resumed / "checkpoint.npz")
    before = digest(resumed / "checkpoint.npz")
    code, stdout, stderr = run("train", "--resume", resumed, "--epochs", 2, option, default)
    assert code == 2, stdout
    assert f"cannot change {option} {default} (the run used {used})" in stderr
    assert digest(resumed / "checkpoint.npz") == before


@needs_data
def test_resume_accepts_the_settings_the_run_used(unusual_run, tmp_path):
    resumed = copy_run(unusual_run, tmp_path)
    code, _, stderr = run("train", "--resume", resumed, "--epochs", 2, "--model", "mlp", "--seed", 1,
                          "--optimizer", "sgd", "--schedule", "constant", "--limit", 64)
    assert code == 0, stderr
    metrics = json.loads((resumed / "metrics.json").read_text())
    assert (metrics["config"]["model"], metrics["config"]["seed"], len(metrics["epochs"])) == ("mlp", 1, 2)


@needs_data
def test_resume_refuses_fewer_epochs_than_were_done(two_epochs, tmp_path):
    resumed = copy_run(two_epochs[0], tmp_path)
    before = (resumed / "metrics.json").read_text()
    code, _, stderr = run("train", "--resume", resumed, "--epochs", 1)
    assert code == 2
    assert "--epochs 1: the run in" in stderr and "has done 2 epochs already" in stderr and "give 2 or more" in stderr
    assert (resumed / "metrics.json").read_text() == before


@needs_data
def test_resume_refuses_a_data_dir_that_is_gone(one_epoch, tmp_path):
    resumed = copy_run(one_epoch, tmp_path)
    state = mg.load(resumed / "checkpoint.npz")
    state["config"]["data_dir"] = str(tmp_path / "moved")  # the run's --data-dir, since removed
    mg.save(state, resumed / "checkpoint.npz")
    code, _, stderr = run("train", "--resume", resumed, "--epochs", 2)
    assert code == 2
    assert f"the run read its data from --data-dir {tmp_path / 'moved'}, which no longer exists" in stderr
    code, _, stderr = run("train", "--resume", resumed, "--epochs", 2, "--data-dir", DATA.parent)
    assert code == 0, stderr


def test_resume_needs_a_checkpoint(tmp_path):
    code, _, stderr = run("train", "--resume", tmp_path)
    assert code == 2
    assert "no checkpoint.npz" in stderr


def damage(kind: str, good: bytes, folder: Path) -> None:
    """Write a damaged or foreign checkpoint.npz of the given kind into ``folder``."""
    path = folder / "checkpoint.npz"
    if kind == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif kind == "random bytes":
        path.write_bytes(numpy.random.default_rng(0).integers(0, 256, 4000, dtype=numpy.uint8).tobytes())
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "foreign npz":
        with path.open("wb") as file:
            numpy.savez(file, weights=numpy.zeros(3))
    elif kind == "CRC error":  # one flipped byte in the middle of the last member's data (stored uncompressed)
        member = zipfile.ZipFile(io.BytesIO(good)).infolist()[-1]
        name_length, extra_length = struct.unpack("<HH", good[member.header_offset + 26:member.header_offset + 30])
        at = member.header_offset + 30 + name_length + extra_length + member.file_size // 2
        path.write_bytes(good[:at] + bytes([good[at] ^ 0xFF]) + good[at + 1:])
    elif kind == "not from minigrad train":
        mg.save({"weights": numpy.zeros(3)}, path)


@needs_data
@pytest.mark.parametrize("kind", ["truncated", "random bytes", "empty", "foreign npz", "CRC error",
                                  "not from minigrad train"])
def test_a_damaged_checkpoint_is_one_line_not_a_traceback(one_epoch, tmp_path, kind):
    damage(kind, (one_epoch / "checkpoint.npz").read_bytes(), tmp_path)
    code, stdout, stderr = run("train", "--resume", tmp_path)
    assert code == 1
    assert stdout == ""
    assert len(stderr.splitlines()) == 1 and "Traceback" not in stderr
    assert stderr.startswith(f"minigrad train: error: cannot resume: '{tmp_path / 'checkpoint.npz'}' ")
    assert stderr.rstrip().endswith("Resume from an intact copy of the run, or start it again without --resume")


@needs_data
def test_a_checkpoint_that_does_not_fit_its_model_is_one_line(one_epoch, tmp_path):
    resumed = copy_run(one_epoch, tmp_path)
    state = mg.load(resumed / "checkpoint.npz")
    state["config"]["model"] = "mlp"  # the parameters are still the CNN's
    mg.save(state, resumed / "checkpoint.npz")
    code, _, stderr = run("train", "--resume", resumed)
    assert code == 1
    assert "does not fit the mlp run it describes" in stderr and "Traceback" not in stderr


@needs_data
def test_huge_learning_rate_stops_and_keeps_the_last_good_checkpoint(one_epoch, tmp_path):
    resumed = copy_run(one_epoch, tmp_path)
    before = digest(resumed / "checkpoint.npz")
    code, _, stderr = run("train", "--resume", resumed, "--epochs", 3, "--lr", "1e10")
    assert code == training_exit_diverged()
    assert "stopped in epoch 2: the " in stderr
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


@needs_data
def test_rmsprop_divergence_with_finite_numbers_is_caught_without_numpy_warnings(tmp_path):
    """RMSprop at lr=1e6 blows the weights up without ever reaching NaN (a loss of 1e34
    and test accuracy 0.10 once passed as a success), and overflowed in rmsprop.py on
    the way. The test loss after the epoch is above 10 ln 10: stopped, no warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, stdout, stderr = train(tmp_path, "--lr", "1e6", "--epochs", 1)
    assert code == training_exit_diverged(), stdout
    assert re.search(r"stopped in epoch 1: the test loss became [0-9.]+e\+\d+ after the epoch "
                     r"\(more than 23\.0, ten times the loss of a uniform guess\)", stderr)
    assert "rmsprop lr=1e+06" in stderr and "--lr 0.001" in stderr  # suggests the default rate
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []
    assert "RuntimeWarning" not in stderr
    assert not (tmp_path / "checkpoint.npz").exists() and not (tmp_path / "metrics.json").exists()


@needs_data
def test_a_loss_spike_that_recovers_is_not_divergence(tmp_path, monkeypatch):
    """RMSprop at PyTorch's default lr=1e-2: the second batch's loss is far above
    10 ln 10 (RMSprop's cold start), and the MLP recovers within the epoch."""
    real_loss, batch_losses = training.cross_entropy, []

    def recording(logits, labels, **kwargs):
        loss = real_loss(logits, labels, **kwargs)
        if not kwargs:  # a training batch (evaluation sums with reduction="sum")
            batch_losses.append(loss.item())
        return loss

    monkeypatch.setattr(training, "cross_entropy", recording)
    code, _, stderr = run("train", "--model", "mlp", "--lr", "1e-2", "--limit", 512, "--test-limit", 200,
                          "--batch-size", 32, "--epochs", 1, "--data-dir", DATA.parent, "--out", tmp_path)
    assert code == 0, stderr
    assert max(batch_losses) > training.divergence_limit(10)
    assert json.loads((tmp_path / "metrics.json").read_text())["epochs"][0]["test_loss"] < 2.3


@needs_data
def test_an_overflow_on_the_way_to_nan_raises_no_numpy_warning(tmp_path):
    """At lr=1e30 the first step sends the weights past float32's range: the next
    forward pass overflows (NumPy would warn from inside minigrad's matmul) and the
    loss is NaN. The user gets the divergence message alone."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _, stderr = train(tmp_path, "--model", "mlp", "--optimizer", "adam", "--lr", "1e30", "--epochs", 1)
    assert code == training_exit_diverged()
    assert "stopped in epoch 1: the training loss became nan at 32 examples into the epoch." in stderr
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []


@needs_data
def test_a_broken_test_loss_stops_the_run_before_its_checkpoint(one_epoch, tmp_path, monkeypatch):
    """The last step of an epoch is checked through the test loss, before the
    checkpoint is written."""
    resumed = copy_run(one_epoch, tmp_path)
    before = digest(resumed / "checkpoint.npz")
    real_evaluate = training.evaluate

    def broken(*args):
        _, accuracy, predicted = real_evaluate(*args)
        return 50.0, accuracy, predicted

    monkeypatch.setattr(training, "evaluate", broken)
    code, _, stderr = run("train", "--resume", resumed, "--epochs", 2)
    assert code == training_exit_diverged()
    assert "stopped in epoch 2: the test loss became 50 after the epoch (more than 23.0" in stderr
    assert digest(resumed / "checkpoint.npz") == before


def test_the_divergence_limit_is_ten_uniform_guesses():
    assert training.divergence_limit(10) == pytest.approx(10 * math.log(10))  # 23.03
    training.check_loss(23.0, training.divergence_limit(10), "the loss", "now")  # below: fine
    for loss in (23.1, math.inf, math.nan):
        with pytest.raises(training.TrainingDiverged, match="the loss became"):
            training.check_loss(loss, training.divergence_limit(10), "the loss", "now")
    training.check_loss(1e30, math.inf, "a batch loss", "now")  # batches: NaN and inf only
    with pytest.raises(training.TrainingDiverged, match="a batch loss became nan now$"):
        training.check_loss(math.nan, math.inf, "a batch loss", "now")


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


@needs_data
def test_a_data_dir_that_does_not_exist_is_refused(tmp_path):
    """It used to be skipped silently, and the data read from another place."""
    missing = tmp_path / "no" / "such" / "dir"
    code, _, stderr = run("train", "--data-dir", missing, "--model", "mlp", "--limit", 64, "--test-limit", 50,
                          "--epochs", 1, "--out", tmp_path / "run")
    assert code == 2
    assert stderr.splitlines()[-1] == f"minigrad train: error: argument --data-dir: {missing}: no such folder"
    assert not (tmp_path / "run").exists()


def test_an_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "taken").write_text("a file")
    code, _, stderr = run("train", "--out", tmp_path / "taken")
    assert code == 2
    assert stderr.splitlines()[-1] == f"minigrad train: error: --out {tmp_path / 'taken'}: is a file, not a folder"


def test_lr_help_names_only_real_choices():
    code, stdout, _ = run("train", "--help")
    assert code == 0
    text = " ".join(stdout.split())  # argparse wraps the help text
    assert "sgd 0.05, or 0.01 with --momentum; rmsprop 0.001; adam 0.001" in text
    assert "sgd-momentum" not in text


def test_compare_rejects_an_optimizer_given_twice():
    code, _, stderr = run("compare", "--optimizers", "adam", "sgd", "adam:0.01")
    assert code == 2
    assert "--optimizers: adam given more than once" in stderr


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
    assert "for 1 epoch," in stdout  # not "1 epochs"


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


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    """``minigrad compare`` of the four optimizers on the MLP, 2 epochs."""
    if not DATA.is_dir():
        pytest.skip(f"real Fashion-MNIST not found in {DATA}")
    out = tmp_path_factory.mktemp("compare")
    code, stdout, stderr = run("compare", "--model", "mlp", *SMALL, "--epochs", 2, "--out", out)
    assert code == 0, stderr
    return out, stdout


@needs_data
def test_compare_writes_a_summary_and_a_table(comparison):
    out, stdout = comparison
    summary = json.loads((out / "compare.json").read_text())
    assert list(summary["runs"]) == ["sgd", "sgd-momentum", "rmsprop", "adam"]
    assert summary["runs"]["sgd-momentum"]["momentum"] == 0.9
    assert "optimizer" not in summary["config"] and "lr" not in summary["config"]  # those differ per run
    table = stdout[stdout.index("optimizer"):]
    for name, result in summary["runs"].items():
        assert result["diverged"] is False
        assert re.search(rf"^{name}\s.*{result['test_accuracy']:.4f}", table, re.MULTILINE)
        assert len(result["epochs"]) == 2
    # same seed, same start: the first batches see the same initial model, so every run
    # starts from the same loss; a different optimizer then makes them differ
    losses = {round(run["epochs"][0]["train_loss"], 6) for run in summary["runs"].values()}
    assert len(losses) == 4
    assert "with sgd lr=0.01 momentum=0.9 for 2 epochs" in stdout  # the sgd-momentum run says so
    assert "wrote compare.json" in stdout and f"to {out} (each optimizer's own run is in {out}/<optimizer>)" in stdout


@needs_data
def test_compare_draws_one_figure(comparison):
    pytest.importorskip("matplotlib")
    out, stdout = comparison
    assert (out / "compare.png").read_bytes()[:8] == PNG_SIGNATURE
    assert f"wrote compare.json and compare.png to {out}" in stdout


@needs_data
def test_compare_goes_on_after_an_optimizer_diverges(tmp_path):
    code, stdout, stderr = run("compare", "--model", "mlp", *SMALL, "--epochs", 1, "--optimizers", "sgd:1e6", "adam",
                               "--out", tmp_path)
    assert code == 0, stderr
    summary = json.loads((tmp_path / "compare.json").read_text())
    sgd, adam = summary["runs"]["sgd"], summary["runs"]["adam"]
    assert (sgd["diverged"], sgd["diverged_in_epoch"], sgd["epochs"], sgd["test_accuracy"]) == (True, 1, [], None)
    assert sgd["lr"] == 1e6 and " loss became " in sgd["reason"]
    assert adam["diverged"] is False and len(adam["epochs"]) == 1 and adam["test_accuracy"] > 0
    assert "sgd diverged in epoch 1: the " in stdout
    assert re.search(r"^sgd\s+1e\+06\s+diverged in epoch 1\s", stdout, re.MULTILINE)
    assert (tmp_path / "adam" / "metrics.json").is_file()


@needs_data
def test_compare_fails_when_every_optimizer_diverges(tmp_path):
    code, _, stderr = run("compare", "--model", "mlp", *SMALL, "--epochs", 1, "--optimizers", "sgd:1e6", "adam:1e6",
                          "--out", tmp_path)
    assert code == training_exit_diverged()
    assert "every optimizer diverged (sgd, adam); try lower learning rates, e.g. sgd:0.05 adam:0.001" in stderr
    summary = json.loads((tmp_path / "compare.json").read_text())  # still written: it is the result
    assert all(run["diverged"] for run in summary["runs"].values())


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
# Progress, matplotlib (optional), files written


def test_the_progress_bar_is_tqdm_and_quiet_in_logs():
    """On a stream that is not a terminal the bar redraws at most every 30 s, so a log
    of a fast epoch holds its first and last state only."""
    stream = io.StringIO()
    with contextlib.redirect_stderr(stream):
        progress = training.progress_bar(100, "epoch 1/1")
        for _ in range(10):
            progress.set_postfix_str("loss 0.5000, accuracy 0.7500", refresh=False)
            progress.update(10)
        progress.close()
    assert type(progress).__module__.startswith("tqdm")
    states = [state for state in stream.getvalue().split("\r") if state.strip()]
    assert len(states) == 2
    assert states[-1].startswith("epoch 1/1: 100%") and "100/100" in states[-1]
    assert "loss 0.5000, accuracy 0.7500" in states[-1]


def without_matplotlib(monkeypatch) -> None:
    for name in [name for name in sys.modules if name == "matplotlib" or name.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail


@needs_data
def test_train_without_matplotlib_says_only_what_it_wrote(tmp_path, monkeypatch):
    without_matplotlib(monkeypatch)
    code, stdout, stderr = train(tmp_path, "--model", "mlp", "--epochs", 1)
    assert code == 0, stderr
    assert "note: matplotlib is not installed, so curves.png and confusion_matrix.png were not drawn" in stdout
    assert f"wrote metrics.json and checkpoint.npz to {tmp_path}\n" in stdout
    assert "curves.png, " not in stdout
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checkpoint.npz", "metrics.json"]


@needs_data
def test_compare_without_matplotlib_says_only_what_it_wrote(tmp_path, monkeypatch):
    without_matplotlib(monkeypatch)
    code, stdout, stderr = run("compare", "--model", "mlp", *SMALL, "--epochs", 1, "--optimizers", "adam",
                               "--out", tmp_path)
    assert code == 0, stderr
    assert "compare.png was not drawn" in stdout
    assert f"wrote compare.json to {tmp_path} " in stdout
    assert not (tmp_path / "compare.png").exists()


def interrupted_writes(monkeypatch) -> None:
    """Every Path.write_text writes half of its text, then Ctrl-C."""
    def half_then_interrupt(path, text, *args, **kwargs):
        with open(path, "w") as file:
            file.write(text[: len(text) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", half_then_interrupt)


def test_metrics_json_is_never_half_written(tmp_path, monkeypatch):
    (tmp_path / "metrics.json").write_text('{"the": "previous run"}\n')
    result = {"config": {"model": "mlp", "dataset": "mnist", "optimizer": "adam", "lr": 1e-3},
              "epochs": [], "test_accuracy": 0.5}
    interrupted_writes(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        training.write_outputs(tmp_path, result, numpy.eye(2, dtype=numpy.int64), ["a", "b"], print)
    monkeypatch.undo()
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"the": "previous run"}
    assert [path.name for path in tmp_path.iterdir()] == ["metrics.json"]  # no temporary file left


def test_pictures_are_never_half_written(tmp_path, monkeypatch):
    figure = pytest.importorskip("matplotlib.figure")
    (tmp_path / "curves.png").write_bytes(b"the previous picture")

    def half_then_interrupt(self, path, **kwargs):
        Path(path).write_bytes(PNG_SIGNATURE)
        raise KeyboardInterrupt

    monkeypatch.setattr(figure.Figure, "savefig", half_then_interrupt)
    history = [{"epoch": 1, "train_loss": 1.0, "test_loss": 1.0, "train_accuracy": 0.5, "test_accuracy": 0.5}]
    with pytest.raises(KeyboardInterrupt):
        plots.plot_curves(history, tmp_path / "curves.png", "title")
    assert (tmp_path / "curves.png").read_bytes() == b"the previous picture"
    assert [path.name for path in tmp_path.iterdir()] == ["curves.png"]


def test_missing_data_is_an_error_message_not_a_traceback(tmp_path, monkeypatch):
    def not_found(train=True, root=None, download=True):
        raise FileNotFoundError("Fashion-MNIST was not found; searched: (the places)")

    monkeypatch.setitem(training.LOADERS, "fashion-mnist", not_found)
    code, _, stderr = train(tmp_path, "--epochs", 1)
    assert code == 1
    assert stderr.startswith("minigrad train: error: Fashion-MNIST was not found")
