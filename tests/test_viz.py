"""Graph drawing and plots: real files rendered by Graphviz's dot and matplotlib's Agg."""

import html
import os
import random
import re
import struct

import pytest

import zerograd as zg
from zerograd import viz
from zerograd.engine import Value


def lecture_graph():
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = Value(10.0, label="c")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    f = Value(-2.0, label="f")
    L = d * f
    L.label = "L"
    L.backward()
    return L, [a, b, c, d, e, f, L]


def png_size(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return struct.unpack(">II", head[16:24])


def test_lecture_graph_svg_shows_labels_data_and_grads_to_four_decimals(tmp_path):
    L, values = lecture_graph()
    g = viz.draw_dot(L)
    svg = html.unescape(g.pipe(format="svg").decode())  # dot writes '-' as &#45;
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for v in values:
        assert f">{v.label}<" in svg
        assert f"data {v.data:.4f}" in svg
        assert f"grad {v.grad:.4f}" in svg
    assert "grad 6.0000" in svg and "grad -4.0000" in svg  # dL/da = b*f, dL/db = a*f


def test_graph_structure_is_child_to_op_to_result():
    L, values = lecture_graph()
    src = viz.draw_dot(L).source
    records = re.findall(r"^\s*(\d+) \[label=\"\{", src, flags=re.M)
    ops = re.findall(r"^\s*\"(\d+)op\" \[label=\"([^\"]*)\"", src, flags=re.M)
    assert len(records) == 7  # one record per Value
    assert sorted(label for _, label in ops) == ["*", "*", "+"]  # one node per op
    edges = set(re.findall(r"^\s*\"?(\w+)\"? -> \"?(\w+)\"?", src, flags=re.M))
    assert len(edges) == 3 + 6  # op -> result, and two operands per op
    a, b, e = values[0], values[1], values[4]
    assert (str(id(a)), f"{id(e)}op") in edges
    assert (str(id(b)), f"{id(e)}op") in edges
    assert (f"{id(e)}op", str(id(e))) in edges


def test_unlabelled_values_and_neuron_graph_draw(tmp_path):
    random.seed(0)
    n = zg.nn.Neuron(3, activation="tanh")
    out = n([Value(1.0), Value(-2.0), Value(0.5)])
    out.backward()
    svg = html.unescape(viz.draw_dot(out, rankdir="TB").pipe(format="svg").decode())
    assert "tanh" in svg and "Σwx+b" in svg
    assert f"data {out.data:.4f}" in svg


def test_labels_with_record_syntax_are_escaped():
    x = Value(1.0, label="{a|b}<c>")
    y = (x * 2).relu()
    svg = html.unescape(viz.draw_dot(y).pipe(format="svg").decode())
    assert "{a|b}<c>" in svg


def test_render_writes_svg_png_and_dot_files(tmp_path):
    L, _ = lecture_graph()
    g = viz.draw_dot(L)
    for ext in ("svg", "png", "pdf", "dot"):
        path = viz.render(g, tmp_path / f"g.{ext}")
        assert os.path.getsize(path) > 100
    assert png_size(tmp_path / "g.png")[0] > 200
    assert (tmp_path / "g.pdf").read_bytes().startswith(b"%PDF")
    with pytest.raises(ValueError, match="ending in"):
        viz.render(g, tmp_path / "g.jpeg")


def test_jupyter_display_hook_gives_svg():
    L, _ = lecture_graph()
    bundle = viz.draw_dot(L)._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"]


def test_too_many_nodes_gives_the_count_and_the_way_out():
    x = Value(0.5)
    y = x
    for _ in range(30):
        y = y * 1.01 + 0.1
    n = len(zg.engine.topological_order(y))
    with pytest.raises(ValueError, match=rf"{n} Values.*max_nodes=20.*max_nodes={n}"):
        viz.draw_dot(y, max_nodes=20)
    assert viz.draw_dot(y, max_nodes=n) is not None


def test_missing_dot_program_names_the_install(monkeypatch):
    L, _ = lecture_graph()
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(FileNotFoundError, match="apt-get install graphviz"):
        viz.draw_dot(L)
    assert "digraph" in viz.draw_dot(L, format="dot").source  # source only: no dot needed


def test_missing_graphviz_package_names_the_extra(monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "graphviz":
            raise ImportError("No module named 'graphviz'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    L, _ = lecture_graph()
    with pytest.raises(ImportError, match=r'pip install "zerograd\[viz\]"'):
        viz.draw_dot(L)


@pytest.mark.parametrize(
    "kwargs, words",
    [({"format": "gif"}, "format"), ({"rankdir": "XY"}, "rankdir"),
     ({"max_nodes": 0}, "max_nodes")],
)
def test_bad_drawing_arguments(kwargs, words):
    L, _ = lecture_graph()
    with pytest.raises(ValueError, match=words):
        viz.draw_dot(L, **kwargs)
    with pytest.raises(TypeError, match="needs a Value"):
        viz.draw_dot(3.0)


def test_plot_loss_writes_a_png(tmp_path):
    path = viz.plot_loss([1.0, 0.5, 0.25, 0.2], tmp_path / "loss.png")
    w, h = png_size(path)
    assert (w, h) == (600, 400)
    path2 = viz.plot_loss({"loss": [1.0, 0.5], "accuracy": [0.5, 0.9]}, tmp_path / "both.png")
    assert os.path.getsize(path2) > 1000
    with pytest.raises(ValueError, match="non-empty"):
        viz.plot_loss([], tmp_path / "x.png")


def test_plot_loss_takes_fits_history_with_a_learning_rate_that_reaches_zero(tmp_path):
    import warnings

    history = {"loss": [2.0, 1.0, 0.5, 0.4], "lr": [0.1, 0.05, 0.01, 0.0],
               "accuracy": [0.2, 0.5, 0.8, 0.9]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = viz.plot_loss(history, tmp_path / "fit.png", log=True)
    assert png_size(path) == (600, 400)


def test_plot_decision_boundary_for_one_score_and_for_class_scores(tmp_path):
    X, y = zg.data.moons(30, 0.1, 0)
    random.seed(0)
    model = zg.nn.MLP(2, [4, 1])
    path = viz.plot_decision_boundary(model, X, y, tmp_path / "b.png", resolution=20)
    assert png_size(path) == (500, 500)
    Xs, ys = zg.data.spiral(10, 3, 0)
    multi = zg.nn.MLP(2, [4, 3])
    path = viz.plot_decision_boundary(multi, Xs, ys, tmp_path / "m.png", resolution=20)
    assert os.path.getsize(path) > 1000
    calls = []

    def batched(grid):
        calls.append(grid.shape)
        return grid[:, 0] - grid[:, 1]

    viz.plot_decision_boundary(batched, X, y, tmp_path / "c.png", resolution=15, batched=True)
    assert calls == [(225, 2)]


def test_plot_decision_boundary_checks_its_inputs(tmp_path):
    f = lambda p: 0.0
    with pytest.raises(ValueError, match="shape"):
        viz.plot_decision_boundary(f, [[1.0, 2.0, 3.0]], [0], tmp_path / "x.png")
    with pytest.raises(ValueError, match="labels"):
        viz.plot_decision_boundary(f, [[1.0, 2.0]], [0, 1], tmp_path / "x.png")
    with pytest.raises(ValueError, match="resolution"):
        viz.plot_decision_boundary(f, [[1.0, 2.0]], [0], tmp_path / "x.png", resolution=1)


def test_importing_zerograd_does_not_import_graphviz_or_matplotlib():
    import subprocess
    import sys

    code = ("import sys, zerograd as zg; zg.draw_dot; zg.viz; zg.data; "
            "print('graphviz' in sys.modules, 'matplotlib' in sys.modules, "
            "'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False", "False"]
