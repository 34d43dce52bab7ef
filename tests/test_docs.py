"""The book (docs/): built from a fresh start with the documented command, then read in a
real headless browser, as a learner would read it.

* The build: ``python docs/build.py`` exits 0 (any Sphinx warning, a docstring that does
  not render among them, fails it), and the site holds every asset it needs: no page
  asks for a script, style sheet, font or image from another host.
* Links: every relative link and image of every page points at a file of the site, and
  every ``#anchor`` at an element of that page (checked on the HTML files).
* In Chromium (Debian's ``chromium``, driven by Playwright), served by
  ``http.server`` on 127.0.0.1 with every other host blocked: each lesson page, the
  README and the API index load with no console error and every image decodes; math is
  typeset by MathJax (every math element holds MathJax's output, and no ``$...$`` is left
  in the prose); the RMSprop page shows the algorithm box; searching for ``square_avg``
  finds the RMSprop page; a page opened from disk (file://) typesets its math too.
* Screenshots of three pages go to docs/_build/screenshots/ (ignored by git).

Everything skips, with the reason, where Sphinx, Playwright or Chromium is missing;
``.ci/run`` installs them, so CI never skips.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import importlib
import importlib.util
import inspect
import re
import shutil
import threading
import urllib.parse
from pathlib import Path

import pytest

from minigrad.files import atomic_path

pytest.importorskip("sphinx", reason="the docs extra is not installed: pip install -e '.[docs]'")
playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: pip install -e '.[docs]'")

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "docs" / "_build" / "screenshots"
LESSONS = sorted(path.stem for path in (ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
PAGES = ["docs/index", "README", "docs/api/index", *(f"lessons/{name}" for name in LESSONS)]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: apt-get install chromium")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The book built from scratch with docs/build.py, as the README says."""
    spec = importlib.util.spec_from_file_location("docs_build", ROOT / "docs" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    out = tmp_path_factory.mktemp("book") / "html"
    assert build.build(out) == 0, "docs/build.py failed: see the warnings above"
    return out


@pytest.fixture(scope="module")
def server(site):
    """The site on http://127.0.0.1:<free port>/, as ``python -m http.server`` serves it."""
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass  # the tests say what failed; the request log would only be noise


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed: apt-get install chromium")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


class Visit:
    """One page in a fresh browser tab that may reach only ``allowed`` (the local server,
    or files): what the console said, what failed to load, what was blocked."""

    def __init__(self, browser, url: str, allowed: str):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors, self.blocked, self.failed = [], [], []
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("requestfailed", lambda request: self.failed.append(request.url))
        self.page.route("**/*", self._only(allowed))
        self.page.goto(url, wait_until="load")
        self.page.wait_for_load_state("networkidle")

    def _only(self, allowed: str):
        def route(route):
            url = route.request.url
            if url.startswith((allowed, "data:")):
                route.continue_()
            else:
                self.blocked.append(url)
                route.abort()

        return route

    def wait_for_math(self) -> None:
        """Until MathJax has typeset the page (its startup promise resolves after the first typeset)."""
        self.page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        self.page.evaluate("() => MathJax.startup.promise")

    def __enter__(self):
        return self

    def __exit__(self, *exception) -> None:
        self.page.close()


# ------------------------------------------------------------------------------------
# The build and the links (on the HTML files)


class PageParser(html.parser.HTMLParser):
    """The ids, links and sources of one HTML page."""

    def __init__(self):
        super().__init__()
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and "name" in attrs:
            self.ids.add(attrs["name"])
        for name in ("href", "src"):
            if attrs.get(name) and tag in ("a", "img", "link", "script", "source"):
                self.links.append((tag, attrs[name]))


def parse(path: Path) -> PageParser:
    parser = PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_every_page_is_built(site):
    for page in PAGES:
        assert (site / f"{page}.html").is_file(), page
    assert (site / "docs" / "api" / "rmsprop.html").is_file() and (site / "search.html").is_file()
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()  # MathJax, served from the site


def test_no_page_loads_anything_from_another_host(site):
    """Links to other sites (papers, PyPI) are fine; a script, style sheet, font or image
    from a CDN is not: the book must work offline."""
    remote = []
    for path in site.rglob("*.html"):
        for tag, target in parse(path).links:
            if tag != "a" and target.startswith(("http:", "https:", "//")):
                remote.append((path.relative_to(site), target))
    for path in site.rglob("*.css"):
        for target in re.findall(r"url\((['\"]?)(https?:|//)", path.read_text(encoding="utf-8", errors="replace")):
            remote.append((path.relative_to(site), target))
    assert remote == []


def test_every_relative_link_and_image_resolves(site):
    pages, broken = {}, []
    for path in sorted(site.rglob("*.html")):
        if {"_static", "_modules", "_sources"} & set(path.parts):
            continue  # the theme's templates, and viewcode's highlighted sources
        for tag, target in parse(path).links:
            parts = urllib.parse.urlsplit(target)
            if parts.scheme or target.startswith("//"):
                continue
            file = (path.parent / urllib.parse.unquote(parts.path)).resolve() if parts.path else path
            if file.is_dir():
                file = file / "index.html"
            if not file.is_file():
                broken.append(f"{path.relative_to(site)}: {tag} {target} (no file)")
            elif parts.fragment and file.suffix == ".html":
                if file not in pages:
                    pages[file] = parse(file).ids
                if urllib.parse.unquote(parts.fragment) not in pages[file]:
                    broken.append(f"{path.relative_to(site)}: {tag} {target} (no such anchor)")
    assert broken == []


PUBLIC_MODULES = ["minigrad", "minigrad.functional", "minigrad.layers", "minigrad.losses", "minigrad.optim",
                  "minigrad.data", "minigrad.datasets", "minigrad.metrics", "minigrad.search"]


def public_names(module) -> list[str]:
    """``__all__``, or else the functions and classes the module defines without a leading _."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [name for name, value in vars(module).items() if not name.startswith("_")
            and (inspect.isfunction(value) or inspect.isclass(value)) and value.__module__ == module.__name__]


def test_the_api_reference_documents_every_public_name(site):
    """Each name a learner can import from a public module has an entry (a submodule, a
    page section) in the API pages; a name without a docstring would be left out silently."""
    documented = set()
    for path in (site / "docs" / "api").glob("*.html"):
        documented |= parse(path).ids
    missing = [f"{name}.{attribute}" for name in PUBLIC_MODULES for attribute in public_names(importlib.import_module(name))
               if f"{name}.{attribute}" not in documented and f"module-{name}.{attribute}" not in documented]
    assert missing == []


# ------------------------------------------------------------------------------------
# In the browser


@needs_chromium
@pytest.mark.parametrize("page", PAGES)
def test_a_page_loads_cleanly_and_its_math_is_typeset(browser, server, page):
    with Visit(browser, server + f"{page}.html", allowed=server) as visit:
        images = visit.page.eval_on_selector_all("img", "images => images.map(i => [i.src, i.complete && i.naturalWidth > 0])")
        assert [source for source, decoded in images if not decoded] == [], "images that did not load"
        if visit.page.locator(".math").count():
            visit.wait_for_math()
            untypeset = visit.page.eval_on_selector_all(
                ".math", "nodes => nodes.filter(n => !n.querySelector('mjx-container')).map(n => n.textContent)")
            assert untypeset == [], "math MathJax did not typeset"
        prose = visit.page.eval_on_selector_all(
            "article p, article li, article td, article h1, article h2, article h3",
            "nodes => nodes.map(n => { const c = n.cloneNode(true);"
            " c.querySelectorAll('code, pre, mjx-container').forEach(x => x.remove()); return c.textContent; })")
        raw = [text for text in prose if re.search(r"\$[^$\s][^$]*\$|\\\(|\\\[", text)]
        assert raw == [], "raw TeX left in the prose"
        assert visit.errors == [], "console errors"
        assert visit.blocked == [], "requests to other hosts"
        assert visit.failed == [], "requests that failed"


@needs_chromium
def test_the_rmsprop_page_shows_the_algorithm_box_and_the_presets(browser, server):
    with Visit(browser, server + "docs/api/rmsprop.html", allowed=server) as visit:
        box = visit.page.locator("pre", has_text="v ← α v + (1 - α) g²")
        assert box.count() == 1 and box.is_visible()
        assert "θ ← θ - γ g / d" in box.inner_text()
        table = visit.page.locator("table", has_text="Keras 3 (tf.keras)")
        assert table.is_visible() and table.locator("tr").count() == 7  # the header and six systems
        assert visit.page.locator('dt[id="minigrad.optim.RMSprop"]').is_visible()
        assert visit.page.locator('dt[id="minigrad.optim.rmsprop.PRESETS"]').is_visible()
        assert visit.errors == [] and visit.blocked == []


@needs_chromium
def test_searching_for_square_avg_finds_the_rmsprop_page(browser, server):
    with Visit(browser, server + "search.html?q=square_avg", allowed=server) as visit:
        results = visit.page.locator("#search-results a")
        results.first.wait_for(timeout=20_000)
        targets = [urllib.parse.urlsplit(href).path for href in results.evaluate_all("links => links.map(a => a.href)")]
        assert "/docs/api/rmsprop.html" in targets
        assert visit.errors == [] and visit.blocked == []


@needs_chromium
def test_a_page_opened_from_disk_typesets_its_math(browser, site):
    """No server at all: the lesson read straight from the folder, as after
    ``open docs/_build/html/index.html``."""
    lesson = site / "lessons" / "07_adagrad_to_rmsprop.html"
    with Visit(browser, lesson.as_uri(), allowed="file://") as visit:
        visit.wait_for_math()
        assert visit.page.locator("mjx-container").count() > 10
        assert visit.errors == [] and visit.blocked == []


@needs_chromium
def test_a_lesson_page_offers_its_notebook(browser, server):
    with Visit(browser, server + "lessons/07_adagrad_to_rmsprop.html", allowed=server) as visit:
        link = visit.page.locator("a.btn-download-source-button")
        assert link.inner_text().strip() == ".ipynb"
        response = visit.page.request.get(link.evaluate("a => a.href"))
        assert response.body() == (ROOT / "lessons" / "07_adagrad_to_rmsprop.ipynb").read_bytes()


@needs_chromium
@pytest.mark.parametrize(("name", "page", "show"), [
    ("landing", "docs/index", None),
    ("lesson-07", "lessons/07_adagrad_to_rmsprop", None),
    ("rmsprop-api", "docs/api/rmsprop", "#the-algorithm-in-the-symbols-of-the-code"),
])
def test_screenshots(browser, server, name, page, show):
    """Three pages as a learner sees them, for a person to look at (CI keeps them);
    the RMSprop page scrolled to its algorithm box."""
    with Visit(browser, server + f"{page}.html", allowed=server) as visit:
        if visit.page.locator(".math").count():
            visit.wait_for_math()
        if show is not None:
            visit.page.evaluate("selector => document.querySelector(selector).scrollIntoView()", show)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        with atomic_path(SCREENSHOTS / f"{name}.png") as temporary:
            temporary.write_bytes(visit.page.screenshot(full_page=False))
        assert (SCREENSHOTS / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
