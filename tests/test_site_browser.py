"""The static site's playground in a real browser: zerograd's own Python in Pyodide, in a Web
Worker, served by a plain file server on 127.0.0.1. The site is built once per session with
``tools/build_site.py`` (it needs ``npm ci`` first). Every request to another host is aborted
and fails the test; so does any console error or page error."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import (
    ROOT,
    Tab,
    axe_violations,
    loss_of,
    press_step,
    query_of,
    ready,
    same_digits,
    set_config,
    step_of,
    wait_until,
)

from zerograd.engine import topological_order
from zerograd.playground.graphview import lecture_neuron


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture
def tabs(browser: Any, site: str) -> Iterator[Tab]:
    """Opens the playground of the static site; fails the test on what `Tab` collects."""
    t = Tab(browser, site + "playground/")
    yield t
    t.close()
    assert not t.problems, "\n".join(t.problems)


# ------------------------------------------------------------------------------ helpers
def warnings_of(page: Any) -> list[str]:
    """The warnings shown, oldest first, without their "step n" tag."""
    texts = page.eval_on_selector_all(
        "#warnings .warning", "els => els.map(e => e.lastChild.textContent)")
    return texts[::-1]


def native_warnings(messages: list[dict[str, Any]], steps: int) -> list[str]:
    """zerograd's warnings when the same session runs in this (native) Python: the page's
    module, driven with the same messages and ``steps`` single steps."""
    from zerograd.playground import inpage

    tab = inpage.Tab()
    got: list[str] = []
    for m in messages + [{"type": "step"}] * steps:
        tab.handle(json.dumps(m))
        got += [w["text"] for w in json.loads(tab.take()) if w["type"] == "warning"]
    return got


# ------------------------------------------------------------------------------ tests
def test_the_page_trains_in_pyodide_and_the_loss_falls(tabs: Tab, tmp_path: Path) -> None:
    page = tabs.open()
    assert page.text_content("#conn") == "in this page (Pyodide)"
    assert page.input_value("#dataset") == "moons"
    page.click("#play")
    wait_until(lambda: step_of(page) >= 20, what="step 20")
    early = loss_of(page)
    wait_until(lambda: step_of(page) >= 200, timeout=60, what="step 200")
    time.sleep(0.3)
    later = loss_of(page)
    assert later < early, f"the loss did not fall: {early} at step ~20, {later} later"
    page.click("#play")
    wait_until(lambda: "Play" in page.text_content("#play"), what="Pause to take")
    time.sleep(0.3)
    paused = step_of(page)
    time.sleep(0.7)
    assert step_of(page) == paused, "training went on after Pause"
    page.screenshot(path=str(tmp_path / "trained.png"))


def test_a_link_reproduces_the_exported_scripts_losses(tabs: Tab, tmp_path: Path) -> None:
    page = tabs.open("?dataset=circles&points=60&noise=0.05&seed=7&hidden=4,3&lr=0.2")
    wait_until(lambda: page.input_value("#dataset") == "circles", what="the link's setup")
    assert page.input_value("#points") == "60"
    assert page.eval_on_selector_all("#widths input", "els => els.map(e => +e.value)") == [4, 3]
    for _ in range(6):
        press_step(page)
    losses = dict(page.evaluate("state.history.step.map((s, i) => [s, state.history.train[i]])"))
    page.click("#show-code")
    page.wait_for_selector("#code-dialog[open]")
    text = wait_until(lambda: page.text_content("#code"), what="the script")
    path = tmp_path / "script.py"
    path.write_text(text)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    run = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    printed = re.findall(r"^step (\d+): loss (\S+)$", run.stdout, re.M)
    assert len(printed) == 6, run.stdout
    for step, loss in printed:
        assert int(step) in losses, (step, sorted(losses))
        assert same_digits(loss, losses[int(step)]), (step, loss, losses[int(step)])
    assert f"{float(printed[-1][1]):.6g}" == f"{loss_of(page):.6g}"


def test_forget_zero_grad_shows_zerograds_warning(tabs: Tab) -> None:
    page = tabs.open("?dataset=moons&points=40&hidden=4")
    set_config(page, lambda: page.check("#forget_zero_grad"))
    for _ in range(3):
        press_step(page)
    shown = wait_until(lambda: warnings_of(page), what="the zero_grad warning")
    want = native_warnings([{"type": "config", "config": {
        "dataset": "moons", "points": 40, "hidden": [4], "forget_zero_grad": True}}], 3)
    assert want and "backward() added new gradients to old ones" in want[0]
    assert shown == want


def test_lr_10_shows_zerograds_learning_rate_warning(tabs: Tab) -> None:
    page = tabs.open("?dataset=lecture&lr=10")
    wait_until(lambda: float(page.input_value("#lr")) == 10, what="the link's lr")
    page.click("#play")
    wait_until(lambda: warnings_of(page), timeout=60, what="the learning-rate warning")
    page.click("#play")
    wait_until(lambda: "Play" in page.text_content("#play"), what="Pause to take")
    first = warnings_of(page)[0]
    step = int(page.eval_on_selector_all(
        "#warnings .warning .wstep", "els => els[els.length - 1].textContent")[5:])
    want = native_warnings([{"type": "config", "config": {"dataset": "lecture", "lr": 10}}],
                           step)
    assert "learning rate" in first
    assert want and first == want[0]


def test_backprop_steps_end_at_the_engines_grads(tabs: Tab) -> None:
    page = tabs.open()
    page.click("#graph-neuron")
    page.wait_for_selector("#graph svg g.vnode", timeout=30_000)
    steps = page.evaluate("document.querySelectorAll('#graph g.vnode').length")
    for i in range(steps + 5):
        if page.is_disabled("#bp-step"):
            break
        page.click("#bp-step")
        wait_until(lambda n=i + 1: f"node {n} of" in page.text_content("#bp-explain"),
                   what=f"backprop step {i + 1}")
    assert page.is_disabled("#bp-step"), "backprop never said done"
    shown = page.eval_on_selector_all(
        "#graph g.vnode", "els => els.map(g => [g.querySelector('text.label').textContent,"
        " g.querySelector('text.grad').getAttribute('data-grad')])")
    grads = {label: float(g) for label, g in shown if label}
    o = lecture_neuron()
    o.backward()
    want = {v.label: v.grad for v in topological_order(o) if v.label}
    assert set(want) <= set(grads), sorted(grads)
    for label, g in want.items():
        assert math.isclose(grads[label], g, rel_tol=0, abs_tol=1e-12), (label, grads[label], g)


def test_the_setup_round_trips_through_the_url_and_hide_hides(tabs: Tab) -> None:
    page = tabs.open("?dataset=xor&hidden=5,2&lr=0.05&optimizer=adam"
                     "&hide=lr,optimizer,forget_zero_grad")
    wait_until(lambda: page.input_value("#dataset") == "xor", what="the link's setup")
    assert page.eval_on_selector_all("#widths input", "els => els.map(e => +e.value)") == [5, 2]
    assert page.input_value("#optimizer") == "adam"
    assert float(page.input_value("#lr")) == 0.05
    for hidden in ("#lr", "#optimizer", "#forget_zero_grad", "#lr10", ".mistakes"):
        assert not page.is_visible(hidden), f"{hidden} is shown, the link hid it"
    for shown in ("#dataset", "#activation", "#play"):
        assert page.is_visible(shown), shown
    set_config(page, lambda: page.select_option("#activation", "relu"))
    q = query_of(page)
    assert q["activation"] == "relu" and q["hidden"] == "5,2" and q["dataset"] == "xor"
    assert q["hide"] == "lr,optimizer,forget_zero_grad"
    assert "seed" not in q, "a key at its default went into the link"
    page.reload()
    ready(page)
    wait_until(lambda: page.input_value("#activation") == "relu", what="the reloaded setup")
    assert page.input_value("#dataset") == "xor"
    assert not page.is_visible("#optimizer")


def test_a_refused_value_in_the_url_shows_the_error_and_the_rest_holds(tabs: Tab) -> None:
    page = tabs.open("?points=5000&lr=0.05")
    wait_until(lambda: "points" in page.text_content("#errors"), what="the refusal shown")
    wait_until(lambda: float(page.input_value("#lr")) == 0.05, what="lr from the link")
    assert int(page.input_value("#points")) <= 1000
    wait_until(lambda: "points" not in query_of(page), what="the URL back to the setup in force")
    assert query_of(page).get("lr") == "0.05"


def test_copy_link_copies_the_address_and_says_so(tabs: Tab) -> None:
    page = tabs.open("?hidden=6", permissions=["clipboard-read", "clipboard-write"])
    button = page.get_by_role("button", name="Copy link")
    button.click()
    wait_until(lambda: page.text_content("#copy-said") == "link copied", what="'link copied'")
    assert page.get_attribute("#copy-said", "aria-live") == "polite"
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.url and "hidden=6" in copied


def test_the_page_passes_axe_cores_checks(tabs: Tab) -> None:
    """axe-core (pinned in package-lock.json) finds no accessibility violation on the page,
    with a graph drawn and a link's hidden controls."""
    page = tabs.open("?hide=l2")
    page.click("#graph-neuron")
    page.wait_for_selector("#graph svg g.vnode", timeout=30_000)
    found = axe_violations(page)
    assert found == [], "\n".join(map(str, found))
