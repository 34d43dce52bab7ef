"""Optimizers: the Optimizer base class, and SGD / Adam / AdamW / Adagrad against torch.optim.

Parity follows the project's testing habit: gradients are computed once, with
minigrad at minigrad's current parameters, and the SAME arrays are copied into torch's
``.grad``; parameters are compared after every step. Never two whole training runs.
RMSprop has its own file (test_rmsprop.py), which reuses the harness below.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import needs_torch, torch

import minigrad as mg
from minigrad import backend
from minigrad.optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

# -- the harness -------------------------------------------------------------------------------
SHAPES = [(3, 4), (4,), (2, 3, 2)]  # a matrix, a vector, a 3-d tensor
# float32 round-off: a few ulps per step (~1e-7 relative) that a 100-step trajectory (and
# momentum, which sums ~10 steps) may accumulate into the 1e-6 range; anything wrong in an
# update rule is off by >= 1e-3. atol is per unit of the tensor's largest entry: an entry
# that has moved from 3.0 to 0.05 still carries the absolute round-off it gathered near 3.
F32 = {"rtol": 1e-5, "atol": 1e-6}
F64 = {"rtol": 1e-12, "atol": 1e-13}


def initial_arrays(dtype=np.float32, seed=0) -> list:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, shape).astype(dtype) for shape in SHAPES]


def loss_of(params):
    """A fixed nonconvex function of the three parameters (saturating, coupled, quartic)."""
    w, b, c = params
    return ((w @ b).tanh() ** 2).sum() + (c.reshape(3, 4) * w).sigmoid().sum() + 0.1 * (b**4).sum() - b.sum()


def gradients_at(params, sign=1.0) -> list:
    """The gradient arrays of ``sign * loss_of`` at the current parameters, computed by minigrad."""
    for p in params:
        p.grad = None
    (loss_of(params) * sign).backward()
    return [p.grad.data.copy() for p in params]


def check_against_torch(make_ours, make_theirs, steps=100, dtype=np.float32, tol=None, before_step=None):
    """Run our optimizer and torch's side by side on the same gradients, comparing the
    parameters after every step. ``before_step(step, ours, theirs)`` may edit both."""
    tol = tol or (F32 if dtype == np.float32 else F64)
    arrays = initial_arrays(dtype)
    ours = [mg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    opt, topt = make_ours(ours), make_theirs(theirs)
    # loss_of is unbounded above: an optimizer that maximizes is fed the gradient of -loss_of
    sign = -1.0 if opt.param_groups[0].get("maximize") else 1.0
    for step in range(1, steps + 1):
        if before_step is not None:
            before_step(step, opt, topt)
        for q, g in zip(theirs, gradients_at(ours, sign)):
            q.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
        for i, (p, q) in enumerate(zip(ours, theirs)):
            assert p.dtype == dtype, f"parameter {i} became {p.dtype}"
            assert np.isfinite(p.data).all(), f"parameter {i} is not finite after step {step}"
            expected = q.detach().numpy()
            atol = tol["atol"] * max(1.0, np.abs(expected).max())
            if not np.all(np.abs(p.data - expected) <= atol + tol["rtol"] * np.abs(expected)):  # fast path
                np.testing.assert_allclose(p.data, expected, rtol=tol["rtol"], atol=atol,
                                           err_msg=f"parameter {i} after step {step}")
    moved = max(np.abs(p.data - a).max() for p, a in zip(ours, arrays))
    assert moved > 1e-3, "the parameters barely moved: the comparison would prove nothing"
    return opt, topt


def torch_class(cls):
    return getattr(torch.optim, cls.__name__)


# -- parity with torch.optim -------------------------------------------------------------------
SGD_CASES = [
    {},  # the defaults (lr=1e-3)
    {"lr": 0.05},
    {"lr": 0.01, "momentum": 0.9},
    {"lr": 0.01, "momentum": 0.9, "dampening": 0.5},
    {"lr": 0.01, "momentum": 0.9, "nesterov": True},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1, "nesterov": True},
    {"lr": 0.01, "momentum": 0.5, "maximize": True},
]
ADAM_CASES = [
    {},
    {"lr": 0.01, "amsgrad": True},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.01, "betas": (0.5, 0.9)},
    {"lr": 0.01, "maximize": True},
    {"lr": 0.01, "eps": 1e-3, "amsgrad": True, "weight_decay": 0.1},
]
ADAMW_CASES = [{}, {"lr": 0.01, "weight_decay": 0.1}, {"lr": 0.01, "amsgrad": True},
               {"lr": 0.01, "maximize": True}]
ADAGRAD_CASES = [
    {},
    {"lr": 0.1, "lr_decay": 0.01},
    {"lr": 0.1, "initial_accumulator_value": 0.1},
    {"lr": 0.1, "weight_decay": 0.1},
    {"lr": 0.1, "maximize": True},
    {"lr": 0.1, "eps": 1e-3},
]
PARITY = ([(SGD, kw) for kw in SGD_CASES] + [(Adam, kw) for kw in ADAM_CASES]
          + [(AdamW, kw) for kw in ADAMW_CASES] + [(Adagrad, kw) for kw in ADAGRAD_CASES])


@needs_torch
@pytest.mark.parametrize("cls, kwargs", PARITY, ids=[f"{c.__name__}-{kw}" for c, kw in PARITY])
def test_matches_torch_every_step(cls, kwargs):
    check_against_torch(lambda ps: cls(ps, **kwargs), lambda ps: torch_class(cls)(ps, **kwargs))


FLOAT64 = [(SGD, {"lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
           (Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
           (AdamW, {"lr": 0.01}),
           (Adagrad, {"lr": 0.1, "lr_decay": 0.01}),
           (RMSprop, {"momentum": 0.9, "centered": True, "weight_decay": 0.1})]


@needs_torch
@pytest.mark.parametrize("cls, kwargs", FLOAT64, ids=[c.__name__ for c, _ in FLOAT64])
def test_float64_stays_float64_and_matches_torch(cls, kwargs):
    opt, _ = check_against_torch(lambda ps: cls(ps, **kwargs), lambda ps: torch_class(cls)(ps, **kwargs),
                                 dtype=np.float64)
    for state in opt.state.values():
        for name, value in state.items():
            if name != "step":
                assert value.dtype == np.float64, name


@needs_torch
@pytest.mark.parametrize("cls", [SGD, RMSprop, Adam])
def test_param_groups_with_their_own_options_match_torch(cls):
    def groups(ps):
        return [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.1, "weight_decay": 0.01}]

    extra = {"momentum": 0.9} if cls in (SGD, RMSprop) else {}
    opt, _ = check_against_torch(lambda ps: cls(groups(ps), lr=0.01, **extra),
                                 lambda ps: torch_class(cls)(groups(ps), lr=0.01, **extra), steps=50)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]
    assert [g["weight_decay"] for g in opt.param_groups] == [0, 0.01]  # missing options come from defaults


@needs_torch
@pytest.mark.parametrize("cls", [SGD, RMSprop, Adam, AdamW, Adagrad])
def test_editing_lr_between_steps_is_honoured_like_torch(cls):
    def change_lr(step, opt, topt):
        if step in (20, 40, 60):
            new = {20: 0.003, 40: 0.05, 60: 0.0}[step]
            opt.param_groups[0]["lr"] = new
            topt.param_groups[0]["lr"] = new

    extra = {"momentum": 0.9} if cls in (SGD, RMSprop) else {}
    check_against_torch(lambda ps: cls(ps, lr=0.01, **extra),
                        lambda ps: torch_class(cls)(ps, lr=0.01, **extra), steps=70, before_step=change_lr)


@needs_torch
@pytest.mark.parametrize("cls", [SGD, RMSprop, Adam, Adagrad])
def test_parameters_without_grad_are_skipped_like_torch(cls):
    extra = {"momentum": 0.9} if cls in (SGD, RMSprop) else {}
    arrays = initial_arrays()
    ours = [mg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    opt, topt = cls(ours, lr=0.01, **extra), torch_class(cls)(theirs, lr=0.01, **extra)
    for step in range(1, 6):
        grads = gradients_at(ours)
        for i, (p, q, g) in enumerate(zip(ours, theirs, grads)):
            if i == 1 and step <= 2:  # the vector gets no gradient in the first two steps
                p.grad, q.grad = None, None
            else:
                q.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
        if step <= 2:
            assert ours[1] not in opt.state
            np.testing.assert_array_equal(ours[1].data, arrays[1])
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.data, q.detach().numpy(), **F32)
    if cls is not SGD:
        assert opt.state[ours[0]]["step"] == 5 and opt.state[ours[1]]["step"] == 3
        assert float(topt.state[theirs[1]]["step"]) == 3


# -- state_dict ------------------------------------------------------------------------------------
STATEFUL = [(SGD, {"lr": 0.01, "momentum": 0.9}), (Adam, {"lr": 0.01, "amsgrad": True}),
            (AdamW, {"lr": 0.01, "amsgrad": True}), (Adagrad, {"lr": 0.1}),
            (RMSprop, {"momentum": 0.9, "centered": True})]
IDS = [c.__name__ for c, _ in STATEFUL]


def run(opt, params, steps, seed):
    """``steps`` steps of ``opt`` on a fixed sequence of gradient arrays (seeded)."""
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        for p in params:
            p.grad = mg.tensor(rng.standard_normal(p.shape).astype(p.dtype))
        opt.step()


@needs_torch
@pytest.mark.parametrize("cls, kwargs", STATEFUL, ids=IDS)
def test_state_dict_layout_and_values_match_torch(cls, kwargs):
    opt, topt = check_against_torch(lambda ps: cls(ps, **kwargs), lambda ps: torch_class(cls)(ps, **kwargs),
                                    steps=3)
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert set(ours) == set(theirs) == {"state", "param_groups"}
    assert list(ours["state"]) == list(theirs["state"]) == [0, 1, 2]
    assert [g["params"] for g in ours["param_groups"]] == [g["params"] for g in theirs["param_groups"]]
    for name in kwargs:  # our group options carry the same values under the same names
        assert ours["param_groups"][0][name] == theirs["param_groups"][0][name]
    for index, state in ours["state"].items():
        assert set(state) == set(theirs["state"][index])
        for name, value in state.items():
            expected = theirs["state"][index][name]
            if name == "step":
                assert isinstance(value, int) and value == float(expected) == 3
            else:
                assert isinstance(value, np.ndarray)
                np.testing.assert_allclose(value, expected.numpy(), **F32)


@pytest.mark.parametrize("cls, kwargs", STATEFUL, ids=IDS)
def test_state_dict_round_trip_continues_bit_for_bit(cls, kwargs):
    arrays = initial_arrays()
    params = [mg.tensor(a, requires_grad=True) for a in arrays]
    opt = cls(params, **kwargs)
    run(opt, params, 10, seed=1)
    saved = opt.state_dict()
    fresh = [mg.tensor(p.data.copy(), requires_grad=True) for p in params]
    resumed = cls(fresh, lr=123.0)  # wrong options on purpose: load_state_dict restores them
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    run(opt, params, 20, seed=2)
    run(resumed, fresh, 20, seed=2)
    for p, q in zip(params, fresh):
        np.testing.assert_array_equal(p.data, q.data)
    for name, value in opt.state[params[0]].items():
        np.testing.assert_array_equal(value, resumed.state[fresh[0]][name])


def test_state_dict_is_a_copy():
    p = mg.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = RMSprop([p])
    run(opt, [p], 1, seed=0)
    saved = opt.state_dict()
    before = saved["state"][0]["square_avg"].copy()
    run(opt, [p], 3, seed=1)
    np.testing.assert_array_equal(saved["state"][0]["square_avg"], before)
    assert saved["state"][0]["step"] == 1


@pytest.mark.parametrize("cls, kwargs", STATEFUL, ids=IDS)
def test_round_trip_through_minigrad_save_and_load(cls, kwargs, tmp_path):
    params = [mg.tensor(a, requires_grad=True) for a in initial_arrays()]
    opt = cls(params, **kwargs)
    run(opt, params, 10, seed=1)
    mg.save({"optimizer": opt.state_dict()}, tmp_path / "checkpoint.npz")
    loaded = mg.load(tmp_path / "checkpoint.npz")["optimizer"]
    fresh = [mg.tensor(p.data.copy(), requires_grad=True) for p in params]
    resumed = cls(fresh)
    resumed.load_state_dict(loaded)
    assert resumed.param_groups[0] == {**opt.param_groups[0], "params": fresh}
    run(opt, params, 10, seed=2)
    run(resumed, fresh, 10, seed=2)
    for p, q in zip(params, fresh):
        np.testing.assert_array_equal(p.data, q.data)


def test_load_state_dict_casts_to_the_parameter_dtype_and_checks_sizes():
    p32 = mg.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = Adam([p32])
    run(opt, [p32], 2, seed=0)
    saved = opt.state_dict()
    p64 = mg.tensor(np.ones(3), dtype=mg.float64, requires_grad=True)
    other = Adam([p64])
    other.load_state_dict(saved)
    assert other.state[p64]["exp_avg"].dtype == np.float64
    assert other.state[p64]["step"] == 2 and isinstance(other.state[p64]["step"], int)

    two_groups = Adam([{"params": [p64]}, {"params": [mg.tensor([1.0], requires_grad=True)]}])
    with pytest.raises(ValueError, match="different number of parameter groups"):
        two_groups.load_state_dict(saved)
    bigger = Adam([p64, mg.tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match="doesn't match the size"):
        bigger.load_state_dict(saved)
    wrong_shape = Adam([mg.tensor(np.ones(4, dtype=np.float32), requires_grad=True)])
    with pytest.raises(ValueError, match="shape"):
        wrong_shape.load_state_dict(saved)
    assert wrong_shape.state == {}  # nothing changed


@needs_torch
def test_loads_a_torch_state_dict_converted_to_numpy():
    """A torch checkpoint (its "step" is a 0-d float tensor) can be brought over."""
    a = initial_arrays()[0]
    q = torch.tensor(a, requires_grad=True)
    topt = torch.optim.RMSprop([q], momentum=0.9)
    for g in np.random.default_rng(0).standard_normal((3, *a.shape)).astype(np.float32):
        q.grad = torch.from_numpy(g)
        topt.step()
    tsd = topt.state_dict()
    converted = {"state": {i: {k: v.numpy() for k, v in s.items()} for i, s in tsd["state"].items()},
                 "param_groups": tsd["param_groups"]}
    p = mg.tensor(q.detach().numpy().copy(), requires_grad=True)
    opt = RMSprop([p])
    opt.load_state_dict(converted)
    assert opt.state[p]["step"] == 3 and opt.param_groups[0]["momentum"] == 0.9
    g = np.random.default_rng(1).standard_normal(a.shape).astype(np.float32)
    p.grad, q.grad = mg.tensor(g), torch.from_numpy(g.copy())
    opt.step()
    topt.step()
    np.testing.assert_allclose(p.data, q.detach().numpy(), **F32)


# -- the Optimizer base class ------------------------------------------------------------------------
def test_state_is_keyed_by_the_parameter_itself():
    params = [mg.tensor(a, requires_grad=True) for a in initial_arrays()]
    opt = Adam(params)
    run(opt, params, 1, seed=0)
    assert len(opt.state) == 3
    assert all(any(key is p for p in params) for key in opt.state)
    assert opt.state[params[1]]["exp_avg"].shape == (4,)


def test_zero_grad_sets_none_or_zeros_in_place():
    params = [mg.tensor(a, requires_grad=True) for a in initial_arrays()]
    opt = SGD(params, lr=0.1)
    gradients_at(params)
    grads = [p.grad for p in params]
    arrays = [g.data for g in grads]
    opt.zero_grad(set_to_none=False)
    for p, g, a in zip(params, grads, arrays):
        assert p.grad is g and p.grad.data is a
        assert not a.any()
    opt.zero_grad()
    assert all(p.grad is None for p in params)
    opt.step()  # nothing has a gradient: nothing moves
    for p, a in zip(params, initial_arrays()):
        np.testing.assert_array_equal(p.data, a)


def test_step_with_closure_returns_the_loss():
    params = [mg.tensor(a, requires_grad=True) for a in initial_arrays()]
    opt = SGD(params, lr=0.1)

    def closure():
        opt.zero_grad()
        loss = loss_of(params)
        loss.backward()
        return loss

    first = opt.step(closure).item()
    with mg.no_grad():
        second = opt.step(closure).item()  # the closure still gets gradients
    assert second < first


def test_add_param_group_fills_defaults_and_rejects_duplicates():
    a, b = (mg.tensor(x, requires_grad=True) for x in initial_arrays()[:2])
    opt = RMSprop([a], lr=0.05, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["params"][0] is b
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": [a]}, {"params": [a, b]}])
    with pytest.raises(TypeError, match="ordered collections"):
        SGD({a, b})
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        SGD([np.ones(3)])
    with pytest.raises(TypeError):
        SGD(a)  # a single Tensor, not an iterable of them
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SGD([a, a])
    assert any("duplicate parameters" in str(w.message) for w in caught)


def test_a_non_leaf_cannot_be_optimized():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf"):
        SGD([a * 2])


@pytest.mark.parametrize("cls", [SGD, RMSprop, Adam, AdamW, Adagrad])
def test_empty_parameter_list_raises(cls):
    with pytest.raises(ValueError, match="empty parameter list"):
        cls([])
    with pytest.raises(ValueError, match="empty parameter list"):
        cls(p for p in [])


def test_base_class_needs_an_update_rule():
    opt = Optimizer([mg.tensor([1.0], requires_grad=True)], {"lr": 0.1})
    opt.param_groups[0]["params"][0].grad = mg.tensor([1.0])
    with pytest.raises(NotImplementedError):
        opt.step()


def test_repr_lists_the_groups():
    text = repr(SGD([mg.tensor([1.0], requires_grad=True)], lr=0.5))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "lr: 0.5" in text


# -- hyperparameter validation: exactly PyTorch's --------------------------------------------------
VALIDATION = [
    (SGD, {"lr": -0.1}), (SGD, {"lr": 0.0}), (SGD, {"momentum": -0.5}), (SGD, {"momentum": 1.5}),
    (SGD, {"weight_decay": -1e-4}), (SGD, {"dampening": -1.0}), (SGD, {"dampening": 2.0}),
    (SGD, {"nesterov": True}), (SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}),
    (SGD, {"nesterov": True, "momentum": 0.9}), (SGD, {"lr": float("nan")}),
    (Adam, {"lr": -0.1}), (Adam, {"eps": -1e-8}), (Adam, {"betas": (1.0, 0.999)}),
    (Adam, {"betas": (0.9, 1.0)}), (Adam, {"betas": (-0.1, 0.999)}), (Adam, {"betas": (0.0, 0.0)}),
    (Adam, {"betas": (0, 0.999)}), (Adam, {"weight_decay": -0.1}), (Adam, {"lr": float("nan")}),
    (AdamW, {"lr": -1.0}), (AdamW, {"betas": (0.9, 1.5)}), (AdamW, {"weight_decay": -0.01}),
    (AdamW, {"weight_decay": 0.0}),
    (Adagrad, {"lr": -0.1}), (Adagrad, {"lr_decay": -0.1}), (Adagrad, {"weight_decay": -0.1}),
    (Adagrad, {"initial_accumulator_value": -0.1}), (Adagrad, {"eps": -1e-10}), (Adagrad, {"eps": 0.0}),
    (RMSprop, {"lr": -0.1}), (RMSprop, {"eps": -1.0}), (RMSprop, {"momentum": -0.9}),
    (RMSprop, {"weight_decay": -0.1}), (RMSprop, {"alpha": -0.01}), (RMSprop, {"alpha": 0.0}),
    (RMSprop, {"alpha": 1.0}), (RMSprop, {"alpha": 1.5}), (RMSprop, {"momentum": 2.0}),
    (RMSprop, {"lr": float("nan")}), (RMSprop, {"lr": -0.1, "alpha": -1.0}),
]


@needs_torch
@pytest.mark.parametrize("cls, kwargs", VALIDATION, ids=[f"{c.__name__}-{kw}" for c, kw in VALIDATION])
def test_rejects_exactly_what_torch_rejects_with_its_message(cls, kwargs):
    try:
        torch_class(cls)([torch.zeros(2, requires_grad=True)], **kwargs)
        torch_error = None
    except ValueError as error:
        torch_error = str(error)
    if torch_error is None:
        cls([mg.tensor([0.0, 0.0], requires_grad=True)], **kwargs)  # accepted, as by torch
    else:
        with pytest.raises(ValueError) as caught:
            cls([mg.tensor([0.0, 0.0], requires_grad=True)], **kwargs)
        assert str(caught.value) == torch_error


def test_validation_messages_name_the_value():
    p = [mg.tensor([0.0], requires_grad=True)]
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -0\.1$"):
        SGD(p, lr=-0.1)
    with pytest.raises(ValueError, match=r"^Invalid alpha value: -0\.5$"):
        RMSprop(p, alpha=-0.5)
    RMSprop(p, alpha=1.5)  # accepted, as by PyTorch
    with pytest.raises(ValueError, match=r"^Invalid beta parameter at index 1: 1\.0$"):
        Adam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        SGD(p, nesterov=True, momentum=0.9, dampening=0.5)


# -- devices: the same numbers on the "cuda" path ----------------------------------------------------
RMSPROP_OPTIONS = {"bias_correction": True, "eps_inside_sqrt": True, "initial_square_avg": 1.0}


@pytest.mark.parametrize("cls, kwargs", [*STATEFUL, (RMSprop, RMSPROP_OPTIONS)],
                         ids=[*IDS, "RMSprop-options"])
def test_runs_on_every_device_with_state_on_the_device(cls, kwargs, device):
    cpu = [mg.tensor(a, requires_grad=True) for a in initial_arrays()]
    dev = [mg.tensor(a, requires_grad=True, device=device) for a in initial_arrays()]
    opt_cpu, opt_dev = cls(cpu, **kwargs), cls(dev, **kwargs)
    rng = np.random.default_rng(0)
    for _ in range(5):
        for p, q in zip(cpu, dev):
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad, q.grad = mg.tensor(g), mg.tensor(g, device=device)
        opt_cpu.step()
        opt_dev.step()
    for p, q in zip(cpu, dev):
        assert q.device == device and q.dtype == np.float32
        np.testing.assert_allclose(q.numpy(), p.data, rtol=1e-5, atol=1e-6)  # float32, another summation order on a GPU
        for name, value in opt_dev.state[q].items():
            if name != "step":
                assert backend.device_of(value) == device, name
    saved = opt_dev.state_dict()
    assert all(isinstance(v, (int, np.ndarray)) for s in saved["state"].values() for v in s.values())
    fresh = [mg.tensor(q.numpy(), requires_grad=True, device=device) for q in dev]
    resumed = cls(fresh, **kwargs)
    resumed.load_state_dict(opt_cpu.state_dict())  # a CPU checkpoint lands on the parameters' device
    for name, value in resumed.state[fresh[0]].items():
        if name != "step":
            assert backend.device_of(value) == device, name
    resumed.zero_grad(set_to_none=False)
