"""Opening a neuron (issue 28, item 2), in Python: every frame carries each neuron's output
on a grid over the boundary's extent, the grad of every weight and bias, and a summary of
each neuron's output on the training set; ``graph`` ``which: "neuron_in_network"`` draws one
neuron of the live network on one example. Each number is checked against a plain eager
run of the same setup."""

from __future__ import annotations

import json
import math
import random
import time
from typing import Any

import pytest

import zerograd as zg
from zerograd.engine import no_grad, topological_order
from zerograd.nn import MLP
from zerograd.playground import config, inpage, session
from zerograd.playground.graphview import neuron_in_network


def run(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The page's session (``inpage.Tab``) driven by ``messages``: everything it sent."""
    tab = inpage.Tab()
    out = json.loads(tab.take())
    for m in messages:
        tab.handle(json.dumps(m))
        out += json.loads(tab.take())
    return out


def last(msgs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return [m for m in msgs if m["type"] == kind][-1]


def model_from(net: dict[str, Any], cfg: dict[str, Any]) -> MLP:
    """An MLP of the frame's setup holding the frame's weights and biases."""
    m = config.make_model(cfg, net["sizes"][0])
    for ly, W, B in zip(m.layers, net["weights"], net["biases"]):
        for n, w, b in zip(ly.neurons, W, B):
            for p, v in zip(n.w, w):
                p.data = v
            n.b.data = b
    return m


def outputs(model: MLP, x: list[float]) -> list[list[float]]:
    """Every neuron's output on ``x``, eager, layer by layer."""
    out, h = [], x
    with no_grad():
        for ly in model.layers:
            h = [n(h).data for n in ly.neurons]
            out.append(h)
    return out


SETUP = {"dataset": "moons", "points": 60, "hidden": [5, 3], "activation": "tanh",
         "seed": 4, "lr": 0.2}


def test_maps_equal_the_models_outputs_on_the_grid_from_the_frames_weights():
    msgs = run([{"type": "config", "config": SETUP}] + [{"type": "step"}] * 3)
    frame, data = last(msgs, "frame"), last(msgs, "data")
    assert frame["step"] == 3 and frame["neurons"]["step"] == 3
    maps = frame["neurons"]["maps"]
    assert (maps["nx"], maps["ny"]) == (12, 12)
    assert [len(ly) for ly in maps["outputs"]] == [5, 3, 1]
    model = model_from(frame["network"], dict(config.DEFAULTS, **SETUP))
    x0, x1, y0, y1 = data["extent"]
    seen = 0
    for j in range(12):
        for i in range(12):
            x = [x0 + (x1 - x0) * i / 11, y0 + (y1 - y0) * j / 11]
            for want_ly, got_ly in zip(outputs(model, x), maps["outputs"]):
                for want, got in zip(want_ly, got_ly):
                    assert got[j * 12 + i] == round(want, 3)
                    seen += 1
    assert seen == 144 * 9
    # the output neuron's map is the boundary's score, at the shared corners
    b = frame["boundary"]
    corner = maps["outputs"][-1][0]
    assert corner[0] == b["scores"][0] and corner[-1] == b["scores"][-1]


def test_summary_and_grads_equal_a_native_run_of_the_same_steps():
    cfg = dict(config.DEFAULTS, **SETUP)
    msgs = run([{"type": "config", "config": SETUP}] + [{"type": "step"}] * 4)
    frame = last(msgs, "frame")
    tr = session.Trainer(cfg)
    for _ in range(4):
        tr.step()
    net = frame["network"]
    for ly, W, G, B, GB in zip(tr.model.layers, net["weights"], net["weight_grads"],
                               net["biases"], net["bias_grads"]):
        for n, w, g, b, gb in zip(ly.neurons, W, G, B, GB):
            assert [p.data for p in n.w] == w and [p.grad for p in n.w] == g
            assert (n.b.data, n.b.grad) == (b, gb)
    assert any(g != 0 for ly in net["weight_grads"] for row in ly for g in row)
    every = [outputs(tr.model, x) for x in tr.data.X]
    for li, ly in enumerate(frame["neurons"]["train"]):
        for ni, s in enumerate(ly):
            col = [o[li][ni] for o in every]
            # the compiled scorer (NumPy's arrays here) may differ from eager in the last bit
            assert s["min"] == pytest.approx(min(col), rel=1e-12, abs=1e-15)
            assert s["max"] == pytest.approx(max(col), rel=1e-12, abs=1e-15)
            assert s["mean"] == pytest.approx(sum(col) / len(col), rel=1e-12, abs=1e-15)


def test_the_lecture_has_no_maps_but_its_summaries():
    frame = last(run([{"type": "config", "config": {"dataset": "lecture"}}]), "frame")
    assert frame["neurons"]["maps"] is None
    assert [len(ly) for ly in frame["neurons"]["train"]] == [8, 8, 1]


def test_a_single_neuron_network_has_its_map():
    frame = last(run([{"type": "config", "config": {"hidden": [], "points": 20}}]), "frame")
    assert [len(ly) for ly in frame["neurons"]["maps"]["outputs"]] == [1]
    assert len(frame["neurons"]["maps"]["outputs"][0][0]) == 144


def play_counting_maps(monkeypatch, pause: float = 0.0) -> tuple[Any, list, list, float]:
    """Train a 40-point default setup for 2 s, frame by frame, with each making of the
    neuron maps recorded (and slowed by ``pause`` s): (the session, left playing; the steps
    the maps were made at; the frames; the seconds)."""
    made: list = []
    real = session.Trainer.neurons

    def counted(self):
        made.append(self.steps)
        time.sleep(pause)
        return real(self)

    monkeypatch.setattr(session.Trainer, "neurons", counted)
    core = session.Core(session.Outbox(lambda: None), dict(config.DEFAULTS, points=40))
    core.open()
    core.handle({"type": "play"})
    made.clear()
    start, frames = time.perf_counter(), []
    while time.perf_counter() - start < 2.0:
        core.train(session.FRAME_EVERY)
        frames += [m for m in core.out.take() if m["type"] == "frame"]
    return core, made, frames, time.perf_counter() - start


def test_while_training_maps_are_made_at_most_four_times_a_second(monkeypatch):
    core, made, frames, seconds = play_counting_maps(monkeypatch)
    assert len(frames) >= 15
    assert 2 <= len(made) <= 1 + seconds / session.THUMB_EVERY
    assert all(f["neurons"]["step"] <= f["step"] for f in frames)
    core.handle({"type": "pause"})
    f = [m for m in core.out.take() if m["type"] == "frame"][-1]
    assert f["neurons"]["step"] == f["step"]  # paused: fresh


def test_neuron_graph_equals_the_engine_for_that_neuron():
    cfg = dict(config.DEFAULTS, **SETUP)
    tr = session.Trainer(cfg)
    for _ in range(2):
        tr.step()
    before = [(p.data, p.grad) for p in tr.params]
    msgs = run([{"type": "config", "config": SETUP}, {"type": "step"}, {"type": "step"},
                {"type": "graph", "which": "neuron_in_network", "layer": 1, "neuron": 2,
                 "index": 3},
                {"type": "backprop", "action": "all"}])
    assert [(p.data, p.grad) for p in tr.params] == before
    g, bp = last(msgs, "graph"), last(msgs, "backprop")
    assert g["which"] == "neuron_in_network" and "L1.N2" in g["title"]
    label = {n["id"]: n["label"] for n in g["nodes"] if n["kind"] == "value"}
    data = {n["label"]: n["data"] for n in g["nodes"] if n["kind"] == "value"}
    grads = {label[s["node"]]: s["grad"] for s in bp["steps"]}
    # the engine: the same neuron, eager, on example 3 of the model after 2 steps
    x = tr.data.X[3]
    h = outputs(tr.model, x)[0]
    ins = [zg.Value(v) for v in h]
    unit = tr.model.layers[1].neurons[2]
    w = [zg.Value(p.data) for p in unit.w]
    b = zg.Value(unit.b.data)
    s = zg.dot(w, ins, b)
    o = s.tanh()
    o.backward()
    assert data["L1.N2.sum"] == s.data and data["L1.N2.out"] == o.data
    assert data["L1.N2.out"] == outputs(tr.model, x)[1][2]
    assert grads["L1.N2.out"] == 1.0 and grads["L1.N2.sum"] == s.grad
    assert grads["L1.N2.b"] == b.grad
    for i in range(5):
        assert data[f"L0.N{i}.out"] == h[i]
        assert grads[f"L1.N2.w{i}"] == w[i].grad and grads[f"L0.N{i}.out"] == ins[i].grad


def test_a_linear_output_neurons_sum_is_its_output():
    random.seed(0)
    model = MLP(2, [3, 1], activation="relu", output_activation=None)
    root = neuron_in_network(model, [0.5, -1.0], 1, 0)
    assert root.label == "L1.N0.sum"
    assert root.data == model([0.5, -1.0]).data
    first = neuron_in_network(model, [0.5, -1.0], 0, 1)
    assert {v.label for v in topological_order(first)} == {
        "x0", "x1", "L0.N1.w0", "L0.N1.w1", "L0.N1.b", "L0.N1.sum", "L0.N1.out"}
    assert all(p.grad == 0 for p in model.parameters())


@pytest.mark.parametrize("fields, says", [
    ({"layer": 3, "neuron": 0}, "layer must be a layer's number, 0 to 2"),
    ({"layer": -1, "neuron": 0}, "layer must be"),
    ({"layer": "1", "neuron": 0}, "layer must be"),
    ({"neuron": 0}, "layer must be"),
    ({"layer": 1, "neuron": 3}, "neuron must be a neuron's number in layer 1, 0 to 2"),
    ({"layer": 2, "neuron": 1}, "0 to 0"),
    ({"layer": 0, "neuron": True}, "neuron must be"),
    ({"layer": 0, "neuron": 0, "index": 10**6}, "index must be a training example's number"),
    ({"layer": 0, "neuron": 0, "index": 1.0}, "index must be"),
])
def test_bad_neuron_graph_requests_are_refused_and_change_nothing(fields, says):
    msgs = run([{"type": "config", "config": SETUP},
                {"type": "graph", "which": "neuron"},
                dict(fields, type="graph", which="neuron_in_network"),
                {"type": "backprop", "action": "step"}])
    err = last(msgs, "error")["text"]
    assert says in err
    assert msgs[-1]["type"] == "backprop" and msgs[-1]["node"]  # the lecture's walk goes on
    assert last(msgs, "graph")["which"] == "neuron"


def test_unknown_graph_names_the_new_kind():
    err = last(run([{"type": "graph", "which": "layer"}]), "error")["text"]
    assert "'neuron_in_network'" in err


def test_frame_numbers_are_finite_json():
    msgs = run([{"type": "config", "config": dict(SETUP, lr=10.0)}] + [{"type": "step"}] * 3)
    f = last(msgs, "frame")
    json.dumps(f, allow_nan=False)
    assert all(v is None or math.isfinite(v) for ly in f["neurons"]["maps"]["outputs"]
               for c in ly for v in c)


def test_slow_maps_take_at_most_a_fifth_of_the_training_time(monkeypatch):
    _, made, _, seconds = play_counting_maps(monkeypatch, pause=0.1)
    assert 2 <= len(made) <= 1 + seconds / 0.4  # each took 0.1 s or more: 0.4 s apart


def test_in_the_page_the_first_maps_need_no_compile_and_match_the_compiled_ones(monkeypatch):
    monkeypatch.setattr(session, "NUMPY", False)  # as in the page: generated Python
    tr = session.Trainer(dict(config.DEFAULTS, **SETUP))
    assert tr.quick_neurons is not None and not tr.prepared
    first = tr.neurons()
    assert tr.neuron_scores is not tr.quick_neurons
    tr.prepare()
    assert tr.prepared and tr.neurons() == first
