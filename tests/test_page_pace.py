"""Issue 28's lecture pace and mistakes that teach, in a real browser, in both engines: the
server (over the WebSocket) and the static site (zerograd in Pyodide, in a Web Worker). The
speed control at 1 step a frame draws step 0 to step 20 each, step 0's loss is the model's;
at full speed the first 200 steps stay on the curve; forget zero_grad runs beside its correct
twin; the gradient bars say converged or vanished by the watch's rules; the one-example graph
labels its target and error."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import LOAD_TIMEOUT_MS, Tab, engine_base, step_of, wait_until

from zerograd import monitor
from zerograd.playground import config, session

SHOTS = Path(os.environ.get("ZEROGRAD_SHOTS", "/tmp/zerograd-pace-shots"))


@pytest.fixture(params=["server", "site"])
def opened(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    """``open(query)``: a fresh tab of the playground in the engine of the parameter, at
    1280x800; any console error, page error or request off 127.0.0.1 fails the test."""
    tab = Tab(browser, engine_base(request),
              load_ms=10_000 if request.param == "server" else LOAD_TIMEOUT_MS)
    yield tab.open
    tab.close()
    assert not tab.problems, "\n".join(tab.problems)


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def history(page: Any) -> dict[str, list]:
    return page.evaluate("window.__zg_history()")


def native_loss0(cfg: dict[str, Any]) -> float:
    d = config.make_data(cfg)
    model = config.make_model(cfg, len(d.X[0]))
    return config.objective(model, model.parameters(), d.X, d.t, cfg).data


def set_speed(page: Any, value: str) -> None:
    page.select_option("#speed", value)
    want = None if value == "" else int(value)
    wait_until(lambda: page.evaluate("state.speedInForce") == want
               if page.evaluate("'speedInForce' in state") else False,
               what=f"the session's speed {want}")


# ------------------------------------------------------------------------------ pace
def test_one_step_a_frame_draws_step_0_to_20_each_with_step_0s_loss(opened: Any) -> None:
    page = opened("?dataset=lecture")
    wait_until(lambda: page.evaluate("state.config.dataset") == "lecture"
               and history(page)["step"] == [0], what="the lecture's first frame")
    cfg = dict(config.DEFAULTS, dataset="lecture")
    loss0 = native_loss0(cfg)
    h = history(page)
    assert h["step"] == [0] and h["train"] == [loss0]  # the model's loss, bit for bit
    assert f"{float(page.text_content('#loss')):.6g}" == f"{loss0:.6g}"
    set_speed(page, "1")
    page.evaluate("window.__zg_frame_steps.length = 0")
    page.click("#play")
    wait_until(lambda: step_of(page) >= 21, what="step 21")
    page.click("#play")
    seen = page.evaluate("window.__zg_frame_steps")
    running = [s for s in seen if s > 0]
    assert running[:21] == list(range(1, 22)), seen  # a frame for every step
    h = history(page)
    assert h["step"][:22] == list(range(22))
    shot(page, f"pace-one-step-{page.evaluate('ENGINE')}")


def test_at_full_speed_the_curve_keeps_the_first_200_steps(opened: Any) -> None:
    page = opened("?dataset=lecture")
    wait_until(lambda: page.evaluate("state.config.dataset") == "lecture",
               what="the lecture's data")
    page.click("#play")
    wait_until(lambda: step_of(page) > 3000, timeout=60, what="step 3000")
    page.click("#play")
    h = history(page)
    assert h["step"][:201] == list(range(201))
    assert h["step"] == sorted(set(h["step"]))


# ------------------------------------------------------------------------------ mistakes
def test_forget_zero_grad_draws_the_correct_twin(opened: Any) -> None:
    page = opened("?forget_zero_grad=1&seed=3")
    wait_until(lambda: page.is_visible("#twin-legend"), what="the twin's line in the legend")
    assert page.is_visible("#twin-note") and page.evaluate("state.config.forget_zero_grad")
    assert "zero_grad" in page.text_content("#twin-note")
    page.click("#play")
    wait_until(lambda: step_of(page) >= 300, timeout=60, what="step 300")
    page.click("#play")
    h = history(page)
    cfg = dict(config.DEFAULTS, seed=3)
    right = session.Trainer(cfg)
    with monitor.paused():
        want = [right.initial_loss()] + [right.step() for _ in range(150)]
    assert h["twin"]["step"][:151] == list(range(151))
    assert h["twin"]["loss"][:151] == pytest.approx(want, rel=1e-9)
    assert h["train"][1:151] != h["twin"]["loss"][1:151]
    shot(page, f"twin-{page.evaluate('ENGINE')}")
    page.click("#forget_zero_grad")
    wait_until(lambda: not page.is_visible("#twin-legend"), what="the twin gone")
    assert history(page)["twin"]["step"] == [] and not page.is_visible("#twin-note")


def test_gradient_bars_say_converged_when_the_loss_is_low_and_vanished_when_stuck(
        opened: Any) -> None:
    page = opened("?dataset=lecture&hidden=4,4&lr=0.5")
    wait_until(lambda: page.evaluate("state.config.lr") == 0.5, what="lr 0.5")
    page.click("#play")
    wait_until(lambda: "converged" in (page.evaluate("state.frame.grad_state") or []),
               timeout=60, what="converged bars")
    page.click("#play")
    wait_until(lambda: not page.evaluate("state.running"), what="paused")
    state = page.evaluate("state.frame.grad_state")
    assert "vanished" not in state and float(page.text_content("#loss")) < 1e-2
    shot(page, f"bars-converged-{page.evaluate('ENGINE')}")
    before = page.evaluate("window.__frames")
    page.click("#lr10")
    wait_until(lambda: page.evaluate("window.__frames") > before and step_of(page) == 0
               and page.evaluate("state.config.lr") == 10, what="lr 10")
    for k in range(1, 31):
        page.click("#step-btn")
        wait_until(lambda k=k: step_of(page) == k, what=f"step {k}")
    state = page.evaluate("state.frame.grad_state")
    assert "vanished" in state and "converged" not in state
    shot(page, f"bars-vanished-{page.evaluate('ENGINE')}")


def test_the_one_example_graph_labels_target_and_error(opened: Any) -> None:
    page = opened("?hidden=2")
    wait_until(lambda: page.evaluate("state.config.hidden").__len__() == 1, what="hidden=2")
    page.click("#graph-example")
    page.wait_for_selector("#graph svg text.label")
    labels = page.eval_on_selector_all("#graph svg text.label",
                                       "els => els.map(e => e.textContent)")
    for name in ("target", "error", "error²", "loss"):
        assert name in labels, labels
    page.click("#bp-all")
    wait_until(lambda: page.is_disabled("#bp-all"), what="backprop done")
    shot(page, f"graph-labels-{page.evaluate('ENGINE')}")


def test_a_bad_speed_from_the_page_is_refused_in_both_engines(opened: Any) -> None:
    page = opened()
    page.evaluate("window.__zg_send({type: 'speed', steps_per_frame: 0})")
    wait_until(lambda: "steps_per_frame must be a whole number from 1 to 10000"
               in page.text_content("#errors"), what="the error")
    assert json.loads(json.dumps(page.evaluate("state.speedInForce ?? null"))) is None


def test_a_deep_sigmoid_net_at_a_small_rate_is_not_told_to_lower_it(opened: Any) -> None:
    """Issue 28's setup (six sigmoid layers, lr 5.6e-4; 100 points so the page's Python
    compiles it): the watch's advice fits the small rate the page shows."""
    page = opened("?hidden=8,8,8,8,8,8&activation=sigmoid&lr=0.00056&seed=2&points=100")
    wait_until(lambda: page.evaluate("state.config.lr") == 0.00056
               and page.evaluate("state.config.hidden.length") == 6, what="the setup")
    page.click("#play")
    wait_until(lambda: page.eval_on_selector_all("#warnings .warning", "e => e.length"),
               timeout=120, what="the watch's warning")
    page.click("#play")
    (text,) = page.eval_on_selector_all("#warnings .warning",
                                        "els => els.map(e => e.lastChild.textContent)")
    assert "gradients vanished" in text and "a smaller learning rate would not help" in text
    assert "10x smaller" not in text
    assert page.input_value("#lr") == "0.00056"
    shot(page, f"lr-advice-{page.evaluate('ENGINE')}")


def test_the_speed_control_leaves_the_header_whole_at_1280(opened: Any) -> None:
    page = opened()
    right = page.evaluate("Math.max(...[...document.querySelectorAll('header.top > *')]"
                          ".map(e => e.getBoundingClientRect().right))")
    assert right <= 1280, f"the header reaches x {right}"
    assert page.evaluate("document.getElementById('speed').scrollWidth "
                         "<= document.getElementById('speed').clientWidth + 1")
