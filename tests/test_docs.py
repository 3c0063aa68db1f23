"""The docs site cannot rot: it builds with ``mkdocs build --strict`` (no warning, no broken
link, no docstring griffe cannot read); every ```python block of every page runs, each page's
blocks in order in one fresh interpreter and a fresh folder, as a reader working down the page
would run them; and every built page opens in headless chromium with no JavaScript error and
no request to any host but the site's own."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser import serve
from conftest import needs, needs_graphviz
from markdown_blocks import PYTHON, fenced_blocks, python_blocks

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
# what a page's code needs beyond NumPy, by what it says: those pages skip without it
NEEDS = {
    "torch": re.compile(r"^\s*(import torch|from torch\b)|\binterop\.(to|from)_torch\b", re.M),
    "sklearn": re.compile(r"\bdata\.(moons|circles|blobs|digits)\("),  # zg.data's sets
    "safetensors": re.compile(r"\.safetensors\b"),
    "jax": re.compile(r"""["']jax["']"""),  # the jax executor
    "graphviz": re.compile(r"\.(render|pipe)\("),  # a drawing: needs_graphviz()
}


def _needs_of(code: str) -> list[str]:
    return [module for module, says in NEEDS.items() if says.search(code)]


def _quiet_env() -> dict[str, str]:
    # NO_MKDOCS_2_WARNING: Material's end-of-life notice on every build; MPLBACKEND: plots
    # written by a page's code go to files, never to a window
    return {**os.environ, "NO_MKDOCS_2_WARNING": "1", "MPLBACKEND": "Agg"}


# ------------------------------------------------------------------------------ the build
@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once for the module with ``mkdocs build --strict``."""
    for module in ("mkdocs", "material", "mkdocstrings"):
        needs(module, "building the docs site")
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
         "-d", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=_quiet_env())
    if done.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}",
                    pytrace=False)
    return out


def test_the_site_builds_with_strict_and_has_every_page(site: Path) -> None:
    missing = [p for p in PAGES if not (site / _built(p)).is_file()]
    assert not missing, f"pages that were not built: {missing}"


def _built(page: str) -> str:
    """Where mkdocs puts ``page`` (directory URLs): a/b.md -> a/b/index.html."""
    stem = page[: -len(".md")]
    if stem == "index" or stem.endswith("/index"):
        return stem + ".html"
    return stem + "/index.html"


# ------------------------------------------------------------------------------ the code
RUNNER = r"""
import contextlib, difflib, io, json, sys, traceback
page, blocks = json.load(sys.stdin)
namespace = {"__name__": "__main__"}
for n, (code, shown) in enumerate(blocks, 1):
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"{page}, python block {n}", "exec"), namespace)
    except BaseException:
        print(f"{page}: python block {n} of {len(blocks)} failed:", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
    if shown is not None and out.getvalue().strip() != shown.strip():
        print(f"{page}: python block {n} printed other text than the page shows under it:",
              file=sys.stderr)
        sys.stderr.writelines(difflib.unified_diff(
            shown.strip().splitlines(True), out.getvalue().strip().splitlines(True),
            "the page", "the run", n=1))
        sys.exit(1)
"""


def _blocks_and_output(page: str) -> list[tuple[str, str | None]]:
    """Each python block of ``page`` with the ```text block right after it (what the page
    says it prints), or None."""
    blocks = fenced_blocks((DOCS / page).read_text(encoding="utf-8"))
    return [(code, blocks[i + 1][1] if i + 1 < len(blocks) and blocks[i + 1][0] == "text"
             else None) for i, (lang, code) in enumerate(blocks) if lang in PYTHON]


CODE_PAGES = [p for p in PAGES if python_blocks(DOCS / p)]


def _code_param(page: str) -> Any:
    modules = _needs_of("\n".join(python_blocks(DOCS / page)))
    return pytest.param(page, id=page + (f" [{', '.join(modules)}]" if modules else ""))


@pytest.mark.parametrize("page", [_code_param(p) for p in CODE_PAGES])
def test_every_python_block_of_the_page_runs(page: str, tmp_path: Path) -> None:
    """The page's blocks, in order, in one namespace (a later block uses an earlier one's
    names), in a fresh interpreter (the page's own ``random`` seeds) and a fresh folder; a
    ```text block right after a python block is what that block prints, to the letter."""
    blocks = python_blocks(DOCS / page)
    for module in _needs_of("\n".join(blocks)):
        if module == "graphviz":
            needs_graphviz()
        else:
            needs(module, f"{page} uses it")
    done = subprocess.run([sys.executable, "-c", RUNNER],
                          input=json.dumps([page, _blocks_and_output(page)]),
                          cwd=tmp_path, capture_output=True, text=True, timeout=900,
                          env=_quiet_env())
    assert done.returncode == 0, done.stderr[-6000:]


# ------------------------------------------------------------------------------ the browser
@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    """The built site over HTTP on 127.0.0.1 (a free port), for the module."""
    with serve(site) as url:
        yield url


@pytest.mark.parametrize("page", PAGES)
def test_the_page_opens_in_a_browser_with_no_error_and_no_request_off_the_site(
        page: str, served: str, browser: Any) -> None:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = ctx.new_page()
    problems: list[str] = []
    off_site: list[str] = []

    def route(r: Any) -> None:
        if urlsplit(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            off_site.append(r.request.url)
            r.abort()

    tab.route("**/*", route)
    tab.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
           if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    url = served + _built(page).removesuffix("index.html")
    try:
        response = tab.goto(url, wait_until="networkidle")
        assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"
        headings = tab.locator("h1").count()
    finally:
        ctx.close()
    assert not off_site, f"{page} asked hosts other than 127.0.0.1 for: {off_site}"
    assert not problems, f"JavaScript errors on {page}:\n" + "\n".join(problems)
    assert headings >= 1, f"{page} has no <h1>"
