"""Pictures: the computation graph of a Value (Graphviz) and training plots (matplotlib).

matplotlib is imported only inside the functions that use it (``pip install "zerograd[viz]"``);
graphs are laid out by Graphviz, see :mod:`zerograd.drawing`.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .args import count
from .drawing import FORMATS, NO_GRAPHVIZ, Graph, backend, quote
from .engine import Value, topological_order
from .ops import BY_NAME
from .scoring import scores

_LINEAR = BY_NAME["linear"]


def require(module: str) -> Any:
    """``import module`` (matplotlib, ...), or ImportError naming the extra to install."""
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(f'{module} is needed for drawing: pip install "zerograd[viz]"') from None


def _escape_record(text: str) -> str:
    """Escape the characters that mean something inside a Graphviz record label."""
    for ch in "\\{}|<>\"":
        text = text.replace(ch, "\\" + ch)
    return text


def _input_names(nodes: Sequence[Value]) -> dict[int, str]:
    """``x0, x1, ...`` for the unlabelled leaves fed to a ``linear`` (Σwx+b) node as its
    inputs, by position: its operands are (b, w0, x0, w1, x1, ...). Found at draw time, so
    a forward pass pays nothing; where a leaf is fed at two positions, the first one seen
    names it."""
    names: dict[int, str] = {}
    for v in nodes:
        if v._fn is _LINEAR:
            for k, x in enumerate(v._children[2::2]):
                if not x._children and not x.label:
                    names.setdefault(id(x), f"x{k}")
    return names


def draw_dot(root: Value, format: str = "svg", rankdir: str = "LR",
             max_nodes: int = 1000) -> Graph:
    """The graph that computed ``root`` as a :class:`~zerograd.drawing.Graph`: shown inline
    in Jupyter; ``.render('graph.svg')``, or graphviz's ``.render('graph', format='png')``,
    writes it to a file.

    One record per Value (``label | data | grad``, 4 decimals), one small node per op, edges
    operand -> op -> result. An unlabelled leaf that enters a neuron's Σwx+b node as its k-th
    input is shown as ``xk`` (its ``label`` is left alone). Graphs with more than
    ``max_nodes`` Values raise ``ValueError``.
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw_dot needs a Value, got {type(root).__name__}: {root!r}")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"rankdir must be 'LR' (left to right) or 'TB' (top down), "
                         f"got {rankdir!r}")
    max_nodes = count(max_nodes, "max_nodes")
    nodes = topological_order(root)
    if len(nodes) > max_nodes:
        raise ValueError(
            f"this graph has {len(nodes)} Values, more than max_nodes={max_nodes}; draw a "
            f"smaller part of it (e.g. one neuron's output), or pass max_nodes={len(nodes)} "
            f"if you really want all of it (large drawings are slow to lay out)"
        )
    if format != "dot" and not backend():
        raise FileNotFoundError(NO_GRAPHVIZ)
    name = {id(v): f"v{i}" for i, v in enumerate(nodes)}
    inputs = _input_names(nodes)
    lines = ["digraph {", f"\trankdir={rankdir}"]
    for v in nodes:
        uid = name[id(v)]
        fields = [f"data {v.data:.4f}", f"grad {v.grad:.4f}"]
        label = v.label or inputs.get(id(v))
        if label:
            fields.insert(0, _escape_record(str(label)))
        lines.append(f'\t{uid} [label="{{ {" | ".join(fields)} }}" shape=record]')
        if v._children:
            lines.append(f"\t{uid}op [label={quote(str(v._op))} shape=ellipse fontsize=10 "
                         f"width=0.3 height=0.3 margin=0.02]")
            lines.append(f"\t{uid}op -> {uid}")
            for child in dict.fromkeys(v._children):  # one edge per distinct operand
                lines.append(f"\t{name[id(child)]} -> {uid}op")
    lines.append("}")
    return Graph("\n".join(lines) + "\n", format=format)


def render(graph: Graph, path: str | os.PathLike) -> str:
    """Write ``graph`` (from :func:`draw_dot`) to ``path``; the format comes from the suffix
    (``.svg``, ``.png``, ``.pdf`` or ``.dot``). Returns the path written. Same as
    ``graph.render(path)``, which also takes graphviz's arguments."""
    return graph.render(path)


MAX_PIXELS = 20000  # a side of a saved plot; matplotlib itself refuses 65536 and more


def figure_size(figsize: Any, dpi: Any) -> tuple[tuple[float, float], float]:
    """``figsize`` (width, height in inches) and ``dpi`` as floats, checked: positive finite
    numbers, and at most ``MAX_PIXELS`` pixels a side. Raises ``ValueError`` naming the bad one."""
    def number(x: Any) -> bool:
        return isinstance(x, numbers.Real) and not isinstance(x, bool) and 0 < x < math.inf

    if (isinstance(figsize, (str, bytes)) or not isinstance(figsize, Sequence)
            or len(figsize) != 2 or not all(number(x) for x in figsize)):
        raise ValueError(f"figsize must be (width, height) in inches, two positive numbers, "
                         f"e.g. figsize=(12, 8); got {figsize!r}")
    if not number(dpi):
        raise ValueError(f"dpi must be a positive number of pixels per inch, e.g. dpi=150; "
                         f"got {dpi!r}")
    w, h, dpi = float(figsize[0]), float(figsize[1]), float(dpi)
    if max(w, h) * dpi > MAX_PIXELS:
        raise ValueError(f"figsize={figsize!r} at dpi={dpi:g} is {round(w * dpi)} x "
                         f"{round(h * dpi)} pixels, more than {MAX_PIXELS} a side; use a "
                         f"smaller figsize or dpi")
    return (w, h), dpi


def _figure(size: tuple[float, float], dpi: float = 100) -> Any:
    """A matplotlib Figure drawn by the headless Agg canvas (no pyplot, no global state), with
    constrained layout, which makes room for labels and legends outside the axes."""
    require("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _legend_and_save(fig: Any, axes: Sequence[Any], path: str | os.PathLike) -> str:
    """One legend for everything drawn on ``axes``, below them (so it covers nothing), then
    the PNG at the figure's dpi. Returns the path written."""
    handles: list = []
    labels: list = []
    for ax in axes:
        h, lab = ax.get_legend_handles_labels()
        handles, labels = handles + h, labels + lab
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4),
               frameon=False)
    path = os.fspath(path)
    fig.savefig(path, format="png", dpi=fig.dpi)
    return path


def _curve(curve: Sequence[float] | Mapping[int, float]) -> tuple[Any, Any]:
    """(steps, values) of one history curve: a list (steps 0, 1, ...) or a {step: value}."""
    import numpy as np

    if isinstance(curve, Mapping):
        return np.array(list(curve), dtype=float), np.array([float(v) for v in curve.values()])
    return np.arange(len(curve), dtype=float), np.array([float(v) for v in curve])


def plot_loss(history: Sequence[float] | Mapping[str, Sequence[float] | Mapping[int, float]],
              path: str | os.PathLike, title: str = "training", log: bool = False, *,
              figsize: tuple[float, float] = (6, 4), dpi: float = 100) -> str:
    """Plot a loss curve (a list of numbers, one per step) or several named curves (a dict)
    to a PNG. Returns the path written.

    A named curve is a list or a ``{step: value}`` dict (measured now and then, e.g. a test
    accuracy). Curves with the word ``accuracy`` or ``acc`` in their name (``test accuracy``,
    ``val_acc``: fractions in [0, 1]) share a right-hand axis in percent; ``lr``
    (as ``zg.train.fit`` returns it) gets a log-scale one; the rest share the loss axis (log
    scale with ``log=True``). The legend sits below the axes. The first nan or inf of a
    curve is warned about (``UserWarning``) and its step marked on the plot.

    ``figsize`` (inches) times ``dpi`` is the size in pixels, 600 x 400 by default. For a
    projector raise ``dpi`` (e.g. ``dpi=200``: sharper, text as large relative to the plot);
    a larger ``figsize`` gives more room at the same text size in points.
    """
    np = require("numpy")  # with matplotlib: the viz extra

    size, dpi = figure_size(figsize, dpi)
    curves = dict(history) if isinstance(history, Mapping) else {"loss": history}
    if not curves or any(len(c) == 0 for c in curves.values()):
        raise ValueError("plot_loss needs at least one non-empty list of numbers")
    fig = _figure(size, dpi)
    from matplotlib.ticker import PercentFormatter

    ax = fig.add_subplot()
    axes = {"loss": ax}
    marks: dict[float, list[str]] = {}  # step -> what turned nan/inf there
    last = 0.0
    for i, (name, curve) in enumerate(curves.items()):
        steps, ys = _curve(curve)
        last = max(last, steps.max())
        words = name.lower().replace("_", " ").split()
        kind = ("accuracy" if {"acc", "accuracy"} & set(words)
                else "lr" if name == "lr" else "loss")
        if kind not in axes:
            side = axes[kind] = ax.twinx()
            if len(axes) > 2:  # a second right-hand axis: its spine beyond the first's labels
                side.spines["right"].set_position(("outward", 60))
            if kind == "lr":
                side.set_yscale("log")
            else:
                side.set_ylim(-0.02, 1.02)
                side.yaxis.set_major_formatter(PercentFormatter(1.0))
            side.set_ylabel("learning rate" if kind == "lr" else "accuracy")
        bad = ~np.isfinite(ys)
        if bad.any():
            k = int(bad.argmax())
            marks.setdefault(steps[k], []).append(f"{name} {ys[k]}")
            warnings.warn(f"plot_loss: {name!r} is {ys[k]} at step {steps[k]:g} ({bad.sum()} of "
                          f"{len(ys)} values are nan or inf; the plot leaves them out and "
                          f"marks step {steps[k]:g})", UserWarning, stacklevel=2)
        dots = isinstance(curve, Mapping) or len(ys) == 1
        axes[kind].plot(steps, np.where(bad, np.nan, ys), "o-" if dots else "-", markersize=3,
                        color=f"C{i}", label=name)
    for step, what in marks.items():
        ax.axvline(step, color="tab:red", linestyle="--", linewidth=1)
        ax.text(step, 0.97, f" {', '.join(what)} at step {step:g} ", rotation=90,
                transform=ax.get_xaxis_transform(), ha="right" if step > last / 2 else "left",
                va="top", color="tab:red", fontsize=8)
    pad = 0.02 * last if last else 0.5
    ax.set_xlim(-pad, last + pad)  # every step, the ones with nan/inf too
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if log:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _legend_and_save(fig, list(axes.values()), path)


def _margins(s: Any) -> Any:
    """Per point and class, the class's score minus the best other class's score (> 0 where
    the class wins); one score ``s`` per point means classes 0 and 1 with margins -s and s."""
    import numpy as np

    if s.ndim == 1:
        return np.column_stack([-s, s])
    top = np.sort(s, axis=1)
    return s - np.where(s == top[:, -1:], top[:, -2:-1], top[:, -1:])


def plot_decision_boundary(model: Callable, X: Any, y: Any, path: str | os.PathLike,
                           resolution: int = 100, batched: bool = False,
                           title: str = "decision boundary",
                           feature_names: Sequence[str] = ("x1", "x2"), *,
                           figsize: tuple[float, float] = (5, 5), dpi: float = 100) -> str:
    """Shade the plane by the class ``model`` predicts, draw the boundary, and draw the points
    ``X`` (2 features) over it, each in its class's colour: class i (the i-th smallest label
    in ``y``) has the same colour as the region of class i. Writes a PNG; returns its path.

    ``model(point)`` returns one score (class 1 where score > 0) or a list of class scores
    (class = argmax). With ``batched=True`` it is called once on the ``(m, 2)`` array of grid
    points and returns an array of scores (e.g. a compiled function). The scores are taken
    on a ``resolution`` x ``resolution`` grid and interpolated in between, so the edges are
    straight where the scores are linear, not steps of the grid.

    ``figsize`` (inches) times ``dpi`` is the size in pixels, 500 x 500 by default; see
    :func:`plot_loss`.
    """
    np = require("numpy")  # with matplotlib: the viz extra

    size, dpi = figure_size(figsize, dpi)
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2) to be drawn in the plane, got {X.shape}")
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} points but y has {len(y)} labels")
    if not isinstance(resolution, numbers.Integral) or not 2 <= resolution <= 1000:
        raise ValueError(f"resolution must be a whole number from 2 to 1000, got {resolution!r}")
    if isinstance(feature_names, str) or len(feature_names) != 2:
        raise ValueError(f"feature_names must be two names (x axis, y axis), "
                         f"got {feature_names!r}")
    pad = 0.25 * (X.max(axis=0) - X.min(axis=0)) + 1e-9
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    s = scores(model, grid, batched)
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if s.shape[0] != len(grid):
        raise ValueError(f"the model gave {s.shape[0]} scores for {len(grid)} grid points")
    margins = _margins(s)
    labels = np.unique(y)  # e.g. -1/+1 or 0..k-1: the i-th smallest label is class i
    fig = _figure(size, dpi)
    from matplotlib import colormaps

    colours = colormaps["Spectral"](np.linspace(0, 1, max(margins.shape[1], len(labels))))
    ax = fig.add_subplot()
    for c in range(margins.shape[1]):
        m = margins[:, c].reshape(xx.shape)
        if m.max() >= 0:  # the region of class c: margin >= 0, edges interpolated
            ax.contourf(xx, yy, m, levels=[0, m.max() + 1], colors=[colours[c]], alpha=0.6,
                        antialiased=True)
        if m.min() < 0 < m.max():
            ax.contour(xx, yy, m, levels=[0], colors="k", linewidths=1)
    cls = np.searchsorted(labels, y)
    for i, label in enumerate(labels):
        ax.scatter(X[cls == i, 0], X[cls == i, 1], color=colours[i], s=30, edgecolors="k",
                   linewidths=0.6, label=f"class {label}")
    ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), xlabel=feature_names[0],
           ylabel=feature_names[1], title=title)
    return _legend_and_save(fig, [ax], path)


__all__ = ["draw_dot", "render", "plot_loss", "plot_decision_boundary", "require"]
