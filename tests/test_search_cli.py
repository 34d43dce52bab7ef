"""``minigrad search`` end to end, on the real Fashion-MNIST, with real worker
processes on the default storage (a journal file in the run folder).

The searches are tiny (the mlp, 300 training examples, one epoch, a few trials) so
that each takes seconds; they check the plumbing: the budget shared by two workers,
no trial run twice, the outputs, Ctrl-C and --resume, the final run and the command
line it prints, and the bad inputs that must be one line and exit code 2. The
PostgreSQL storage (several machines) and a worker killed with SIGKILL are tested in
their own files, against a real server.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import DATA, needs_data
from helpers import run_minigrad as run

optuna = pytest.importorskip("optuna", reason="the search extra is not installed: pip install -e '.[search]'")


TINY = ["--model", "mlp", "--limit", "300", "--epochs", "1", "--data-dir", str(DATA.parent)]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FINISHED = ("COMPLETE", "PRUNED")




def study_trials(folder: Path, name: str = "minigrad-search") -> list:
    """The trials as Optuna reads them from the journal file, independently of trials.json."""
    journal = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(folder / "journal.log")))
    return optuna.load_study(study_name=name, storage=journal).trials


def assert_no_trial_ran_twice(trials) -> None:
    """Distinct trial numbers, and no two trials with the same parameters unless one
    is the retry of the other (a retry copies the parameters of the trial it repeats)."""
    assert len({trial.number for trial in trials}) == len(trials)
    retried = {trial.system_attrs.get("failed_trial") for trial in trials}
    seen = {}
    for trial in trials:
        key = json.dumps(trial.params, sort_keys=True)
        if key in seen:
            assert trial.system_attrs.get("failed_trial") == seen[key] or seen[key] in retried, (trial.number, key)
        seen.setdefault(key, trial.number)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    """One search: 6 trials, 2 worker processes on the default storage, no final run."""
    if not DATA.is_dir():
        pytest.skip(f"real Fashion-MNIST not found in {DATA}")
    out = tmp_path_factory.mktemp("search") / "run"
    code, stdout, stderr = run("search", *TINY, "--trials", 6, "--workers", 2, "--sampler", "random",
                               "--param", "lr=1e-4:1e-1:log", "--param", "alpha=0.9,0.99", "--out", out, "--no-final")
    assert code == 0, stderr
    return out, stdout, stderr


# ------------------------------------------------------------------------------------
# Two workers on one study


@needs_data
def test_two_workers_run_the_budget_exactly_once(two_workers):
    out, _, _ = two_workers
    trials = study_trials(out)
    assert [trial.state.name for trial in trials].count("COMPLETE") + \
        [trial.state.name for trial in trials].count("PRUNED") == 6
    assert len(trials) == 6  # no trial beyond the budget, none failed
    assert sorted(trial.number for trial in trials) == list(range(6))
    assert_no_trial_ran_twice(trials)
    assert {trial.user_attrs["worker"].rsplit("-", 1)[1] for trial in trials} <= {"0", "1"}


@needs_data
def test_the_outputs_are_parseable_and_agree_with_the_study(two_workers):
    out, stdout, _ = two_workers
    trials = {trial.number: trial for trial in study_trials(out)}
    saved = json.loads((out / "trials.json").read_text())
    assert (saved["study"], saved["budget"], saved["finished"]) == ("minigrad-search", 6, 6)
    assert saved["space"] == {"alpha": "0.9,0.99", "lr": "0.0001:0.1:log"}
    for row in saved["trials"]:
        trial = trials[row["number"]]
        assert (row["state"], row["params"], row["value"]) == (trial.state.name, trial.params, trial.value)
        assert row["validation_accuracy"] == ([trial.intermediate_values[1]] if trial.intermediate_values else [])
        assert row["seconds"] > 0 and row["worker"]
    table = list(csv.DictReader((out / "trials.csv").read_text().splitlines()))
    assert [int(line["number"]) for line in table] == sorted(trials)
    assert {"alpha", "lr", "validation_accuracy_epoch_1"} <= set(table[0])
    best = json.loads((out / "best.json").read_text())
    completed = [trial for trial in trials.values() if trial.state.name == "COMPLETE"]
    assert best["validation_accuracy"] == max(trial.value for trial in completed)
    assert best["params"] == trials[best["trial"]].params
    assert best["test_accuracy"] is None and not (out / "best").exists()  # --no-final
    assert stdout.rstrip().endswith(best["command"])
    assert json.loads((out / "search.json").read_text())["workers"] == 2
    pytest.importorskip("matplotlib")
    for picture in ("history.png", "lr_alpha.png", "importances.png"):
        assert (out / picture).read_bytes()[:8] == PNG_SIGNATURE, picture


@needs_data
def test_the_start_says_how_to_watch_the_study_live(two_workers):
    out, stdout, _ = two_workers
    assert f"watch it live with: optuna-dashboard {out / 'journal.log'}" in stdout


@needs_data
def test_a_folder_that_holds_a_search_is_not_started_again(two_workers):
    out, _, _ = two_workers
    code, _, stderr = run("search", *TINY, "--out", out)
    assert code == 2
    assert stderr.strip() == (f"minigrad search: error: --out {out}: holds a search already; continue it with "
                              f"--resume {out}, or choose another --out")


# ------------------------------------------------------------------------------------
# --timeout and the successive-halving pruner


@needs_data
def test_timeout_starts_no_trial_after_it(tmp_path):
    """A budget far beyond what fits in the time: the search ends on its own, every
    trial that ran finished, and none started later than --timeout seconds after the
    first (Optuna starts a trial only while less than the timeout has passed)."""
    out, timeout = tmp_path / "run", 3
    code, stdout, stderr = run("search", *TINY, "--trials", 1000, "--timeout", timeout, "--sampler", "random",
                               "--param", "lr=1e-4:1e-1:log", "--out", out, "--no-final", "--no-plots")
    assert code == 0, stderr
    trials = study_trials(out)
    assert 1 <= len(trials) < 1000 and all(trial.state.name in FINISHED for trial in trials)
    starts = sorted(trial.datetime_start for trial in trials)
    assert (starts[-1] - starts[0]).total_seconds() < timeout
    saved = json.loads((out / "trials.json").read_text())
    assert (saved["budget"], saved["finished"]) == (1000, len(trials))
    assert not list(out.glob("*.png"))  # --no-plots
    assert stdout.rstrip().endswith(json.loads((out / "best.json").read_text())["command"])


@needs_data
def test_successive_halving_stops_trials_at_its_first_rung(tmp_path):
    """``--pruner halving`` with 2 epochs a trial: Optuna's SuccessiveHalvingPruner takes
    its first rung from the first completed trial (min_resource = 1 epoch) and its next
    rung would be at epoch 4 (reduction factor 4), so a trial is either stopped right
    after epoch 1 or runs both epochs. A trial goes on past epoch 1 only if its accuracy
    there is among the top quarter of the trials that reached the rung before it (the
    best of them, while fewer than 8 have): a pruned trial is below that best."""
    out = tmp_path / "run"
    code, _, stderr = run("search", "--model", "mlp", "--limit", "300", "--epochs", "2", "--data-dir", DATA.parent,
                          "--trials", 8, "--sampler", "random", "--pruner", "halving", "--param", "lr=1e-6:1e-1:log",
                          "--out", out, "--no-final", "--no-plots")
    assert code == 0, stderr
    assert json.loads((out / "search.json").read_text())["pruner"] == "halving"
    trials = study_trials(out)
    assert [trial.state.name for trial in trials].count("PRUNED") >= 1
    rung = []  # the epoch-1 accuracies of the trials that reached the first rung, in order
    for trial in trials:
        if trial.state.name == "PRUNED":
            assert list(trial.intermediate_values) == [1]
            assert trial.intermediate_values[1] < max(rung)
        else:
            assert trial.state.name == "COMPLETE" and sorted(trial.intermediate_values) == [1, 2]
        if "completed_rung_0" in trial.system_attrs:  # the halving pruner's own record of the rung
            assert trial.system_attrs["completed_rung_0"] == trial.intermediate_values[1]
            rung.append(trial.intermediate_values[1])
    assert len(rung) == len(trials) - 1  # every trial but the first, which set the rung


# ------------------------------------------------------------------------------------
# Bad input: one line, exit code 2


@pytest.mark.parametrize(("args", "message"), [
    (["--param", "learning_rate=1e-4:1e-1"], "unknown parameter 'learning_rate'; the searchable ones are lr, alpha"),
    (["--param", "lr=1e-2:1e-2"], "lr=1e-2:1e-2: an empty range (lo equals hi)"),
    (["--param", "lr=1e-1:1e-4"], "lr=1e-1:1e-4: an inverted range (0.1 > 0.0001)"),
    (["--param", "eps=0:1e-4:log"], "eps=0:1e-4:log: a log range must stay above 0"),
    (["--param", "momentum=-0.5:0.9:log"], "a log range must stay above 0"),
    (["--param", "lr"], "--param 'lr': expected NAME=SPEC"),
    (["--param", "lr=1e-3,1e-2", "--param", "lr=1e-4"], "--param lr given more than once"),
    (["--storage", "postgresql://minigrad@127.0.0.1:1/optuna"],
     "--storage postgresql://minigrad@127.0.0.1:1/optuna: cannot reach the database: "),
    (["--storage", "redis://127.0.0.1:1"], "unknown kind of storage 'redis'"),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, args, message):
    if "--storage" in args:
        if not DATA.is_dir():  # the storage is opened after the data is found
            pytest.skip(f"real Fashion-MNIST not found in {DATA}")
        pytest.importorskip("psycopg")
    code, _, stderr = run("search", *TINY, *args, "--out", tmp_path / "run")
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("minigrad search: error: ") and message in lines[0], stderr
    assert "Traceback" not in stderr and not (tmp_path / "run").exists()


@needs_data
def test_a_study_made_with_another_space_is_refused(two_workers, tmp_path):
    out, _, _ = two_workers
    code, _, stderr = run("search", *TINY, "--storage", out / "journal.log", "--param", "lr=1e-3:1e-1:log",
                          "--out", tmp_path / "other")
    assert code == 2
    (line,) = stderr.strip().splitlines()
    assert line.startswith("minigrad search: error: --study minigrad-search: the study exists with other settings "
                           "(space {alpha=0.9,0.99 lr=0.0001:0.1:log} there, {lr=0.001:0.1:log} here)")
    assert not (tmp_path / "other").exists()
    assert len(study_trials(out)) == 6  # nothing was added to the study


@needs_data
def test_resume_refuses_to_change_the_search(two_workers):
    out, _, _ = two_workers
    code, _, stderr = run("search", "--resume", out, "--model", "cnn", "--param", "lr=1e-3:1e-2")
    assert code == 2
    (line,) = stderr.strip().splitlines()
    assert "cannot change --model cnn (the search used mlp), the space (the search used alpha=0.9,0.99 " \
           "lr=0.0001:0.1:log)" in line


def test_resume_needs_a_search_folder(tmp_path):
    code, _, stderr = run("search", "--resume", tmp_path)
    assert code == 2
    assert stderr.strip() == f"minigrad search: error: --resume {tmp_path}: there is no search.json in {tmp_path} " \
                             "(is it the folder of a minigrad search?)"


def test_missing_data_is_exit_code_1_before_any_worker_or_folder(tmp_path, monkeypatch):
    from minigrad import train as training

    def not_found(train=True, root=None, download=True):
        raise FileNotFoundError("Fashion-MNIST was not found; searched: (the places)")

    monkeypatch.setitem(training.LOADERS, "fashion-mnist", not_found)
    code, _, stderr = run("search", "--model", "mlp", "--out", tmp_path / "run")
    assert code == 1
    assert stderr.strip() == "minigrad search: error: Fashion-MNIST was not found; searched: (the places)"
    assert not (tmp_path / "run").exists()


def test_search_help_names_every_parameter_and_the_dashboard():
    code, stdout, _ = run("search", "--help")
    assert code == 0
    text = " ".join(stdout.split())
    assert "NAME is one of lr, alpha, eps, momentum, centered, preset, batch-size, optimizer" in text
    assert "optuna-dashboard <storage>" in text


# ------------------------------------------------------------------------------------
# Ctrl-C, then --resume


def trials_so_far(folder: Path) -> list:
    """The study's trials while the search runs; none before it has made the study."""
    journal = folder / "journal.log"
    if not journal.exists() or "minigrad-search" not in journal.read_text():
        return []
    return study_trials(folder)


def finished_in_journal(folder: Path) -> int:
    return sum(trial.state.name in FINISHED for trial in trials_so_far(folder))


@needs_data
def test_ctrl_c_keeps_the_study_and_resume_completes_the_budget(tmp_path):
    """SIGINT to the command mid-search, as Ctrl-C in a terminal: exit code 130, the
    study readable with its finished trials, nothing left running; --resume runs the
    interrupted trials again and completes the budget. (The first run's budget is large
    so that the signal surely comes before its end; the resume sets a smaller total.)"""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "minigrad", "search", "--model", "mlp", "--limit", "600", "--epochs", "2",
               "--data-dir", str(DATA.parent), "--trials", "100", "--workers", "2", "--sampler", "random",
               "--out", str(out), "--no-final"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while finished_in_journal(out) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr.rstrip().endswith(f"Continue with: minigrad search --resume {out}")
    assert "Traceback" not in stderr
    before = study_trials(out)  # the study is readable
    finished_before = sum(trial.state.name in FINISHED for trial in before)
    assert 2 <= finished_before < 100
    assert all(trial.state.name in (*FINISHED, "FAIL") for trial in before)  # nothing left running
    interrupted = [trial.number for trial in before if trial.state.name == "FAIL"]
    assert all(trial.user_attrs.get("interrupted") for trial in before if trial.number in interrupted)
    assert json.loads((out / "trials.json").read_text())["finished"] == finished_before

    total = finished_before + 3
    code, _, stderr = run("search", "--resume", out, "--trials", total, "--no-final", "--no-plots")
    assert code == 0, stderr
    assert not list(out.glob("*.png"))  # --no-plots, given to the resumed search
    after = study_trials(out)
    assert sum(trial.state.name in FINISHED for trial in after) == total
    assert all(trial.state.name in (*FINISHED, "FAIL") for trial in after)
    for trial in before:  # what was done is kept
        assert (after[trial.number].state, after[trial.number].params) == (trial.state, trial.params)
    retries = sorted(trial.system_attrs["failed_trial"] for trial in after if "failed_trial" in trial.system_attrs)
    assert retries == interrupted  # each interrupted trial ran again, once
    assert_no_trial_ran_twice(after)

    code, _, stderr = run("search", "--resume", out, "--no-final")  # the budget is complete: nothing to run
    assert code == 0, stderr
    assert len(study_trials(out)) == len(after)


@needs_data
def test_a_killed_worker_fails_the_search_and_resume_retries_its_trial(tmp_path):
    """SIGKILL to a worker mid-trial, on the default storage (the journal file, which has
    no heartbeat): the other worker goes on, the command says how to continue (exit code
    1), and --resume marks the trial left running FAIL, runs it again and completes the
    budget.

    The worker is killed while it trains, just after it reported its first epoch: killed
    in the middle of a write to the journal, it would leave the journal's lock taken,
    and the other processes would wait for Optuna's grace period (30 s) before
    breaking it."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "minigrad", "search", "--model", "mlp", "--limit", "1500", "--epochs", "3",
               "--data-dir", str(DATA.parent), "--trials", "4", "--workers", "2", "--sampler", "random",
               "--pruner", "none", "--out", str(out), "--no-final"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, killed = time.monotonic() + 120, None
    while killed is None and process.poll() is None and time.monotonic() < deadline:
        training = [trial for trial in trials_so_far(out)
                    if trial.state.name == "RUNNING" and list(trial.intermediate_values) == [1]]
        if training:
            time.sleep(0.05)  # past the report's write, into epoch 2
            killed = training[0]
            os.kill(killed.user_attrs["pid"], signal.SIGKILL)
        time.sleep(0.02)
    _, stderr = process.communicate(timeout=120)
    assert killed is not None, stderr
    assert process.returncode == 1, stderr
    assert "was killed by signal 9; the finished trials are kept. Continue with: minigrad search --resume" in stderr
    assert study_trials(out)[killed.number].state.name == "RUNNING"  # nothing could mark it: its worker is gone

    code, _, stderr = run("search", "--resume", out, "--no-final")
    assert code == 0, stderr
    after = study_trials(out)
    assert after[killed.number].state.name == "FAIL"
    assert [trial.system_attrs.get("failed_trial") for trial in after].count(killed.number) == 1
    assert sum(trial.state.name in FINISHED for trial in after) == 4
    assert_no_trial_ran_twice(after)


# ------------------------------------------------------------------------------------
# The final run, and the command line that reproduces it


@needs_data
def test_the_final_run_is_a_train_run_and_the_printed_command_reproduces_it(tmp_path):
    out = tmp_path / "run"
    code, stdout, stderr = run("search", *TINY, "--trials", 3, "--param", "lr=1e-4:1e-2:log", "--param",
                               "batch-size=32,64", "--out", out)
    assert code == 0, stderr
    best = json.loads((out / "best.json").read_text())
    final = json.loads((out / "best" / "metrics.json").read_text())
    assert (out / "best" / "checkpoint.npz").is_file()
    assert final["test_accuracy"] == best["test_accuracy"]
    assert final["config"] == best["config"]
    assert final["config"]["lr"] == best["params"]["lr"] and final["config"]["batch_size"] == best["params"]["batch-size"]
    assert final["config"]["limit"] == 300  # the whole (limited) training set, the validation split included
    command = stdout.rstrip().splitlines()[-1]
    assert command == best["command"]
    words = shlex.split(command)
    assert words[:2] == ["minigrad", "train"]
    code, _, stderr = run(*words[1:], "--out", tmp_path / "again")
    assert code == 0, stderr
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert again["config"] == final["config"]
    assert again["test_accuracy"] == final["test_accuracy"]  # the same run, on the CPU bit for bit


@needs_data
def test_search_from_python_with_the_grid_sampler(tmp_path):
    """``minigrad.search.search`` for notebooks; the grid sampler runs each point of
    its grid once and stops when the grid is done, before the budget."""
    from minigrad.search import search

    lines = []
    result = search(model="mlp", params={"lr": "1e-3,1e-2", "alpha": "0.9"}, sampler="grid", trials=5, epochs=1,
                    limit=300, data_dir=DATA.parent, out=tmp_path / "run", final=False, log=lines.append)
    assert sorted(row["params"]["lr"] for row in result["trials"]) == [1e-3, 1e-2]
    assert all(row["params"]["alpha"] == 0.9 and row["state"] == "COMPLETE" for row in result["trials"])
    assert result["final"] is None and result["best"]["params"] in [row["params"] for row in result["trials"]]
    assert lines[-1].endswith(result["best"]["command"])
    assert result["storage"] == str(tmp_path / "run" / "journal.log")


@needs_data
def test_train_takes_rmsprops_options_and_resume_keeps_them(tmp_path):
    code, _, stderr = run("train", "--model", "mlp", "--limit", "256", "--test-limit", "100", "--epochs", "1",
                          "--data-dir", DATA.parent, "--preset", "keras", "--alpha", "0.95", "--centered",
                          "--out", tmp_path / "run")
    assert code == 0, stderr
    config = json.loads((tmp_path / "run" / "metrics.json").read_text())["config"]
    assert (config["preset"], config["alpha"], config["eps"], config["centered"]) == ("keras", 0.95, 1e-7, True)
    code, _, stderr = run("train", "--resume", tmp_path / "run", "--alpha", "0.9", "--epochs", "2")
    assert code == 2
    assert "cannot change --alpha 0.9 (the run used 0.95)" in stderr
