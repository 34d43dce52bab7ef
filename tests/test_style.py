"""The code is the textbook: keep it lint-clean (ruff, configured in pyproject.toml)."""

import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed (pip install -e '.[dev]')")
def test_ruff_is_clean():
    folders = [name for name in ("minigrad", "tests", "benchmarks") if (ROOT / name).is_dir()]
    result = subprocess.run(["ruff", "check", *folders], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
