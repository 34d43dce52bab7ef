"""The parts of ``minigrad search`` (minigrad/search/), one at a time: the space and its
parsing, the objective's report/prune path on real data, the study's checks and
retries, storages, and the options ``minigrad train`` gained for the search. The whole
command, with worker processes, Ctrl-C and the final run, is in test_search_cli.py."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy
import pytest
from helpers import DATA, needs_data

optuna = pytest.importorskip("optuna", reason="the search extra is not installed: pip install -e '.[search]'")

from minigrad import cli
from minigrad import train as training
from minigrad.layers import Parameter
from minigrad.optim import RMSprop
from minigrad.optim.rmsprop import PRESETS
from minigrad.search import objective, results, space, storage, study
from minigrad.search.errors import SearchError
from minigrad.search.settings import SearchSettings
from minigrad.train_config import TrainConfig, describe_optimizer

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")



# ------------------------------------------------------------------------------------
# Optuna stays out of `import minigrad`


def test_import_minigrad_and_its_command_line_do_not_import_optuna():
    code = ("import sys, minigrad, minigrad.cli, minigrad.search, minigrad.search.space; "
            "print(sorted(name for name in sys.modules if name.split('.')[0] in ('optuna', 'sqlalchemy')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"


def test_search_is_found_in_the_package_when_asked_for():
    from minigrad.search import search
    from minigrad.search.runner import search as runner_search

    assert search is runner_search
    with pytest.raises(AttributeError):
        _ = __import__("minigrad.search", fromlist=["x"]).no_such_thing


# ------------------------------------------------------------------------------------
# The space


@pytest.mark.parametrize(
    ("name", "spec", "parsed"),
    [
        ("lr", "1e-4:1e-1:log", space.Range(1e-4, 1e-1, log=True)),
        ("momentum", "0:0.95", space.Range(0.0, 0.95)),
        ("alpha", "0.9,0.99,0.999", space.Choice((0.9, 0.99, 0.999))),
        ("alpha", " 0.9 , 0.99 ", space.Choice((0.9, 0.99))),
        ("batch-size", "16:256:log", space.Range(16, 256, log=True)),
        ("batch-size", "32,64", space.Choice((32, 64))),
        ("centered", "true,false", space.Choice((True, False))),
        ("preset", "pytorch,keras", space.Choice(("pytorch", "keras"))),
        ("optimizer", "adam", space.Choice(("adam",))),
        ("eps", "0:1e-6", space.Range(0.0, 1e-6)),  # eps may be 0 on a linear scale
        # from a TOML/JSON file: lists, numbers and booleans
        ("alpha", [0.9, 0.99], space.Choice((0.9, 0.99))),
        ("momentum", 0.9, space.Choice((0.9,))),
        ("batch-size", 64, space.Choice((64,))),
        ("centered", True, space.Choice((True,))),
    ],
)
def test_specs_are_parsed(name, spec, parsed):
    result = space.parse_spec(name, spec)
    assert result == parsed
    assert [type(value) for value in getattr(result, "values", ())] == [type(value) for value in
                                                                         getattr(parsed, "values", ())]
    assert space.parse_spec(name, space.spec_text(result)) == result  # the saved text reads back the same


@pytest.mark.parametrize(
    ("name", "spec", "message"),
    [
        ("learning_rate", "1e-4:1e-1", "unknown parameter 'learning_rate'; the searchable ones are lr, alpha"),
        ("lr", "1e-2:1e-2", "lr=1e-2:1e-2: an empty range (lo equals hi)"),
        ("lr", "1e-1:1e-4:log", "lr=1e-1:1e-4:log: an inverted range (0.1 > 0.0001); expected lo:hi with lo < hi"),
        ("eps", "0:1e-4:log", "eps=0:1e-4:log: a log range must stay above 0 (log 0 is -infinity), got lo = 0.0"),
        ("momentum", "-0.5:0.9:log", "a log range must stay above 0"),
        ("lr", "0:1e-2", "lr=0:1e-2: lr must be a number > 0, got 0.0"),
        ("alpha", "0.9,1.5", "alpha=0.9,1.5: alpha must be a number in [0, 1), got 1.5"),
        ("alpha", "0.9,0.9", "0.9 given more than once"),
        ("lr", "1e-4:1e-1:ln", "expected lo:hi or lo:hi:log"),
        ("lr", "fast", "'fast' is not a number"),
        ("lr", "nan", "'nan' is not a number"),
        ("lr", "", "no values"),
        ("batch-size", "32.5,64", "'32.5' is not a whole number"),
        ("centered", "yes", "'yes' is not true or false"),
        ("centered", "false:true", "centered takes a list of choices, not a range"),
        ("optimizer", "sgd,lbfgs", "optimizer must be one of sgd, rmsprop, adam, got lbfgs"),
        ("preset", "caffe", "preset must be one of pytorch, keras, tf1, optax, graves2013, hinton2012"),
    ],
)
def test_bad_specs_say_what_was_wrong_in_one_line(name, spec, message):
    with pytest.raises(SearchError) as error:
        space.parse_spec(name, spec)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_param_options_need_a_name_and_a_spec():
    assert space.parse_param_option("lr=1e-4:1e-1:log") == ("lr", "1e-4:1e-1:log")
    with pytest.raises(SearchError, match="expected NAME=SPEC"):
        space.parse_param_option("lr")


@pytest.mark.parametrize(("suffix", "text"), [(".toml", 'lr = "1e-4:1e-1:log"\nalpha = [0.9, 0.99]\nmomentum = 0.9\n'),
                                              (".json", '{"lr": "1e-4:1e-1:log", "alpha": [0.9, 0.99], "momentum": 0.9}')])
def test_a_space_file_and_params_over_it(tmp_path, suffix, text):
    path = tmp_path / f"space{suffix}"
    path.write_text(text)
    built = space.build_space({"alpha": "0.5,0.6"}, path, "mlp")
    assert built == {"lr": space.Range(1e-4, 1e-1, log=True), "alpha": space.Choice((0.5, 0.6)),
                     "momentum": space.Choice((0.9,))}


@pytest.mark.parametrize(("name", "text", "message"), [
    ("space.yaml", "lr: 1", "expected a .toml or .json file"),
    ("space.toml", "lr = [", "not valid TOML"),
    ("space.json", "[1, 2]", "expected a table of name = spec"),
    ("space.json", '{"lr": "1:0.1"}', "an inverted range"),
])
def test_a_bad_space_file_is_named(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SearchError) as error:
        space.build_space(None, path, "mlp")
    assert message in str(error.value) and str(path) in str(error.value)


def test_a_missing_space_file_is_named(tmp_path):
    with pytest.raises(SearchError, match="No such file"):
        space.build_space(None, tmp_path / "missing.toml", "mlp")


@pytest.mark.parametrize(("model", "batch_sizes"), [("mlp", (32, 64, 128)), ("cnn", (32, 64, 128)),
                                                    ("rnn", (64, 128, 256)), ("lstm", (64, 128, 256))])
def test_the_default_space_centres_on_each_models_defaults(model, batch_sizes):
    default = space.build_space(None, None, model)
    assert set(default) == {"lr", "alpha", "eps", "batch-size"}
    lr = default["lr"]
    assert lr.log and math.isclose(math.sqrt(lr.low * lr.high), 1e-3)  # RMSprop's default rate at the centre
    assert 0.99 in default["alpha"].values and default["eps"].low < PRESETS["pytorch"]["eps"] < default["eps"].high
    assert default["batch-size"].values == batch_sizes


def test_grid_values_are_the_ends_and_the_middle_of_a_range():
    assert space.grid_values("lr", space.Range(1e-4, 1e-2, log=True)) == pytest.approx([1e-4, 1e-3, 1e-2])
    assert space.grid_values("momentum", space.Range(0.0, 0.9)) == pytest.approx([0.0, 0.45, 0.9])
    assert space.grid_values("batch-size", space.Range(16, 256, log=True)) == [16, 64, 256]
    assert space.grid_values("alpha", space.Choice((0.9, 0.99))) == [0.9, 0.99]


# ------------------------------------------------------------------------------------
# The validation split, and the training options the search varies


def test_the_validation_split_is_held_out_and_fixed_by_the_seed():
    images = numpy.arange(50, dtype=numpy.float32).reshape(50, 1)
    labels = numpy.arange(50)
    train_images, train_labels, _, validation_labels = training.split_off_validation(
        images, labels, 0.1, seed=3)
    assert (len(train_labels), len(validation_labels)) == (45, 5)
    assert sorted([*train_labels, *validation_labels]) == list(range(50))  # disjoint, nothing lost
    assert list(train_labels) == sorted(train_labels)  # the kept examples stay in order
    assert numpy.array_equal(train_images[:, 0], train_labels)  # images travel with their labels
    again = training.split_off_validation(images, labels, 0.1, seed=3)[3]
    other = training.split_off_validation(images, labels, 0.1, seed=4)[3]
    assert numpy.array_equal(again, validation_labels) and not numpy.array_equal(other, validation_labels)
    assert len(training.split_off_validation(images[:3], labels[:3], 0.1, seed=0)[3]) == 1  # at least one


def test_the_default_rmsprop_run_is_pytorchs_rmsprop_as_before():
    """TrainConfig gained alpha, eps, centered and preset: left alone, the run is the one it was."""
    config = TrainConfig(model="mlp").resolved()
    assert (config.alpha, config.eps, config.centered, config.preset) == (0.99, 1e-8, False, "pytorch")
    parameters = [Parameter(numpy.zeros(3, dtype=numpy.float32))]
    built = training.make_optimizer(config, parameters)
    before = RMSprop(parameters, lr=config.lr, momentum=config.momentum)  # what make_optimizer built before
    assert {k: v for k, v in built.param_groups[0].items() if k != "params"} == \
        {k: v for k, v in before.param_groups[0].items() if k != "params"}
    assert describe_optimizer(config) == "rmsprop lr=0.001"


def test_the_rmsprop_options_reach_the_optimizer():
    config = TrainConfig(model="mlp", preset="keras", alpha=0.95, centered=True, momentum=0.5).resolved()
    assert config.eps == PRESETS["keras"]["eps"]  # the preset's, where not given
    group = training.make_optimizer(config, [Parameter(numpy.zeros(3, dtype=numpy.float32))]).param_groups[0]
    assert (group["alpha"], group["eps"], group["centered"], group["momentum"]) == (0.95, 1e-7, True, 0.5)
    assert (group["eps_inside_sqrt"], group["lr_in_momentum"]) == (True, True)  # Keras' formula
    assert describe_optimizer(config) == "rmsprop (keras) lr=0.001 momentum=0.5 alpha=0.95 centered"
    assert TrainConfig(model="mlp", optimizer="adam").resolved().alpha is None  # RMSprop's only
    with pytest.raises(ValueError, match="unknown preset 'caffe'"):
        TrainConfig(preset="caffe").resolved()
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        TrainConfig(alpha=-0.1).resolved()


def test_a_trial_config_maps_option_names_to_fields():
    base = TrainConfig(model="mlp", epochs=1, limit=300)
    config = objective.trial_config({"lr": 0.003, "batch-size": 32, "alpha": 0.9, "optimizer": "rmsprop"}, base)
    assert (config.lr, config.batch_size, config.alpha, config.eps, config.epochs) == (0.003, 32, 0.9, 1e-8, 1)


@pytest.mark.parametrize("config", [
    TrainConfig(model="mlp", lr=0.0003570976957629809, epochs=1, limit=300, batch_size=32),
    TrainConfig(model="rnn", preset="graves2013", alpha=0.95, eps=1e-4, centered=True, momentum=0.9, lr=1e-4),
    TrainConfig(model="cnn", optimizer="adam", lr=0.002, alpha=0.9),  # alpha searched along, unused by adam
    TrainConfig(model="mlp", optimizer="sgd", lr=0.05, momentum=0.9, data_dir=str(Path(__file__).parent)),
])
def test_the_printed_command_reads_back_as_the_same_configuration(config):
    config = config.resolved()
    command = results.train_command(config)
    words = command.split()
    assert words[:2] == ["minigrad", "train"]
    parser, _ = cli._build_parser()
    parsed = cli._config(parser.parse_args(words[1:])).resolved()
    assert parsed == config


# ------------------------------------------------------------------------------------
# The objective: report after every epoch, prune, diverge


@pytest.fixture(scope="module")
def small_data():
    if not DATA.is_dir():
        pytest.skip(f"real Fashion-MNIST not found in {DATA}")
    base = TrainConfig(model="mlp", epochs=2, limit=300, data_dir=str(DATA.parent))
    return base, objective.load_search_data(base)


def run_enqueued(base, data, rates: list[float], pruner) -> list:
    """A study in memory that runs one trial per learning rate, in this order."""
    search_space = {"lr": space.Range(1e-7, 100.0, log=True)}
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    test_study = optuna.create_study(direction="maximize", pruner=pruner, sampler=optuna.samplers.RandomSampler(0))
    for rate in rates:
        test_study.enqueue_trial({"lr": rate})
    test_study.optimize(objective.Objective(search_space, base, data, worker="test-0"), n_trials=len(rates))
    return test_study.trials


@needs_data
def test_a_trial_reports_every_epoch_and_a_bad_one_is_pruned(small_data):
    """The median pruner (5 finished trials first) stops the trial whose validation
    accuracy after epoch 1 is below the median of the others' after epoch 1."""
    base, data = small_data
    trials = run_enqueued(base, data, [1e-3] * 5 + [1e-7], study.make_pruner("median"))
    assert [trial.state.name for trial in trials] == ["COMPLETE"] * 5 + ["PRUNED"]
    good, bad = trials[0], trials[-1]
    assert sorted(good.intermediate_values) == [1, 2] and good.value == good.intermediate_values[2]
    assert list(bad.intermediate_values) == [1]  # stopped after epoch 1: epoch 2 was saved
    assert bad.intermediate_values[1] < good.intermediate_values[1]
    assert good.user_attrs["worker"] == "test-0" and good.user_attrs["pid"] == os.getpid()


@needs_data
def test_no_trial_is_pruned_after_its_last_epoch(small_data):
    """Pruning after the last epoch saves nothing, and would hide a finished run from
    the best trials."""
    base, data = small_data
    trials = run_enqueued(dataclasses.replace(base, epochs=1), data, [1e-3] * 5 + [1e-7],
                          study.make_pruner("median"))
    assert [trial.state.name for trial in trials] == ["COMPLETE"] * 6


@needs_data
def test_a_trial_that_diverges_is_pruned_with_the_reason(small_data):
    base, data = small_data
    (trial,) = run_enqueued(base, data, [100.0], study.make_pruner("none"))
    assert trial.state.name == "PRUNED"
    assert trial.user_attrs["diverged"].startswith("epoch 1: the validation loss became")
    assert results.trial_row(trial)["note"].startswith("diverged in epoch 1")


# ------------------------------------------------------------------------------------
# The study: its settings, its budget, its retries


SETTINGS = SearchSettings(model="mlp", space={"lr": "0.0001:0.1:log"}, epochs=1, limit=300)


def test_a_study_with_other_settings_is_refused():
    memory = optuna.storages.InMemoryStorage()
    study.open_study(memory, "s", SETTINGS.trial_settings())
    study.open_study(memory, "s", SETTINGS.trial_settings())  # the same settings join it
    other = dataclasses.replace(SETTINGS, space={"lr": "0.001:0.1:log"})
    with pytest.raises(SearchError) as error:
        study.open_study(memory, "s", other.trial_settings())
    assert str(error.value).startswith("--study s: the study exists with other settings (space {lr=0.0001:0.1:log}"
                                       " there, {lr=0.001:0.1:log} here)")
    with pytest.raises(SearchError, match="epochs 1 there, 2 here"):
        study.open_study(memory, "s", dataclasses.replace(SETTINGS, epochs=2).trial_settings())


def test_trials_cut_short_are_queued_again_once():
    memory = optuna.storages.InMemoryStorage()
    test_study = study.open_study(memory, "s", SETTINGS.trial_settings())
    distribution = {"lr": optuna.distributions.FloatDistribution(1e-4, 0.1, log=True)}
    for state, rate in ((optuna.trial.TrialState.COMPLETE, 1e-3), (optuna.trial.TrialState.FAIL, 2e-3)):
        test_study.add_trial(optuna.create_trial(state=state, params={"lr": rate}, distributions=distribution,
                                                 value=0.5 if state.name == "COMPLETE" else None))
    running = test_study.ask(distribution)  # left running by a worker that was killed
    assert study.fail_left_running(test_study) == [running.number]
    assert study.retry_failed(test_study) == [1, running.number]
    waiting = test_study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert sorted(trial.params["lr"] for trial in waiting) == sorted([2e-3, running.params["lr"]])
    assert study.retry_failed(test_study) == []  # each is retried once
    assert study.fail_left_running(test_study) == []


def test_a_trial_that_keeps_failing_is_retried_at_most_max_retries_times():
    test_study = study.open_study(optuna.storages.InMemoryStorage(), "s", SETTINGS.trial_settings())
    distribution = {"lr": optuna.distributions.FloatDistribution(1e-4, 0.1, log=True)}
    test_study.add_trial(optuna.create_trial(state=optuna.trial.TrialState.FAIL, params={"lr": 2e-3},
                                             distributions=distribution))
    for _ in range(storage.MAX_RETRIES):
        assert len(study.retry_failed(test_study)) == 1
        retry = test_study.ask()  # the queued copy comes first
        assert retry.params == {"lr": 2e-3}
        test_study.tell(retry, state=optuna.trial.TrialState.FAIL)
    assert study.retry_failed(test_study) == []


def test_the_budget_counts_running_trials():
    """Budget 2, one trial running elsewhere: this worker runs one trial, not two (the
    other's trial will finish and make two)."""
    memory = optuna.storages.InMemoryStorage()
    test_study = study.open_study(memory, "s", SETTINGS.trial_settings())
    test_study.ask()  # another worker's trial, still running
    test_study.optimize(lambda trial: 0.5, n_trials=5, callbacks=[study.budget_callback(2)])
    assert study.count(test_study, study.FINISHED) == 1


def test_worker_samplers_are_seeded_apart_and_shared_storages_not_at_all():
    seeds = {study.sampler_seed(0, worker, 0, shared=False) for worker in range(4)}
    assert len(seeds) == 4
    assert study.sampler_seed(0, 0, 10, shared=False) != study.sampler_seed(0, 0, 0, shared=False)  # a resume
    assert study.sampler_seed(0, 1, 0, shared=False) == study.sampler_seed(0, 1, 0, shared=False)
    assert study.sampler_seed(0, 0, 0, shared=True) is None


# ------------------------------------------------------------------------------------
# Storages


def test_an_unknown_storage_is_refused():
    with pytest.raises(SearchError, match="unknown kind of storage 'mysql'"):
        storage.open_storage("mysql://user:secret@db/optuna")


def test_an_unreachable_database_is_one_line_and_quick():
    pytest.importorskip("psycopg")
    started = time.monotonic()
    with pytest.raises(SearchError) as error:
        storage.open_storage("postgresql://minigrad:secret@127.0.0.1:1/optuna")
    message = str(error.value)
    assert message.startswith("--storage postgresql://minigrad:***@127.0.0.1:1/optuna: cannot reach the database: ")
    assert "\n" not in message and "secret" not in message
    assert time.monotonic() - started < storage.CONNECT_TIMEOUT  # refused at once, not timed out


def test_a_journal_in_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(SearchError, match="does not exist"):
        storage.open_storage(str(tmp_path / "no" / "journal.log"))
    with pytest.raises(SearchError, match="is a folder"):
        storage.open_storage(str(tmp_path))


def test_the_dashboard_command_names_the_storage_and_no_password():
    assert storage.dashboard_command("runs/a b/journal.log") == "optuna-dashboard 'runs/a b/journal.log'"
    assert storage.dashboard_command("postgresql://me:pw@db:5432/optuna") == \
        "optuna-dashboard 'postgresql+psycopg://me:***@db:5432/optuna'"


def test_the_heartbeat_can_be_shortened_for_tests(monkeypatch):
    assert storage.heartbeat_interval() == storage.HEARTBEAT_INTERVAL
    monkeypatch.setenv("MINIGRAD_SEARCH_HEARTBEAT", "1")
    assert storage.heartbeat_interval() == 1
    monkeypatch.setenv("MINIGRAD_SEARCH_HEARTBEAT", "0")
    with pytest.raises(SearchError, match="MINIGRAD_SEARCH_HEARTBEAT"):
        storage.heartbeat_interval()


def test_trials_csv_has_one_column_per_parameter_and_epoch():
    rows = [{"number": 0, "state": "COMPLETE", "value": 0.5, "seconds": 1.0, "worker": "h-0",
             "params": {"lr": 0.01, "alpha": 0.9}, "validation_accuracy": [0.4, 0.5], "note": ""},
            {"number": 1, "state": "PRUNED", "value": 0.1, "seconds": 0.5, "worker": "h-1",
             "params": {"lr": 1e-5, "alpha": 0.99}, "validation_accuracy": [0.1], "note": "a, \"quoted\" note"}]
    text = results.trials_csv(rows, ["alpha", "lr"])
    table = list(csv.DictReader(text.splitlines()))
    assert list(table[0]) == ["number", "state", "value", "seconds", "worker", "alpha", "lr",
                              "validation_accuracy_epoch_1", "validation_accuracy_epoch_2", "note"]
    assert table[1]["validation_accuracy_epoch_2"] == "" and table[1]["note"] == "a, \"quoted\" note"
    assert json.loads(json.dumps(rows)) == rows


# ------------------------------------------------------------------------------------
# Pictures


def study_with_trials(values: list[float]) -> optuna.Study:
    memory_study = optuna.create_study(direction="maximize")
    distributions = {"lr": optuna.distributions.FloatDistribution(1e-4, 0.1, log=True),
                     "alpha": optuna.distributions.CategoricalDistribution([0.9, 0.99])}
    for number, value in enumerate(values):
        params = {"lr": 10.0 ** -(1 + number % 3), "alpha": [0.9, 0.99][number % 2]}
        memory_study.add_trial(optuna.create_trial(params=params, distributions=distributions, value=value))
    return memory_study


def test_pictures_that_cannot_be_drawn_are_skipped_with_a_note(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    from matplotlib import pyplot

    from minigrad.search import plots

    settings_before = dict(matplotlib.rcParams)
    notes = []
    search_space = {"lr": space.Range(1e-4, 0.1, log=True), "alpha": space.Choice((0.9, 0.99))}
    assert plots.draw_pictures(study_with_trials([0.5]), search_space, tmp_path, notes.append) == ["history.png"]
    assert notes == ["note: lr_alpha.png not drawn: it needs 2 completed trials, the study has 1",
                     "note: importances.png not drawn: it needs 2 completed trials, the study has 1"]
    assert not (tmp_path / "lr_alpha.png").exists()
    written = plots.draw_pictures(study_with_trials([0.5, 0.6, 0.7, 0.4]), search_space, tmp_path, notes.append)
    assert written == ["history.png", "lr_alpha.png", "importances.png"]
    assert all((tmp_path / name).read_bytes()[:4] == b"\x89PNG" for name in written)
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]  # no temporary file left
    assert dict(matplotlib.rcParams) == settings_before  # Optuna's plots set the ggplot style inside
    assert pyplot.get_fignums() == []  # every figure closed


def test_without_matplotlib_the_search_says_which_pictures_it_did_not_draw(tmp_path, monkeypatch):
    from minigrad.search import plots

    monkeypatch.setattr(plots, "matplotlib_available", lambda: False)
    notes = []
    assert plots.draw_pictures(study_with_trials([0.5, 0.6]), {"lr": space.Range(1e-4, 0.1)}, tmp_path,
                               notes.append) == []
    assert notes == [("note: matplotlib is not installed, so history.png, lr_alpha.png, importances.png were not "
                      "drawn (pip install matplotlib)")]
