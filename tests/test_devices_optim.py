"""Optimizer options on every device: SGD with nesterov, weight_decay, maximize and
dampening; RMSprop's options and presets; Adam, AdamW and Adagrad options not covered
by test_optim.py's device test (which runs each optimizer's usual settings).

As in test_optim.py, both optimizers are fed the same gradient arrays, step after step
(a whole training run would turn one rounding difference into visibly different
numbers); after every step the parameters and every state array must match the CPU's
and live on the device.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_devices import assert_matches_cpu

import minigrad as mg
from minigrad.optim import SGD, Adagrad, Adam, AdamW, RMSprop
from minigrad.optim.rmsprop import PRESETS

# a matrix, a vector and a float64 parameter (optimizers keep float64 as float64)
INITIAL = [np.random.default_rng(40).uniform(-1, 1, (3, 4)).astype(np.float32),
           np.random.default_rng(41).uniform(-1, 1, 4).astype(np.float32),
           np.random.default_rng(42).uniform(-1, 1, (2, 3))]
STEPS = 4


def two_groups(params):
    """Nesterov momentum on the first parameter; maximize with weight decay on the others."""
    return SGD([{"params": params[:1], "momentum": 0.9, "nesterov": True},
                {"params": params[1:], "maximize": True, "weight_decay": 0.1}], lr=0.05)


CASES = {
    "SGD_plain": lambda ps: SGD(ps, lr=0.1),
    "SGD_weight_decay": lambda ps: SGD(ps, lr=0.1, weight_decay=0.1),
    "SGD_maximize": lambda ps: SGD(ps, lr=0.1, maximize=True),
    "SGD_nesterov": lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "SGD_nesterov_weight_decay_maximize": lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True,
                                                         weight_decay=0.05, maximize=True),
    "SGD_dampening": lambda ps: SGD(ps, lr=0.1, momentum=0.5, dampening=0.3, weight_decay=0.01),
    "SGD_param_groups": two_groups,
    "RMSprop_weight_decay_maximize": lambda ps: RMSprop(ps, weight_decay=0.1, maximize=True),
    "RMSprop_lr_in_momentum": lambda ps: RMSprop(ps, momentum=0.9, lr_in_momentum=True, centered=True),
    **{f"RMSprop_like_{name}": (lambda ps, name=name: RMSprop.like(name, ps)) for name in PRESETS},
    "Adam_weight_decay_maximize": lambda ps: Adam(ps, lr=0.01, weight_decay=0.1, maximize=True),
    "AdamW_maximize": lambda ps: AdamW(ps, lr=0.01, maximize=True),
    "Adagrad_options": lambda ps: Adagrad(ps, lr=0.1, lr_decay=0.01, weight_decay=0.1,
                                          initial_accumulator_value=0.5, maximize=True),
}


def gradients(step: int) -> list:
    """The gradients of step ``step``; the vector gets none at odd steps (then the
    optimizer skips it, as PyTorch does)."""
    rng = np.random.default_rng(step)
    grads = [rng.standard_normal(a.shape).astype(a.dtype) for a in INITIAL]
    if step % 2 == 1:
        grads[1] = None
    return grads


def after_step(optimizer, params) -> dict:
    """The parameters and every state array (wrapped as Tensors), by name."""
    found = {f"param {i}": p for i, p in enumerate(params)}
    for i, p in enumerate(params):
        for name, value in optimizer.state.get(p, {}).items():
            if name != "step":  # a Python int
                found[f"state {name} of param {i}"] = mg.Tensor(value)
    return found


@pytest.mark.parametrize("make", CASES.values(), ids=CASES.keys())
def test_optimizer_options_match_cpu_step_by_step(device, make):
    cpu = [mg.tensor(a, requires_grad=True) for a in INITIAL]
    dev = [mg.tensor(a, requires_grad=True, device=device) for a in INITIAL]
    opt_cpu, opt_dev = make(cpu), make(dev)
    for step in range(STEPS):
        for p, q, g in zip(cpu, dev, gradients(step)):
            p.grad, q.grad = (None, None) if g is None else (mg.tensor(g), mg.tensor(g, device=device))
        opt_cpu.step()
        opt_dev.step()
        assert_matches_cpu(after_step(opt_dev, dev), after_step(opt_cpu, cpu), device)
        assert [s.get("step") for s in opt_dev.state.values()] == [s.get("step") for s in opt_cpu.state.values()]
