"""What defines a search (``SearchSettings``), and its record in the run folder,
``search.json``: the workers read their settings from it, and ``--resume`` continues
the search it describes. No Optuna here."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..files import atomic_path
from ..train_config import TrainConfig

SAMPLERS = ("grid", "random", "tpe")
PRUNERS = ("median", "halving", "none")
SETTINGS_FILE = "search.json"
DEFAULT_STUDY = "minigrad-search"

# The share of the training set held out for validation: trials are compared on it,
# never on the test set (see objective.py).
VALIDATION_FRACTION = 0.1


@dataclasses.dataclass
class SearchSettings:
    """A search. ``space`` is canonical (``space.canonical``: name -> spec text);
    ``epochs`` is resolved (the model's default filled in); ``storage`` None is the
    journal file in the run folder (``storage.JOURNAL``)."""

    model: str
    space: dict
    epochs: int
    limit: int | None = None
    seed: int = 0
    sampler: str = "tpe"
    pruner: str = "median"
    storage: str | None = None
    study: str = DEFAULT_STUDY
    trials: int = 20
    timeout: float | None = None
    workers: int = 1
    device: str = "cpu"
    data_dir: str | None = None

    def base_config(self) -> TrainConfig:
        """The settings every trial shares; the space fills in the rest per trial."""
        return TrainConfig(model=self.model, epochs=self.epochs, limit=self.limit, seed=self.seed,
                           device=self.device, data_dir=self.data_dir)

    def trial_settings(self) -> dict:
        """What a trial's value means: the same space, model, epochs, data and seed.
        Saved in the study's user attributes, so that a process that joins the study
        with other settings is refused instead of mixing incomparable numbers."""
        return {"space": self.space, "model": self.model, "dataset": self.base_config().dataset,
                "epochs": self.epochs, "limit": self.limit, "seed": self.seed,
                "validation_fraction": VALIDATION_FRACTION}


def write_settings(folder: Path, settings: SearchSettings) -> None:
    with atomic_path(Path(folder) / SETTINGS_FILE) as temporary:
        temporary.write_text(json.dumps(dataclasses.asdict(settings), indent=2) + "\n")


def read_settings(folder) -> SearchSettings:
    """The settings in ``folder/search.json``; ValueError (with the file's name) when
    the file is missing, damaged or from something else."""
    path = Path(folder) / SETTINGS_FILE
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"there is no {SETTINGS_FILE} in {folder} (is it the folder of a minigrad search?)") from None
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} cannot be read: {error}") from None
    fields = {field.name for field in dataclasses.fields(SearchSettings)}
    if not isinstance(saved, dict) or set(saved) != fields:
        raise ValueError(f"{path} is not the settings file of this version of minigrad search")
    return SearchSettings(**saved)
