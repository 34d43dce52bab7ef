"""A checkpoint of model + optimizer + RNG resumes training bit for bit (issue 3, item 7)."""

import numpy as np

import minigrad as mg
from minigrad import layers, losses, optim
from minigrad import random as mg_random


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


def build(seed):
    mg.manual_seed(seed)
    model = make_model()
    optimizer = optim.RMSprop(model.parameters(), lr=1e-2, momentum=0.9, centered=True, weight_decay=1e-3)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
    return model, optimizer, scheduler


def test_resumed_training_equals_uninterrupted(tmp_path):
    all_steps = batches(20, 0)

    model, optimizer, scheduler = build(seed=0)
    train(model, optimizer, scheduler, all_steps)
    uninterrupted = model.state_dict()

    model, optimizer, scheduler = build(seed=0)
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
    model, optimizer, scheduler = build(seed=99)
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
    assert optimizer.param_groups[0]["lr"] == 1e-2 * 0.5**5


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
