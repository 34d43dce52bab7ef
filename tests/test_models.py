"""The image models of ``minigrad train`` (minigrad/models.py)."""

import sys
from pathlib import Path

import numpy
import pytest

import minigrad as mg
from minigrad.models import MODELS, build_model

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.quality import torch_model  # after ROOT is on the path

SHAPES = {"fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


@pytest.mark.parametrize("data", list(SHAPES))
@pytest.mark.parametrize("name", MODELS)
def test_every_model_gives_one_score_per_class(name, data):
    mg.manual_seed(0)
    model = build_model(name, SHAPES[data], 10)
    images = mg.randn(3, *SHAPES[data])
    scores = model(images)
    assert scores.shape == (3, 10)
    scores.sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="'resnet'"):
        build_model("resnet", (1, 28, 28), 10)


def test_recurrent_models_read_rows_of_all_channels():
    """On CIFAR-10 a step is one image row with its 3 channels side by side: 96 inputs."""
    model = build_model("lstm", (3, 32, 32), 10)
    assert model.recurrent.weight_ih_l0.shape == (4 * 128, 96)
    # each row is one step: changing only the last row changes the scores
    mg.manual_seed(0)
    images = numpy.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(numpy.float32)
    changed = images.copy()
    changed[:, :, -1] += 1
    assert not numpy.allclose(model(mg.tensor(images)).numpy(), model(mg.tensor(changed)).numpy())


@pytest.mark.parametrize("name", MODELS)
def test_same_model_in_pytorch_gives_the_same_scores(name):
    """Copy the state_dict into the torch.nn twin: same keys, shapes and outputs."""
    torch = pytest.importorskip("torch")
    mg.manual_seed(0)
    model = build_model(name, (1, 28, 28), 10).eval()
    twin = torch_model(name, torch).eval()
    state = model.state_dict()
    assert list(state) == list(twin.state_dict())
    twin.load_state_dict({key: torch.from_numpy(value) for key, value in state.items()})
    images = numpy.random.default_rng(1).standard_normal((4, 1, 28, 28)).astype(numpy.float32)
    expected = twin(torch.from_numpy(images)).detach().numpy()
    numpy.testing.assert_allclose(model(mg.tensor(images)).numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_row_reader_matches_its_pytorch_twin_for_every_cell(cell):
    """RowReader(cell=...) is torch's recurrent layer (batch_first) on the rows, then a
    Linear layer on the last hidden state."""
    torch = pytest.importorskip("torch")
    from minigrad.models import RowReader

    mg.manual_seed(0)
    model = RowReader((1, 28, 28), 10, cell=cell, hidden_size=16)
    layer = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    recurrent, head = layer(28, 16, batch_first=True), torch.nn.Linear(16, 10)
    state = model.state_dict()
    recurrent.load_state_dict({key.removeprefix("recurrent."): torch.from_numpy(value)
                               for key, value in state.items() if key.startswith("recurrent.")})
    head.load_state_dict({key.removeprefix("head."): torch.from_numpy(value)
                          for key, value in state.items() if key.startswith("head.")})
    images = numpy.random.default_rng(1).standard_normal((4, 1, 28, 28)).astype(numpy.float32)
    output, _ = recurrent(torch.from_numpy(images[:, 0]))  # (N, 28 rows, 28 pixels)
    expected = head(output[:, -1]).detach().numpy()
    numpy.testing.assert_allclose(model(mg.tensor(images)).numpy(), expected, rtol=1e-4, atol=1e-5)
