"""Value: a scalar that remembers how it was computed, and backpropagates through it. The
math of every op is in :mod:`zerograd.ops`; this module builds the graph and walks it."""

from __future__ import annotations

import gc
import itertools
import numbers
from collections.abc import Callable, Iterable
from typing import Any

from . import modes
from .anomaly import detect_anomaly  # noqa: F401  (zg.engine.detect_anomaly, as before)
from .convert import Readout, as_float
from .modes import TrainingWarning, check_zero_grad, is_grad_enabled, no_grad  # noqa: F401
from .ops import BY_NAME, SCALAR, Op

_new = object.__new__  # _node makes Values without __init__: its data is a float already


def _binary(name: str, swap: bool = False) -> Callable[[Value, Any], Value]:
    """The method applying op ``name`` to (self, other), or to (other, self) if ``swap``."""
    op = BY_NAME[name]

    def method(self: Value, other: Any) -> Value:
        if other.__class__ is not Value:
            other = _lift(other)
            if other is None:
                return NotImplemented
        a, b = (other, self) if swap else (self, other)
        return _node(op, op.forward(SCALAR, a.data, b.data), (a, b))
    method.__doc__ = f"{op.doc}, with (x, y) = ({'other, self' if swap else 'self, other'})"
    return method


def _unary(name: str) -> Callable[[Value], Value]:
    """The method applying op ``name`` to self."""
    op = BY_NAME[name]

    def method(self: Value) -> Value:
        return _node(op, op.forward(SCALAR, self.data), (self,))
    method.__doc__ = op.doc
    return method


class Value(Readout):  # Readout: float(v), bool(v), v < w (see convert.py)
    """A scalar node: ``data``, ``grad`` and the op and operands that produced it."""

    # _passes: the training watch's (monitor.py); __dict__: attributes user code sets
    __slots__ = ("data", "grad", "_children", "_fn", "_arg", "label", "_passes", "__dict__",
                 "__weakref__")

    def __init__(self, data: float, _children: Iterable[Value] = (), _op: str = "",
                 label: str = ""):
        self.data = as_float(data)
        self.grad = 0.0
        self._children = tuple(_children)
        self._fn: Op | None = None  # the op that made this node (None: a leaf or hand-made)
        self._arg: Any = _op  # the op's constant (powc's exponent), or a hand-made node's label
        self.label = label
        self._passes = None

    @property
    def _prev(self) -> set:
        """The operands of this node, as a set (micrograd's attribute)."""
        return set(self._children)

    @property
    def _op(self) -> str:
        """The label of the op that produced this node ('' for a leaf)."""
        return self._fn.label(self._arg) if self._fn is not None else self._arg

    __add__, __radd__ = _binary("add"), _binary("add", swap=True)
    __sub__, __rsub__ = _binary("sub"), _binary("sub", swap=True)
    __mul__, __rmul__ = _binary("mul"), _binary("mul", swap=True)
    __truediv__, __rtruediv__ = _binary("div"), _binary("div", swap=True)
    __rpow__, __neg__ = _binary("pow", swap=True), _unary("neg")
    relu, tanh, sigmoid = _unary("relu"), _unary("tanh"), _unary("sigmoid")
    exp, log, softplus = _unary("exp"), _unary("log"), _unary("softplus")
    abs = __abs__ = _unary("abs")
    sqrt = _unary("sqrt")

    def __pow__(self, other: Any) -> Value:
        if isinstance(other, Value):
            return apply(BY_NAME["pow"], (self, other))
        if isinstance(other, numbers.Real):
            return apply(BY_NAME["powc"], (self,), as_float(other))
        return NotImplemented

    __pos__ = linear = lambda self: self  # +v, and the identity activation (nn: v.linear())

    def _backward(self) -> None:
        """Add this node's share of the gradient into its operands' ``grad``. A node made
        micrograd's way (``Value(data, children, op)``) runs the closure assigned to its
        ``_backward`` instead (or a subclass's own method)."""
        op, ch = self._fn, self._children
        if op is None:
            return
        if len(ch) == 2 and not op.param:  # the common case first, without building lists
            a, b = ch
            grads = op.backward(SCALAR, self.grad, self.data, a.data, b.data)
            if modes.entered and modes.current.anomaly is not None:
                modes.current.anomaly.sent(self, grads)
            a.grad += grads[0]
            b.grad += grads[1]
            return
        grads = local_grads(self, self.grad)
        if modes.entered and modes.current.anomaly is not None:
            modes.current.anomaly.sent(self, grads)
        for child, g in zip(ch, grads):
            child.grad += g

    def backward(self) -> None:
        """Backpropagate from this node: d(self)/d(node) accumulates into every node's grad.
        Leaves accumulate (``+=``) across calls until zeroed, as in PyTorch; the grads of
        intermediate nodes are recomputed from zero on every call."""
        collecting = gc.isenabled()  # Values hold no cycles: the collector would only rescan
        gc.disable()                 # the graph for nothing while the walk allocates
        try:
            topo = topological_order(self)
            leaves = []
            for v in topo:
                if v._children:
                    v.grad = 0.0
                else:
                    leaves.append(v)
            on_backward_start(leaves)
            self.grad += 1.0
            for v in reversed(topo):
                if v._children:
                    v._backward()
        finally:
            if collecting:
                gc.enable()
        on_backward_end(self, topo)

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"


def local_grads(node: Value, g: float) -> tuple:
    """What ``node`` sends each operand for an incoming gradient ``g`` (1: its derivatives)."""
    op, ch = node._fn, node._children
    if op.param:
        return op.backward(SCALAR, g, node.data, ch[0].data, node._arg)
    return op.backward(SCALAR, g, node.data, *[c.data for c in ch])


def apply(op: Op, children: tuple, arg: Any = None) -> Value:
    """The node of ``op`` (an op of the table, or your own) applied to ``children`` (Values)
    and, for an op with a constant parameter (``op.param``), to ``arg``."""
    if op.param:
        return _node(op, op.forward(SCALAR, children[0].data, arg), children, arg)
    return _node(op, op.forward(SCALAR, *[c.data for c in children]), children)


def _node(op: Op, data: float, children: tuple, arg: Any = None) -> Value:
    """A new Value holding ``data``, linked to ``children`` unless inside ``no_grad()``."""
    out = _new(Value)  # Value.__init__ without its checks: ``data`` is already a float
    out.data = data
    out.grad = 0.0
    out._children = children
    out._fn = op
    out._arg = arg
    out.label = ""
    out._passes = None
    if modes.entered:  # some thread is in a mode: this thread's own modes decide
        m = modes.current
        if not m.grad_enabled:
            out._children, out._fn, out._arg = (), None, ""
        if m.anomaly is not None:  # inside detect_anomaly()
            m.anomaly.made(out, op, children)
    return out


def _lift(x: Any) -> Value | None:
    """``x`` as a Value: Values pass through, real numbers become constant leaves."""
    if isinstance(x, Value):
        return x
    if not (x.__class__ is float or x.__class__ is int or isinstance(x, numbers.Real)):
        return None
    out = Value(x)
    if modes.entered:
        modes.made_constant(out)
    return out


def as_value(x: Any) -> Value:
    """``x`` if it is a Value, else a constant leaf holding the number ``x``."""
    return _lift_all((x,), "as_value")[0]


def _lift_all(xs: Iterable[Any], what: str) -> tuple:
    out = []
    for x in xs:
        v = _lift(x)
        if v is None:
            raise TypeError(f"{what} needs Values or real numbers, got {type(x).__name__}: {x!r}")
        out.append(v)
    return tuple(out)


def vsum(values: Iterable[Any], start: Any = 0.0) -> Value:
    """``start + v0 + v1 + ...`` as one graph node (same numbers as Python's ``sum``)."""
    xs = _lift_all(values, "vsum")
    if not xs:
        return _lift_all((start,), "vsum")[0]
    if isinstance(start, Value) or start != 0:
        xs = _lift_all((start,), "vsum") + xs
    return apply(BY_NAME["sum"], xs)


def dot(weights: Iterable[Any], inputs: Iterable[Any], bias: Any = 0.0) -> Value:
    """``bias + w0*x0 + w1*x1 + ...`` as one graph node (a neuron's pre-activation)."""
    ws, xs = list(weights), list(inputs)
    if len(ws) != len(xs):
        raise ValueError(f"dot needs as many weights as inputs, got {len(ws)} and {len(xs)}")
    flat = [bias, *itertools.chain.from_iterable(zip(ws, xs))]  # bias, w0, x0, w1, x1, ...
    return apply(BY_NAME["linear"], _lift_all(flat, "dot"))


def logsumexp(values: Iterable[Any]) -> Value:
    """``log(exp(v0) + exp(v1) + ...)``, computed without overflow, as one node."""
    xs = _lift_all(values, "logsumexp")
    if not xs:
        raise ValueError("logsumexp needs at least one value")
    return apply(BY_NAME["logsumexp"], xs)


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, operands before results, without recursion."""
    order: list[Value] = []
    seen = {root}
    stack = [(root, iter(root._children))]
    while stack:
        node, it = stack[-1]
        for child in it:
            if child not in seen:
                seen.add(child)
                stack.append((child, iter(child._children)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


# Set by the training watch (monitor.py): told of the leaves backward() adds into, then done
on_backward_start: Callable[[list[Value]], None] = lambda leaves: None
on_backward_end: Callable[[Value, list[Value]], None] = lambda root, topo: None
