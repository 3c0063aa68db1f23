"""The playground's session at the lecture's pace (issue 28): the speed setting, the loss at
step 0, the early steps kept on the curve, forget_zero_grad's correct twin, the gradient bars
judged by the training watch's rules, and the one-example graph's labelled loss boxes. All in
the session itself (``session.Core`` through ``inpage.Tab``, as both engines run it)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from zerograd import monitor
from zerograd.engine import topological_order
from zerograd.playground import config, graphview, session
from zerograd.playground.inpage import Tab


def frames(tab: Tab) -> list[dict[str, Any]]:
    return [m for m in json.loads(tab.take()) if m["type"] == "frame"]


def taken(tab: Tab) -> list[dict[str, Any]]:
    return json.loads(tab.take())


def play_for(tab: Tab, seconds: float) -> list[dict[str, Any]]:
    """Run the tab as the page's worker does (waiting when the session says so); every
    message it sent."""
    got: list[dict[str, Any]] = []
    tab.handle('{"type": "play"}')
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        wait = tab.wait()
        if wait > 0:
            time.sleep(wait)
        tab.advance(0.02)
        got += taken(tab)
    tab.handle('{"type": "pause"}')
    return got + taken(tab)


def native_loss(cfg: dict[str, Any]) -> float:
    """The setup's loss before any update, computed here without the session."""
    d = config.make_data(cfg)
    model = config.make_model(cfg, len(d.X[0]))
    return config.objective(model, model.parameters(), d.X, d.t, cfg).data


# ------------------------------------------------------------------------------ speed
def test_at_one_step_a_frame_every_step_from_0_to_20_has_its_own_frame() -> None:
    tab = Tab()
    tab.handle(json.dumps({"type": "config", "config": {"dataset": "lecture"}}))
    tab.handle('{"type": "speed", "steps_per_frame": 1}')
    first = [m for m in taken(tab) if m["type"] in ("frame", "speed")]
    assert first[-1] == {"type": "speed", "steps_per_frame": 1}
    start = time.perf_counter()
    got = [m for m in play_for(tab, 2.0) if m["type"] == "frame"]
    took = time.perf_counter() - start
    zero = [f for f in first if f["type"] == "frame"][-1]
    assert zero["step"] == 0 and [r[0] for r in zero["losses"]] == [0]
    running = [f for f in got if f["running"]]
    assert all([r[0] for r in f["losses"]] == [f["step"]] for f in running)  # one step each
    steps = [0] + [r[0] for f in got for r in f["losses"]]
    assert steps[:21] == list(range(21))
    assert 8 <= len(running) / took <= 20  # still about 15 frames a second


def test_a_speed_of_n_steps_a_frame_gives_frames_of_at_most_n_steps() -> None:
    tab = Tab()
    tab.take()
    tab.handle('{"type": "speed", "steps_per_frame": 5}')
    got = [m for m in play_for(tab, 1.0) if m["type"] == "frame" and m["running"]]
    assert got and all(1 <= len(f["losses"]) <= 5 for f in got)
    tab.handle('{"type": "speed", "steps_per_frame": null}')
    assert taken(tab) == [{"type": "speed", "steps_per_frame": None}]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "1", [1], 10_001, 10**400])
def test_a_bad_speed_is_refused_with_what_to_send(bad: Any) -> None:
    tab = Tab()
    tab.take()
    tab.handle(json.dumps({"type": "speed", "steps_per_frame": bad}))
    (m,) = taken(tab)
    assert m["type"] == "error" and "steps_per_frame must be a whole number from 1 to 10000"\
        in m["text"] and "null" in m["text"]
    assert tab.core.steps_per_frame is None


def test_the_speed_is_kept_across_a_new_setup_and_said_in_hello() -> None:
    tab = Tab()
    assert next(m for m in taken(tab) if m["type"] == "hello")["steps_per_frame"] is None
    tab.handle('{"type": "speed", "steps_per_frame": 25}')
    tab.handle(json.dumps({"type": "config", "config": {"lr": 0.05}}))
    tab.handle('{"type": "reset"}')
    assert tab.core.steps_per_frame == 25


# ------------------------------------------------------------------------------ step 0
@pytest.mark.parametrize("update", [{"dataset": "lecture"}, {},
                                    {"batch": 16, "l2": 0.01, "optimizer": "adam"},
                                    {"loss": "cross_entropy", "hidden": [3]}])
def test_the_first_frame_has_the_loss_at_step_0(update: dict[str, Any]) -> None:
    tab = Tab()
    tab.take()
    tab.handle(json.dumps({"type": "config", "config": update}))
    (f,) = frames(tab)
    want = native_loss(dict(config.DEFAULTS, **update))
    assert f["step"] == 0 and f["loss"] == pytest.approx(want, rel=1e-12)
    assert f["losses"] == [[0, f["loss"], None]]


@pytest.mark.parametrize("update", [{"dataset": "lecture", "forget_zero_grad": True},
                                    {"forget_zero_grad": True, "batch": 20}])
def test_the_loss_at_step_0_changes_no_number_and_no_warning_of_the_run(
        update: dict[str, Any]) -> None:
    cfg = dict(config.DEFAULTS, **update)
    tab = Tab()
    tab.handle(json.dumps({"type": "config", "config": update}))
    for _ in range(12):
        tab.handle('{"type": "step"}')
    got = taken(tab)
    rows = [r for m in got if m["type"] == "frame" for r in m["losses"]][-12:]
    warned = [(m["step"], m["text"]) for m in got if m["type"] == "warning"]
    # the same setup stepped by a bare Trainer, its warnings caught the same way
    heard: list[str] = []
    trainer = session.Trainer(cfg)
    monitor.send_warnings_to(heard.append)
    try:
        alone, at = [], []
        for k in range(12):
            alone.append(trainer.step())
            at += [k + 1] * (len(heard) - len(at))
    finally:
        monitor.send_warnings_to(None)
    assert [r[0] for r in rows] == list(range(1, 13))
    assert [r[1] for r in rows] == alone  # bit for bit
    assert warned and warned == list(zip(at, heard))


# ------------------------------------------------------------------------------ early steps
def test_thinning_keeps_every_step_up_to_200_and_at_most_500_after() -> None:
    rows = [[s, 1.0 / (s + 1), None] for s in range(5000)]
    kept = session.thin(rows)
    steps = [r[0] for r in kept]
    assert steps[:201] == list(range(201))
    assert len(steps) - 201 <= session.MAX_LOSSES and steps[-1] == 4999
    assert steps == sorted(steps)
    out = session.Outbox(lambda: None)
    out.put({"type": "frame", "losses": rows[:3000], "twin_losses": [r[:2] for r in rows[:3000]]})
    out.put({"type": "frame", "losses": rows[3000:], "twin_losses": [r[:2] for r in rows[3000:]]})
    (m,) = out.take()
    assert [r[0] for r in m["losses"]] == steps
    assert [r[0] for r in m["twin_losses"]] == steps


def test_at_full_speed_the_first_200_steps_all_reach_the_page() -> None:
    tab = Tab()
    tab.handle(json.dumps({"type": "config", "config": {"dataset": "lecture"}}))
    tab.take()
    tab.handle('{"type": "reset"}')  # the frame at step 0 and all that follow
    got = play_for(tab, 1.5)
    steps = [r[0] for m in got if m["type"] == "frame" for r in m["losses"]]
    assert steps[:201] == list(range(201)), "the run made fewer than 200 steps" \
        if len(steps) < 201 else "early steps were thinned"


# ------------------------------------------------------------------------------ the twin
def test_forget_zero_grad_runs_beside_a_correct_twin() -> None:
    update = {"forget_zero_grad": True, "batch": 30, "seed": 3}
    tab = Tab()
    tab.handle(json.dumps({"type": "config", "config": update}))
    for _ in range(15):
        tab.handle('{"type": "step"}')
    got = [m for m in taken(tab) if m["type"] == "frame"]
    twin_rows = [r for m in got if m["twin_losses"] for r in m["twin_losses"]][-16:]
    right = session.Trainer(dict(config.DEFAULTS, **dict(update, forget_zero_grad=False)))
    with monitor.paused():
        want = [right.initial_loss()] + [right.step() for _ in range(15)]
    assert [r[0] for r in twin_rows] == list(range(16))
    assert [r[1] for r in twin_rows] == want
    mistake = [r[1] for m in got for r in m["losses"]][-15:]
    assert mistake != want[1:]  # the mistake changes the numbers, the twin shows how
    tab.handle(json.dumps({"type": "config", "config": {"forget_zero_grad": False}}))
    (f,) = frames(tab)
    assert f["twin_losses"] is None and tab.core.twin is None


def test_the_twin_adds_no_warning_of_its_own() -> None:
    tab = Tab()
    tab.handle(json.dumps({"type": "config", "config": {"dataset": "lecture", "lr": 10.0,
                                                        "forget_zero_grad": True}}))
    for _ in range(30):
        tab.handle('{"type": "step"}')
    texts = [m["text"] for m in taken(tab) if m["type"] == "warning"]
    assert sum("added new gradients to old ones" in t for t in texts) == 1
    alone = Tab()
    alone.handle(json.dumps({"type": "config", "config": {"dataset": "lecture", "lr": 10.0,
                                                          "forget_zero_grad": True}}))
    alone.core.twin = None  # the same run without its twin
    for _ in range(30):
        alone.handle('{"type": "step"}')
    assert texts == [m["text"] for m in taken(alone) if m["type"] == "warning"]


# ------------------------------------------------------------------------------ grad bars
def test_the_watchs_rules_are_public_and_used_by_the_watch() -> None:
    assert monitor.loss_high(0.6, first=1.0, best=0.6)  # still STALLED x the first
    assert not monitor.loss_high(1e-4, first=1.0, best=1e-4)  # converged
    assert monitor.loss_high(0.2, first=1.0, best=0.1)  # risen JUMP x its best
    assert monitor.grads_vanished(1e-7, 1.0) and not monitor.grads_vanished(0.01, 1.0)
    w = monitor.Watch()
    w.see(1.0, 1.0)
    assert w.see(0.9, 1e-4) and not monitor.Watch().see(1.0, 1.0)
    w = monitor.Watch()
    w.see(1.0, 1.0)
    assert not w.see(1e-4, 1e-4)  # low loss, small gradients: converged, not stuck


def test_a_converged_run_has_converged_bars_and_a_stuck_one_vanished() -> None:
    tab = Tab()
    tab.handle(json.dumps({"type": "config", "config": {"dataset": "lecture", "lr": 0.5,
                                                        "hidden": [4, 4]}}))
    tab.take()
    tab.core.steps_per_frame = None
    for _ in range(40):  # train until the loss is tiny and the gradients with it
        tab.handle('{"type": "play"}')
        tab.advance(0.05)
        tab.handle('{"type": "pause"}')
        f = frames(tab)[-1]
        if "converged" in f["grad_state"]:
            break
    assert f["loss"] < 1e-3 and "vanished" not in f["grad_state"], f["grad_state"]
    assert "converged" in f["grad_state"]

    stuck = Tab()  # the lecture's lr 10: saturated at once, the loss stays high
    stuck.handle(json.dumps({"type": "config", "config": {"dataset": "lecture",
                                                          "lr": 10.0}}))
    for _ in range(30):
        stuck.handle('{"type": "step"}')
    got = taken(stuck)
    f = [m for m in got if m["type"] == "frame"][-1]
    assert any("gradients vanished" in m["text"] for m in got if m["type"] == "warning")
    assert "vanished" in f["grad_state"] and "converged" not in f["grad_state"]


def test_the_first_frame_says_nothing_vanished() -> None:
    tab = Tab()
    (f,) = frames(tab)
    assert f["grad_state"] == ["ok"] * 3


# ------------------------------------------------------------------------------ the graph
@pytest.mark.parametrize("loss,labels", [
    ("mse", {"target": 1.0, "error": None, "error²": None}),
    ("hinge", {"-target": -1.0, "hinge": None}),
    ("cross_entropy", {"target": 1.0, "cross-entropy": None}),
])
def test_the_one_example_graph_labels_the_target_and_the_error(loss: str, labels: dict) -> None:
    cfg = dict(config.DEFAULTS, loss=loss, hidden=[2])
    model = config.make_model(cfg, 2)
    root = graphview.one_example(model, [0.3, -1.2], 1.0, loss)
    by = {v.label: v for v in topological_order(root)}
    for name, value in labels.items():
        assert name in by, sorted(map(str, by))
        if value is not None:
            assert by[name].data == value
    if loss == "mse":
        score = by["error"]._children[0]
        assert by["error"].data == score.data - 1.0 and by["error²"].data == by["error"].data ** 2
        assert root.data == pytest.approx(by["error²"].data)
    drawn = graphview.Walk(root, "x").drawing()
    assert not [n for n in drawn["nodes"] if n["kind"] == "value" and not n["label"]]


# ------------------------------------------------------------------------------ lr advice
def test_a_deep_sigmoid_net_at_a_small_rate_is_not_told_to_lower_it() -> None:
    """Issue 28's setup: six sigmoid layers of 8 on the moons at lr 5.6e-4. The loss falls
    from 1.27 to the targets' variance and the gradients fade over 1,700 small steps: the
    watch names what the page shows (small steps, a deep sigmoid stack), not the rate."""
    update = {"hidden": [8] * 6, "activation": "sigmoid", "lr": 5.6e-4, "seed": 2}
    tab = Tab()
    tab.handle(json.dumps({"type": "config", "config": update}))
    tab.take()
    tab.handle('{"type": "play"}')
    texts: list[str] = []
    while not texts and tab.core.trainer.steps < 2500:
        tab.advance(0.05)
        texts += [m["text"] for m in json.loads(tab.take()) if m["type"] == "warning"]
    tab.handle('{"type": "pause"}')
    assert len(texts) == 1 and "gradients vanished" in texts[0]
    assert "10x smaller" not in texts[0] and "likely cause" not in texts[0]
    assert "a smaller learning rate would not help" in texts[0]
    assert "sigmoid" in texts[0] and "zg.optim.Adam" in texts[0]


def test_the_watch_names_the_rate_only_when_its_steps_did_it() -> None:
    quick = monitor.Watch()
    quick.see(1.0, 1.0)
    assert quick.see(0.9, 1e-5)  # vanished at the first update
    assert "try one 10x smaller" in quick.message(0.9)
    slow = monitor.Watch()
    for k in range(200):
        stuck = slow.see(1.0 - k * 1e-4, 1.0 / (k + 1) ** 2)
    assert stuck and "would not help" in slow.message(1.0 - 199e-4)
    risen = monitor.Watch()
    for k in range(50):
        risen.see(1.0 - k * 0.01, 1.0)
    assert risen.see(0.9, 1e-5) and "try one 10x smaller" in risen.message(0.9)
