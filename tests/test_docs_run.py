"""The tutorial pages' Run buttons in a real browser: the site built by ``tools/build_site.py``
(it needs ``npm ci`` first) and served on 127.0.0.1; a Run runs the block in the page's own
Python (Pyodide, in the playground's worker) and shows its output under the block. Every
request to another host is aborted and fails the test; so does any console or page error."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from browser import ROOT, Tab, built_site, serve
from conftest import needs
from markdown_blocks import fenced_blocks

DOCS = ROOT / "docs"
RUN_TIMEOUT_MS = 90_000  # Pyodide's first start in a cold profile, then the blocks above

for _module in ("mkdocs", "material", "mkdocstrings"):
    needs(_module, "building the docs site")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The full site (docs + the playground's Python) built and served: its base URL."""
    with serve(built_site(tmp_path_factory)) as url:
        yield url


@pytest.fixture
def open_page(browser: Any, site: str) -> Iterator[Any]:
    """``open_page('tutorials/engine/')``: a fresh profile at 1400x900; after the test, fails
    on any request off 127.0.0.1 and any console or page error (the worker's included)."""
    tab = Tab(browser, site, size=(1400, 900))
    yield lambda path: tab.open(path, wait=False)
    tab.close()
    assert not tab.problems, "\n".join(tab.problems)


def python_blocks_of(page: str) -> list[str]:
    return [code for lang, code in fenced_blocks((DOCS / page).read_text(encoding="utf-8"))
            if lang == "python"]


def block_index(page: Any, marker: str) -> int:
    """The index, among the page's Run buttons, of the block whose code holds ``marker``."""
    codes = page.locator("div.zg-cell").evaluate_all(
        "cells => cells.map(c => c.previousElementSibling.querySelector('code').textContent)")
    found = [i for i, code in enumerate(codes) if marker in code]
    assert len(found) == 1, f"{len(found)} runnable blocks hold {marker!r}"
    return found[0]


def svg_of(img: Any) -> str:
    src = img.get_attribute("src")
    assert src.startswith("data:image/svg+xml;charset=utf-8,"), src[:60]
    return unquote(src.split(",", 1)[1])


def test_runnable_blocks_get_a_button_and_no_run_ones_none(open_page: Any) -> None:
    pg = open_page("tutorials/engine/")
    blocks = python_blocks_of("tutorials/engine.md")
    marked = (DOCS / "tutorials/engine.md").read_text(encoding="utf-8").count("{.python .no-run}")
    assert marked == 1  # the PyTorch block
    buttons = pg.get_by_role("button", name="Run this code")
    assert buttons.count() == len(blocks) - marked
    # the PyTorch block has none: the block right after it is not a Run bar
    torch_block = pg.locator("div.highlight", has_text="import torch")
    assert torch_block.evaluate("b => b.nextElementSibling?.className ?? ''") != "zg-cell"
    # nor has a page outside the tutorials
    other = open_page("how-to/fit/")
    assert other.locator("div.language-python").count() > 0
    assert other.get_by_role("button", name="Run this code").count() == 0


def test_draw_dot_is_drawn_under_its_block_after_the_blocks_above_ran(open_page: Any) -> None:
    pg = open_page("tutorials/engine/")
    n = block_index(pg, 'zg.draw_dot(L).render("graph.svg")')
    assert n == 2  # two blocks above it make L
    pg.get_by_role("button", name="Run this code").nth(n).click()
    output = pg.locator(".zg-cell-output").nth(n)
    img = output.locator(".zg-cell-image img")
    img.wait_for(timeout=RUN_TIMEOUT_MS)
    svg = html.unescape(svg_of(img))
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    for label in "abcdefL":
        assert label in texts, (label, texts)
    for shown in ("data -8.0000", "data -6.0000", "data 10.0000"):
        assert shown in texts, (shown, texts)
    assert "graph.svg" in output.locator("figcaption").inner_text()
    assert "the 2 blocks above that had not run ran first" in output.inner_text()
    # the blocks above ran, in order, and show what the page says they print
    first = pg.locator(".zg-cell-output").nth(0).inner_text()
    assert "Value(data=2.0, grad=0.0)\n2.0 0.0 a" in first
    assert "Value(data=-8.0, grad=0.0)" in pg.locator(".zg-cell-output").nth(1).inner_text()
    # backward, then the drawing again: the same namespace, and the grads are drawn
    pg.get_by_role("button", name="Run this code").nth(block_index(pg, "L.backward()")).click()
    m = block_index(pg, "graph_with_grads.svg")
    pg.get_by_role("button", name="Run this code").nth(m).click()
    again = pg.locator(".zg-cell-output").nth(m).locator(".zg-cell-image img")
    again.wait_for(timeout=RUN_TIMEOUT_MS)
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", html.unescape(svg_of(again)))
    assert "grad 6.0000" in texts and "grad -4.0000" in texts, texts
    assert pg.locator(".zg-cell-error").count() == 0


def test_the_forgotten_zero_grad_warning_shows_under_the_block(open_page: Any) -> None:
    text = (DOCS / "tutorials/training-loop.md").read_text(encoding="utf-8")
    [warning] = [line for line in text.splitlines()
                 if line.startswith("TrainingWarning: backward() added new gradients")]
    pg = open_page("tutorials/training-loop/")
    n = block_index(pg, "# no p.grad = 0.0 before it")
    button = pg.get_by_role("button", name="Run this code").nth(n)
    button.focus()
    pg.keyboard.press("Enter")  # the button works from the keyboard
    output = pg.locator(".zg-cell-output").nth(n)
    output.locator("pre.zg-cell-stdout").wait_for(timeout=RUN_TIMEOUT_MS)
    shown = output.locator("pre.zg-cell-stdout").inner_text()
    assert warning in shown  # word for word
    assert re.search(r"^19 3\.97519508", shown, re.M), shown  # the page's loss at step 19
    assert pg.locator(".zg-cell-error").count() == 0


UNCAUGHT_LOOP = """random.seed(1337)
n = MLP(3, [4, 4, 1])
for k in range(20):
    ypred = [n(x) for x in xs]
    loss = sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred))
    loss.backward()
    for p in n.parameters():
        p.data += -0.05 * p.grad
"""


def test_a_warning_the_block_does_not_catch_is_shown_as_a_warning(open_page: Any) -> None:
    text = (DOCS / "tutorials/training-loop.md").read_text(encoding="utf-8")
    [warning] = [line for line in text.splitlines()
                 if line.startswith("TrainingWarning: backward() added new gradients")]
    pg = open_page("tutorials/training-loop/")
    n = block_index(pg, "# no p.grad = 0.0 before it")
    # the reader's loop without the page's catch_warnings (a Run reads the block's code
    # when clicked): the warning goes to the page, which shows it as a warning
    pg.locator("div.zg-cell").nth(n).evaluate(
        "(c, code) => { c.previousElementSibling.querySelector('code').textContent = code; }",
        UNCAUGHT_LOOP)
    pg.get_by_role("button", name="Run this code").nth(n).click()
    box = pg.locator(".zg-cell-output").nth(n).locator(".zg-cell-warning")
    box.wait_for(timeout=RUN_TIMEOUT_MS)
    assert box.count() == 1
    assert box.locator("pre").inner_text() == warning  # word for word
    assert box.locator(".admonition-title").inner_text() == "Warning"


def test_a_site_without_the_playground_says_what_to_build(open_page: Any, browser: Any,
                                                           site: str) -> None:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        ctx.route("**/playground/static/worker.js", lambda r: r.fulfill(status=404))
        pg = ctx.new_page()
        pg.goto(site + "tutorials/engine/")
        pg.get_by_role("button", name="Run this code").first.click()
        note = pg.locator(".zg-cell-output").first
        note.locator(".zg-cell-error").wait_for(timeout=10_000)
        assert "python tools/build_site.py" in note.inner_text()
    finally:
        ctx.close()
