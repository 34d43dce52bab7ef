"""Sphinx configuration of the book: the lessons, the README and the API reference as one
offline website. Build it with ``python docs/build.py`` (see docs/README.md).

The source folder is the repository itself, not docs/: the pages are the committed
files where they already live (README.md, lessons/*.ipynb with their outputs, docs/*),
so every link between them works as it does on GitHub, and nothing is copied.
``include_patterns`` says which files are pages.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # autodoc reads the checkout's minigrad, installed or not

from minigrad.files import atomic_path  # after the line above: the checkout's minigrad

project = "minigrad"
author = "the minigrad authors"
copyright = "2026, the minigrad authors"

root_doc = "docs/index"
include_patterns = [
    "docs/*.md",
    "docs/api/*.rst",
    "README.md",
    "lessons/README.md",
    "lessons/NOTATION.md",
    "lessons/[0-9][0-9]_*.ipynb",
    "benchmarks/README.md",
    "datasets/README.md",
]
exclude_patterns = ["docs/_build/**"]

extensions = [
    "myst_nb",  # Markdown pages and notebooks (MyST-NB renders the committed outputs)
    "sphinx.ext.autodoc",  # the API reference, from the docstrings
    "sphinx.ext.viewcode",  # each entry's [source] link, to a highlighted copy in the site
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 from a Python package, copied into the site: no CDN
]

# ---- notebooks: shown with the outputs of their committed full run, never executed here
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # the sliders' widget scripts would come from a CDN; their static figures are in the notebooks
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3  # README's "#training-from-the-command-line" links
suppress_warnings = ["myst.header"]  # notebooks start at a level-1 title and may skip a level in prose cells

# ---- the API reference
autodoc_member_order = "bysource"  # the order a learner meets them in the file
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}

# ---- the site
html_theme = "sphinx_book_theme"
html_title = "minigrad"
html_theme_options = {
    "use_download_button": True,  # each lesson page offers its .ipynb
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
html_context = {"default_mode": "light"}  # the theme's light/dark switch starts light (unset, its script logs an error)
html_show_sourcelink = False  # the download button gives the notebook; viewcode gives the Python
html_last_updated_fmt = None


def write_cli_help(folder: Path) -> None:
    """``minigrad --help`` and each command's, exactly as a terminal 74 columns wide shows
    them (the width of the page's code box), for docs/api/cli.rst to include."""
    folder.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "COLUMNS": "74", "PYTHONPATH": str(ROOT)}
    for command in ([], ["train"], ["compare"], ["search"]):
        text = subprocess.run([sys.executable, "-m", "minigrad", *command, "--help"], capture_output=True,
                              text=True, check=True, env=environment, cwd=ROOT).stdout
        with atomic_path(folder / f"{'-'.join(['minigrad', *command])}.txt") as temporary:
            temporary.write_text(text)


write_cli_help(DOCS / "_build" / "cli")


def hide_object_base(app, name, obj, options, bases: list) -> None:
    """Drop "Bases: object" under a class: it says nothing (Module, Optimizer and the like stay)."""
    if bases == [object]:
        bases.clear()


def setup(app) -> None:
    app.connect("autodoc-process-bases", hide_object_base)
