"""The graph panel: a computation graph laid out by Graphviz, and backprop walked through it
one node at a time, each gradient from the chain rule with the op table's local derivatives.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from .. import drawing, monitor, viz
from ..engine import Value, local_grads, no_grad, topological_order
from . import config

MAX_VALUES = 300  # larger graphs are too dense to read node by node
PT = 72.0  # Graphviz's plain output is in inches
_NODE = re.compile(r"^node (\S+) (\S+) (\S+) (\S+) (\S+)")


def lecture_neuron() -> Value:
    """The lecture's neuron, with its numbers and labels: ``o = tanh(x1*w1 + x2*w2 + b)``."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    s = x1w1 + x2w2
    s.label = "x1*w1 + x2*w2"
    n = s + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o


def one_example(model: Any, x: list[float], t: float, loss: str) -> Value:
    """The loss of one example through a copy of ``model`` (the model itself is not touched:
    its gradients belong to training)."""
    twin = copy.deepcopy(model)
    params = twin.parameters()  # grads zero, holding no pass: as fresh parameters
    monitor.put(params, [p.data for p in params], [0.0] * len(params), [None] * len(params))
    inputs = [Value(float(v), label=f"x{i}") for i, v in enumerate(x)]
    out = config.data_loss(twin, [inputs], [float(t)], loss)
    out.label = "loss"
    _name_the_loss(out, loss)
    for v in topological_order(out):  # name each neuron's sum and output after its bias
        b = v._children[0] if v._children else None
        if v._fn is not None and v._fn.name == "linear" and b.label.endswith(".b"):
            v.label = b.label[:-2] + ".sum"
        elif len(v._children) == 1 and str(b.label).endswith(".sum") and not v.label:
            v.label = b.label[:-4] + ".out"
    return out


def neuron_in_network(model: Any, x: list[float], layer: int, neuron: int) -> Value:
    """Neuron ``neuron`` of layer ``layer`` (0-based, the output layer last) of a copy of
    ``model`` on the input row ``x``: its inputs (the layer before's outputs on ``x``, or
    the row itself, as leaves ``L<l>.N<i>.out`` / ``x<i>``), weights, bias, sum
    (``L<layer>.N<neuron>.sum``) and activation (``...out``), the same operations as
    ``model(x)`` does for it."""
    twin = copy.deepcopy(model)
    params = twin.parameters()  # grads zero, holding no pass: as fresh parameters
    monitor.put(params, [p.data for p in params], [0.0] * len(params), [None] * len(params))
    h = [float(v) for v in x]
    with no_grad():
        for ly in twin.layers[:layer]:
            h = [n(h).data for n in ly.neurons]
    inputs = [Value(v, label=f"L{layer - 1}.N{i}.out" if layer else f"x{i}")
              for i, v in enumerate(h)]
    unit = twin.layers[layer].neurons[neuron]
    out = unit(inputs)
    name = f"L{layer}.N{neuron}"
    if unit.activation == "linear":  # a linear output neuron: its sum is its output
        out.label = name + ".sum"
    else:
        out._children[0].label = name + ".sum"
        out.label = name + ".out"
    return out


def _name_the_loss(out: Value, loss: str) -> None:
    """Label the loss's own boxes of a one-example graph: the mean (the sum of the one
    example's term, times 1/n), the term, and the target, by the loss's formula."""
    total, n = out._children
    n.label, total.label = "1/n", "sum"
    term = total._children[0]
    if loss == "mse":  # (score - target) ** 2
        term.label = "error²"
        error = term._children[0]
        error.label = "error"
        error._children[1].label = "target"
    elif loss == "hinge":  # relu(1 + (-target) * score)
        term.label = "hinge"
        margin = term._children[0]
        margin.label = "1 - target*score"
        one, product = margin._children
        one.label, product.label = "1", "-target*score"
        product._children[0].label = "-target"
    else:  # softplus(score) - score * target
        term.label = "cross-entropy"
        product = term._children[1]
        product.label = "score*target"
        product._children[1].label = "target"


def _layout(root: Value, nodes: list[Value]) -> tuple[dict, list, float, float]:
    """Node boxes and edge splines of ``viz.draw_dot``'s drawing of ``root`` (points, origin
    top left): ({name: (x, y, w, h)}, [(tail, head, points)], width, height)."""
    text = drawing.plain(viz.draw_dot(root, format="dot", max_nodes=len(nodes)).source)
    boxes: dict[str, tuple[float, float, float, float]] = {}
    edges: list = []
    height = width = 0.0
    for line in text.splitlines():
        if line.startswith("graph "):
            _, _, w, h = line.split()[:4]
            width, height = float(w) * PT, float(h) * PT
        elif line.startswith("node "):
            m = _NODE.match(line)
            name, x, y, w, h = m.groups()
            boxes[name] = (float(x) * PT, height - float(y) * PT, float(w) * PT, float(h) * PT)
        elif line.startswith("edge "):
            parts = line.split()
            n = int(parts[3])
            xy = [float(v) for v in parts[4:4 + 2 * n]]
            pts = [[round(xy[i] * PT, 2), round(height - xy[i + 1] * PT, 2)]
                   for i in range(0, 2 * n, 2)]
            edges.append((parts[1], parts[2], pts))
    return boxes, edges, width, height


class Walk:
    """Backprop through ``root``'s graph one node at a time, output first, in the order
    ``backward()`` finishes them (reverse topological). A node's gradient is the sum, over
    the nodes that used it, of local derivative x their gradient, added in the engine's
    order, so each one equals what ``root.backward()`` gives it."""

    def __init__(self, root: Value, title: str):
        self.root, self.title = root, title
        self.topo = topological_order(root)
        if len(self.topo) > MAX_VALUES:
            raise ValueError(
                f"this graph has {len(self.topo)} values, too many to follow node by node "
                f"(at most {MAX_VALUES}); use fewer or narrower hidden layers, or draw the "
                f"lecture's neuron")
        self.name = {id(v): f"v{i}" for i, v in enumerate(self.topo)}
        self.order = [v for v in reversed(self.topo)]
        self.users: dict[int, list[tuple[Value, int]]] = {id(v): [] for v in self.topo}
        for p in reversed(self.topo):  # the order backward() adds contributions in
            for k, c in enumerate(p._children):
                self.users[id(c)].append((p, k))
        self.boxes, self.edges, self.width, self.height = _layout(root, self.topo)
        self.reset()

    def reset(self) -> None:
        self.grads: dict[int, float] = {}
        self.at = 0

    def _title(self, v: Value) -> str:
        if v.label:
            label = str(v.label)
            return label if re.fullmatch(r"[\w.]+", label) else f"({label})"
        if not v._children:
            return f"({v.data:g})"
        return f"[{v._op}]"

    def drawing(self) -> dict[str, Any]:
        """The graph as the page draws it, with the gradients found so far (others 0)."""
        nodes = []
        for v in self.topo:
            uid = self.name[id(v)]
            x, y, w, h = self.boxes[uid]
            nodes.append({"id": uid, "kind": "value", "label": str(v.label or ""),
                          "data": v.data, "grad": self.grads.get(id(v), 0.0),
                          "x": x, "y": y, "w": w, "h": h})
            if v._children:
                x, y, w, h = self.boxes[uid + "op"]
                nodes.append({"id": uid + "op", "kind": "op", "label": v._op, "x": x, "y": y,
                              "w": w, "h": h})
        return {"title": self.title, "width": self.width, "height": self.height,
                "nodes": nodes,
                "edges": [{"from": a, "to": b, "points": p} for a, b, p in self.edges],
                "order": [self.name[id(v)] for v in self.order], "steps": len(self.order),
                "done": self.at}

    def step(self) -> dict[str, Any]:
        """Fill in the next node's gradient; what it was made of (``terms``) and a sentence."""
        if self.at >= len(self.order):
            raise ValueError("backprop is done: every node has its gradient; reset to walk "
                             "it again")
        v = self.order[self.at]
        me = self._title(v)
        terms = []
        if v is self.root:
            grad = 0.0 + 1.0  # backward() starts from d(root)/d(root) = 1
            text = f"{me} is the output: d{me}/d{me} = 1, where backprop starts"
        else:
            grad, products, why = 0.0, [], []
            for p, k in self.users[id(v)]:
                up = self.grads[id(p)]
                local, product = local_grads(p, 1.0)[k], local_grads(p, up)[k]
                grad += product
                terms.append({"parent": self.name[id(p)], "op": p._op, "local": local,
                              "upstream": up, "product": product})
                products.append(f"{local:.4f} × {up:.4f}")
                why.append(f"∂{self._title(p)}/∂{me} through '{p._op}' × {self._title(p)}.grad")
            text = (f"{me}.grad = {' + '.join(products)} = {grad:.4f}, the chain rule: "
                    f"{' + '.join(why)}")
        self.grads[id(v)] = grad
        self.at += 1
        return {"index": self.at - 1, "node": self.name[id(v)], "grad": grad, "terms": terms,
                "text": text, "done": self.at == len(self.order)}

    def rest(self) -> list[dict[str, Any]]:
        """Every step left, to the end."""
        return [self.step() for _ in range(len(self.order) - self.at)]
