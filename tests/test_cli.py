"""The `minigrad` command."""

import subprocess
import sys

from minigrad.cli import demo


def test_demo_fits_sin():
    # a fit of sin(x) on [-pi, pi]; predicting 0 everywhere would give an MSE of 0.5
    assert demo(steps=1000) < 0.02


def test_python_dash_m_runs_the_demo():
    result = subprocess.run(
        [sys.executable, "-m", "minigrad", "demo", "--steps", "50"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "mean squared error" in result.stdout
