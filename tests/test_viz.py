"""Graph drawing and plots: real files rendered by Graphviz (the system's dot program, or
the one bundled in pygraphviz's wheel) and by matplotlib's Agg."""

import html
import os
import random
import re
import struct

import pytest
from conftest import needs, needs_graphviz, unavailable

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


@pytest.fixture(params=["pygraphviz", "dot"])
def graphviz_backend(request, monkeypatch):
    """Run the test with each Graphviz: pygraphviz's bundled one (dot hidden from PATH) and
    the system's dot program (Debian's graphviz package; .ci/run installs it)."""
    from zerograd import drawing

    if request.param == "pygraphviz":
        needs("pygraphviz", "the Graphviz its wheel bundles")
        monkeypatch.setattr(drawing.shutil, "which", lambda name: None)
    elif drawing.shutil.which("dot") is None:
        unavailable("needs the dot program of the system package graphviz "
                    "(apt-get install graphviz)")
    assert drawing.backend() == request.param
    return request.param


def png_size(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return struct.unpack(">II", head[16:24])


def test_lecture_graph_svg_shows_labels_data_and_grads_to_four_decimals(graphviz_backend):
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
    needs_graphviz()
    L, values = lecture_graph()
    src = viz.draw_dot(L).source
    records = re.findall(r"^\s*(v\d+) \[label=\"\{", src, flags=re.M)
    ops = re.findall(r"^\s*(v\d+)op \[label=\"([^\"]*)\"", src, flags=re.M)
    assert len(records) == 7  # one record per Value
    assert sorted(label for _, label in ops) == ["*", "*", "+"]  # one node per op
    edges = set(re.findall(r"^\s*(\w+) -> (\w+)$", src, flags=re.M))
    assert len(edges) == 3 + 6  # op -> result, and two operands per op
    name = {label: re.search(rf"^\s*(v\d+) \[label=\"\{{ {label} \|", src, flags=re.M)[1]
            for label in "abe"}
    assert (name["a"], name["e"] + "op") in edges
    assert (name["b"], name["e"] + "op") in edges
    assert (name["e"] + "op", name["e"]) in edges


def test_unlabelled_values_and_neuron_graph_draw(graphviz_backend):
    random.seed(0)
    n = zg.nn.Neuron(3, activation="tanh")
    out = n([Value(1.0), Value(-2.0), Value(0.5)])
    out.backward()
    svg = html.unescape(viz.draw_dot(out, rankdir="TB").pipe(format="svg").decode())
    assert "tanh" in svg and "Σwx+b" in svg
    assert f"data {out.data:.4f}" in svg


def test_labels_with_record_syntax_and_quotes_are_escaped(graphviz_backend):
    x = Value(1.0, label='{a|b}<c> "q" \\')
    y = Value(2.0, (x * 2,), 'op "with" quotes')  # a node built the micrograd way
    svg = html.unescape(viz.draw_dot(y).pipe(format="svg").decode())
    assert '{a|b}<c> "q" \\' in svg
    assert 'op "with" quotes' in svg


def test_render_writes_svg_png_and_dot_files(tmp_path, graphviz_backend):
    L, _ = lecture_graph()
    g = viz.draw_dot(L)
    for ext in ("svg", "png", "pdf", "dot"):
        path = viz.render(g, tmp_path / f"g.{ext}")
        assert os.path.getsize(path) > 100
    assert png_size(tmp_path / "g.png")[0] > 200
    assert (tmp_path / "g.pdf").read_bytes().startswith(b"%PDF")
    with pytest.raises(ValueError, match="ending in"):
        viz.render(g, tmp_path / "g.jpeg")
    assert g.render(tmp_path / "noext") == str(tmp_path / "noext.svg")  # the graph's format
    assert (tmp_path / "noext.svg").read_bytes().lstrip().startswith(b"<?xml")


def test_render_takes_graphviz_signature_and_writes_only_the_picture(tmp_path, monkeypatch,
                                                                     graphviz_backend):
    monkeypatch.chdir(tmp_path)
    L, _ = lecture_graph()
    g = viz.draw_dot(L)
    assert g.render("graph", format="png") == "graph.png"  # the lecture's call
    assert png_size("graph.png")[0] > 200
    assert os.listdir() == ["graph.png"]  # no DOT source file named 'graph' beside it
    assert g.render("graph", format="png", view=False, cleanup=True) == "graph.png"
    assert g.render("graph", None, False, False, "pdf") == "graph.pdf"  # graphviz's order
    assert g.render("g.gv", format="svg") == "g.gv.svg"  # format added, as graphviz does
    assert g.render("graph.svg") == "graph.svg"  # the old call, unchanged
    assert g.render("graph.png", format="PNG") == "graph.png"  # agreeing is fine
    assert g.render("noext") == "noext.svg"  # the graph's own format
    assert viz.draw_dot(L, format="dot").render("src") == "src.dot"
    path = g.render("x", directory="out/deeper", format="png")
    assert path == os.path.join("out/deeper", "x.png") and png_size(path)[0] > 200
    assert g.render(outfile="o/exact.png") == "o/exact.png" and png_size("o/exact.png")
    assert g.render(outfile="o/noext", format="svg") == "o/noext"
    assert open("o/noext", "rb").read().lstrip().startswith(b"<?xml")


@pytest.mark.parametrize(
    "args, kwargs, error, words",
    [
        (("graph",), {"format": "gif"}, ValueError, "format must be one of svg, png, pdf, dot"),
        (("graph",), {"format": 3}, ValueError, "format must be one of"),
        (("graph.svg",), {"format": "png"}, ValueError,
         r"ends in \.svg but format is 'png'.*render\('graph', format='png'\)"),
        (("graph.dot",), {"format": "pdf"}, ValueError, "ends in .dot but format is 'pdf'"),
        (("graph.jpg",), {"format": "png"}, ValueError, "cannot write .jpg files"),
        (("graph.jpeg",), {}, ValueError, "ending in .svg, .png, .pdf, .dot"),
        (("graph.txt",), {}, ValueError, "cannot tell the format of 'graph.txt'"),
        ((), {"outfile": "o/g"}, ValueError, "cannot tell the format"),
        (("a",), {"outfile": "b.png"}, ValueError, "outfile alone"),
        ((), {"directory": "d", "outfile": "b.png"}, ValueError, "outfile alone"),
        (("",), {}, ValueError, "filename is empty"),
        ((3,), {}, TypeError, "filename must be a file name"),
        (("g",), {"directory": 1.5}, TypeError, "directory must be a file name"),
    ],
)
def test_render_refuses_bad_arguments_before_writing_anything(tmp_path, monkeypatch, args,
                                                               kwargs, error, words):
    needs_graphviz()
    monkeypatch.chdir(tmp_path)
    L, _ = lecture_graph()
    with pytest.raises(error, match=words):
        viz.draw_dot(L).render(*args, **kwargs)
    assert os.listdir() == []


def test_render_view_opens_the_picture_or_says_why_it_cannot(tmp_path, monkeypatch):
    from zerograd import drawing

    monkeypatch.chdir(tmp_path)
    g = viz.draw_dot(lecture_graph()[0], format="dot")
    opened = []
    monkeypatch.setattr(drawing, "_opener", lambda: opened.append)
    assert g.render("graph", format="dot", view=True) == "graph.dot"
    assert opened == ["graph.dot"]
    monkeypatch.setattr(drawing, "_opener", lambda: None)
    with pytest.raises(RuntimeError, match=r"view=True needs a program.*view=False.*'g2.dot'"):
        g.render("g2", format="dot", view=True)
    assert not os.path.exists("g2.dot")


def test_the_system_opener_is_found_on_path(monkeypatch):
    from zerograd import drawing

    monkeypatch.setattr(drawing.sys, "platform", "linux")
    monkeypatch.setattr(drawing.shutil, "which", lambda name: None)
    assert drawing._opener() is None
    monkeypatch.setattr(drawing.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert callable(drawing._opener())


def test_jupyter_display_hook_gives_svg_or_png(graphviz_backend):
    L, _ = lecture_graph()
    bundle = viz.draw_dot(L)._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"]
    bundle = viz.draw_dot(L, format="png")._repr_mimebundle_()
    assert bundle["image/png"].startswith(b"\x89PNG")


def test_bundled_graphviz_prints_no_fontconfig_warnings(capfd, monkeypatch):
    needs("pygraphviz", "the Graphviz its wheel bundles")
    from zerograd import drawing

    monkeypatch.setattr(drawing.shutil, "which", lambda name: None)
    L, _ = lecture_graph()
    assert viz.draw_dot(L).pipe("png").startswith(b"\x89PNG")
    assert "Fontconfig" not in capfd.readouterr().err


def test_too_many_nodes_gives_the_count_and_the_way_out():
    needs_graphviz()
    x = Value(0.5)
    y = x
    for _ in range(30):
        y = y * 1.01 + 0.1
    n = len(zg.engine.topological_order(y))
    with pytest.raises(ValueError, match=rf"{n} Values.*max_nodes=20.*max_nodes={n}"):
        viz.draw_dot(y, max_nodes=20)
    assert viz.draw_dot(y, max_nodes=n) is not None


def test_no_graphviz_at_all_names_the_extra_and_the_system_package(monkeypatch, tmp_path):
    import sys

    from zerograd import drawing

    monkeypatch.setattr(drawing.shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "pygraphviz", None)  # import fails
    L, _ = lecture_graph()
    with pytest.raises(FileNotFoundError, match=r'zerograd\[viz\].*apt-get install graphviz'):
        viz.draw_dot(L)
    g = viz.draw_dot(L, format="dot")  # the source needs no Graphviz
    assert g.source.startswith("digraph") and viz.render(g, tmp_path / "g.dot")
    with pytest.raises(FileNotFoundError, match="apt-get install graphviz"):
        viz.render(g, tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()


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
    needs("matplotlib", "the plots")
    path = viz.plot_loss([1.0, 0.5, 0.25, 0.2], tmp_path / "loss.png")
    w, h = png_size(path)
    assert (w, h) == (600, 400)
    path2 = viz.plot_loss({"loss": [1.0, 0.5], "accuracy": [0.5, 0.9]}, tmp_path / "both.png")
    assert os.path.getsize(path2) > 1000
    with pytest.raises(ValueError, match="non-empty"):
        viz.plot_loss([], tmp_path / "x.png")


def lr_find_result():
    from zerograd.train import LRFinderResult

    return LRFinderResult(lrs=[1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
                          losses=[1.0, 0.9, 0.6, 0.5, 0.8, 2.0],
                          raw_losses=[1.0, 0.9, 0.6, 0.5, 0.8, 2.0], suggestion=1e-2, index=2)


def plot_with(kind, path, **options):
    """Draw the plot ``kind`` (loss, boundary, lr_find) to ``path`` with size options."""
    if kind == "loss":
        return viz.plot_loss({"loss": [1.0, 0.5, 0.3], "accuracy": [0.2, 0.6, 0.9]}, path,
                             **options)
    if kind == "boundary":
        X, y = [[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]], [0, 1, 1]
        return viz.plot_decision_boundary(lambda p: p[0] + p[1] - 0.5, X, y, path,
                                          resolution=10, **options)
    return lr_find_result().plot(path, **options)


@pytest.mark.parametrize(
    "kind, default",
    [("loss", (600, 400)), ("boundary", (500, 500)), ("lr_find", (600, 400))],
)
def test_plots_take_figsize_and_dpi_for_a_projector(tmp_path, kind, default):
    needs("matplotlib", "the plots")
    assert png_size(plot_with(kind, tmp_path / "a.png")) == default
    assert png_size(plot_with(kind, tmp_path / "b.png", figsize=(12, 8), dpi=150)) == (1800,
                                                                                       1200)
    assert png_size(plot_with(kind, tmp_path / "c.png", dpi=200)) == tuple(2 * n for n in
                                                                           default)
    assert png_size(plot_with(kind, tmp_path / "d.png", figsize=[3.5, 2], dpi=80.0)) == (280,
                                                                                        160)


@pytest.mark.parametrize(
    "options, words",
    [
        ({"figsize": (0, 4)}, r"figsize must be \(width, height\) in inches.*got \(0, 4\)"),
        ({"figsize": (-6, 4)}, "figsize must be"),
        ({"figsize": 6}, "figsize must be"),
        ({"figsize": "6x4"}, "figsize must be"),
        ({"figsize": (6, 4, 1)}, "figsize must be"),
        ({"figsize": ("6", 4)}, "figsize must be"),
        ({"figsize": (float("nan"), 4)}, "figsize must be"),
        ({"figsize": (True, 4)}, "figsize must be"),
        ({"dpi": 0}, r"dpi must be a positive number.*got 0"),
        ({"dpi": -100}, "dpi must be"),
        ({"dpi": "150"}, "dpi must be"),
        ({"dpi": float("inf")}, "dpi must be"),
        ({"dpi": None}, "dpi must be"),
        ({"figsize": (300, 4), "dpi": 100}, "30000 x 400 pixels, more than 20000"),
    ],
)
@pytest.mark.parametrize("kind", ["loss", "boundary", "lr_find"])
def test_bad_figsize_or_dpi_is_refused_before_anything_is_written(tmp_path, kind, options,
                                                                  words):
    with pytest.raises(ValueError, match=words):
        plot_with(kind, tmp_path / "x.png", **options)
    assert os.listdir(tmp_path) == []


def test_plot_loss_takes_fits_history_with_a_learning_rate_that_reaches_zero(tmp_path):
    needs("matplotlib", "the plots")
    import warnings

    history = {"loss": [2.0, 1.0, 0.5, 0.4], "lr": [0.1, 0.05, 0.01, 0.0],
               "accuracy": [0.2, 0.5, 0.8, 0.9]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = viz.plot_loss(history, tmp_path / "fit.png", log=True)
    assert png_size(path) == (600, 400)


def test_plot_decision_boundary_for_one_score_and_for_class_scores(tmp_path):
    needs("matplotlib", "the plots")
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


def test_importing_zerograd_does_not_import_pygraphviz_or_matplotlib():
    import subprocess
    import sys

    code = ("import sys, zerograd as zg; zg.draw_dot; zg.viz; zg.data; "
            "print('pygraphviz' in sys.modules, 'matplotlib' in sys.modules, "
            "'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False", "False"]


# -- plots a teacher can project ---------------------------------------------------------------
@pytest.fixture
def figures(monkeypatch):
    """The matplotlib Figures the plot functions draw, to look inside them after saving."""
    needs("matplotlib", "the plots")
    made = []
    real = viz._figure

    def capture(*args):
        made.append(real(*args))
        return made[-1]

    monkeypatch.setattr(viz, "_figure", capture)
    return made


def pixel_hue(image, fig, ax, x, y):
    """Hue and saturation of the PNG pixel at data point (x, y) of ``ax``."""
    import colorsys

    px, py = ax.transData.transform((x, y))  # the PNG is saved at the figure's dpi
    r, g, b = image[int(round(image.shape[0] - py)), int(round(px)), :3]
    h, s, _ = colorsys.rgb_to_hsv(r, g, b)
    return h, s


def hue_distance(a, b):
    return min(abs(a - b), 1 - abs(a - b))


def test_plot_loss_shows_accuracy_in_percent_and_the_legend_outside_every_axes(tmp_path,
                                                                              figures):
    from matplotlib.ticker import PercentFormatter

    history = {"loss": [2.0, 1.0, 0.6, 0.5, 0.45], "lr": [0.1, 0.08, 0.05, 0.02, 0.01],
               "batch accuracy": [0.1, 0.4, 0.7, 0.9, 1.0],
               "test accuracy": {0: 0.12, 2: 0.65, 4: 0.93},  # measured every other step
               "val_acc": [0.1, 0.3, 0.6, 0.8, 0.9], "accumulated_loss": [2, 3, 4, 5, 6]}
    viz.plot_loss(history, tmp_path / "h.png")
    fig = figures[-1]
    (acc_axes,) = [a for a in fig.axes if a.get_ylabel() == "accuracy"]
    assert isinstance(acc_axes.yaxis.get_major_formatter(), PercentFormatter)
    assert acc_axes.yaxis.get_major_formatter()(0.5) == "50%"
    lo, hi = acc_axes.get_ylim()
    assert -0.05 <= lo <= 0 and 1 <= hi <= 1.05
    lines = {line.get_label(): line for line in acc_axes.get_lines()}
    assert set(lines) == {"batch accuracy", "test accuracy", "val_acc"}
    assert list(lines["test accuracy"].get_xdata()) == [0, 2, 4]
    (legend,) = fig.legends
    assert sorted(t.get_text() for t in legend.get_texts()) == sorted(history)
    box = legend.get_window_extent()
    for a in fig.axes:
        assert not box.overlaps(a.get_window_extent()), "the legend covers the plot"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_plot_loss_warns_and_marks_the_step_where_the_loss_stopped_being_finite(tmp_path,
                                                                               figures, bad):
    losses = [1.0, 0.8, 0.7, bad, bad, 0.5]
    with pytest.warns(UserWarning, match=rf"'loss' is {bad} at step 3 \(2 of 6 values"):
        path = viz.plot_loss({"loss": losses, "accuracy": [0.5] * 6}, tmp_path / "bad.png")
    assert png_size(path) == (600, 400)
    ax = figures[-1].axes[0]
    marks = [line for line in ax.get_lines() if list(line.get_xdata()) == [3, 3]]
    assert len(marks) == 1  # a vertical line at step 3
    assert [t.get_text().strip() for t in ax.texts] == [f"loss {bad} at step 3"]
    assert ax.get_xlim()[1] >= 5  # the axis still shows every step
    (curve,) = [line for line in ax.get_lines() if line.get_label() == "loss"]
    ys = curve.get_ydata()
    assert all(y != y for y in ys[3:5]) and list(ys[:3]) == losses[:3]  # left out


def test_plot_loss_of_finite_numbers_warns_nothing(tmp_path, figures):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        viz.plot_loss([3.0, 2.0, 1.0], tmp_path / "ok.png")
    assert len(figures[-1].axes[0].texts) == 0


CENTRES = [(-2.0, -1.0), (0.0, 1.0), (2.0, -1.0)]


def nearest_centre(grid):
    """Class scores for 3 classes: minus the squared distance to each centre."""
    import numpy as np

    return np.column_stack([-((grid - c) ** 2).sum(axis=1) for c in CENTRES])


@pytest.mark.parametrize(
    "model, X, y, backgrounds",
    [
        (lambda g: g[:, 0], [(-2, -1), (-1, 1), (1, -1), (2, 1)], [-1, -1, 1, 1],
         {-1: (-2.0, 0.0), 1: (2.0, 0.0)}),
        (nearest_centre, CENTRES + [(-1.8, -1.2), (0.2, 0.8), (1.8, -0.8)], [0, 1, 2] * 2,
         {0: (-2.0, -0.6), 1: (0.0, 1.4), 2: (2.0, -0.6)}),
    ],
    ids=["one-score", "three-classes"],
)
def test_a_class_has_one_hue_for_its_region_and_its_points(tmp_path, figures, model, X, y,
                                                           backgrounds):
    import matplotlib.image

    path = viz.plot_decision_boundary(model, X, y, tmp_path / "b.png", batched=True)
    image = matplotlib.image.imread(path)
    fig = figures[-1]
    ax = fig.axes[0]
    hues = {}
    for label, spot in backgrounds.items():
        region_hue, saturation = pixel_hue(image, fig, ax, *spot)
        assert saturation > 0.1, f"the region of class {label} is not coloured"
        for point in [p for p, lab in zip(X, y) if lab == label]:
            point_hue, _ = pixel_hue(image, fig, ax, *point)
            assert hue_distance(point_hue, region_hue) < 0.02, f"class {label}"
        hues[label] = region_hue
    assert all(hue_distance(hues[a], hues[b]) > 0.1 for a in hues for b in hues if a != b)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [f"class {label}" for label in backgrounds]


def test_boundary_edges_follow_the_scores_between_grid_points(tmp_path, figures):
    import matplotlib.image
    import numpy as np

    X, y = [(-1.0, 1.0), (-0.5, 0.9), (1.0, -1.0), (0.9, -0.5)], [0, 0, 1, 1]
    # the boundary is the diagonal x1 = x2; a 5 x 5 grid has a cell 0.75 wide here, and
    # the pixels 0.1 off the diagonal must still be on the right side (no staircase)
    path = viz.plot_decision_boundary(lambda g: g[:, 0] - g[:, 1], X, y, tmp_path / "d.png",
                                      resolution=5, batched=True)
    image = matplotlib.image.imread(path)
    fig, ax = figures[-1], figures[-1].axes[0]
    hue0 = pixel_hue(image, fig, ax, *X[0])[0]
    hue1 = pixel_hue(image, fig, ax, *X[2])[0]
    for t in np.linspace(-0.9, 0.9, 13):
        above = pixel_hue(image, fig, ax, t - 0.1, t + 0.1)[0]
        below = pixel_hue(image, fig, ax, t + 0.1, t - 0.1)[0]
        assert hue_distance(above, hue0) < 0.02 and hue_distance(below, hue1) < 0.02, t


def test_boundary_axes_are_labelled(tmp_path, figures):
    X, y = [(0.0, 0.0), (1.0, 1.0)], [0, 1]
    f = lambda g: g[:, 0] - 0.5  # noqa: E731
    viz.plot_decision_boundary(f, X, y, tmp_path / "a.png", batched=True, resolution=10)
    assert (figures[-1].axes[0].get_xlabel(), figures[-1].axes[0].get_ylabel()) == ("x1", "x2")
    viz.plot_decision_boundary(f, X, y, tmp_path / "b.png", batched=True, resolution=10,
                               feature_names=("petal length", "petal width"))
    assert figures[-1].axes[0].get_xlabel() == "petal length"
    assert figures[-1].axes[0].get_ylabel() == "petal width"
    with pytest.raises(ValueError, match="feature_names"):
        viz.plot_decision_boundary(f, X, y, tmp_path / "c.png", feature_names="ab")


def record_labels(src):
    """{record name: its first field} for the labelled records of a DOT source."""
    return dict(re.findall(r"^\s*(v\d+) \[label=\"\{ ([^|]+?) \| data", src, flags=re.M))


def record_data(src, label):
    """The data fields (4 decimals) of the records labelled ``label``."""
    return re.findall(rf"\{{ {re.escape(label)} \| data (\S+) \|", src)


def test_neuron_drawing_names_its_weights_bias_and_inputs_by_position(restore_random):
    n = zg.nn.Neuron(2)
    out = n([1.0, -2.0])
    src = viz.draw_dot(out, format="dot").source
    assert sorted(record_labels(src).values()) == ["b", "w0", "w1", "x0", "x1"]
    assert record_data(src, "x0") == ["1.0000"] and record_data(src, "x1") == ["-2.0000"]
    assert record_data(src, "w1") == [f"{n.w[1].data:.4f}"]
    assert len(re.findall(r"\{ data ", src)) == 2  # Σwx+b and ReLU outputs stay unlabelled


def test_mlp_drawing_names_every_parameter_and_only_leaf_inputs(restore_random):
    model = zg.nn.MLP(2, [2, 1])
    x = [Value(0.5), Value(-1.5)]
    out = model(x)
    out.backward()
    labels = list(record_labels(viz.draw_dot(out, format="dot").source).values())
    assert sorted(labels) == sorted([p.label for p in model.parameters()] + ["x0", "x1"])
    assert "L1.N0.w1" in labels and "L0.N1.b" in labels
    assert [v.label for v in x] == ["", ""]  # named in the drawing only
    # floats are lifted by each neuron: every first-layer neuron has its own x0 and x1
    src = viz.draw_dot(model([0.5, -1.5]), format="dot").source
    assert record_data(src, "x0") == ["0.5000"] * 2 and record_data(src, "x1") == ["-1.5000"] * 2


def test_a_labelled_input_keeps_its_label_and_a_computed_one_gets_none(restore_random):
    n = zg.nn.Neuron(3, activation="tanh")
    age, h = Value(30.0, label="age"), Value(2.0) * 3  # h is computed, not a leaf
    src = viz.draw_dot(n([age, h, 1.0]), format="dot").source
    labels = sorted(record_labels(src).values())
    assert labels == ["age", "b", "w0", "w1", "w2", "x2"]
    assert record_data(src, "x2") == ["1.0000"]


def test_drawing_a_hand_built_dot_names_its_inputs():
    w, x = [Value(1.0, label="a"), Value(2.0, label="c")], [Value(3.0), Value(4.0)]
    src = viz.draw_dot(zg.dot(w, x, Value(0.5)), format="dot").source
    assert record_data(src, "x0") == ["3.0000"] and record_data(src, "x1") == ["4.0000"]
    assert "{ data 0.5000 |" in src  # the bias position is not an input


def test_mlp_drawing_renders_its_names(graphviz_backend, restore_random):
    model = zg.nn.MLP.lecture(2, [2, 1])
    out = model([1.0, -2.0])
    out.backward()
    svg = html.unescape(viz.draw_dot(out).pipe(format="svg").decode())
    for label in ["x0", "x1", "L0.N0.w0", "L0.N1.b", "L1.N0.w1", "L1.N0.b"]:
        assert f">{label}<" in svg


def test_a_given_layout_function_draws_where_no_graphviz_is_needed():
    from zerograd import drawing

    seen = []

    def fake(source: str, fmt: str) -> str:
        seen.append((source, fmt))
        return "<svg>" + str(len(source)) + "</svg>"

    g = zg.viz.draw_dot(Value(2.0, label="x") * 3)
    drawing.set_layout(fake)
    try:
        assert drawing.backend() == "given"
        assert g.pipe("svg") == f"<svg>{len(g.source)}</svg>".encode()
        assert seen == [(g.source, "svg")]
    finally:
        drawing.set_layout(None)
    assert drawing.backend() != "given"
    with pytest.raises(TypeError, match="set_layout needs a function"):
        drawing.set_layout("dot")
