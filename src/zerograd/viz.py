"""Pictures: the computation graph of a Value (Graphviz) and training plots (matplotlib).

graphviz and matplotlib are imported only inside the functions that use them
(``pip install "zerograd[viz]"``); rendering a graph also needs Graphviz's ``dot`` program.
"""

from __future__ import annotations

import numbers
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .engine import Value, no_grad, topological_order

FORMATS = ("svg", "png", "pdf", "dot")
_DOT_INSTALL = (
    "Graphviz's `dot` program was not found on PATH; install Graphviz "
    "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
    "conda: conda install graphviz)"
)


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(f'{module} is needed for drawing: pip install "zerograd[viz]"') from None


def _escape_record(text: str) -> str:
    """Escape the characters that mean something inside a Graphviz record label."""
    for ch in "\\{}|<>\"":
        text = text.replace(ch, "\\" + ch)
    return text


def draw_dot(root: Value, format: str = "svg", rankdir: str = "LR",
             max_nodes: int = 1000) -> Any:
    """The graph that computed ``root`` as a ``graphviz.Digraph`` (shown inline in Jupyter).

    One record per Value (``label | data | grad``, 4 decimals), one small node per op, edges
    operand -> op -> result. Graphs with more than ``max_nodes`` Values raise ``ValueError``.
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw_dot needs a Value, got {type(root).__name__}: {root!r}")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"rankdir must be 'LR' (left to right) or 'TB' (top down), "
                         f"got {rankdir!r}")
    if not isinstance(max_nodes, numbers.Integral) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive whole number, got {max_nodes!r}")
    nodes = topological_order(root)
    if len(nodes) > max_nodes:
        raise ValueError(
            f"this graph has {len(nodes)} Values, more than max_nodes={max_nodes}; draw a "
            f"smaller part of it (e.g. one neuron's output), or pass max_nodes={len(nodes)} "
            f"if you really want all of it (large drawings are slow to lay out)"
        )
    graphviz = _require("graphviz")
    if format != "dot" and shutil.which("dot") is None:
        raise FileNotFoundError(_DOT_INSTALL)
    g = graphviz.Digraph(format=format, graph_attr={"rankdir": rankdir})
    for v in nodes:
        uid = str(id(v))
        fields = [f"data {v.data:.4f}", f"grad {v.grad:.4f}"]
        if v.label:
            fields.insert(0, _escape_record(str(v.label)))
        g.node(uid, label="{ " + " | ".join(fields) + " }", shape="record")
        if v._children:
            g.node(uid + "op", label=v._op, shape="ellipse", fontsize="10",
                   width="0.3", height="0.3", margin="0.02")
            g.edge(uid + "op", uid)
            for child in dict.fromkeys(v._children):  # one edge per distinct operand
                g.edge(str(id(child)), uid + "op")
    return g


def render(graph: Any, path: str | os.PathLike) -> str:
    """Write ``graph`` (from :func:`draw_dot`) to ``path``; the format comes from the suffix
    (``.svg``, ``.png``, ``.pdf`` or ``.dot``). Returns the path written."""
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"cannot tell the format of {path!r}: use a name ending in "
                         f"{', '.join('.' + f for f in FORMATS)}")
    if fmt == "dot":
        data = graph.source.encode()
    else:
        if shutil.which("dot") is None:
            raise FileNotFoundError(_DOT_INSTALL)
        data = graph.pipe(format=fmt)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _figure(size: tuple[float, float]) -> Any:
    """A matplotlib Figure drawn by the headless Agg canvas (no pyplot, no global state)."""
    _require("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


def plot_loss(history: Sequence[float] | Mapping[str, Sequence[float]],
              path: str | os.PathLike, title: str = "training", log: bool = False) -> str:
    """Plot a loss curve (a list of numbers) or several named curves (a dict) to a PNG.

    Curves named ``acc...`` (accuracy, in [0, 1]) and ``lr`` (as ``zg.train.fit`` returns
    it; log scale) get their own right-hand axes; ``log=True`` puts the loss axis on a log
    scale. Returns the path written.
    """
    curves = dict(history) if isinstance(history, Mapping) else {"loss": history}
    if not curves or any(len(c) == 0 for c in curves.values()):
        raise ValueError("plot_loss needs at least one non-empty list of numbers")
    fig = _figure((6, 4))
    ax = fig.add_subplot()
    extra_axes: dict[str, Any] = {}
    colours = iter(["tab:green", "tab:gray", "tab:olive", "tab:cyan"])
    for name, ys in curves.items():
        ys = [float(y) for y in ys]
        kind = "acc" if name.lower().startswith("acc") else "lr" if name == "lr" else None
        if kind is None:
            ax.plot(ys, label=name)
            continue
        if kind not in extra_axes:
            side = ax.twinx()
            if extra_axes:  # a second right-hand axis: move its spine outwards
                side.spines["right"].set_position(("axes", 1.15))
            if kind == "lr":
                side.set_yscale("log")
            side.set_ylabel(name)
            extra_axes[kind] = side
        extra_axes[kind].plot(ys, color=next(colours, None), label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if log:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    for side in extra_axes.values():
        h, lab = side.get_legend_handles_labels()
        handles, labels = handles + h, labels + lab
    ax.legend(handles, labels, loc="upper right")
    fig.tight_layout()
    fig.savefig(os.fspath(path), format="png", dpi=100)
    return os.fspath(path)


def _scores(model: Callable, grid: Any, batched: bool) -> Any:
    """Model scores on the grid points: shape (m,) for one output or (m, k) for k outputs."""
    import numpy as np

    if batched:
        return np.asarray(model(grid), dtype=float)
    out = []
    with no_grad():
        for row in grid:
            s = model([float(x) for x in row])
            if isinstance(s, (list, tuple)):
                out.append([float(getattr(v, "data", v)) for v in s])
            else:
                out.append(float(getattr(s, "data", s)))
    return np.asarray(out, dtype=float)


def plot_decision_boundary(model: Callable, X: Any, y: Any, path: str | os.PathLike,
                           resolution: int = 60, batched: bool = False,
                           title: str = "decision boundary") -> str:
    """Colour the plane by the class ``model`` predicts, with the points ``X`` (2 features)
    coloured by ``y``, and write a PNG. Returns the path written.

    ``model(point)`` returns one score (class = score > 0) or a list of class scores
    (class = argmax). With ``batched=True`` it is called once on the ``(m, 2)`` array of grid
    points and returns an array of scores (e.g. a compiled function).
    """
    import numpy as np

    X, y = np.asarray(X, dtype=float), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2) to be drawn in the plane, got {X.shape}")
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} points but y has {len(y)} labels")
    if not isinstance(resolution, numbers.Integral) or not 2 <= resolution <= 1000:
        raise ValueError(f"resolution must be a whole number from 2 to 1000, got {resolution!r}")
    pad = 0.25 * (X.max(axis=0) - X.min(axis=0)) + 1e-9
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    s = _scores(model, grid, batched)
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if s.shape[0] != len(grid):
        raise ValueError(f"the model gave {s.shape[0]} scores for {len(grid)} grid points")
    Z = (s > 0).astype(int) if s.ndim == 1 else s.argmax(axis=1)
    labels = np.unique(y)  # e.g. -1/+1 or 0..k-1: the i-th smallest label is class i
    k = max(len(labels), int(Z.max()) + 1, 2)
    colours = {"cmap": "Spectral", "vmin": 0, "vmax": k - 1}
    fig = _figure((5, 5))
    ax = fig.add_subplot()
    ax.contourf(xx, yy, Z.reshape(xx.shape), levels=np.arange(k + 1) - 0.5, alpha=0.4,
                **colours)
    ax.scatter(X[:, 0], X[:, 1], c=np.searchsorted(labels, y), s=30, edgecolors="k",
               **colours)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(os.fspath(path), format="png", dpi=100)
    return os.fspath(path)


__all__ = ["draw_dot", "render", "plot_loss", "plot_decision_boundary"]
