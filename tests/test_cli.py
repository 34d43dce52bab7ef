"""The `minigrad` command: its help, --version, and `minigrad demo`.

(`minigrad train` and `minigrad compare` are tested in test_train_cli.py.)"""

import subprocess
import sys
import warnings

import pytest
from helpers import run_minigrad as run

import minigrad as mg
from minigrad import cli
from minigrad.cli import demo
from minigrad.train import TrainingDiverged


def test_demo_fits_sin():
    # a fit of sin(x) on [-pi, pi]; predicting 0 everywhere would give an MSE of 0.5
    assert demo(steps=1000) < 0.02


def test_python_dash_m_runs_the_demo():
    result = subprocess.run(
        [sys.executable, "-m", "minigrad", "demo", "--steps", "50"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "mean squared error" in result.stdout


def test_a_closed_pipe_stops_the_command_quietly():
    """`minigrad demo | head -1`: no BrokenPipeError traceback, the shell's code for SIGPIPE."""
    process = subprocess.Popen([sys.executable, "-u", "-m", "minigrad", "demo", "--steps", "20000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline().startswith(b"step     1 ")
    process.stdout.close()  # the next line (step 2000) finds nobody reading
    stderr = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=120) == cli.EXIT_BROKEN_PIPE
    assert stderr == b""


@pytest.mark.parametrize("steps", [1, 5, 9, 23])
def test_demo_with_few_steps_prints_its_steps(steps):
    """Fewer than 10 steps once divided by zero (the report interval was steps // 10)."""
    code, stdout, stderr = run("demo", "--steps", steps)
    assert (code, stderr) == (0, "")
    printed = [int(line.split()[1]) for line in stdout.splitlines() if line.startswith("step")]
    assert printed[0] == 1 and printed[-1] == steps and len(printed) <= 12
    assert stdout.splitlines()[-1].startswith("fitted sin(x) with ")


@pytest.mark.parametrize(("args", "message"), [
    (["--steps", "0"], "argument --steps: must be at least 1, got 0"),
    (["--steps", "-3"], "argument --steps: must be at least 1, got -3"),
    (["--steps", "many"], "argument --steps: expected a whole number, got 'many'"),
    (["--lr", "-1"], "argument --lr: must be a finite number > 0, got -1"),
    (["--lr", "0"], "argument --lr: must be a finite number > 0, got 0"),
    (["--lr", "nan"], "argument --lr: must be a finite number > 0, got nan"),
    (["--hidden", "0"], "argument --hidden: must be at least 1, got 0"),
    (["--seed", "-1"], "argument --seed: must be >= 0, got -1"),
])
def test_demo_rejects_bad_options(args, message):
    code, stdout, stderr = run("demo", *args)
    assert code == 2 and stdout == ""
    assert stderr.splitlines()[-1] == f"minigrad demo: error: {message}"


@pytest.mark.parametrize(("args", "what"), [
    (["--lr", "1e6"], "was inf at step 4."),  # blows up to inf
    (["--lr", "1e30"], "was inf at step 2."),
    (["--lr", "0.3", "--steps", "3"], "was 47.24 after step 3 (more than 5.0, ten times the error of predicting 0)."),
])
def test_demo_that_diverges_is_an_error_not_a_fit(args, what):
    """It once printed nan, NumPy's overflow warnings and "fitted sin(x)", and exited 0."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, stdout, stderr = run("demo", *args)
    assert code == cli.EXIT_DIVERGED
    assert "fitted" not in stdout and "nan" not in stdout
    assert stderr.startswith(f"minigrad demo: error: the fit diverged: the mean squared error {what} ")
    assert stderr.rstrip().endswith("is too large; try a lower one, e.g. --lr 0.05")
    assert len(stderr.splitlines()) == 1
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []


def test_demo_error_may_spike_and_recover():
    """At lr=0.08 the error passes 5 at step 7, then falls: a fit, not a divergence."""
    code, stdout, _ = run("demo", "--lr", "0.08")
    assert code == 0
    assert float(stdout.splitlines()[-2].split()[-1]) < 0.1


def test_demo_function_checks_its_arguments():
    with pytest.raises(ValueError, match="steps must be an int >= 1, got 0"):
        demo(steps=0)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        demo(lr=-1.0)
    with pytest.raises(TrainingDiverged, match="mean squared error"):
        demo(steps=3, lr=1e6)


def test_version():
    code, stdout, _ = run("--version")
    assert (code, stdout) == (0, f"minigrad {mg.__version__}\n")


def test_help_is_plain_text_with_every_command_and_the_exit_codes():
    code, stdout, _ = run("--help")
    assert code == 0
    assert "``" not in stdout  # no docstring markup
    assert stdout.splitlines()[2].startswith("minigrad is a small, readable reverse-mode autograd framework")
    for command in ("train", "compare", "demo"):
        assert f"\n    {command} " in stdout
    assert "exit codes:" in stdout and "130  interrupted" in stdout


def test_demo_help_explains_every_option():
    code, stdout, _ = run("demo", "--help")
    assert code == 0
    text = " ".join(stdout.split())
    for option, words in (("--steps STEPS", "gradient-descent steps (default: 2000)"),
                          ("--hidden HIDDEN", "tanh units in the hidden layer (default: 32)"),
                          ("--lr LR", "learning rate (default: 0.05)"),
                          ("--seed SEED", "seed for the initial weights (default: 0)")):
        assert f"{option} {words}" in text
