"""The playground page in a real browser (Playwright + Debian's chromium): it trains, shows
zerograd's warnings, walks backprop to the engine's gradients and exports a script that prints
the loss the page shows. Any JavaScript console error or page error fails the test."""

from __future__ import annotations

import functools
import math
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import browser as shared
import pytest
from browser import Tab, loss_of, press_step, ready, set_config, step_of
from conftest import needs

from zerograd.engine import topological_order
from zerograd.playground.graphview import lecture_neuron
from zerograd.playground.server import start

for _module in ("starlette", "uvicorn", "websockets", "sklearn"):
    needs(_module, "the playground's server, socket and default dataset")

# the server answers faster than Pyodide starts: these tests wait less
wait_until = functools.partial(shared.wait_until, timeout=15.0)


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture
def page(server: Any, browser: Any) -> Iterator[Any]:
    """A fresh tab (its own session on the server) at 1280x800, connected and showing the
    default setup; fails the test on any console error, page error or request off
    127.0.0.1."""
    tab = Tab(browser, server.url, load_ms=10_000)
    pg = tab.open()
    yield pg
    tab.close()
    assert not tab.problems, "JavaScript errors on the page:\n" + "\n".join(tab.problems)


# ------------------------------------------------------------------------------ helpers
def warnings_of(page: Any) -> list[str]:
    return page.eval_on_selector_all("#warnings .warning", "els => els.map(e => e.textContent)")


def shot(page: Any, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"))


def type_in(page: Any, selector: str, text: str) -> None:
    """Type into a number field and press Enter (a field sends its value on change)."""
    page.fill(selector, text)
    page.press(selector, "Enter")


def six_digits(text: str) -> str:
    """A number's text rounded to 6 significant digits (``0.5`` and ``0.500000`` agree)."""
    return f"{float(text):.6g}"


# ------------------------------------------------------------------------------ tests
def test_moons_trains_loss_falls_and_pause_stops(page: Any, tmp_path: Path) -> None:
    assert page.input_value("#dataset") == "moons"
    page.click("#play")
    wait_until(lambda: step_of(page) >= 20, what="step 20")
    early = loss_of(page)
    wait_until(lambda: step_of(page) >= 200, timeout=60, what="step 200")
    time.sleep(0.5)
    later = loss_of(page)
    assert later < early, f"the loss did not fall: {early} at step ~20, {later} later"
    assert float(page.text_content("#sps")) > 0
    shot(page, tmp_path, "moons_training")
    page.click("#play")  # now Pause
    wait_until(lambda: "Play" in page.text_content("#play"), what="the Play button back")
    time.sleep(0.3)
    paused_at = step_of(page)
    time.sleep(1.0)
    assert step_of(page) == paused_at, "training went on after Pause"
    assert page.text_content("#sps") == "0"
    assert page.is_enabled("#step-btn")


def test_page_applies_at_least_ten_frames_a_second(page: Any, tmp_path: Path) -> None:
    page.click("#play")
    wait_until(lambda: step_of(page) > 0, what="training to start")
    f0, t0 = page.evaluate("window.__frames"), time.monotonic()
    time.sleep(2.0)
    f1, t1 = page.evaluate("window.__frames"), time.monotonic()
    rate = (f1 - f0) / (t1 - t0)
    shot(page, tmp_path, "frames")
    page.click("#play")
    assert rate >= 10, f"the page applied {rate:.1f} frames a second"


def test_forget_zero_grad_shows_the_warning(page: Any, tmp_path: Path) -> None:
    set_config(page, lambda: page.check("#forget_zero_grad"))
    assert page.is_checked("#forget_zero_grad")
    page.click("#play")
    wait_until(lambda: any("backward() added new gradients to old ones" in w
                           for w in warnings_of(page)), what="the zero_grad warning")
    page.click("#play")
    first = page.text_content("#warnings .warning .wstep")
    assert re.fullmatch(r"step \d+", first), first
    shot(page, tmp_path, "forget_zero_grad")


def test_lecture_at_lr_10_warns_about_the_learning_rate(page: Any, tmp_path: Path) -> None:
    set_config(page, lambda: page.select_option("#dataset", "lecture"))
    assert page.is_disabled("#points")
    set_config(page, lambda: page.click("#lr10"))
    assert float(page.input_value("#lr")) == 10
    page.click("#play")
    wait_until(lambda: any("learning rate" in w for w in warnings_of(page)), timeout=30,
               what="the learning-rate warning")
    shot(page, tmp_path, "lecture_lr10")
    if "Pause" in page.text_content("#play"):
        page.click("#play")


def lecture_neuron_grads() -> dict[str, float]:
    """The lecture's neuron, backpropagated by zerograd's engine itself: label -> grad."""
    o = lecture_neuron()
    o.backward()
    return {v.label: v.grad for v in topological_order(o)}


def test_backprop_walk_ends_at_the_engines_grads(page: Any, tmp_path: Path) -> None:
    page.click("#graph-neuron")
    page.wait_for_selector("#graph svg g.vnode")
    steps = page.evaluate("document.querySelectorAll('#graph g.vnode').length")
    for i in range(steps + 5):
        if page.is_disabled("#bp-step"):
            break
        page.click("#bp-step")
        wait_until(lambda n=i + 1: f"node {n} of" in page.text_content("#bp-explain"),
                   what=f"backprop step {i + 1}")
        current = page.eval_on_selector_all("#graph g.vnode.current", "els => els.length")
        assert current == 1, f"{current} nodes highlighted as current"
        if i == 1:
            shot(page, tmp_path, "backprop_second_node")
    assert page.is_disabled("#bp-step"), "backprop never said done"
    assert page.text_content("#bp-explain").strip()
    shown = page.eval_on_selector_all(
        "#graph g.vnode",
        "els => els.map(g => [g.querySelector('text.label').textContent,"
        " g.querySelector('text.grad').getAttribute('data-grad'), g.dataset.id])")
    assert all(i for _, _, i in shown), "a value node without data-id"
    grads = {label: float(g) for label, g, _ in shown if label}
    want = lecture_neuron_grads()
    assert set(want) <= set(grads), f"labels shown: {sorted(grads)}"
    for label, g in want.items():
        assert math.isclose(grads[label], g, rel_tol=0, abs_tol=1e-12), (label, grads[label], g)
    shot(page, tmp_path, "backprop_done")


def test_show_the_code_prints_the_loss_the_page_shows(page: Any, tmp_path: Path) -> None:
    set_config(page, lambda: page.click("#reset"))
    for _ in range(5):
        press_step(page)
    shown = page.text_content("#loss")
    digits = re.sub(r"e.*$", "", shown).replace("-", "").replace(".", "").lstrip("0")
    assert len(digits) == 6, f"the page shows {shown!r}, not 6 significant digits"
    page.click("#show-code")
    page.wait_for_selector("#code-dialog[open]")
    text = wait_until(lambda: page.text_content("#code"), what="the script")
    shot(page, tmp_path, "code")
    path = tmp_path / "script.py"
    path.write_text(text)
    run = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    printed = re.findall(r"^step (\d+): loss (\S+)$", run.stdout, re.M)
    assert printed, f"no step's loss in the script's output:\n{run.stdout}"
    assert int(printed[-1][0]) == 5, run.stdout
    assert six_digits(printed[-1][1]) == six_digits(shown), (printed[-1], shown, run.stdout)
    page.click("#close-code")


def test_controls_send_the_changed_setup(page: Any, tmp_path: Path) -> None:
    set_config(page, lambda: page.click("#layer-plus"))
    assert page.eval_on_selector_all("#widths input", "els => els.map(e => +e.value)") == [8, 8, 8]
    set_config(page, lambda: type_in(page, "#widths input:nth-child(3)", "3"))
    set_config(page, lambda: page.select_option("#activation", "relu"))
    set_config(page, lambda: type_in(page, "#lr", "0.03"))
    assert page.evaluate("state.frame.network.sizes") == [2, 8, 8, 3, 1]
    assert page.input_value("#activation") == "relu"
    assert page.text_content("#lr-now") == "lr 0.03"
    set_config(page, lambda: page.click("#layer-minus"))
    assert page.evaluate("state.frame.network.sizes") == [2, 8, 8, 1]
    press_step(page)
    shot(page, tmp_path, "controls")


def test_bad_message_shows_an_error_and_the_session_goes_on(page: Any, tmp_path: Path) -> None:
    page.evaluate("window.__zg_send({type: 'config', config: {hidden: [99]}})")
    wait_until(lambda: "hidden" in page.text_content("#errors"), what="the error shown")
    shot(page, tmp_path, "bad_input")
    page.evaluate("window.__zg_send({type: 'fly'})")
    wait_until(lambda: "fly" in page.text_content("#errors"), what="the second error")
    s = press_step(page)
    assert s == 1
    assert page.text_content("#errors") == "", "the error stayed after a valid action"
    assert page.eval_on_selector_all("#widths input", "els => els.map(e => +e.value)") == [8, 8]


def test_a_stopped_server_shows_disconnected(browser: Any, tmp_path: Path) -> None:
    srv = start(host="127.0.0.1", port=0)
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        pg.goto(srv.url)
        pg.wait_for_selector("#conn.ok", timeout=10_000)
    finally:
        srv.stop()
    pg.wait_for_selector("#conn.down", timeout=10_000)
    assert pg.text_content("#conn") == "reconnecting\u2026"  # it tries again by itself
    shot(pg, tmp_path, "disconnected")
    ctx.close()
    assert not errors, errors


def test_off_loopback_the_page_loads_with_its_token(browser: Any, tmp_path: Path) -> None:
    """On every address the token is needed for the page, its files and its socket: the page
    carries it to all of them (reached here through 127.0.0.1 only)."""
    srv = start(host="0.0.0.0", port=0)
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = ctx.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.on("response", lambda r: problems.append(f"{r.status} {r.url}")
          if r.status >= 400 else None)
    pg.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
    try:
        pg.goto(f"http://127.0.0.1:{srv.port}/?token={srv.token}")
        ready(pg, 10_000)
        assert press_step(pg) == 1
        styled = pg.evaluate("getComputedStyle(document.body).margin")
        assert styled == "0px"  # style.css came in
        shot(pg, tmp_path, "with-token")
    finally:
        ctx.close()
        srv.stop()
    assert not problems, problems


def test_the_setup_in_the_url_works_with_the_server(browser: Any, server: Any) -> None:
    """The same page over the WebSocket: the link's setup is sent on hello, every setup in
    force is written back, `hide` hides, and a reload keeps the setup."""
    tab = Tab(browser, server.url.rstrip("/") + "/", load_ms=10_000)
    try:
        pg = tab.open("?dataset=circles&hidden=4,2&lr=0.05&hide=optimizer")
        assert pg.text_content("#conn") == "server"
        wait_until(lambda: pg.input_value("#dataset") == "circles", what="the link's setup")
        assert pg.eval_on_selector_all("#widths input", "els => els.map(e => +e.value)") == [4, 2]
        assert float(pg.input_value("#lr")) == 0.05
        assert not pg.is_visible("#optimizer") and pg.is_visible("#activation")
        set_config(pg, lambda: pg.select_option("#activation", "sigmoid"))
        assert "activation=sigmoid" in pg.url and "hidden=4,2" in pg.url
        pg.reload()
        pg.wait_for_selector("#conn.ok", timeout=10_000)
        wait_until(lambda: pg.input_value("#activation") == "sigmoid", what="the setup reloaded")
        assert pg.input_value("#dataset") == "circles"
    finally:
        tab.close()
    assert not tab.problems, tab.problems
