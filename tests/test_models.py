"""The image models of ``minigrad train`` (minigrad/models.py)."""

import numpy
import pytest

import minigrad as mg
from minigrad.models import MODELS, build_model

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


def _torch_model(name, torch):
    nn = torch.nn
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 10))
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Dropout(0.25), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))

    class RowReader(nn.Module):
        def __init__(self):
            super().__init__()
            self.recurrent = (nn.RNN if name == "rnn" else nn.LSTM)(28, 128, batch_first=True)
            self.head = nn.Linear(128, 10)

        def forward(self, images):
            _, state = self.recurrent(images.reshape(images.shape[0], 28, 28))
            hidden = state[0] if name == "lstm" else state
            return self.head(hidden[-1])

    return RowReader()


@pytest.mark.parametrize("name", MODELS)
def test_same_model_in_pytorch_gives_the_same_scores(name):
    """Copy the state_dict into the torch.nn twin: same keys, shapes and outputs."""
    torch = pytest.importorskip("torch")
    mg.manual_seed(0)
    model = build_model(name, (1, 28, 28), 10).eval()
    twin = _torch_model(name, torch).eval()
    state = model.state_dict()
    assert list(state) == list(twin.state_dict())
    twin.load_state_dict({key: torch.from_numpy(value) for key, value in state.items()})
    images = numpy.random.default_rng(1).standard_normal((4, 1, 28, 28)).astype(numpy.float32)
    expected = twin(torch.from_numpy(images)).detach().numpy()
    numpy.testing.assert_allclose(model(mg.tensor(images)).numpy(), expected, rtol=1e-4, atol=1e-5)
