"""Opening a neuron in the page (issue 28, item 2), in both engines (the server, and the
static site's Python in a Web Worker): each neuron's output over the plane drawn on its node,
hovering a neuron or an edge shows its data and grad, clicking a neuron opens its graph. The
numbers are checked against this (native) Python running the same setup and steps."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import Tab, engine_base, same_digits, wait_until
from test_neuron_view import outputs

import zerograd as zg
from zerograd.playground import config, session

SETUP = {"dataset": "moons", "points": 60, "hidden": [5, 3], "activation": "tanh",
         "seed": 4, "lr": 0.2}
QUERY = "?dataset=moons&points=60&hidden=5,3&activation=tanh&seed=4&lr=0.2"
STEPS = 3
# this Python trains with NumPy's arrays, the page's without: the last bit may differ
CLOSE = 1e-12
SHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"


@pytest.fixture(params=["server", "site"])
def page(request: Any, browser: Any) -> Iterator[Any]:
    """The playground with SETUP, in one engine or the other, after STEPS steps."""
    tabs = Tab(browser, engine_base(request))
    pg = tabs.open(QUERY)
    wait_until(lambda: pg.evaluate("state.config && state.config.points") == 60,
               what="the setup from the address")
    for k in range(STEPS):
        pg.click("#step-btn")
        wait_until(lambda n=k + 1: pg.text_content("#step") == str(n), what=f"step {k + 1}")
    wait_until(lambda: pg.evaluate("state.frame.neurons.step") == STEPS, what="fresh maps")
    pg.engine = request.param
    yield pg
    tabs.close()
    assert not tabs.problems, "\n".join(tabs.problems)


def native() -> session.Trainer:
    """The same setup trained the same steps in this Python."""
    tr = session.Trainer(dict(config.DEFAULTS, **SETUP))
    for _ in range(STEPS):
        tr.step()
    return tr


def centre(pg: Any, layer: int, neuron: int) -> tuple[float, float]:
    box = pg.locator(f".neuron-btn[data-layer='{layer}'][data-neuron='{neuron}']").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def shoot(pg: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"neurons_{name}_{pg.engine}.png"))


def test_thumbnails_equal_the_models_outputs_on_the_grid(page: Any) -> None:
    frame = page.evaluate("state.frame")
    extent = page.evaluate("state.data.extent")
    maps = frame["neurons"]["maps"]
    assert (maps["nx"], maps["ny"]) == (12, 12)
    model = config.make_model(dict(config.DEFAULTS, **SETUP), 2)
    net = frame["network"]
    for ly, W, B in zip(model.layers, net["weights"], net["biases"]):
        for n, w, b in zip(ly.neurons, W, B):
            for p, v in zip(n.w, w):
                p.data = v
            n.b.data = b
    x0, x1, y0, y1 = extent
    for j in range(12):
        for i in range(12):
            want = outputs(model, [x0 + (x1 - x0) * i / 11, y0 + (y1 - y0) * j / 11])
            for wl, gl in zip(want, maps["outputs"]):
                for w, g in zip(wl, gl):
                    assert abs(g[j * 12 + i] - w) <= 0.0005 + 1e-12
    # the weights themselves are the engine's after the same steps
    tr = native()
    assert net["weights"][1][2] == pytest.approx([p.data for p in tr.model.layers[1]
                                                  .neurons[2].w], rel=CLOSE)
    # each map is drawn on its node: the pixel at a map's centre has the colour of its sign
    shown = 0
    for layer, ly in enumerate(maps["outputs"]):
        for neuron, vals in enumerate(ly):
            mid = [vals[r * 12 + c] for r in (5, 6) for c in (5, 6)]
            if not (all(v > 0.1 for v in mid) or all(v < -0.1 for v in mid)):
                continue
            x, y = centre(page, layer, neuron)
            rgb = page.evaluate(
                """([x, y]) => { const c = document.getElementById('network');
                     const r = c.getBoundingClientRect(), k = c.width / r.width;
                     return Array.from(c.getContext('2d').getImageData(
                       Math.round((x - r.left) * k), Math.round((y - r.top) * k), 1, 1).data); }""",
                [x, y])
            orange = rgb[0] > rgb[2]
            assert orange == (mid[0] > 0), (layer, neuron, rgb, mid)
            shown += 1
    assert shown >= 2
    shoot(page, "maps")


def test_hover_shows_data_and_grad_equal_to_the_engines(page: Any) -> None:
    tr = native()
    unit = tr.model.layers[1].neurons[2]
    x, y = centre(page, 1, 2)
    page.mouse.move(x, y)
    page.wait_for_selector("#net-tip:not([hidden])")
    tip = page.locator("#net-tip")
    assert "L1.N2" in tip.inner_text()
    assert same_digits(tip.locator("[data-v=bias]").inner_text(), unit.b.data)
    assert same_digits(tip.locator("[data-g=bias]").inner_text(), unit.b.grad)
    assert unit.b.grad != 0
    col = [outputs(tr.model, r)[1][2] for r in tr.data.X]
    assert math.isclose(float(tip.locator("[data-s=mean]").inner_text()),
                        sum(col) / len(col), abs_tol=5e-5)
    assert math.isclose(float(tip.locator("[data-s=max]").inner_text()), max(col),
                        abs_tol=5e-5)
    label = page.locator(".neuron-btn[data-layer='1'][data-neuron='2']").get_attribute(
        "aria-label")
    assert label.startswith("neuron L1.N2") and "bias" in label
    shoot(page, "hover_neuron")
    # an edge: a point a third of the way along L0.N4 -> L1.N2 (weight L1.N2.w4)
    (ax, ay), (bx, by) = centre(page, 0, 4), centre(page, 1, 2)
    page.mouse.move(ax + (bx - ax) * 0.4, ay + (by - ay) * 0.4)
    wait_until(lambda: "L1.N2.w4" in tip.inner_text(), what="the edge's tip")
    w = unit.w[4]
    assert same_digits(tip.locator("[data-v=weight]").inner_text(), w.data)
    assert same_digits(tip.locator("[data-g=weight]").inner_text(), w.grad)
    shoot(page, "hover_edge")
    page.mouse.move(1, 1)
    wait_until(lambda: page.is_hidden("#net-tip"), what="the tip to go")


def test_clicking_a_neuron_opens_its_graph_with_the_engines_numbers(page: Any) -> None:
    tr = native()
    page.click(".neuron-btn[data-layer='1'][data-neuron='2']")
    wait_until(lambda: "L1.N2" in page.text_content("#graph-title"), what="the neuron's graph")
    page.click("#bp-all")
    wait_until(lambda: page.is_disabled("#bp-step"), what="backprop to the end")
    shown = page.eval_on_selector_all(
        "#graph g.vnode", "els => els.map(g => [g.querySelector('text.label').textContent,"
        " g.querySelector('text.grad').getAttribute('data-grad')])")
    grads = {label: float(g) for label, g in shown if label}
    data = {n["label"]: n["data"] for n in page.evaluate("state.graph.nodes")
            if n["kind"] == "value"}
    # the engine: neuron L1.N2 of the trained model, on example 0
    h = outputs(tr.model, tr.data.X[0])[0]
    unit = tr.model.layers[1].neurons[2]
    ins = [zg.Value(v) for v in h]
    w = [zg.Value(p.data) for p in unit.w]
    b = zg.Value(unit.b.data)
    s = zg.dot(w, ins, b)
    o = s.tanh()
    o.backward()
    want = {"L1.N2.sum": (s.data, s.grad), "L1.N2.out": (o.data, 1.0),
            "L1.N2.b": (b.data, b.grad)}
    for i in range(5):
        want[f"L0.N{i}.out"] = (h[i], ins[i].grad)
        want[f"L1.N2.w{i}"] = (w[i].data, w[i].grad)
    assert set(want) <= set(data)
    for label, (d, g) in want.items():
        assert data[label] == pytest.approx(d, rel=CLOSE, abs=1e-15), label
        assert grads[label] == pytest.approx(g, rel=CLOSE, abs=1e-15), label
    shoot(page, "graph")


def test_keyboard_reaches_a_neuron_and_opens_it(page: Any) -> None:
    btn = page.locator(".neuron-btn[data-layer='2'][data-neuron='0']")
    btn.focus()
    page.wait_for_selector("#net-tip:not([hidden])")
    assert "output neuron" in page.inner_text("#net-tip")
    page.keyboard.press("Enter")
    wait_until(lambda: "L2.N0" in page.text_content("#graph-title"), what="the output's graph")


def test_the_example_box_picks_the_example_the_graphs_run(page: Any) -> None:
    """A clicked neuron and "One example" run the training example the box names; a new
    number redraws the graph; a number that is no example is refused and goes back."""
    tr = native()
    n = len(tr.data.X)

    def pick(value: str) -> None:
        page.fill("#graph-index", value)
        page.press("#graph-index", "Enter")

    pick("3")
    page.click(".neuron-btn[data-layer='1'][data-neuron='2']")
    wait_until(lambda: "on example 3" in page.text_content("#graph-title"), what="example 3")
    data = {v["label"]: v["data"] for v in page.evaluate("state.graph.nodes")
            if v["kind"] == "value"}
    h = outputs(tr.model, tr.data.X[3])[0]
    assert [data[f"L0.N{i}.out"] for i in range(5)] == pytest.approx(h, rel=CLOSE, abs=1e-15)
    assert data["L1.N2.out"] == pytest.approx(outputs(tr.model, tr.data.X[3])[1][2], rel=CLOSE)
    pick(str(n - 1))  # the graph shown follows the box
    wait_until(lambda: f"on example {n - 1}" in page.text_content("#graph-title"),
               what="the last example's graph")
    for bad in (str(n), "-1", "2.5"):
        pick(bad)
        page.wait_for_selector(".refused")
        assert f"from 0 to {n - 1}" in page.text_content(".refused")
        assert page.input_value("#graph-index") == str(n - 1)
    page.click("#graph-example")
    wait_until(lambda: f"example {n - 1} through the network" in page.text_content(
        "#graph-title"), what="One example on the box's example")
