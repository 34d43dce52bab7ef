"""Lessons are code too: every notebook runs top to bottom, and its committed outputs
come from a full, error-free run (see lessons/run.py)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

LESSONS = Path(__file__).resolve().parent.parent / "lessons"
NOTEBOOKS = sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))
HAVE_JUPYTER = all(importlib.util.find_spec(name) for name in ("nbclient", "nbformat", "ipykernel"))
needs_jupyter = pytest.mark.skipif(not HAVE_JUPYTER, reason="nbclient/nbformat/ipykernel not installed: pip install -e '.[dev]'")
ids = [path.stem for path in NOTEBOOKS]


@pytest.fixture(scope="module")
def runner():
    spec = importlib.util.spec_from_file_location("lesson_runner", LESSONS / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_jupyter
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_lesson_runs_in_fast_mode(path, runner):
    # raises with the failing cell on any error; a fast-mode cell that runs 5 minutes hangs
    runner.run_notebook(path, fast=True, timeout=300)


@needs_jupyter
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_committed_outputs_are_from_a_full_clean_run(path):
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata.get("minigrad", {}).get("mode") == "full", (
        f"{path.name}: outputs must come from a full run: python lessons/run.py --save {path.name}"
    )
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        assert cell.get("execution_count") is not None, f"{path.name}: code cell {index} was not executed"
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"{path.name}: code cell {index} has an error output"


def test_syllabus_lists_every_lesson():
    syllabus = (LESSONS / "README.md").read_text()
    for path in NOTEBOOKS:
        assert path.name in syllabus, f"lessons/README.md does not list {path.name}"
    listed = set(re.findall(r"\d\d_[a-z0-9_]+\.ipynb", syllabus))
    assert listed == {path.name for path in NOTEBOOKS}, "lessons/README.md lists notebooks that do not exist"
