"""Tests for the layers in minigrad/layers/ (Module mechanics are in test_module.py).

Three independent references: PyTorch (each layer against its torch.nn twin with the
same weights: outputs and every gradient), finite differences in float64 (gradcheck),
and the initialisation formulas written out here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import needs_torch, torch

import minigrad as mg
from minigrad import layers as L

nn = torch.nn if torch is not None else None


def float32(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# -------------------------------------------------------------------------------------
# Parity with torch.nn: same weights -> same outputs and gradients.

# (name, minigrad layer factory, torch layer factory, input array)
CASES = [
    ("linear", lambda: L.Linear(5, 3), lambda: nn.Linear(5, 3), float32(4, 5)),
    ("linear-3d", lambda: L.Linear(5, 3), lambda: nn.Linear(5, 3), float32(2, 4, 5)),
    ("linear-nobias", lambda: L.Linear(5, 3, bias=False), lambda: nn.Linear(5, 3, bias=False), float32(4, 5)),
    ("conv", lambda: L.Conv2d(2, 4, 3), lambda: nn.Conv2d(2, 4, 3), float32(2, 2, 7, 6)),
    (
        "conv-stride-padding",
        lambda: L.Conv2d(3, 2, (3, 2), stride=(2, 1), padding=(1, 2), bias=False),
        lambda: nn.Conv2d(3, 2, (3, 2), stride=(2, 1), padding=(1, 2), bias=False),
        float32(2, 3, 7, 5),
    ),
    ("maxpool", lambda: L.MaxPool2d(2), lambda: nn.MaxPool2d(2), float32(2, 3, 6, 7)),
    ("maxpool-stride-pad", lambda: L.MaxPool2d(3, 2, 1), lambda: nn.MaxPool2d(3, 2, 1), float32(2, 2, 7, 6)),
    ("avgpool", lambda: L.AvgPool2d(2), lambda: nn.AvgPool2d(2), float32(2, 3, 6, 6)),
    ("avgpool-stride-pad", lambda: L.AvgPool2d(3, 2, 1), lambda: nn.AvgPool2d(3, 2, 1), float32(2, 2, 7, 6)),
    ("flatten", lambda: L.Flatten(), lambda: nn.Flatten(), float32(2, 3, 4, 5)),
    ("flatten-2", lambda: L.Flatten(2), lambda: nn.Flatten(2), float32(2, 3, 4, 5)),
    ("relu", lambda: L.ReLU(), lambda: nn.ReLU(), float32(3, 4)),
    ("leaky-relu", lambda: L.LeakyReLU(), lambda: nn.LeakyReLU(), float32(3, 4)),
    ("leaky-relu-0.2", lambda: L.LeakyReLU(0.2), lambda: nn.LeakyReLU(0.2), float32(3, 4)),
    ("tanh", lambda: L.Tanh(), lambda: nn.Tanh(), float32(3, 4)),
    ("sigmoid", lambda: L.Sigmoid(), lambda: nn.Sigmoid(), float32(3, 4)),
    ("batchnorm1d", lambda: L.BatchNorm1d(3), lambda: nn.BatchNorm1d(3), float32(6, 3)),
    ("batchnorm1d-3d", lambda: L.BatchNorm1d(3), lambda: nn.BatchNorm1d(3), float32(4, 3, 5)),
    ("batchnorm2d", lambda: L.BatchNorm2d(3), lambda: nn.BatchNorm2d(3), float32(2, 3, 4, 5)),
    ("layernorm", lambda: L.LayerNorm(5), lambda: nn.LayerNorm(5), float32(3, 4, 5)),
    ("layernorm-2d", lambda: L.LayerNorm((4, 5)), lambda: nn.LayerNorm((4, 5)), float32(3, 4, 5)),
    (
        "layernorm-nobias",
        lambda: L.LayerNorm(5, bias=False),
        lambda: nn.LayerNorm(5, bias=False),
        float32(2, 5),
    ),
    ("embedding", lambda: L.Embedding(7, 3), lambda: nn.Embedding(7, 3), np.array([[1, 3, 3], [0, 6, 1]])),
]


def randomize(module: L.Module, seed: int = 5) -> None:
    """Give every floating parameter and buffer random values (BatchNorm starts at
    weight 1, bias 0, mean 0, var 1, which would hide swapped names)."""
    rng = np.random.default_rng(seed)
    for name, t in [*module.named_parameters(), *module.named_buffers()]:
        if t.dtype.kind == "f":
            positive = name.endswith("running_var")
            values = rng.uniform(0.5, 1.5, t.shape) if positive else rng.standard_normal(t.shape)
            t.data = values.astype(t.dtype)


def copy_weights(ours: L.Module, theirs, direction: str) -> None:
    if direction == "to-torch":
        randomize(ours)
        theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    else:  # torch's own initial values, plus random BatchNorm statistics
        with torch.no_grad():
            for name, t in theirs.named_buffers():
                if name.endswith("running_mean"):
                    t.normal_()
                if name.endswith("running_var"):
                    t.uniform_(0.5, 1.5)
        assert ours.load_state_dict(theirs.state_dict()) == ([], [])


def run_both(ours, theirs, x):
    """Forward both on x; backward of sum(out * w) for one random w. Returns the outputs
    and the input tensors (minigrad, torch)."""
    floating = x.dtype.kind == "f"
    x_ours = mg.tensor(x, requires_grad=floating)
    x_theirs = torch.tensor(x, requires_grad=floating)
    out, out_t = ours(x_ours), theirs(x_theirs)
    w = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    (out * mg.tensor(w)).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    return out, out_t, x_ours, x_theirs


def assert_same(out, out_t, x_ours, x_theirs, ours, theirs, atol=1e-5):
    assert out.shape == tuple(out_t.shape)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), atol=atol, rtol=1e-4)
    if x_ours.requires_grad:
        np.testing.assert_allclose(x_ours.grad.numpy(), x_theirs.grad.numpy(), atol=atol, rtol=1e-4)
    theirs_params = dict(theirs.named_parameters())
    ours_params = dict(ours.named_parameters())
    assert list(ours_params) == list(theirs_params)
    for name, p in ours_params.items():
        assert p.grad is not None, f"{name} got no gradient"
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(
            p.grad.numpy(), theirs_params[name].grad.numpy(), atol=atol, rtol=1e-4, err_msg=f"grad of {name}"
        )


@needs_torch
@pytest.mark.parametrize("direction", ["to-torch", "from-torch"])
@pytest.mark.parametrize("name, make, make_torch, x", CASES, ids=[c[0] for c in CASES])
def test_layer_matches_torch(name, make, make_torch, x, direction):
    ours, theirs = make(), make_torch()
    copy_weights(ours, theirs, direction)
    out, out_t, x_ours, x_theirs = run_both(ours, theirs, x)
    assert_same(out, out_t, x_ours, x_theirs, ours, theirs)
    # the running statistics (BatchNorm) moved the same way
    for (name_b, b), (name_t, b_t) in zip(ours.named_buffers(), theirs.named_buffers()):
        assert name_b == name_t
        np.testing.assert_allclose(b.numpy(), b_t.numpy(), atol=1e-6, rtol=1e-5, err_msg=name_b)


@needs_torch
@pytest.mark.parametrize(
    "make, make_torch, shape",
    [
        (lambda: L.BatchNorm1d(3), lambda: nn.BatchNorm1d(3), (8, 3)),
        (
            lambda: L.BatchNorm1d(3, momentum=0.3, eps=1e-3),
            lambda: nn.BatchNorm1d(3, momentum=0.3, eps=1e-3),
            (4, 3, 5),
        ),
        (lambda: L.BatchNorm1d(3, momentum=None), lambda: nn.BatchNorm1d(3, momentum=None), (8, 3)),
        (lambda: L.BatchNorm2d(4), lambda: nn.BatchNorm2d(4), (3, 4, 5, 5)),
        (lambda: L.BatchNorm2d(4, affine=False), lambda: nn.BatchNorm2d(4, affine=False), (3, 4, 5, 5)),
        (
            lambda: L.BatchNorm2d(4, track_running_stats=False),
            lambda: nn.BatchNorm2d(4, track_running_stats=False),
            (3, 4, 5, 5),
        ),
    ],
)
def test_batchnorm_train_then_eval_matches_torch(make, make_torch, shape):
    ours, theirs = make(), make_torch()
    copy_weights(ours, theirs, "to-torch")
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for step in range(4):  # several batches: running statistics and their counter
        x = float32(*shape, seed=10 + step) * (step + 1) + step
        for module in (ours, theirs):
            module.zero_grad()
        assert_same(*run_both(ours, theirs, x), ours, theirs)
        for name, t in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[name], t.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
    if ours.track_running_stats:
        assert ours.num_batches_tracked.item() == 4
        assert ours.num_batches_tracked.dtype == np.int64 and ours.num_batches_tracked.shape == ()
    ours.eval()
    theirs.eval()
    ours.zero_grad()
    theirs.zero_grad()
    before = ours.state_dict()
    assert_same(*run_both(ours, theirs, float32(*shape, seed=99)), ours, theirs)
    for name, value in ours.state_dict().items():  # eval never touches the statistics
        np.testing.assert_array_equal(value, before[name])


def test_batchnorm_checks_input_dims():
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 5\)"):
        L.BatchNorm1d(3)(mg.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        L.BatchNorm2d(3)(mg.zeros(2, 3))
    with pytest.raises(ValueError, match=r"\(2, 4, 5, 5\)"):
        L.BatchNorm2d(3)(mg.zeros(2, 4, 5, 5))


def test_dropout_eval_is_identity_and_train_drops_about_p():
    x = mg.tensor(float32(100, 100))
    layer = L.Dropout(0.3).eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    layer.train()
    mg.manual_seed(0)
    y = layer(mg.ones(100, 100)).numpy()
    dropped = (y == 0).mean()
    # 10,000 Bernoulli(0.3) draws: standard deviation of the fraction ~0.0046
    assert abs(dropped - 0.3) < 0.025
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)  # the survivors are scaled
    mg.manual_seed(0)
    np.testing.assert_array_equal(layer(mg.ones(100, 100)).numpy(), y)  # reproducible
    with pytest.raises(ValueError, match=r"1\.5"):
        L.Dropout(1.5)


def test_embedding_rejects_bad_indices():
    layer = L.Embedding(4, 2)
    with pytest.raises(ValueError, match="4"):
        layer(np.array([0, 4]))
    with pytest.raises(TypeError):
        layer(np.array([0.0, 1.0]))


# -------------------------------------------------------------------------------------
# State dicts of whole models: the same names and shapes as torch.nn.


def small_cnn_ours():
    return L.Sequential(
        L.Conv2d(1, 4, 3, padding=1), L.BatchNorm2d(4), L.ReLU(), L.MaxPool2d(2),
        L.Flatten(), L.Linear(4 * 4 * 4, 10),
    )


def small_cnn_torch():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4 * 4 * 4, 10),
    )


def mlp_ours():
    return L.Sequential(L.Linear(20, 16), L.ReLU(), L.Dropout(0.1), L.Linear(16, 8), L.Tanh(), L.Linear(8, 3))


def mlp_torch():
    return nn.Sequential(
        nn.Linear(20, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3)
    )


@needs_torch
@pytest.mark.parametrize(
    "make, make_torch, x",
    [(small_cnn_ours, small_cnn_torch, float32(3, 1, 8, 8)), (mlp_ours, mlp_torch, float32(5, 20))],
    ids=["cnn", "mlp"],
)
def test_model_state_dict_and_outputs_match_torch(make, make_torch, x):
    ours, theirs = make(), make_torch()
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    for name, value in ours_state.items():
        assert isinstance(value, np.ndarray)
        assert value.shape == tuple(theirs_state[name].shape), name
        assert value.dtype == np.dtype(str(theirs_state[name].dtype).replace("torch.", "")), name
    copy_weights(ours, theirs, "to-torch")
    ours.eval()
    theirs.eval()  # Dropout off, BatchNorm on running statistics: deterministic
    assert_same(*run_both(ours, theirs, x), ours, theirs, atol=1e-4)
    ours.train()
    theirs.train()
    ours.zero_grad()
    theirs.zero_grad()
    if make is small_cnn_ours:  # (the MLP's dropout masks differ between libraries)
        assert_same(*run_both(ours, theirs, x), ours, theirs, atol=1e-4)
        assert ours.state_dict()["1.num_batches_tracked"] == 1


# -------------------------------------------------------------------------------------
# Default initialisation: PyTorch's distributions.


def check_uniform(values: np.ndarray, bound: float) -> None:
    """All in [-bound, bound], spread over the whole range, std ~ bound / sqrt(3)."""
    assert values.dtype == np.float32
    assert np.abs(values).max() <= np.float32(bound)
    assert np.abs(values).max() > 0.9 * bound
    assert abs(values.mean()) < 0.1 * bound
    np.testing.assert_allclose(values.std(), bound / math.sqrt(3), rtol=0.1)


@pytest.mark.parametrize(
    "make, fan_in",
    [
        (lambda: L.Linear(300, 40), 300),
        (lambda: L.Linear(7, 500), 7),
        (lambda: L.Conv2d(3, 16, 5), 3 * 5 * 5),
        (lambda: L.Conv2d(8, 32, (3, 2)), 8 * 3 * 2),
    ],
)
def test_linear_and_conv_init_is_uniform_over_fan_in(make, fan_in):
    mg.manual_seed(0)  # deterministic; the bounds below hold with a wide margin for any seed
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    check_uniform(layer.weight.numpy(), bound)
    bias = layer.bias.numpy()
    assert np.abs(bias).max() <= np.float32(bound)
    if bias.size >= 100:
        check_uniform(bias, bound)


def test_embedding_init_is_standard_normal():
    mg.manual_seed(0)
    weight = L.Embedding(1000, 50).weight.numpy()
    assert weight.dtype == np.float32
    assert abs(weight.mean()) < 0.02  # 50,000 samples: standard error 0.0045
    np.testing.assert_allclose(weight.std(), 1.0, rtol=0.03)


def test_normalization_init():
    bn = L.BatchNorm2d(6)
    np.testing.assert_array_equal(bn.weight.numpy(), np.ones(6, np.float32))
    np.testing.assert_array_equal(bn.bias.numpy(), np.zeros(6, np.float32))
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.zeros(6, np.float32))
    np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(6, np.float32))
    assert bn.num_batches_tracked.item() == 0
    ln = L.LayerNorm((2, 3))
    assert ln.weight.shape == (2, 3) and ln.bias.shape == (2, 3)
    np.testing.assert_array_equal(ln.weight.numpy(), np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(ln.bias.numpy(), np.zeros((2, 3), np.float32))
    assert L.LayerNorm(4, elementwise_affine=False).state_dict() == {}


@pytest.mark.parametrize(
    "make", [lambda: L.Linear(4, 3), lambda: L.Conv2d(2, 3, 3), lambda: L.Embedding(5, 2), small_cnn_ours]
)
def test_init_is_reproducible_under_manual_seed(make):
    mg.manual_seed(123)
    first = make().state_dict()
    mg.manual_seed(123)
    second = make().state_dict()
    third = make().state_dict()  # the generator moved on: new values
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
    assert any(not np.array_equal(first[n], third[n]) for n in first if first[n].dtype.kind == "f")


def test_parameters_are_float32_parameters():
    for layer in [L.Linear(2, 3), L.Conv2d(1, 2, 3), L.Embedding(3, 2), L.BatchNorm1d(2), L.LayerNorm(3)]:
        for name, p in layer.named_parameters():
            assert isinstance(p, L.Parameter) and p.requires_grad, name
            assert p.dtype == np.float32, name


# -------------------------------------------------------------------------------------
# Finite differences (float64) with respect to the input and every parameter.


def gradcheck_layer(layer: L.Module, x) -> None:
    """gradcheck layer(x) with respect to x (when floating) and each parameter.

    gradcheck hands ``fn`` fresh float64 copies of its inputs, so ``fn`` puts the copies
    of the parameters into the layer for the call (and restores the originals)."""
    names = [name for name, _ in layer.named_parameters()]
    for p in layer.parameters():
        p.data = p.data.astype(np.float64)
    params = dict(layer._parameters)

    def fn(x, *values):
        layer._parameters.update(zip(names, values))
        try:
            return layer(x)
        finally:
            layer._parameters.update(params)

    x_input = mg.tensor(x, dtype=mg.float64, requires_grad=True) if x.dtype.kind == "f" else x
    assert mg.gradcheck(fn, [x_input, *params.values()])


def float64(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize(
    "make, x",
    [
        (lambda: L.Linear(3, 4), float64(2, 3)),
        (lambda: L.Linear(3, 2, bias=False), float64(2, 2, 3)),
        (lambda: L.Conv2d(2, 3, 3, stride=2, padding=1), float64(2, 2, 5, 5)),
        (lambda: L.Conv2d(2, 2, (2, 3), bias=False), float64(1, 2, 4, 4)),
        (lambda: L.BatchNorm1d(3), float64(5, 3)),
        (lambda: L.BatchNorm1d(2), float64(3, 2, 4)),
        (lambda: L.BatchNorm2d(2), float64(2, 2, 3, 3)),
        (lambda: L.BatchNorm2d(2).eval(), float64(2, 2, 3, 3)),
        (lambda: L.LayerNorm(4), float64(3, 4)),
        (lambda: L.LayerNorm((2, 3)), float64(2, 2, 3)),
        (lambda: L.Embedding(5, 3), np.array([[0, 4, 4], [2, 1, 0]])),
        (lambda: L.MaxPool2d(2), float64(2, 2, 4, 4)),
        (lambda: L.MaxPool2d(3, stride=2, padding=1), float64(1, 2, 5, 5)),
        (lambda: L.AvgPool2d(2), float64(2, 2, 4, 4)),
        (lambda: L.AvgPool2d(3, stride=2, padding=1), float64(1, 2, 5, 5)),
    ],
    ids=[
        "linear", "linear-nobias", "conv", "conv-nobias", "batchnorm1d", "batchnorm1d-3d", "batchnorm2d",
        "batchnorm2d-eval", "layernorm", "layernorm-2d", "embedding", "maxpool", "maxpool-pad", "avgpool",
        "avgpool-pad",
    ],
)
def test_layer_gradcheck(make, x):
    gradcheck_layer(make(), x)


# -------------------------------------------------------------------------------------
# Errors name what was wrong.


def test_linear_and_conv_errors_name_the_shapes():
    with pytest.raises(ValueError, match="4"):
        L.Linear(3, 2)(mg.zeros(5, 4))
    with pytest.raises(ValueError, match="channels"):
        L.Conv2d(3, 2, 3)(mg.zeros(1, 2, 5, 5))
    with pytest.raises(ValueError, match="normalized_shape"):
        L.LayerNorm(3)(mg.zeros(2, 4))


@pytest.mark.parametrize("option, value", [("kernel_size", (3, 3, 3)), ("kernel_size", 3.0),
                                           ("stride", "a"), ("padding", (1,))])
def test_conv2d_refuses_a_size_that_is_not_an_int_or_a_pair(option, value):
    arguments = {"kernel_size": 3, option: value}
    with pytest.raises(ValueError, match=f"Conv2d: {option} must be an int or a pair of ints, got"):
        L.Conv2d(1, 2, **arguments)


@needs_torch
def test_conv2d_repr_with_numpy_ints_is_pytorchs():
    assert repr(L.Conv2d(1, 2, np.int64(3))) == repr(torch.nn.Conv2d(1, 2, 3))
