"""Gradient clipping against torch.nn.utils.clip_grad_norm_ / clip_grad_value_."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import needs_torch, torch

import minigrad as mg
from minigrad.optim import clip_grad_norm_, clip_grad_value_

SHAPES = [(3, 4), (5,), (2, 2, 3)]


def with_gradients(scale=1.0, seed=0):
    """Our parameters and torch's, with the same gradients (of assorted sizes)."""
    rng = np.random.default_rng(seed)
    grads = [(scale * rng.standard_normal(s)).astype(np.float32) for s in SHAPES]
    ours = [mg.tensor(np.zeros(s, dtype=np.float32), requires_grad=True) for s in SHAPES]
    theirs = [torch.zeros(s, requires_grad=True) for s in SHAPES]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = mg.tensor(g), torch.from_numpy(g.copy())
    return ours, theirs, grads


@needs_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    ours, theirs, grads = with_gradients()
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=float(norm_type))
    assert isinstance(total, float)
    assert total == pytest.approx(expected.item(), rel=1e-6)
    for p, q, g in zip(ours, theirs, grads):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-6, atol=1e-8)
        assert p.grad.dtype == np.float32
    clipped = max_norm < total
    assert clipped == (not np.array_equal(ours[0].grad.data, grads[0]))


def test_clip_grad_norm_result_by_hand():
    grads = [np.random.default_rng(0).standard_normal(s).astype(np.float32) for s in SHAPES]
    ours = [mg.tensor(np.zeros(s, dtype=np.float32), requires_grad=True) for s in SHAPES]
    for p, g in zip(ours, grads):
        p.grad = mg.tensor(g)
    total = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads))
    assert clip_grad_norm_(ours, 1.0) == pytest.approx(total, rel=1e-6)
    new_total = math.sqrt(sum(float((p.grad.data.astype(np.float64) ** 2).sum()) for p in ours))
    assert new_total == pytest.approx(1.0, rel=1e-5)  # scaled to the max norm (less 1e-6)
    for p, g in zip(ours, grads):
        np.testing.assert_allclose(p.grad.data, g / (total + 1e-6), rtol=1e-6)


@needs_torch
def test_single_tensor_and_missing_gradients():
    ours, theirs, _ = with_gradients(seed=1)
    ours[1].grad, theirs[1].grad = None, None
    single = clip_grad_norm_(ours[0], 0.1)
    expected = torch.nn.utils.clip_grad_norm_(theirs[0], 0.1)
    assert single == pytest.approx(expected.item(), rel=1e-6)
    np.testing.assert_allclose(ours[0].grad.data, theirs[0].grad.numpy(), rtol=1e-6)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 0.1).item()
    assert clip_grad_norm_(ours, 0.1) == pytest.approx(expected, rel=1e-6)
    assert ours[1].grad is None
    assert clip_grad_norm_([mg.tensor([1.0], requires_grad=True)], 1.0) == 0.0  # no gradients at all


@needs_torch
@pytest.mark.parametrize("clip_value", [0.5, 2.0, 100.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs, _ = with_gradients(scale=2.0)
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.data, q.grad.numpy())
        assert np.abs(p.grad.data).max() <= clip_value


def test_clip_grad_value_single_tensor():
    p = mg.tensor([0.0, 0.0, 0.0], requires_grad=True)
    p.grad = mg.tensor([-3.0, 0.2, 5.0])
    clip_grad_value_(p, 1)
    np.testing.assert_array_equal(p.grad.data, np.array([-1.0, 0.2, 1.0], dtype=np.float32))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf * 0, as in torch
def test_nonfinite_norm_can_raise():
    p = mg.tensor([0.0, 0.0], requires_grad=True)
    p.grad = mg.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    assert clip_grad_norm_(p, 1.0) == math.inf


def test_clipping_on_every_device(device):
    grads = [np.random.default_rng(2).standard_normal(s).astype(np.float32) for s in SHAPES]
    cpu = [mg.tensor(np.zeros(s, dtype=np.float32), requires_grad=True) for s in SHAPES]
    dev = [mg.tensor(np.zeros(s, dtype=np.float32), requires_grad=True, device=device) for s in SHAPES]
    for p, q, g in zip(cpu, dev, grads):
        p.grad, q.grad = mg.tensor(g), mg.tensor(g, device=device)
    for norm_type in (2.0, math.inf):
        expected = clip_grad_norm_(cpu, 0.3, norm_type)
        assert clip_grad_norm_(dev, 0.3, norm_type) == pytest.approx(expected, rel=1e-5)  # float32 sums
    clip_grad_value_(dev, 0.01)
    clip_grad_value_(cpu, 0.01)
    for p, q in zip(cpu, dev):
        assert q.grad.device == device
        np.testing.assert_allclose(q.grad.numpy(), p.grad.data, rtol=1e-5, atol=1e-6)
