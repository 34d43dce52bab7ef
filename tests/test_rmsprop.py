"""RMSprop: PyTorch's, step for step, and the RMSProps of Keras 3, TF1, Optax, Graves (2013)
and Hinton (2012) through ``PRESETS``.

Each preset is checked against that system's update written out independently below, in
plain NumPy float64 and in that system's own names, from its published definition (the
sources are cited in minigrad/optim/rmsprop.py). The reference functions never call
minigrad. Trajectories are compared as displacements θ_t - θ_0, so that a wrong update
cannot hide behind the size of θ.
"""

from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest
from helpers import needs_torch, torch
from test_optim import check_against_torch

import minigrad as mg
from minigrad.optim import RMSprop
from minigrad.optim.rmsprop import PRESETS

# -- PyTorch, step for step ------------------------------------------------------------------
GRID = [{"centered": c, "momentum": m, "weight_decay": w, "maximize": x}
        for c, m, w, x in itertools.product([False, True], [0.0, 0.9], [0.0, 0.1], [False, True])]
GRID += [{"alpha": 0.9}, {"alpha": 0.5, "centered": True, "momentum": 0.9},
         {"alpha": 0.0, "momentum": 0.5}, {"lr": 1e-3, "eps": 1e-3, "centered": True}]


@needs_torch
@pytest.mark.parametrize("kwargs", GRID, ids=[str(kw) for kw in GRID])
def test_matches_torch_every_step(kwargs):
    opt, topt = check_against_torch(lambda ps: RMSprop(ps, **kwargs),
                                    lambda ps: torch.optim.RMSprop(ps, **kwargs))
    for p, q in zip(opt.param_groups[0]["params"], topt.param_groups[0]["params"]):
        mine, theirs = opt.state[p], topt.state[q]
        assert set(mine) == set(theirs)
        for name in mine:
            if name != "step":
                # a buffer entry can be a sum that nearly cancels: scale atol by the buffer's size
                expected = theirs[name].numpy()
                atol = 1e-5 * np.abs(expected).max()
                np.testing.assert_allclose(mine[name], expected, rtol=1e-4, atol=atol, err_msg=name)


@needs_torch
def test_float64_matches_torch_float64():
    kwargs = {"momentum": 0.9, "centered": True, "weight_decay": 0.1, "alpha": 0.9}
    opt, _ = check_against_torch(lambda ps: RMSprop(ps, **kwargs),
                                 lambda ps: torch.optim.RMSprop(ps, **kwargs), dtype=np.float64)
    assert all(v.dtype == np.float64 for s in opt.state.values() for k, v in s.items() if k != "step")


@needs_torch
def test_pytorch_preset_is_torch_default():
    check_against_torch(lambda ps: RMSprop.like("pytorch", ps), lambda ps: torch.optim.RMSprop(ps))


@needs_torch
def test_state_names_and_step_type():
    opt, topt = check_against_torch(lambda ps: RMSprop(ps, momentum=0.9, centered=True),
                                    lambda ps: torch.optim.RMSprop(ps, momentum=0.9, centered=True), steps=5)
    state = opt.state_dict()["state"][0]
    names = {"step", "square_avg", "momentum_buffer", "grad_avg"}
    assert set(state) == set(topt.state_dict()["state"][0]) == names
    assert state["step"] == 5 and isinstance(state["step"], int)  # torch: tensor(5.)


def test_lazy_state_without_momentum_or_centering():
    p = mg.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = RMSprop([p])
    assert opt.state == {}
    p.grad = mg.tensor(np.ones(3, dtype=np.float32))
    opt.step()
    assert set(opt.state[p]) == {"step", "square_avg"}
    assert opt.state[p]["square_avg"].dtype == np.float32


# -- the presets against each system's own formula ---------------------------------------------
STEPS = 8
DROP_AT = 4  # from this step on the learning rate is a tenth: lr inside/outside momentum shows


def gradient_sequence(seed=3, shape=(6,)):
    """Gradients of assorted signs and magnitudes (1e-2 .. 10), one array per step."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) * 10.0 ** rng.uniform(-2, 1, shape) for _ in range(STEPS)]


THETA0 = np.linspace(-1.0, 1.0, 6)


def learning_rates(first):
    return [first if t < DROP_AT else first / 10 for t in range(STEPS)]


def run_ours(opt_factory, lrs=None, grads=None):
    """Displacements θ_t - θ_0 of our optimizer (float64) with learning rate lrs[t] at step t
    (default: the preset's own learning rate, a tenth of it from step DROP_AT on)."""
    grads = gradient_sequence() if grads is None else grads
    p = mg.tensor(THETA0.copy(), requires_grad=True)
    opt = opt_factory([p])
    lrs = learning_rates(opt.param_groups[0]["lr"]) if lrs is None else lrs
    out = []
    for t, g in enumerate(grads):
        opt.param_groups[0]["lr"] = lrs[t]
        p.grad = mg.tensor(g)
        opt.step()
        assert p.dtype == np.float64
        out.append(p.data - THETA0)
    return np.array(out)


def assert_same_path(ours, reference, rtol=1e-10):
    assert np.abs(reference[-1]).max() > 1e-6, "the reference did not move"
    np.testing.assert_allclose(ours, reference, rtol=rtol, atol=1e-14 + rtol * np.abs(reference).max())


MOMENTUM_CENTERED = [(0.0, False), (0.9, False), (0.0, True), (0.9, True)]


def pytorch_reference(theta, grads, lrs, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                      centered=False):
    """torch.optim.RMSprop as its documentation states it (symbols: θ, g, γ, α, λ, μ, v, b, g_ave)."""
    theta0 = theta.copy()
    v, b, g_ave = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
    out = []
    for g, gamma in zip(grads, lrs):
        if weight_decay != 0:
            g = g + weight_decay * theta
        v = alpha * v + (1 - alpha) * g**2
        v_tilde = v
        if centered:
            g_ave = g_ave * alpha + (1 - alpha) * g
            v_tilde = v_tilde - g_ave**2
        if momentum > 0:
            b = momentum * b + g / (np.sqrt(v_tilde) + eps)
            theta = theta - gamma * b
        else:
            theta = theta - gamma * g / (np.sqrt(v_tilde) + eps)
        out.append(theta - theta0)
    return np.array(out)


@pytest.mark.parametrize("momentum, centered", MOMENTUM_CENTERED)
def test_pytorch_preset_follows_the_documented_algorithm(momentum, centered):
    lrs = learning_rates(1e-2)  # torch's default lr, then a drop
    ours = run_ours(lambda ps: RMSprop.like("pytorch", ps, momentum=momentum, centered=centered,
                                            weight_decay=0.1))
    reference = pytorch_reference(THETA0.copy(), gradient_sequence(), lrs, weight_decay=0.1,
                                  momentum=momentum, centered=centered)
    assert_same_path(ours, reference)


def keras3_reference(variable, gradients, learning_rates, rho=0.9, momentum=0.0, epsilon=1e-7,
                     centered=False):
    """keras.optimizers.RMSprop.update_step (Keras 3), in its variable names."""
    start = variable.copy()
    velocity = np.zeros_like(variable)
    momentum_slot = np.zeros_like(variable)
    average_grad = np.zeros_like(variable)
    out = []
    for gradient, lr in zip(gradients, learning_rates):
        velocity = rho * velocity + (1 - rho) * np.square(gradient)
        if centered:
            average_grad = rho * average_grad + (1 - rho) * gradient
            denominator = velocity - np.square(average_grad) + epsilon
        else:
            denominator = velocity + epsilon
        increment = lr * gradient / np.sqrt(denominator)
        if momentum > 0:
            momentum_slot = momentum * momentum_slot + increment
            variable = variable - momentum_slot
        else:
            variable = variable - increment
        out.append(variable - start)
    return np.array(out)


@pytest.mark.parametrize("momentum, centered", MOMENTUM_CENTERED)
def test_keras_preset_follows_keras3(momentum, centered):
    lrs = learning_rates(0.001)  # Keras' default learning_rate, then a drop
    ours = run_ours(lambda ps: RMSprop.like("keras", ps, momentum=momentum, centered=centered))
    reference = keras3_reference(THETA0.copy(), gradient_sequence(), lrs, momentum=momentum,
                                 centered=centered)
    assert_same_path(ours, reference)


def tf1_reference(var, grads, lr_values, rho=0.9, momentum=0.0, epsilon=1e-10, centered=False):
    """TF1 RMSPropOptimizer: slots rms (ones), mg, momentum (zeros); kernels ApplyRMSProp and
    ApplyCenteredRMSProp, in the kernels' names (ms, mg, mom)."""
    start = var.copy()
    ms, mg_, mom = np.ones_like(var), np.zeros_like(var), np.zeros_like(var)
    out = []
    for grad, lr in zip(grads, lr_values):
        ms = rho * ms + (1 - rho) * grad * grad
        if centered:
            mg_ = rho * mg_ + (1 - rho) * grad
            mom = momentum * mom + lr * grad / np.sqrt(ms - mg_ * mg_ + epsilon)
        else:
            mom = momentum * mom + lr * grad / np.sqrt(ms + epsilon)
        var = var - mom
        out.append(var - start)
    return np.array(out)


@pytest.mark.parametrize("momentum, centered", MOMENTUM_CENTERED)
def test_tf1_preset_follows_the_tf1_kernels(momentum, centered):
    lrs = learning_rates(0.01)  # TF1 has no default learning rate
    ours = run_ours(lambda ps: RMSprop.like("tf1", ps, momentum=momentum, centered=centered), lrs=lrs)
    reference = tf1_reference(THETA0.copy(), gradient_sequence(), lrs, momentum=momentum, centered=centered)
    assert_same_path(ours, reference)


def optax_reference(params, grads, learning_rates, decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt=True,
                    centered=False, momentum=None, bias_correction=False):
    """optax.rmsprop = chain(scale_by_rms | scale_by_stddev, scale_by_learning_rate, trace),
    then optax.apply_updates; in Optax's names (nu, mu, count, trace, updates)."""
    start = params.copy()
    nu = np.full_like(params, initial_scale)
    mu = np.zeros_like(params)
    trace = np.zeros_like(params)
    out = []
    for count, (updates, learning_rate) in enumerate(zip(grads, learning_rates), start=1):
        # scale_by_rms / scale_by_stddev (count is the state's step counter, after the increment)
        nu = (1 - decay) * updates**2 + decay * nu
        mu = (1 - decay) * updates + decay * mu
        nu_hat = nu / (1 - decay**count) if bias_correction else nu
        mu_hat = mu / (1 - decay**count) if bias_correction else mu
        variance = nu_hat - mu_hat**2 if centered else nu_hat
        if eps_in_sqrt:
            updates = updates / np.sqrt(variance + eps)
        else:
            updates = updates / (np.sqrt(variance) + eps)
        # scale_by_learning_rate
        updates = -learning_rate * updates
        # trace
        if momentum is not None:
            trace = updates + momentum * trace
            updates = trace
        # apply_updates
        params = params + updates
        out.append(params - start)
    return np.array(out)


OPTAX_CASES = [{}, {"momentum": 0.9}, {"centered": True}, {"centered": True, "momentum": 0.9},
               {"bias_correction": True}, {"bias_correction": True, "momentum": 0.9, "eps_in_sqrt": False},
               {"initial_scale": 1.0, "momentum": 0.5}]


@pytest.mark.parametrize("options", OPTAX_CASES, ids=[str(o) for o in OPTAX_CASES])
def test_optax_preset_follows_optax(options):
    ours_options = {"momentum": options.get("momentum", 0.0), "centered": options.get("centered", False),
                    "bias_correction": options.get("bias_correction", False),
                    "eps_inside_sqrt": options.get("eps_in_sqrt", True),
                    "initial_square_avg": options.get("initial_scale", 0.0)}
    lrs = learning_rates(0.01)  # Optax has no default learning rate
    ours = run_ours(lambda ps: RMSprop.like("optax", ps, **ours_options), lrs=lrs)
    reference = optax_reference(THETA0.copy(), gradient_sequence(), lrs, **options)
    assert_same_path(ours, reference)


def test_optax_centered_with_bias_correction():
    # At t = 1 the bias-corrected variance is g² - g² = 0, so the step is g / sqrt(0 + eps):
    # the two codes' round-off in "0" (~1e-16) shows at 1e-8 relative, hence rtol=1e-6.
    lrs = learning_rates(0.01)
    ours = run_ours(lambda ps: RMSprop.like("optax", ps, centered=True, bias_correction=True), lrs=lrs)
    reference = optax_reference(THETA0.copy(), gradient_sequence(), lrs, centered=True, bias_correction=True)
    assert_same_path(ours, reference, rtol=1e-6)


def graves2013_reference(w, epsilons, gimels, aleph=0.95, beth=0.9, k=1e-4):
    """Graves (2013), eqs. (38)-(41). Hebrew letters spelled out: aleph (ℵ) the decay,
    beth (ℶ) the momentum, gimel (ג) the learning rate; epsilon (ε) is the gradient."""
    start = w.copy()
    n, g, delta = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    out = []
    for epsilon, gimel in zip(epsilons, gimels):
        n = aleph * n + (1 - aleph) * epsilon**2
        g = aleph * g + (1 - aleph) * epsilon
        delta = beth * delta - gimel * epsilon / np.sqrt(n - g**2 + k)
        w = w + delta
        out.append(w - start)
    return np.array(out)


def test_graves2013_preset_follows_the_paper():
    gimels = learning_rates(1e-4)  # ג = 1e-4 as in the paper, then a drop
    ours = run_ours(lambda ps: RMSprop.like("graves2013", ps))
    reference = graves2013_reference(THETA0.copy(), gradient_sequence(), gimels)
    assert_same_path(ours, reference)


def hinton2012_reference(w, gradients, learning_rates):
    """Lecture 6e: MeanSquare(w, t) = 0.9 MeanSquare(w, t-1) + 0.1 (dE/dw)², and the gradient
    is divided by sqrt(MeanSquare(w, t)). No epsilon: the slide has none."""
    start = w.copy()
    mean_square = np.zeros_like(w)
    out = []
    for dE_dw, lr in zip(gradients, learning_rates):
        mean_square = 0.9 * mean_square + 0.1 * dE_dw**2
        w = w - lr * dE_dw / np.sqrt(mean_square)
        out.append(w - start)
    return np.array(out)


def test_hinton2012_preset_follows_the_lecture():
    lrs = learning_rates(1e-3)  # our documented choice of learning rate, then a drop
    ours = run_ours(lambda ps: RMSprop.like("hinton2012", ps))
    # our guard eps = 1e-8 against sqrt(MeanSquare) >= ~3e-3 here: a relative effect < 1e-5
    assert_same_path(ours, hinton2012_reference(THETA0.copy(), gradient_sequence(), lrs), rtol=1e-5)


def test_presets_differ_except_optax_and_hinton():
    paths = {name: run_ours(lambda ps, n=name: RMSprop.like(n, ps, lr=1e-2)) for name in PRESETS}
    for a, b in itertools.combinations(paths, 2):
        if {a, b} == {"optax", "hinton2012"}:
            # Optax's defaults are the lecture's formula; only the tiny eps sits elsewhere, and
            # shows (3e-4 relative) only where g² is down near eps = 1e-8
            np.testing.assert_allclose(paths[a], paths[b], rtol=1e-3, atol=1e-9)
        else:
            assert not np.allclose(paths[a], paths[b], rtol=1e-3), (a, b)


# -- the preset table itself -------------------------------------------------------------------
KEYWORDS = {"lr", "alpha", "eps", "momentum", "centered", "eps_inside_sqrt", "initial_square_avg",
            "lr_in_momentum", "bias_correction"}


def test_presets_list_every_system_with_every_keyword():
    assert set(PRESETS) == {"pytorch", "keras", "tf1", "optax", "graves2013", "hinton2012"}
    for name, kwargs in PRESETS.items():
        assert set(kwargs) == KEYWORDS, name


def test_pytorch_preset_is_our_default_signature():
    signature = inspect.signature(RMSprop)
    defaults = {name: signature.parameters[name].default for name in KEYWORDS}
    assert PRESETS["pytorch"] == defaults


def test_like_applies_overrides_on_top_of_the_preset():
    p = mg.tensor([1.0, 2.0], requires_grad=True)
    opt = RMSprop.like("keras", [p], lr=0.01, momentum=0.9, weight_decay=0.1)
    assert isinstance(opt, RMSprop)
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.01, 0.9, 0.1)
    for name in KEYWORDS - {"lr", "momentum"}:
        assert group[name] == PRESETS["keras"][name], name
    assert PRESETS["keras"]["lr"] == 1e-3  # the table itself is untouched


def test_like_rejects_an_unknown_name_and_lists_the_known_ones():
    with pytest.raises(ValueError) as caught:
        RMSprop.like("adam", [mg.tensor([1.0], requires_grad=True)])
    message = str(caught.value)
    assert "'adam'" in message
    for name in PRESETS:
        assert name in message


# -- each keyword-only option on its own (closed forms of one or two steps) --------------------
def one_step(g, **kwargs):
    p = mg.tensor(THETA0.copy(), requires_grad=True)
    opt = RMSprop([p], **kwargs)
    p.grad = mg.tensor(g)
    opt.step()
    return p.data - THETA0, opt.state[p]


G1 = np.array([0.3, -2.0, 0.01, 5.0, -0.2, 1.0])
G2 = np.array([-0.1, -1.0, 0.02, 3.0, 0.5, -1.0])


def test_eps_inside_sqrt():
    lr, alpha, eps = 0.1, 0.9, 0.01
    v = (1 - alpha) * G1**2
    inside, _ = one_step(G1, lr=lr, alpha=alpha, eps=eps, eps_inside_sqrt=True)
    outside, _ = one_step(G1, lr=lr, alpha=alpha, eps=eps)
    np.testing.assert_allclose(inside, -lr * G1 / np.sqrt(v + eps), rtol=1e-12)
    np.testing.assert_allclose(outside, -lr * G1 / (np.sqrt(v) + eps), rtol=1e-12)
    assert np.abs(inside - outside).max() > 1e-3


def test_initial_square_avg():
    lr, alpha = 0.1, 0.9
    step, state = one_step(G1, lr=lr, alpha=alpha, initial_square_avg=1.0)
    v = alpha * 1.0 + (1 - alpha) * G1**2
    np.testing.assert_allclose(state["square_avg"], v, rtol=1e-12)
    np.testing.assert_allclose(step, -lr * G1 / (np.sqrt(v) + 1e-8), rtol=1e-12)
    zero_start, _ = one_step(G1, lr=lr, alpha=alpha)
    assert np.abs(step - zero_start).max() > 1e-2


def two_steps_with_lr_drop(lr_in_momentum, lr1=0.1, lr2=0.01, alpha=0.9, mu=0.9, eps=1e-8):
    p = mg.tensor(THETA0.copy(), requires_grad=True)
    opt = RMSprop([p], lr=lr1, alpha=alpha, momentum=mu, lr_in_momentum=lr_in_momentum)
    for g, lr in ((G1, lr1), (G2, lr2)):
        opt.param_groups[0]["lr"] = lr
        p.grad = mg.tensor(g)
        opt.step()
    return p.data - THETA0


def test_lr_in_momentum_after_an_lr_drop():
    lr1, lr2, alpha, mu, eps = 0.1, 0.01, 0.9, 0.9, 1e-8
    v1 = (1 - alpha) * G1**2
    v2 = alpha * v1 + (1 - alpha) * G2**2
    u1, u2 = G1 / (np.sqrt(v1) + eps), G2 / (np.sqrt(v2) + eps)
    # lr inside the buffer: b2 = mu * lr1 u1 + lr2 u2, the old step keeps its old lr
    inside = -lr1 * u1 - (mu * lr1 * u1 + lr2 * u2)
    # lr outside (PyTorch): theta -= lr2 * (mu u1 + u2), the whole buffer takes the new lr
    outside = -lr1 * u1 - lr2 * (mu * u1 + u2)
    np.testing.assert_allclose(two_steps_with_lr_drop(True), inside, rtol=1e-12)
    np.testing.assert_allclose(two_steps_with_lr_drop(False), outside, rtol=1e-12)
    assert np.abs(inside - outside).max() > 1e-2


def test_lr_in_momentum_changes_nothing_at_constant_lr():
    grads = gradient_sequence(seed=5) * 3  # 24 steps
    paths = [run_ours(lambda ps, f=flag: RMSprop(ps, lr=0.01, momentum=0.9, lr_in_momentum=f),
                      lrs=[0.01] * len(grads), grads=grads) for flag in (False, True)]
    np.testing.assert_allclose(paths[0], paths[1], rtol=1e-10, atol=1e-14)


def test_bias_correction():
    lr, alpha, eps = 0.1, 0.99, 1e-8
    # step 1: v̂ = (1 - α) g² / (1 - α) = g², so the step is lr · g / (|g| + eps) ≈ lr · sign(g)
    first, _ = one_step(G1, lr=lr, alpha=alpha, bias_correction=True)
    np.testing.assert_allclose(first, -lr * G1 / (np.abs(G1) + eps), rtol=1e-12)
    uncorrected, _ = one_step(G1, lr=lr, alpha=alpha)
    np.testing.assert_allclose(uncorrected, -lr * G1 / (np.sqrt(0.01) * np.abs(G1) + eps), rtol=1e-12)
    # step 2: v̂ = (α (1 - α) g1² + (1 - α) g2²) / (1 - α²)
    p = mg.tensor(THETA0.copy(), requires_grad=True)
    opt = RMSprop([p], lr=lr, alpha=alpha, bias_correction=True)
    for g in (G1, G2):
        p.grad = mg.tensor(g)
        opt.step()
    v_hat2 = (alpha * (1 - alpha) * G1**2 + (1 - alpha) * G2**2) / (1 - alpha**2)
    expected = first - lr * G2 / (np.sqrt(v_hat2) + eps)
    np.testing.assert_allclose(p.data - THETA0, expected, rtol=1e-12, atol=1e-15)
    # the stored average is the raw one: the correction is applied when it is used
    np.testing.assert_allclose(opt.state[p]["square_avg"], (1 - alpha) * (alpha * G1**2 + G2**2), rtol=1e-12)


def test_option_validation():
    p = [mg.tensor([1.0], requires_grad=True)]
    with pytest.raises(ValueError, match="initial_square_avg"):
        RMSprop(p, initial_square_avg=-1.0)
    with pytest.raises(ValueError, match="alpha < 1"):
        RMSprop(p, alpha=1.0, bias_correction=True)
    RMSprop(p, alpha=1.0)  # fine without bias correction (PyTorch accepts it)


def test_float32_stays_float32_with_every_option():
    p = mg.tensor(np.linspace(-1, 1, 6).astype(np.float32), requires_grad=True)
    opt = RMSprop([p], momentum=0.9, centered=True, eps_inside_sqrt=True, initial_square_avg=1.0,
                  lr_in_momentum=True, bias_correction=True, weight_decay=0.1, maximize=True)
    for g in gradient_sequence():
        p.grad = mg.tensor(g.astype(np.float32))
        opt.step()
    assert p.dtype == np.float32
    assert all(v.dtype == np.float32 for k, v in opt.state[p].items() if k != "step")
    assert np.isfinite(p.data).all()

