"""Your own data and the page's state, in a real browser (Playwright + Debian's chromium),
against both engines: the server over its WebSocket and the static site's Pyodide worker.
A CSV pasted or uploaded, points clicked onto the plane, a link carrying them, the exported
script with them; a refused value back to the one in force with the error beside it; and
(server) the page reconnecting by itself after a restart, with its setup."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import browser as shared
import pytest
from browser import ROOT, Tab, axe_serious, engine_base, set_config, step_of, wait_until
from conftest import needs

for _module in ("starlette", "uvicorn", "websockets"):
    needs(_module, "the playground's server and socket")

from zerograd.playground.server import start  # noqa: E402

# the reconnect test's refused connections while the server is down (chromium logs them)
REFUSED = "ERR_CONNECTION_REFUSED"
# blank values are left out, as parse_qs leaves them
query_of = functools.partial(shared.query_of, keep_blank=False)


class Opener(Tab):
    """A `Tab` on the page at ``base`` that knows its engine; chromium's refused connections
    are no error."""

    def __init__(self, browser: Any, base: str, engine: str) -> None:
        super().__init__(browser, base, ignore=REFUSED)
        self.engine = engine


@pytest.fixture(params=["server", "pyodide"])
def pages(request: Any, browser: Any) -> Iterator[Opener]:
    opener = Opener(browser, engine_base(request), request.param)
    yield opener
    opener.close()
    assert not opener.problems, "\n".join(opener.problems)


# ------------------------------------------------------------------------------ helpers
def config_of(page: Any) -> dict[str, Any]:
    """The setup in force, as the session last sent it."""
    return page.evaluate("state.config")


def shown_points(page: Any) -> list[list[float]]:
    """The points the session sent in its `data` message (train and test), sorted."""
    return sorted(page.evaluate("[state.data.train, state.data.test].filter(Boolean).flatMap("
                                "s => s.X.map((p, i) => [p[0], p[1], s.y[i]]))"))


def refused(page: Any, action: Callable[[], None]) -> str:
    """Do ``action`` and wait for the error shown beside the refused control; its text."""
    page.evaluate("document.querySelectorAll('.refused').forEach(e => e.remove())")
    action()
    return wait_until(lambda: page.evaluate(
        "[...document.querySelectorAll('.refused')].map(e => e.textContent).join(' ')"),
        what="the error beside the control")


def use_csv(page: Any, text: str) -> None:
    if not page.is_visible("#csv"):
        page.click("#own-data summary")
    page.fill("#csv", text)
    page.click("#csv-send")


SQUARE = [[0.0, 0.0, 0], [1.0, 1.0, 1], [0.0, 1.0, 1], [1.0, 0.0, 0], [0.5, 0.25, 0],
          [0.25, 0.75, 1], [0.125, 0.5, 0], [0.75, 0.5, 1], [0.2, 0.1, 0], [0.9, 0.8, 1]]
LINK = ";".join(f"{x:g},{y:g},{c}" for x, y, c in SQUARE)


# ------------------------------------------------------------------------------ tests
def test_a_good_csv_is_used_and_bad_ones_are_refused_with_the_setup_kept(
        pages: Opener, tmp_path: Path) -> None:
    page = pages.open()
    signed = "x,y,label\n" + "\n".join(f"{x},{y},{'+1' if c else '-1'}" for x, y, c in SQUARE)
    set_config(page, lambda: use_csv(page, signed))
    cfg = config_of(page)
    assert cfg["dataset"] == "custom" and cfg["data"] == SQUARE
    assert page.input_value("#dataset") == "custom"
    assert shown_points(page) == sorted(SQUARE)  # train and test together: every point
    assert len(page.evaluate("state.data.test.X")) == 2  # the test split applies (0.2 of 10)
    assert query_of(page)["data"] == LINK and query_of(page)["dataset"] == "custom"
    assert "10 points of your own" in page.text_content("#data-note")
    page.screenshot(path=str(tmp_path / f"csv-{pages.engine}.png"))
    url = page.url
    for text, words in [
        ("0,0,0\n1,1,1\n0,one,1\n1,0,0", "data: row 3: y must be a number; got 'one'"),
        ("x,y\n0,0\n1,1\n0,1\n1,0", "data: row 2 must have 3 columns (x, y, label)"),
        ("0,0,1\n1,1,1\n0,1,1\n1,0,1", "two classes are needed, both present"),
        ("\n".join(f"{i % 7},{i % 5},{i % 2}" for i in range(1001)),
         "too many points: at most 1000; got 1001"),
        ("0,0,0\n1,1e400,1\n0,1,1\n1,0,0", "data: row 2: y must be a finite number"),
        ("", "data: no points"),
    ]:
        said = refused(page, lambda: use_csv(page, text))  # noqa: B023
        assert words in said, (words, said)
        assert words in page.text_content("#errors")
        assert config_of(page) == cfg and page.url == url, "a refused CSV changed the setup"
        assert page.input_value("#dataset") == "custom"
    page.screenshot(path=str(tmp_path / f"csv-refused-{pages.engine}.png"))
    assert axe_serious(page) == [], "the data controls open, a CSV refused"
    # an uploaded file, no header, labels 0/1
    path = tmp_path / "points.csv"
    path.write_text("\n".join(f"{y},{x},{1 - c}" for x, y, c in SQUARE) + "\n")
    set_config(page, lambda: page.set_input_files("#csv-file", str(path)))
    assert config_of(page)["data"] == [[y, x, 1 - c] for x, y, c in SQUARE]
    assert page.input_value("#csv") == path.read_text()


def test_clicks_add_points_and_a_link_carries_them(pages: Opener, tmp_path: Path) -> None:
    page = pages.open("?dataset=custom&data=" + LINK + "&seed=3")
    wait_until(lambda: page.input_value("#dataset") == "custom", what="the link's data")
    assert config_of(page)["data"] == SQUARE and config_of(page)["seed"] == 3
    box = page.locator("#boundary").bounding_box()
    x0, x1, y0, y1 = page.evaluate("state.data.extent")
    page.click("#own-data summary")
    page.select_option("#click-class", "1")
    set_config(page, lambda: page.mouse.click(box["x"] + 0.75 * box["width"],
                                           box["y"] + 0.25 * box["height"]))
    data = config_of(page)["data"]
    assert data[:-1] == SQUARE and data[-1][2] == 1
    assert data[-1][0] == pytest.approx(x0 + 0.75 * (x1 - x0), abs=0.01 * (x1 - x0))
    assert data[-1][1] == pytest.approx(y0 + 0.75 * (y1 - y0), abs=0.01 * (y1 - y0))
    page.keyboard.down("Shift")
    set_config(page, lambda: page.mouse.click(box["x"] + 0.2 * box["width"],
                                           box["y"] + 0.6 * box["height"]))
    page.keyboard.up("Shift")
    data = config_of(page)["data"]
    assert len(data) == 12 and data[-1][2] == 0  # shift: the other class
    assert shown_points(page) == sorted(data)
    page.screenshot(path=str(tmp_path / f"clicked-{pages.engine}.png"))
    link = page.url
    assert query_of(page)["data"].count(";") == 11
    again = pages.open("?" + urlsplit(link).query)  # the link, in a fresh tab
    wait_until(lambda: again.input_value("#dataset") == "custom", what="the link's data")
    assert config_of(again)["data"] == data and shown_points(again) == shown_points(page)
    # clicking on a generated set starts from its points
    set_config(page, lambda: page.select_option("#dataset", "moons"))
    moons = shown_points(page)
    set_config(page, lambda: page.mouse.click(box["x"] + 0.5 * box["width"],
                                           box["y"] + 0.5 * box["height"]))
    assert len(config_of(page)["data"]) == len(moons) + 1
    # a set larger than a link carries is left out of it, and the page says so
    big = [[i / 100, (i * 7 % 13) / 10, i % 2] for i in range(250)]
    set_config(page, lambda: page.evaluate(
        f"window.__zg_send({{type: 'config', config: {{dataset: 'custom', data: {big}}}}})"))
    assert "data" not in query_of(page)
    assert "a link carries at most 200" in page.text_content("#data-note")


def test_the_keyboard_adds_a_point_where_the_mouse_would(pages: Opener) -> None:
    page = pages.open()
    set_config(page, lambda: use_csv(page, "x,y,label\n" + LINK.replace(";", "\n")))
    page.fill("#pt-x", "0.3")
    page.fill("#pt-y", "-0.7")
    page.select_option("#click-class", "0")
    set_config(page, lambda: (page.focus("#pt-add"), page.keyboard.press("Enter")))
    assert config_of(page)["data"] == SQUARE + [[0.3, -0.7, 0]]
    page.fill("#pt-y", "")  # an empty box (a number box takes no text)
    page.click("#pt-add")
    page.wait_for_selector(".refused")
    assert "y must be a number" in page.text_content(".refused")
    assert config_of(page)["data"] == SQUARE + [[0.3, -0.7, 0]]


def test_the_exported_script_with_your_data_prints_the_pages_losses(
        pages: Opener, tmp_path: Path) -> None:
    page = pages.open("?dataset=custom&data=" + quote(LINK, safe=",;") + "&hidden=4&lr=0.3")
    wait_until(lambda: page.input_value("#dataset") == "custom", what="the link's data")
    for n in range(1, 6):
        page.click("#step-btn")
        wait_until(lambda: step_of(page) == n, what=f"step {n}")  # noqa: B023
    losses = dict(page.evaluate("state.history.step.map((s, i) => [s, state.history.train[i]])"))
    page.click("#show-code")
    page.wait_for_selector("#code-dialog[open]")
    text = wait_until(lambda: page.text_content("#code"), what="the script")
    assert "POINTS = [" in text
    path = tmp_path / "script.py"
    path.write_text(text)
    run = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    assert run.returncode == 0, run.stderr
    printed = re.findall(r"^step (\d+): loss (\S+)$", run.stdout, re.M)
    assert [int(s) for s, _ in printed] == [1, 2, 3, 4, 5], run.stdout
    for s, loss in printed:
        assert loss == f"{losses[int(s)]:.6g}", (s, loss, losses)
    assert printed[-1][1] == f"{float(page.text_content('#loss')):.6g}"


def test_a_refused_value_goes_back_to_the_one_in_force_beside_the_error(
        pages: Opener, tmp_path: Path) -> None:
    page = pages.open()
    said = refused(page, lambda: (page.fill("#lr", "50"), page.press("#lr", "Enter")))
    assert "lr must be a number from 0.0001 to 10; got 50" in said
    assert page.input_value("#lr") == "0.1" and config_of(page)["lr"] == 0.1
    beside = page.evaluate("document.querySelector('.refused').previousElementSibling"
                           ".contains(document.getElementById('lr'))")
    assert beside, "the error is not beside the lr box"
    page.screenshot(path=str(tmp_path / f"refused-lr-{pages.engine}.png"))
    first = "#widths input >> nth=0"
    said = refused(page, lambda: (page.fill(first, "17"), page.press(first, "Enter")))
    assert "hidden must be" in said and "got [17, 8]" in said
    assert page.eval_on_selector_all("#widths input", "els => els.map(e => e.value)") == \
        ["8", "8"]
    assert page.evaluate("document.getElementById('widths').nextElementSibling.className") \
        == "refused"
    said = refused(page, lambda: page.select_option("#dataset", "custom"))
    assert "dataset custom needs its points" in said
    assert page.input_value("#dataset") == "moons"
    set_config(page, lambda: (page.fill("#lr", "0.5"), page.press("#lr", "Enter")))
    assert page.evaluate("document.querySelectorAll('.refused').length") == 0
    assert page.input_value("#lr") == "0.5"


def test_the_page_reconnects_after_a_server_restart_with_its_setup(
        browser: Any, tmp_path: Path) -> None:
    srv = start(host="127.0.0.1", port=0)
    port = srv.port
    opener = Opener(browser, srv.url, "server")
    try:
        page = opener.open("?hidden=4,3&lr=0.05&activation=relu")
        wait_until(lambda: page.input_value("#activation") == "relu", what="the link's setup")
        set_config(page, lambda: use_csv(page, "x,y,label\n" + LINK.replace(";", "\n")))
        before = config_of(page)
        page.click("#step-btn")
        wait_until(lambda: step_of(page) == 1, what="step 1")
        srv.stop()
        page.wait_for_selector("#conn.retry", timeout=10_000)
        assert page.text_content("#conn") == "reconnecting\u2026"
        page.screenshot(path=str(tmp_path / "reconnecting.png"))
        assert axe_serious(page) == [], "reconnecting"
        time.sleep(1.5)  # a try or two fails while the server is down
        srv = start(host="127.0.0.1", port=port)
        page.wait_for_selector("#conn.ok", timeout=20_000)
        try:  # a new worker process starts the new session: slow on a busy machine
            wait_until(lambda: config_of(page) == before, timeout=60, what="the setup restored")
        except AssertionError:
            shown = page.text_content("#errors")
            raise AssertionError(f"the setup was not restored: {config_of(page)} (before: "
                                 f"{before}); errors shown: {shown!r}") from None
        assert page.input_value("#activation") == "relu" and page.input_value("#lr") == "0.05"
        assert shown_points(page) == sorted(SQUARE)
        assert query_of(page)["data"] == LINK
        page.click("#step-btn")  # the new session trains
        wait_until(lambda: step_of(page) == 1, what="step 1 in the new session")
        page.screenshot(path=str(tmp_path / "reconnected.png"))
        assert json.loads(json.dumps(config_of(page))) == before
    finally:
        opener.close()
        srv.stop()
    assert not opener.problems, "\n".join(opener.problems)
