"""A checkpoint of model + optimizer + scheduler + RNG resumes training bit for bit
(issue 3, item 7), in a hand-written loop and in ``minigrad train``'s loop."""

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import layers, losses, optim, resume
from minigrad import random as mg_random
from minigrad import train as training
from minigrad.train_config import TrainConfig

DATA = Path("/usr/share/datasets/fashion-mnist")


def make_model():
    # Dropout and BatchNorm make the run depend on the RNG and on buffers, not only on
    # parameters: a resume that forgot either would drift.
    return layers.Sequential(
        layers.Linear(6, 16), layers.BatchNorm1d(16), layers.ReLU(), layers.Dropout(0.3), layers.Linear(16, 3)
    )


def batches(count, start):
    data = np.random.default_rng(1234)
    xs = data.standard_normal((count + start, 8, 6)).astype(np.float32)
    ys = data.integers(0, 3, (count + start, 8))
    return list(zip(xs[start:], ys[start:]))


def train(model, optimizer, scheduler, steps):
    for x, y in steps:
        optimizer.zero_grad()
        losses.cross_entropy(model(mg.tensor(x)), y).backward()
        optimizer.step()
        scheduler.step()


# The schedulers, and the learning rate each leaves after the 20 steps of the test.
SCHEDULERS = {
    "StepLR": (lambda optimizer: optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5), 1e-2 * 0.5**5),
    # the schedule of `minigrad train` (stepped per epoch there, per batch here)
    "CosineAnnealingLR": (lambda optimizer: optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=30),
                          1e-2 * (1 + math.cos(math.pi * 20 / 30)) / 2),
}


def build(seed, schedule="StepLR"):
    mg.manual_seed(seed)
    model = make_model()
    optimizer = optim.RMSprop(model.parameters(), lr=1e-2, momentum=0.9, centered=True, weight_decay=1e-3)
    scheduler = SCHEDULERS[schedule][0](optimizer)
    return model, optimizer, scheduler


@pytest.mark.parametrize("schedule", list(SCHEDULERS))
def test_resumed_training_equals_uninterrupted(tmp_path, schedule):
    all_steps = batches(20, 0)

    model, optimizer, scheduler = build(seed=0, schedule=schedule)
    train(model, optimizer, scheduler, all_steps)
    uninterrupted = model.state_dict()

    model, optimizer, scheduler = build(seed=0, schedule=schedule)
    train(model, optimizer, scheduler, all_steps[:10])
    path = tmp_path / "checkpoint.npz"
    mg.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": mg_random.get_state(),
            "step": 10,
        },
        path,
    )
    del model, optimizer, scheduler

    # A fresh process would start from other weights and another RNG state.
    model, optimizer, scheduler = build(seed=99, schedule=schedule)
    mg.manual_seed(7)
    state = mg.load(path)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    mg_random.set_state(state["rng"])
    train(model, optimizer, scheduler, all_steps[state["step"] :])

    resumed = model.state_dict()
    assert list(resumed) == list(uninterrupted)
    for name in uninterrupted:
        np.testing.assert_array_equal(resumed[name], uninterrupted[name], err_msg=name)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(SCHEDULERS[schedule][1], rel=1e-12)


def test_checkpoint_keeps_training_state_exactly(tmp_path):
    model, optimizer, scheduler = build(seed=3)
    train(model, optimizer, scheduler, batches(3, 0))
    path = tmp_path / "c.npz"
    mg.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    state = mg.load(path)
    for name, value in model.state_dict().items():
        assert state["model"][name].dtype == value.dtype
        np.testing.assert_array_equal(state["model"][name], value)
    saved = optimizer.state_dict()
    assert state["optimizer"]["param_groups"] == saved["param_groups"]
    for index, per_param in saved["state"].items():
        for key, value in per_param.items():
            np.testing.assert_array_equal(state["optimizer"]["state"][index][key], value)


@pytest.mark.skipif(not DATA.is_dir(), reason=f"real Fashion-MNIST not found in {DATA}")
@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_train_resumed_equals_uninterrupted(tmp_path, schedule):
    """``training.train`` stopped after epoch 1 and resumed to 3 ends bit for bit where
    the run of 3 epochs ends: model, optimizer and scheduler state, and every number
    of metrics.json. (SGD with momentum: a momentum buffer that was not restored
    would show.)"""
    config = training.TrainConfig(model="mlp", optimizer="sgd", momentum=0.9, schedule=schedule, epochs=3,
                                  batch_size=32, limit=192, test_limit=100, data_dir=str(DATA.parent))
    quiet = [].append
    straight = training.train(config, tmp_path / "straight", log=quiet)
    training.train(dataclasses.replace(config, epochs=1), tmp_path / "stopped", log=quiet)
    # Only epochs, lr, device and data_dir may be given on resume; the rest comes from the checkpoint.
    resumed = training.train(training.TrainConfig(epochs=3), tmp_path / "stopped", resume=tmp_path / "stopped",
                             log=quiet)

    def without_time(result):
        return [{k: v for k, v in entry.items() if k != "seconds"} for entry in result["epochs"]]

    assert without_time(resumed) == without_time(straight) and resumed["report"] == straight["report"]
    assert resumed["config"] == straight["config"]
    expected, got = mg.load(tmp_path / "straight" / "checkpoint.npz"), mg.load(tmp_path / "stopped" / "checkpoint.npz")
    for name, value in expected["model"].items():
        np.testing.assert_array_equal(got["model"][name], value, err_msg=name)
    for index, state in expected["optimizer"]["state"].items():
        np.testing.assert_array_equal(got["optimizer"]["state"][index]["momentum_buffer"], state["momentum_buffer"])
    assert got["optimizer"]["param_groups"] == expected["optimizer"]["param_groups"]
    assert got["scheduler"] == expected["scheduler"]
    assert (got["scheduler"] is None) == (schedule == "constant")


def _checkpoint_with_config(path, config: dict):
    state = {key: {} for key in resume.CHECKPOINT_KEYS}
    state.update(config=config, epoch=1, history=[], wall_seconds=1.0)
    mg.save(state, path)
    return path


def test_a_checkpoint_from_before_the_rmsprop_options_reads_with_their_defaults(tmp_path):
    config = dataclasses.asdict(TrainConfig())
    for name in resume.ADDED_SETTINGS:
        del config[name]
    state = resume.read_checkpoint(_checkpoint_with_config(tmp_path / "old.npz", config))
    assert TrainConfig(**state["config"]) == TrainConfig(**config)  # the defaults, as the run used
    del config["momentum"]  # a setting that was always there: not a checkpoint of ours
    with pytest.raises(resume.CheckpointError, match="settings that this version"):
        resume.read_checkpoint(_checkpoint_with_config(tmp_path / "other.npz", config))
