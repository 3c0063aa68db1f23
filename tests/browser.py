"""What the browser tests share: Debian's chromium driven by Playwright, the static site
built and served on 127.0.0.1, the playground's server, a `Tab` that opens pages and collects
what must not happen, and small helpers that read the playground page.

conftest.py makes the fixtures here (``browser``, ``site``, ``server``) every test's; a test
module imports the helpers it uses. Nothing here skips at import: the fixtures skip (fail,
under ZEROGRAD_CI) where chromium, Playwright, Node or the server's packages are missing."""

from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
LOAD_TIMEOUT_MS = 60_000            # Pyodide's first start in a cold profile


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium, launched once for the module."""
    from conftest import needs, unavailable  # (conftest imports this module)

    if not os.path.exists(CHROMIUM):
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    sync_playwright = needs("playwright.sync_api", "driving chromium").sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site (the docs and the playground's Python) built by ``tools/build_site.py`` into
    a fresh temporary folder; it needs Node, npm and ``npm ci`` first."""
    from conftest import unavailable

    if shutil.which("npm") is None or shutil.which("node") is None:
        unavailable("building the site needs Node and npm (then `npm ci` in the repository)")
    if not (ROOT / "node_modules" / "pyodide").is_dir():
        unavailable(f"node_modules is missing: run npm ci in {ROOT}")
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
    build_site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_site)
    out = tmp_path_factory.mktemp("site")
    build_site.build(out)
    return out


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """``folder`` served by a quiet file server on 127.0.0.1 (a free port): its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                          functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/"
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The site built into a temporary folder and served on 127.0.0.1: its base URL."""
    with serve(built_site(tmp_path_factory)) as url:
        yield url


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    """The playground's server on 127.0.0.1 (a free port), for the module."""
    from conftest import needs

    for module in ("starlette", "uvicorn", "websockets"):
        needs(module, "the playground's server")
    from zerograd.playground.server import start

    srv = start(host="127.0.0.1", port=0)
    yield srv
    srv.stop()


def engine_base(request: pytest.FixtureRequest) -> str:
    """The playground's address in the engine of a ``server``/other parameter: the server's,
    or the static site's ``playground/``."""
    if request.param == "server":
        return request.getfixturevalue("server").url
    return request.getfixturevalue("site") + "playground/"


# ------------------------------------------------------------------------------ a tab
class Tab:
    """Opens pages under ``base`` in fresh browser contexts (a new profile each) and collects
    what must not happen: requests off 127.0.0.1 (aborted), console errors (but those holding
    ``ignore``), page errors, and console errors of the page's workers.

    The test (or fixture) closes it and asserts that ``problems`` is empty."""

    def __init__(self, browser: Any, base: str, *, size: tuple[int, int] = (1280, 800),
                 load_ms: int = LOAD_TIMEOUT_MS, ignore: str | None = None) -> None:
        self.browser, self.base, self.size, self.load_ms = browser, base, size, load_ms
        self.ignore = ignore
        self.problems: list[str] = []
        self.contexts: list[Any] = []

    def _console(self, where: str) -> Callable[[Any], None]:
        def note(m: Any) -> None:
            if m.type == "error" and not (self.ignore and self.ignore in m.text):
                self.problems.append(f"{where}console {m.type}: {m.text}")
        return note

    def _guard(self, route: Any) -> None:
        if urlsplit(route.request.url).hostname != "127.0.0.1":
            self.problems.append(f"a request left the site: {route.request.url}")
            route.abort()
        else:
            route.continue_()

    def open(self, query: str = "", *, permissions: list[str] | None = None,
             size: tuple[int, int] | None = None, wait: bool = True) -> Any:
        """``base + query`` in a fresh context; with ``wait``, once the playground's Python
        answers (`ready`)."""
        width, height = size or self.size
        ctx = self.browser.new_context(viewport={"width": width, "height": height},
                                       permissions=permissions or [])
        self.contexts.append(ctx)
        ctx.route("**/*", self._guard)
        pg = ctx.new_page()
        pg.on("console", self._console(""))
        pg.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        pg.on("worker", lambda w: w.on("console", self._console("worker ")))
        pg.goto(self.base + query)
        if wait:
            ready(pg, self.load_ms)
        return pg

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.close()


# ------------------------------------------------------------------------------ helpers
def wait_until(cond: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``cond`` until it is true (its value is returned) or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def ready(pg: Any, load_ms: int = LOAD_TIMEOUT_MS) -> None:
    """Wait for Python in the page: the engine's pill and the first frame."""
    pg.wait_for_selector("#conn.ok", timeout=load_ms)
    wait_until(lambda: pg.evaluate("window.__frames") >= 1, what="the first frame")


def step_of(page: Any) -> int:
    return int(page.text_content("#step"))


def loss_of(page: Any) -> float:
    return float(page.text_content("#loss"))


def set_config(page: Any, action: Callable[[], None]) -> None:
    """Do ``action`` (a control change, or Reset) and wait for the session's answer: the
    setup it put in force and a frame of it, at step 0. (A frame of the old setup still in
    flight can arrive after the action, so counting frames alone is not enough.)"""
    before = page.evaluate("window.__setups")
    action()
    wait_until(lambda: page.evaluate(f"window.__setups > {before} && window.__framed_setup == "
                                     "window.__setups") and step_of(page) == 0,
               what="the new setup's first frame")


def press_step(page: Any) -> int:
    """Press Step and wait for the counter to go up by one; returns the new step."""
    s = step_of(page)
    page.click("#step-btn")
    wait_until(lambda: step_of(page) == s + 1, what=f"step {s + 1}")
    return s + 1


def query_of(page: Any, keep_blank: bool = True) -> dict[str, str]:
    """The page's address's query, one value a key (blank values too, with ``keep_blank``)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query,
                                         keep_blank_values=keep_blank).items()}


def same_digits(printed: str, value: float) -> bool:
    """Whether ``value`` written with as many significant digits as ``printed`` is it."""
    digits = len(re.sub(r"e.*$", "", printed.lower()).replace("-", "").replace(".", "")
                 .lstrip("0")) or 1
    return f"{float(printed):.{digits}g}" == f"{value:.{digits}g}"


def axe_violations(page: Any, impacts: tuple[str, ...] | None = None) -> list[Any]:
    """axe-core's (pinned in package-lock.json) violations on the page, only those of
    ``impacts`` if given: [id, impact, help, the first 5 nodes' targets] each."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(
        "impacts => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations"
        ".filter(v => impacts === null || impacts.includes(v.impact))"
        ".map(v => [v.id, v.impact, v.help, v.nodes.map(n => n.target.join(' ')).slice(0, 5)]))",
        None if impacts is None else list(impacts))


def axe_serious(page: Any) -> list[Any]:
    """axe-core's serious and critical violations on the page."""
    return axe_violations(page, ("serious", "critical"))
