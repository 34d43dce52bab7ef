"""Tests for minigrad/layers/module.py and container.py: registration, names, modes,
devices, state dicts, printing, Sequential and ModuleList, Parameter.

Expected names and strings are written by hand from PyTorch's conventions (and,
where torch is installed, also checked against torch.nn itself).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
from helpers import needs_torch, torch

import minigrad as mg
from minigrad import backend, losses
from minigrad import layers as L


class Block(L.Module):
    """Attributes assigned in a deliberately non-alphabetical order."""

    def __init__(self):
        super().__init__()
        self.zeta = L.Parameter(np.ones(2, dtype=np.float32))
        self.proj = L.Linear(2, 3)
        self.register_buffer("count", mg.zeros(1))
        self.alpha = L.Parameter(np.zeros(3, dtype=np.float32))
        self.norm = L.BatchNorm1d(3)
        self.not_registered = [L.Linear(2, 2)]  # a plain list hides its modules (as torch)
        self.scale = 2.0

    def forward(self, x):
        return self.norm(self.proj(x * self.zeta) + self.alpha) * self.scale


class Net(L.Module):
    def __init__(self):
        super().__init__()
        self.features = L.Sequential(L.Conv2d(1, 2, 3, padding=1), L.BatchNorm2d(2), L.ReLU(), L.MaxPool2d(2))
        self.classifier = L.Sequential(L.Flatten(), L.Dropout(0.2), L.Linear(2 * 2 * 2, 3))

    def forward(self, x):
        return self.classifier(self.features(x))


def mlp():
    return L.Sequential(L.Linear(4, 8), L.ReLU(), L.Linear(8, 3))


# -------------------------------------------------------------------------------------
# Registration and names


def test_registration_follows_definition_order():
    block = Block()
    assert [n for n, _ in block.named_parameters()] == [
        "zeta", "alpha", "proj.weight", "proj.bias", "norm.weight", "norm.bias",
    ]
    assert [n for n, _ in block.named_buffers()] == [
        "count", "norm.running_mean", "norm.running_var", "norm.num_batches_tracked",
    ]
    assert [n for n, _ in block.named_children()] == ["proj", "norm"]
    assert list(block.children()) == [block.proj, block.norm]
    assert [n for n, _ in block.named_modules()] == ["", "proj", "norm"]
    assert list(block.modules()) == [block, block.proj, block.norm]
    # parameters of each module come before its buffers, then the children's entries
    assert list(block.state_dict()) == [
        "zeta", "alpha", "count", "proj.weight", "proj.bias", "norm.weight", "norm.bias",
        "norm.running_mean", "norm.running_var", "norm.num_batches_tracked",
    ]
    assert block.scale == 2.0 and "scale" not in block.state_dict()
    first_two = list(block.parameters())[:2]
    assert first_two[0] is block.zeta and first_two[1] is block.alpha


def test_nested_names():
    assert [n for n, _ in mlp().named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    net = Net()
    assert list(net.state_dict()) == [
        "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
        "features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked",
        "classifier.2.weight", "classifier.2.bias",
    ]
    assert [n for n, _ in net.named_modules()][:3] == ["", "features", "features.0"]
    assert dict(net.named_parameters())["features.1.bias"] is net.features[1].bias


@needs_torch
def test_nested_names_match_torch():
    nn = torch.nn

    class TorchNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2)
            )
            self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(2 * 2 * 2, 3))

    ours, theirs = Net(), TorchNet()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()
    }


def test_shared_parameters_are_counted_once():
    a, b = L.Linear(3, 3), L.Linear(3, 3)
    b.weight = a.weight  # tied weights
    model = L.Sequential(a, L.ReLU(), b)
    params = list(model.parameters())
    assert len(params) == 3
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.bias"]
    # the state dict keeps every name (as torch), so it loads into an untied copy too
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    # the same module twice: its parameters once, the module once
    layer = L.Linear(2, 2)
    twice = L.Sequential(layer, layer)
    assert len(list(twice.parameters())) == 2
    assert len(list(twice.modules())) == 2
    assert len(list(twice.children())) == 1


def test_buffers_are_in_state_dict_not_in_parameters():
    bn = L.BatchNorm1d(4)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    assert all(not b.requires_grad for b in bn.buffers())
    state = bn.state_dict()
    assert list(state) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert state["num_batches_tracked"].dtype == np.int64 and state["num_batches_tracked"].shape == ()
    assert all(isinstance(v, np.ndarray) for v in state.values())


def test_state_dict_values_are_copies():
    layer = L.Linear(2, 2)
    state = layer.state_dict()
    state["weight"][...] = 100.0
    assert not np.any(layer.weight.numpy() == 100.0)
    layer.bias.data[...] = -7.0
    assert not np.any(state["bias"] == -7.0)


def test_assignment_rules():
    layer = L.Linear(2, 3)
    with pytest.raises(TypeError, match="weight"):
        layer.weight = mg.zeros(3, 2)  # a plain Tensor would silently stop being trained
    layer.bias = None
    assert layer.bias is None and list(layer.state_dict()) == ["weight"]
    layer.bias = L.Parameter(np.zeros(3, dtype=np.float32))
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    with pytest.raises(TypeError):
        layer.register_buffer("stats", np.zeros(3))
    del layer.bias
    assert not hasattr(layer, "bias")

    class Forgetful(L.Module):
        def __init__(self):
            self.weight = L.Parameter(np.zeros(2, dtype=np.float32))

    with pytest.raises(AttributeError, match="__init__"):
        Forgetful()
    with pytest.raises(NotImplementedError):
        L.Module()(1)


# -------------------------------------------------------------------------------------
# Modes and gradients


def test_train_eval_propagate():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.features.train()
    assert net.features[1].training and not net.classifier[1].training and not net.training
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(TypeError):
        net.train("no")


def test_eval_changes_dropout_and_batchnorm():
    net = Net()
    x = mg.tensor(np.random.default_rng(0).standard_normal((4, 1, 4, 4)).astype(np.float32))
    net.eval()
    np.testing.assert_array_equal(net(x).numpy(), net(x).numpy())  # deterministic
    assert net.features[1].num_batches_tracked.item() == 0
    net.train()
    net(x)
    assert net.features[1].num_batches_tracked.item() == 1


def test_zero_grad():
    model = mlp()
    x = mg.tensor(np.ones((2, 4), dtype=np.float32))
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model(x).sum().backward()
    model.zero_grad(set_to_none=False)
    assert all(not np.any(p.grad.numpy()) for p in model.parameters())


def test_requires_grad_and_apply():
    model = mlp()
    model[0].requires_grad_(False)
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, True]
    visited = []
    assert model.apply(lambda m: visited.append(type(m).__name__)) is model
    assert visited == ["Linear", "ReLU", "Linear", "Sequential"]


# -------------------------------------------------------------------------------------
# Devices


def array_type(device):
    return np.ndarray if device == "cpu" else backend.cuda_module().ndarray


def test_to_device_moves_parameters_buffers_and_grads_in_place(device):
    net = Net()
    x = np.random.default_rng(0).standard_normal((3, 1, 4, 4)).astype(np.float32)
    net(mg.tensor(x)).sum().backward()
    params = list(net.parameters())
    values = net.state_dict()
    grads = [p.grad.numpy().copy() for p in params]
    state_by_param = {p: i for i, p in enumerate(params)}  # what an optimizer keys on

    assert net.to(device) is net
    assert all(a is b for a, b in zip(net.parameters(), params))
    assert all(p in state_by_param for p in net.parameters())
    for t in [*net.parameters(), *net.buffers()]:
        assert t.device == device and type(t.data) is array_type(device)
    for p, g in zip(params, grads):
        assert type(p.grad.data) is array_type(device)
        np.testing.assert_array_equal(p.grad.numpy(), g)
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, values[name])

    out = net(mg.tensor(x, device=device))
    assert out.device == device
    out.sum().backward()  # gradients accumulate on the device
    assert all(type(p.grad.data) is array_type(device) for p in params)
    assert type(net.features[1].running_mean.data) is array_type(device)  # updated in place there
    assert net.features[1].num_batches_tracked.device == device

    net.to("cpu")
    assert all(type(t.data) is np.ndarray for t in [*net.parameters(), *net.buffers()])
    assert all(type(p.grad.data) is np.ndarray for p in params)


def test_training_step_runs_on_every_device(device):
    mg.manual_seed(0)
    model = L.Sequential(
        L.Conv2d(1, 4, 3, padding=1), L.BatchNorm2d(4), L.ReLU(), L.MaxPool2d(2),
        L.Flatten(), L.Dropout(0.1), L.Linear(4 * 3 * 3, 5),
    ).to(device)
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((8, 1, 6, 6)).astype(np.float32), device=device)
    target = mg.tensor(rng.integers(0, 5, 8), device=device)
    losses_seen = []
    for _ in range(20):
        model.zero_grad()
        loss = losses.cross_entropy(model(x), target)
        loss.backward()
        for p in model.parameters():  # plain SGD, touching only .data
            assert p.grad.device == device
            p.data = p.data - 0.1 * p.grad.data
        losses_seen.append(loss.item())
    assert np.all(np.isfinite(losses_seen))
    assert losses_seen[-1] < losses_seen[0]  # one fixed batch: it must fit it better
    assert all(t.device == device for t in [*model.parameters(), *model.buffers()])
    model.eval()
    assert model(x).argmax(axis=1).device == device


def test_load_state_dict_keeps_each_tensors_device_and_dtype(device):
    source, target = mlp(), mlp().to(device)
    state = {name: value.astype(np.float64) for name, value in source.state_dict().items()}
    before = [p.data for p in target.parameters()]
    assert target.load_state_dict(state) == ([], [])
    for p, original, value in zip(target.parameters(), before, source.state_dict().values()):
        assert p.dtype == np.float32 and p.device == device
        assert p.data is original  # copied into the existing array
        np.testing.assert_array_equal(p.numpy(), value)


# -------------------------------------------------------------------------------------
# load_state_dict: all or nothing


def snapshot(module):
    return {name: value.copy() for name, value in module.state_dict().items()}


def assert_unchanged(module, before):
    after = module.state_dict()
    assert list(after) == list(before)
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


def test_load_state_dict_roundtrip_including_buffers():
    a, b = Net(), Net()
    a.train()
    a(mg.tensor(np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32)))
    assert b.load_state_dict(a.state_dict()) == ([], [])
    assert_unchanged(b, a.state_dict())
    assert b.features[1].num_batches_tracked.item() == 1


def test_strict_load_lists_missing_and_unexpected_keys_and_changes_nothing():
    model = Net()
    before = snapshot(model)
    state = {name: value + 1 for name, value in Net().state_dict().items()}
    del state["features.0.bias"], state["classifier.2.weight"]
    state["classifier.3.weight"] = np.zeros((3, 8), np.float32)
    with pytest.raises(ValueError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    for key in ["features.0.bias", "classifier.2.weight", "classifier.3.weight"]:
        assert key in message
    assert "Missing" in message and "Unexpected" in message
    assert_unchanged(model, before)
    with pytest.raises(RuntimeError):  # also what PyTorch raises
        model.load_state_dict(state)


def test_shape_mismatch_raises_even_when_not_strict_and_changes_nothing():
    model = mlp()
    before = snapshot(model)
    state = {name: value + 1 for name, value in model.state_dict().items()}
    state["2.weight"] = np.zeros((3, 9), np.float32)
    for strict in (True, False):
        with pytest.raises(ValueError, match=r"2\.weight.*\(3, 9\).*\(3, 8\)"):
            model.load_state_dict(state, strict=strict)
        assert_unchanged(model, before)


def test_non_strict_load_returns_missing_and_unexpected():
    model = mlp()
    new = mlp().state_dict()
    state = {"0.weight": new["0.weight"], "2.bias": new["2.bias"], "head.weight": np.zeros(2)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["0.bias", "2.weight"]
    assert unexpected == ["head.weight"]
    np.testing.assert_array_equal(model[0].weight.numpy(), new["0.weight"])
    np.testing.assert_array_equal(model[2].bias.numpy(), new["2.bias"])


def test_load_accepts_tensors():
    a, b = mlp(), mlp()
    b.load_state_dict({name: mg.tensor(value) for name, value in a.state_dict().items()})
    assert_unchanged(b, a.state_dict())


# -------------------------------------------------------------------------------------
# Printing


def test_repr_of_nested_model_shows_the_tree():
    expected = """Net(
  (features): Sequential(
    (0): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    (1): BatchNorm2d(2, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
    (2): ReLU()
    (3): MaxPool2d(kernel_size=2, stride=2, padding=0)
  )
  (classifier): Sequential(
    (0): Flatten(start_axis=1)
    (1): Dropout(p=0.2)
    (2): Linear(in_features=8, out_features=3, bias=True)
  )
)"""
    assert repr(Net()) == expected
    assert repr(L.Sequential(L.Linear(784, 256), L.ReLU())) == (
        "Sequential(\n  (0): Linear(in_features=784, out_features=256, bias=True)\n  (1): ReLU()\n)"
    )
    assert repr(L.Conv2d(3, 8, 5, stride=2, bias=False)) == (
        "Conv2d(3, 8, kernel_size=(5, 5), stride=(2, 2), bias=False)"
    )
    assert repr(L.Embedding(10, 4)) == "Embedding(10, 4)"
    assert repr(L.LayerNorm(6)) == "LayerNorm((6,), eps=1e-05, elementwise_affine=True)"
    assert repr(L.Sequential()) == "Sequential()"


@needs_torch
def test_repr_of_shared_layers_matches_torch():
    """Layers whose arguments print the same way in both libraries print identically."""
    ours = L.Sequential(
        L.Linear(4, 8), L.ReLU(), L.Sequential(L.Conv2d(3, 4, 3, stride=2), L.Tanh()), L.AvgPool2d(2)
    )
    nn = torch.nn
    theirs = nn.Sequential(
        nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.Tanh()), nn.AvgPool2d(2)
    )
    assert repr(ours) == repr(theirs)


# -------------------------------------------------------------------------------------
# Sequential and ModuleList


def test_sequential_indexing_iteration_and_slicing():
    layers = [L.Linear(4, 8), L.ReLU(), L.Linear(8, 3), L.Sigmoid()]
    seq = L.Sequential(*layers)
    assert len(seq) == 4
    assert all(a is b for a, b in zip(seq, layers))
    assert seq[0] is layers[0] and seq[-1] is layers[3] and seq[-4] is layers[0]
    with pytest.raises(IndexError):
        seq[4]
    with pytest.raises(IndexError):
        seq[-5]
    head = seq[1:3]
    assert isinstance(head, L.Sequential) and len(head) == 2
    assert head[0] is layers[1] and head[1] is layers[2]
    assert [n for n, _ in head.named_parameters()] == ["2.weight", "2.bias"]  # names kept, as torch
    x = mg.tensor(np.ones((2, 4), np.float32))
    expected = layers[3](layers[2](layers[1](layers[0](x))))
    np.testing.assert_array_equal(seq(x).numpy(), expected.numpy())
    np.testing.assert_array_equal(seq[:2](x).numpy(), layers[1](layers[0](x)).numpy())
    seq.append(L.Tanh())
    assert len(seq) == 5 and isinstance(seq[-1], L.Tanh)


def test_sequential_from_ordered_dict():
    seq = L.Sequential(OrderedDict([("fc", L.Linear(2, 3)), ("act", L.ReLU())]))
    assert [n for n, _ in seq.named_parameters()] == ["fc.weight", "fc.bias"]
    assert isinstance(seq.fc, L.Linear) and seq[1] is seq.act
    assert "(fc): Linear" in repr(seq)


def test_module_list():
    blocks = L.ModuleList([L.Linear(2, 2), L.Linear(2, 2)])
    blocks.append(L.Linear(2, 3))
    blocks.extend([L.ReLU(), L.Linear(3, 1)])
    assert len(blocks) == 5
    assert isinstance(blocks[-1], L.Linear) and blocks[-1].out_features == 1
    assert [type(m).__name__ for m in blocks] == ["Linear", "Linear", "Linear", "ReLU", "Linear"]
    assert isinstance(blocks[1:3], L.ModuleList) and len(blocks[1:3]) == 2
    assert [n for n, _ in blocks.named_parameters()][-2:] == ["4.weight", "4.bias"]
    blocks[3] = L.Tanh()
    assert isinstance(blocks[3], L.Tanh)

    class Tower(L.Module):
        def __init__(self):
            super().__init__()
            self.layers = L.ModuleList(L.Linear(3, 3) for _ in range(3))

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    tower = Tower()
    assert len(list(tower.parameters())) == 6
    assert list(tower.state_dict())[:2] == ["layers.0.weight", "layers.0.bias"]
    assert tower(mg.ones(2, 3)).shape == (2, 3)
    assert L.ModuleList().__len__() == 0


# -------------------------------------------------------------------------------------
# Parameter


def test_parameter_from_array():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    p = L.Parameter(array)
    assert isinstance(p, mg.Tensor) and p.requires_grad and p.is_leaf
    assert p.dtype == np.float32 and p.shape == (2, 3)
    array[0, 0] = 99  # the array was copied
    assert p.numpy()[0, 0] == 0
    assert L.Parameter(np.zeros(2)).dtype == np.float64  # NumPy dtypes are kept
    assert L.Parameter([1.0, 2.0]).dtype == np.float32  # Python floats: float32
    assert repr(p).startswith("Parameter containing:\ntensor(")


def test_parameter_from_tensor_keeps_device(device):
    t = mg.tensor(np.ones((2, 2), np.float32), device=device)
    p = L.Parameter(t)
    assert p.device == device and p.requires_grad
    assert p.data is t.data  # shares memory, as torch.nn.Parameter(tensor)
    (p * 3).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), np.full((2, 2), 3, np.float32))


@pytest.mark.parametrize("data", [np.arange(3), [1, 2, 3], mg.tensor([1, 2]), np.array([True, False])])
def test_parameter_rejects_integer_data(data):
    with pytest.raises(TypeError, match="float"):
        L.Parameter(data)
