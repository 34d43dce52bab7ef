"""The search space: which options of ``minigrad train`` a search varies, and over what.

A space maps parameter names to specs. The names are ``minigrad train``'s options
without their dashes:

============  ===========  ========================================================
name          values       what it is
============  ===========  ========================================================
lr            > 0          the learning rate
alpha         in [0, 1)    RMSprop's decay rate ρ of the squared-gradient average
eps           >= 0         RMSprop's ε
momentum      in [0, 1)    momentum (SGD and RMSprop)
centered      true, false  RMSprop divides by the gradient's standard deviation
preset        a name       whose RMSprop update (``minigrad.optim.rmsprop.PRESETS``)
batch-size    >= 1         examples per mini-batch (a whole number)
optimizer     a name       sgd, rmsprop or adam
============  ===========  ========================================================

A spec is a string:

* ``"lo:hi"``, a range: every value from lo to hi equally likely (whole numbers for
  ``batch-size``, hi included);
* ``"lo:hi:log"``, a range on a log scale: as many trials between 1e-4 and 1e-3 as
  between 1e-3 and 1e-2. It is the scale of the learning rate and of ε, whose effect
  depends on their order of magnitude, not on their digits;
* ``"a,b,c"``, a choice among values; a single value fixes the parameter.

In a TOML or JSON file (``--space``) the values are the same strings, or a list for a
choice, or a plain number or boolean for a fixed value::

    {"lr": "1e-4:1e-1:log", "alpha": [0.9, 0.99, 0.999], "momentum": 0.9}

Options that the space does not name keep ``minigrad train``'s defaults in every trial.
Without any space given, a search varies RMSprop's three hyperparameters and the
batch size around the model's defaults (``default_space``).

The grid sampler needs a list of values per parameter: a choice gives its values, a
range gives three (its two ends and its middle, the geometric middle on a log scale). Give a choice to put other values on the grid.

Nothing here imports Optuna: ``suggest`` only calls the trial it is given.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..optim.rmsprop import PRESETS
from ..train_config import MODEL_DEFAULTS, OPTIMIZERS, default_lr
from .errors import SearchError


@dataclasses.dataclass(frozen=True)
class Range:
    """Values from ``low`` to ``high``; ``log``: uniform in log(value)."""

    low: float
    high: float
    log: bool = False


@dataclasses.dataclass(frozen=True)
class Choice:
    """One of ``values``."""

    values: tuple


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A searchable option: the type of its values, which values ``minigrad train``
    accepts (``allowed``, said in words by ``expected``) and an example spec."""

    kind: type
    allowed: Callable[[Any], bool]
    expected: str
    example: str


PARAMETERS = {
    "lr": Parameter(float, lambda value: value > 0, "a number > 0", "1e-4:1e-1:log"),
    "alpha": Parameter(float, lambda value: 0 <= value < 1, "a number in [0, 1)", "0.9,0.99,0.999"),
    "eps": Parameter(float, lambda value: value >= 0, "a number >= 0", "1e-10:1e-4:log"),
    "momentum": Parameter(float, lambda value: 0 <= value < 1, "a number in [0, 1)", "0:0.95"),
    "centered": Parameter(bool, lambda value: True, "true or false", "true,false"),
    "preset": Parameter(str, lambda value: value in PRESETS, f"one of {', '.join(PRESETS)}", "pytorch,keras"),
    "batch-size": Parameter(int, lambda value: value >= 1, "a whole number >= 1", "32:256:log"),
    "optimizer": Parameter(str, lambda value: value in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}",
                           "rmsprop,adam"),
}


def default_space(model: str) -> dict:
    """The space of a search that names none, for ``model``:

    * ``lr``: ``lo:hi:log`` from a tenth to ten times RMSprop's default rate for the
      model (``train_config.default_lr``; 1e-3, so 1e-4 to 1e-2);
    * ``alpha``: 0.9, 0.99 or 0.999, gradient averages over about 10, 100 and 1,000
      steps (Keras' and TF1's 0.9, PyTorch's 0.99, and a longer one);
    * ``eps``: 1e-10 to 1e-4 on a log scale, with PyTorch's 1e-8, Keras' 1e-7 and
      Graves' 1e-4 inside;
    * ``batch-size``: half, once or twice the model's default batch size
      (``MODEL_DEFAULTS``: 32, 64 or 128 for mlp and cnn; 64, 128 or 256 for rnn and lstm).

    The optimizer stays RMSprop with PyTorch's update (preset ``pytorch``).
    """
    lr = default_lr("rmsprop")
    batch_size = MODEL_DEFAULTS[model]["batch_size"]
    return {"lr": Range(lr / 10, lr * 10, log=True), "alpha": Choice((0.9, 0.99, 0.999)),
            "eps": Range(1e-10, 1e-4, log=True), "batch-size": Choice((batch_size // 2, batch_size, batch_size * 2))}


# ------------------------------------------------------------------------------------
# Reading specs


def parse_spec(name: str, spec) -> Range | Choice:
    """``"lo:hi"``, ``"lo:hi:log"``, ``"a,b,c"`` (or, from a file, a list, a number or a
    boolean) for parameter ``name`` -> ``Range`` or ``Choice``. Anything else raises
    ``SearchError`` with one line that names the parameter, the spec and what was
    expected."""
    parameter = _parameter(name)
    where = f"{name}={_shown(spec)}"
    if isinstance(spec, str) and ":" in spec:
        return _parse_range(name, parameter, spec, where)
    if isinstance(spec, str):
        values = [part.strip() for part in spec.split(",")]
    elif isinstance(spec, list):
        values = spec
    else:
        values = [spec]
    if not values or values == [""]:
        raise SearchError(f"{where}: no values; expected lo:hi, lo:hi:log or a,b,c (e.g. {name}={parameter.example})")
    parsed = tuple(_checked(name, parameter, _value(parameter, value, where), where) for value in values)
    twice = sorted({_text(value) for value in parsed if parsed.count(value) > 1})
    if twice:
        raise SearchError(f"{where}: {', '.join(twice)} given more than once")
    return Choice(parsed)


def _parse_range(name: str, parameter: Parameter, spec: str, where: str) -> Range:
    parts = [part.strip() for part in spec.split(":")]
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
        raise SearchError(f"{where}: expected lo:hi or lo:hi:log (e.g. {name}={parameter.example})")
    if parameter.kind not in (float, int):
        raise SearchError(f"{where}: {name} takes a list of choices, not a range (e.g. {name}={parameter.example})")
    low, high = (_value(parameter, part, where) for part in parts[:2])
    log = len(parts) == 3
    if low == high:
        raise SearchError(f"{where}: an empty range (lo equals hi); give lo < hi, or one value to fix {name}")
    if low > high:
        raise SearchError(f"{where}: an inverted range ({_text(low)} > {_text(high)}); expected lo:hi with lo < hi")
    if log and low <= 0:
        raise SearchError(f"{where}: a log range must stay above 0 (log 0 is -infinity), got lo = {_text(low)}")
    for value in (low, high):
        _checked(name, parameter, value, where)
    return Range(low, high, log)


def _parameter(name: str) -> Parameter:
    if name not in PARAMETERS:
        raise SearchError(f"unknown parameter {name!r}; the searchable ones are {', '.join(PARAMETERS)}")
    return PARAMETERS[name]


def _value(parameter: Parameter, value, where: str):
    """One value of the parameter's type, from a string or a JSON/TOML value."""
    kind = parameter.kind
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    elif kind is str:
        if isinstance(value, str):
            return value
    elif isinstance(value, str):
        try:
            number = kind(value)
        except ValueError:
            number = None
        if number is not None and math.isfinite(number):
            return number
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        if kind is float:
            return float(value)
        if float(value).is_integer():
            return int(value)
    raise SearchError(f"{where}: {value!r} is not {_kind_words(kind)}")


def _kind_words(kind: type) -> str:
    return {float: "a number", int: "a whole number", bool: "true or false", str: "a name"}[kind]


def _checked(name: str, parameter: Parameter, value, where: str):
    if not parameter.allowed(value):
        raise SearchError(f"{where}: {name} must be {parameter.expected}, got {_text(value)}")
    return value


def _shown(spec) -> str:
    return spec if isinstance(spec, str) else json.dumps(spec)


def parse_param_option(text: str) -> tuple[str, str]:
    """``"lr=1e-4:1e-1:log"`` (one ``--param``) -> ``("lr", "1e-4:1e-1:log")``."""
    name, equals, spec = text.partition("=")
    if not equals or not name.strip():
        raise SearchError(f"--param {text!r}: expected NAME=SPEC, e.g. lr=1e-4:1e-1:log")
    return name.strip(), spec.strip()


def read_space_file(path) -> dict:
    """The raw specs in a TOML (``.toml``) or JSON (``.json``) file: a table of
    ``name = spec``. A file that is missing or unreadable raises ``SearchError``."""
    path = Path(path)
    if path.suffix not in (".toml", ".json"):
        raise SearchError(f"--space {path}: expected a .toml or .json file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SearchError(f"--space {path}: {error.strerror or error}") from None
    try:
        specs = _toml_module().loads(text) if path.suffix == ".toml" else json.loads(text)
    except ValueError as error:  # tomllib.TOMLDecodeError and json.JSONDecodeError are ValueErrors
        raise SearchError(f"--space {path}: not valid {path.suffix[1:].upper()}: {error}") from None
    if not isinstance(specs, dict) or not specs:
        raise SearchError(f"--space {path}: expected a table of name = spec, e.g. lr = \"1e-4:1e-1:log\"")
    return specs


def _toml_module():
    try:
        import tomllib  # Python 3.11 and later
    except ImportError:  # Python 3.10: the same parser, as the package tomli (the search extra installs it)
        import tomli as tomllib
    return tomllib


def build_space(params: dict | None, space_file, model: str) -> dict:
    """The space of a search: the specs of ``space_file``, then ``params`` (name ->
    spec) over them; ``default_space(model)`` when neither names a parameter."""
    space = {}
    if space_file is not None:
        for name, spec in read_space_file(space_file).items():
            try:
                space[name] = parse_spec(name, spec)
            except SearchError as error:
                raise SearchError(f"--space {space_file}: {error}") from None
    for name, spec in (params or {}).items():
        space[name] = parse_spec(name, spec)
    return space or default_space(model)


# ------------------------------------------------------------------------------------
# Writing specs, and using them


def spec_text(spec: Range | Choice) -> str:
    """The spec as it would be written on the command line: ``Range(1e-4, 1e-2, log=True)``
    -> ``"0.0001:0.01:log"``. ``parse_spec`` reads it back to the same spec."""
    if isinstance(spec, Choice):
        return ",".join(_text(value) for value in spec.values)
    return f"{_text(spec.low)}:{_text(spec.high)}" + (":log" if spec.log else "")


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def canonical(space: dict) -> dict:
    """``{name: spec text}``, sorted by name: the form a search's space is saved in
    (search.json, the study's user attributes) and compared in."""
    return {name: spec_text(space[name]) for name in sorted(space)}


def from_canonical(specs: dict) -> dict:
    return {name: parse_spec(name, spec) for name, spec in specs.items()}


def suggest(trial, name: str, spec: Range | Choice):
    """Ask the Optuna ``trial`` for this parameter's value in this trial."""
    if isinstance(spec, Choice):
        return trial.suggest_categorical(name, list(spec.values))
    if PARAMETERS[name].kind is int:
        return trial.suggest_int(name, spec.low, spec.high, log=spec.log)
    return trial.suggest_float(name, spec.low, spec.high, log=spec.log)


def grid_values(name: str, spec: Range | Choice) -> list:
    """The values of this parameter on the grid sampler's grid (see the module docstring)."""
    if isinstance(spec, Choice):
        return list(spec.values)
    middle = math.sqrt(spec.low * spec.high) if spec.log else (spec.low + spec.high) / 2
    values = [spec.low, middle, spec.high]
    if PARAMETERS[name].kind is int:
        values = sorted({round(value) for value in values})
    return values
