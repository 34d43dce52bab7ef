"""Learning-rate schedulers: the same learning-rate sequences as torch.optim.lr_scheduler."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from helpers import needs_torch, torch

import minigrad as mg
from minigrad.optim import SGD, lr_scheduler

LRS = (0.1, 0.03)  # two parameter groups with their own learning rates


def our_optimizer(lrs=LRS):
    return SGD([{"params": [mg.tensor([1.0], requires_grad=True)], "lr": lr} for lr in lrs], momentum=0.9)


def torch_optimizer(lrs=LRS):
    groups = [{"params": [torch.ones(1, requires_grad=True)], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, momentum=0.9)


def lr_sequence(make_scheduler, optimizer, epochs, metrics=None):
    """The learning rates of every group after each epoch (optimizer.step(), then scheduler.step())."""
    scheduler = make_scheduler(optimizer)
    out = [[group["lr"] for group in optimizer.param_groups]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about its step order when no gradient was seen
        for epoch in range(epochs):
            optimizer.step()
            if metrics is None:
                scheduler.step()
            else:
                scheduler.step(metrics[epoch])
            assert scheduler.get_last_lr() == [group["lr"] for group in optimizer.param_groups]
            out.append(scheduler.get_last_lr())
    return np.array(out, dtype=float)


def compare(ours_cls, theirs_cls, epochs=50, metrics=None, exact=True, **kwargs):
    ours = lr_sequence(lambda opt: ours_cls(opt, **kwargs), our_optimizer(), epochs, metrics)
    theirs = lr_sequence(lambda opt: theirs_cls(opt, **kwargs), torch_optimizer(), epochs, metrics)
    if exact:  # same multiplications in the same order
        np.testing.assert_array_equal(ours, theirs)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12 * max(LRS))
    return ours


@needs_torch
@pytest.mark.parametrize("step_size, gamma", [(7, 0.5), (1, 0.9), (10, 0.1)])
def test_step_lr_matches_torch(step_size, gamma):
    ours = compare(lr_scheduler.StepLR, torch.optim.lr_scheduler.StepLR, step_size=step_size, gamma=gamma)
    assert ours[step_size, 0] == pytest.approx(LRS[0] * gamma)  # the first decay is at epoch step_size
    assert ours[step_size - 1, 0] == LRS[0]


@needs_torch
@pytest.mark.parametrize("gamma", [0.9, 0.5])
def test_exponential_lr_matches_torch(gamma):
    ours = compare(lr_scheduler.ExponentialLR, torch.optim.lr_scheduler.ExponentialLR, gamma=gamma)
    np.testing.assert_allclose(ours[:, 1], LRS[1] * gamma ** np.arange(51), rtol=1e-12)


@needs_torch
@pytest.mark.parametrize("T_max, eta_min", [(10, 0.0), (10, 0.001), (7, 0.01)])
def test_cosine_annealing_closed_form_matches_torch_over_three_periods(T_max, eta_min):
    # torch's recursive formula and our closed form agree to round-off: rtol 1e-12
    ours = compare(lr_scheduler.CosineAnnealingLR, torch.optim.lr_scheduler.CosineAnnealingLR,
                   epochs=6 * T_max, exact=False, T_max=T_max, eta_min=eta_min)
    np.testing.assert_allclose(ours[T_max], [eta_min, eta_min], atol=1e-15)  # the bottom of the curve
    np.testing.assert_allclose(ours[2 * T_max], LRS, rtol=1e-12)  # back up after a full period


PLATEAU_CASES = [
    {},
    {"mode": "max"},
    {"patience": 2, "threshold_mode": "abs", "threshold": 0.05},
    {"mode": "max", "patience": 2, "threshold_mode": "abs", "threshold": 0.05},
    {"patience": 1, "cooldown": 3, "factor": 0.5},
    {"patience": 0, "factor": 0.5, "min_lr": 0.01},
    {"patience": 0, "factor": 0.5, "min_lr": [0.02, 0.001]},
    {"patience": 3, "threshold": 0.1, "mode": "max", "cooldown": 1},
    {"patience": 0, "factor": 0.9, "eps": 1e-3},
]


def plateau_metrics(mode, epochs=50):
    """A loss that falls, then plateaus with noise, then falls again (negated for mode "max")."""
    rng = np.random.default_rng(4)
    t = np.arange(epochs)
    curve = np.where(t < 15, 2.0 - 0.1 * t, 0.5) + np.where(t > 35, -0.02 * (t - 35), 0.0)
    values = curve + 0.03 * rng.standard_normal(epochs)
    return list(-values if mode == "max" else values)


@needs_torch
@pytest.mark.parametrize("kwargs", PLATEAU_CASES, ids=[str(kw) for kw in PLATEAU_CASES])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    metrics = plateau_metrics(kwargs.get("mode", "min"))
    ours = compare(lr_scheduler.ReduceLROnPlateau, torch.optim.lr_scheduler.ReduceLROnPlateau,
                   metrics=metrics, **kwargs)
    assert ours[-1, 0] < LRS[0]  # it did reduce


def test_reduce_lr_on_plateau_counts_bad_epochs():
    opt = our_optimizer()
    scheduler = lr_scheduler.ReduceLROnPlateau(opt, patience=2, factor=0.5)
    for metric in [1.0, 0.9, 0.95, 0.95]:  # improvement, then 2 bad epochs: not more than patience
        scheduler.step(metric)
    assert opt.param_groups[0]["lr"] == LRS[0] and scheduler.num_bad_epochs == 2
    scheduler.step(mg.tensor(0.99))  # a third bad epoch (a Tensor metric works too)
    assert opt.param_groups[0]["lr"] == LRS[0] * 0.5 and scheduler.num_bad_epochs == 0
    assert scheduler.best == 0.9


def test_creation_records_initial_lr_and_keeps_lr():
    opt = our_optimizer()
    scheduler = lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    assert [g["lr"] for g in opt.param_groups] == list(LRS) == scheduler.get_last_lr()
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS) == scheduler.base_lrs


def test_step_lr_composes_with_outside_changes():
    opt = our_optimizer()
    scheduler = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    scheduler.step()
    opt.param_groups[0]["lr"] = 1.0  # someone else changes it
    scheduler.step()
    assert opt.param_groups[0]["lr"] == 0.5


SCHEDULERS = [
    (lr_scheduler.StepLR, {"step_size": 3, "gamma": 0.5}, None),
    (lr_scheduler.ExponentialLR, {"gamma": 0.9}, None),
    (lr_scheduler.CosineAnnealingLR, {"T_max": 7, "eta_min": 0.001}, None),
    (lr_scheduler.ReduceLROnPlateau, {"patience": 1, "cooldown": 2, "factor": 0.5}, plateau_metrics("min")),
]


@pytest.mark.parametrize("cls, kwargs, metrics", SCHEDULERS, ids=[c.__name__ for c, _, _ in SCHEDULERS])
def test_state_dict_round_trip_through_a_checkpoint(cls, kwargs, metrics, tmp_path):
    def advance(scheduler, optimizer, epochs, start):
        for epoch in range(start, start + epochs):
            optimizer.step()
            scheduler.step(metrics[epoch]) if metrics else scheduler.step()
        return [g["lr"] for g in optimizer.param_groups]

    opt = our_optimizer()
    scheduler = cls(opt, **kwargs)
    advance(scheduler, opt, 20, 0)
    mg.save({"scheduler": scheduler.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "ckpt.npz")
    checkpoint = mg.load(tmp_path / "ckpt.npz")
    opt2 = our_optimizer(lrs=(5.0, 5.0))
    opt2.load_state_dict(checkpoint["optimizer"])
    resumed = cls(opt2, **kwargs)
    resumed.load_state_dict(checkpoint["scheduler"])
    assert resumed.state_dict() == scheduler.state_dict()
    assert advance(resumed, opt2, 25, 20) == advance(scheduler, opt, 25, 20)


@needs_torch
def test_state_dict_keys_match_torch():
    ours = lr_scheduler.StepLR(our_optimizer(), step_size=3).state_dict()
    theirs = torch.optim.lr_scheduler.StepLR(torch_optimizer(), step_size=3).state_dict()
    assert {"step_size", "gamma", "base_lrs", "last_epoch", "_last_lr"} <= set(ours) & set(theirs)
    plateau = lr_scheduler.ReduceLROnPlateau(our_optimizer()).state_dict()
    torch_plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_optimizer()).state_dict()
    common = {"mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lrs", "eps",
              "best", "num_bad_epochs", "cooldown_counter", "last_epoch"}
    assert common <= set(plateau) & set(torch_plateau)
    for name in common:
        assert plateau[name] == torch_plateau[name], name


BAD_PLATEAU = [{"factor": 1.0}, {"factor": 1.5}, {"mode": "avg"}, {"threshold_mode": "relative"},
               {"min_lr": [0.1]}]


@needs_torch
@pytest.mark.parametrize("kwargs", BAD_PLATEAU, ids=[str(kw) for kw in BAD_PLATEAU])
def test_reduce_lr_on_plateau_rejects_what_torch_rejects(kwargs):
    with pytest.raises(ValueError) as theirs:
        torch.optim.lr_scheduler.ReduceLROnPlateau(torch_optimizer(), **kwargs)
    with pytest.raises(ValueError) as ours:
        lr_scheduler.ReduceLROnPlateau(our_optimizer(), **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        lr_scheduler.ReduceLROnPlateau(our_optimizer(), factor=1.0)
    with pytest.raises(ValueError, match="step_size"):
        lr_scheduler.StepLR(our_optimizer(), step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        lr_scheduler.CosineAnnealingLR(our_optimizer(), T_max=0)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.ExponentialLR("sgd", gamma=0.9)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.ReduceLROnPlateau(object())


def test_cosine_formula_by_hand():
    opt = our_optimizer(lrs=(1.0,))
    scheduler = lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.2)
    got = []
    for _ in range(8):
        scheduler.step()
        got.append(scheduler.get_last_lr()[0])
    expected = [0.2 + 0.8 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(1, 9)]
    np.testing.assert_allclose(got, expected, rtol=1e-15)
    assert got[3] == pytest.approx(0.2) and got[7] == pytest.approx(1.0)
