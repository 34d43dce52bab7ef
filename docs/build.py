"""Build the book: ``python docs/build.py`` writes the website to docs/_build/html/.

Open docs/_build/html/index.html in a browser, or serve the folder with
``python -m http.server --directory docs/_build/html``. Every asset is in the folder
(no CDN), so both work offline. Any Sphinx warning (a docstring that does not render, a
broken link between pages, a missing image) fails the build: exit code 1, the warnings
listed. See docs/README.md for what the book is made of.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
OUT = DOCS / "_build" / "html"

# The book's pages live where they are in the repository (docs/conf.py), so Sphinx's
# root page is docs/index.html; this page at the top of the site sends the browser there.
FRONT_DOOR = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>minigrad</title>
<meta http-equiv="refresh" content="0; url=docs/index.html"></head>
<body><p><a href="docs/index.html">minigrad: the book</a></p></body></html>
"""


def build(out: Path = OUT) -> int:
    """Run Sphinx on the repository with docs/conf.py; return its exit code.

    Every page is read again each time (``--fresh-env``): an incremental build would not
    repeat the warnings of unchanged pages, so a broken docstring could pass unseen, and
    the whole book takes only seconds."""
    from sphinx.cmd.build import build_main

    options = ["-b", "html", "-c", str(DOCS), "--fresh-env", "--fail-on-warning", "--keep-going", "--quiet"]
    code = build_main([*options, str(ROOT), str(out)])
    if code == 0:
        temporary = out / "index.html.tmp"  # written whole, then renamed: never half a page
        temporary.write_text(FRONT_DOOR)
        temporary.replace(out / "index.html")
        print(f"the book is in {out}: open {out / 'index.html'}")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the book (lessons, README, API reference) as an "
                                     "offline website.")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default: {OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    return build(args.out)


if __name__ == "__main__":
    sys.exit(main())
