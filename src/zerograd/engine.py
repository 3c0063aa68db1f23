"""Value: a scalar that remembers how it was computed, and backpropagates through it.

The math of every op lives in :mod:`zerograd.ops`; this module builds the graph and walks it.
Per-thread modes (``no_grad``, ``detect_anomaly``, ``zg.compile``'s tracer) are kept in
:mod:`zerograd.modes`; the training watch hears of every ``backward()`` through
:data:`listener`.
"""

from __future__ import annotations

import gc
import itertools
import math
import numbers
import operator
from collections.abc import Callable, Iterable
from typing import Any

from . import modes
from .anomaly import detect_anomaly  # noqa: F401  (zg.engine.detect_anomaly, as before)
from .modes import check_zero_grad, is_grad_enabled, no_grad  # noqa: F401  (zg.engine.*)
from .ops import BY_NAME, SCALAR, Op


class TrainingWarning(UserWarning):
    """A training loop that runs but is probably not what was meant (e.g. no zero_grad)."""


def _number(x: Any) -> float:
    """``x`` as a float, or an error saying why a Value cannot hold it."""
    if not (x.__class__ is float or x.__class__ is int or isinstance(x, numbers.Real)):
        raise TypeError(f"Value needs a real number (int or float), got {type(x).__name__}: {x!r}")
    try:
        return float(x)
    except OverflowError:
        what = (f"an integer of about {int(x.bit_length() * math.log10(2)) + 1} digits"
                if isinstance(x, int) else f"this {type(x).__name__}")
        raise OverflowError(
            f"{what} is too large for a Value, which holds a float64 (at most about 1.8e308); "
            f"scale it down, or use float('inf') if infinity is meant") from None


def _binary(name: str, swap: bool = False) -> Callable[[Value, Any], Value]:
    """The operator method applying op ``name`` to (self, other), or to (other, self)."""
    op = BY_NAME[name]

    def method(self: Value, other: Any) -> Value:
        if other.__class__ is not Value:
            other = _lift(other)
            if other is None:
                return NotImplemented
        a, b = (other, self) if swap else (self, other)
        return _node(op, op.forward(SCALAR, a.data, b.data), (a, b))

    method.__name__ = f"__{'r' if swap else ''}{name}__"
    method.__doc__ = f"{op.doc}, with (x, y) = ({'other, self' if swap else 'self, other'})"
    return method


def _unary(name: str) -> Callable[[Value], Value]:
    """The method applying op ``name`` to self."""
    op = BY_NAME[name]

    def method(self: Value) -> Value:
        return _node(op, op.forward(SCALAR, self.data), (self,))

    method.__name__, method.__doc__ = name, op.doc
    return method


def _comparison(how: str, compare: Callable[[float, Any], bool]) -> Callable[[Value, Any], bool]:
    """The method comparing self's number with other's (a Value's or a plain number)."""

    def method(self: Value, other: Any) -> bool:
        _read(self, f"a comparison ({how})")
        return compare(self.data, other.data if isinstance(other, Value) else other)

    return method


class Value:
    """A scalar node: ``data``, ``grad`` and the op and operands that produced it."""

    # _passes: the training watch's note of the backward passes summed in grad (monitor.py);
    # __dict__: attributes user code sets (p.m = 0.0, a micrograd-style _backward closure)
    __slots__ = ("data", "grad", "_children", "_fn", "_arg", "label", "_passes", "__dict__",
                 "__weakref__")

    def __init__(self, data: float, _children: Iterable[Value] = (), _op: str = "",
                 label: str = ""):
        self.data = _number(data)
        self.grad = 0.0
        self._children = tuple(_children)
        self._fn: Op | None = None  # the op that made this node (None: a leaf or hand-made)
        self._arg: Any = _op  # the op's constant (powc's exponent), or a hand-made node's label
        self.label = label
        self._passes = None

    @staticmethod
    def _make(op: Op, children: tuple, arg: Any = None) -> Value:
        """Apply ``op`` to ``children`` (Values): compute the data and link the node."""
        if op.param:
            return _node(op, op.forward(SCALAR, children[0].data, arg), children, arg)
        return _node(op, op.forward(SCALAR, *[c.data for c in children]), children)

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
    __rpow__ = _binary("pow", swap=True)
    __neg__ = _unary("neg")
    relu, tanh, sigmoid = _unary("relu"), _unary("tanh"), _unary("sigmoid")
    exp, log, softplus = _unary("exp"), _unary("log"), _unary("softplus")
    abs, sqrt = _unary("abs"), _unary("sqrt")

    def __pow__(self, other: Any) -> Value:
        if isinstance(other, Value):
            return Value._make(BY_NAME["pow"], (self, other))
        if isinstance(other, numbers.Real):
            return Value._make(BY_NAME["powc"], (self,), _number(other))
        return NotImplemented

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return self.abs()

    def linear(self) -> Value:  # the identity activation, so nn can call getattr(v, activation)
        return self

    # -- reading the number out (zg.compile's tracer refuses it) ----------------------------
    def __float__(self) -> float:
        _read(self, "float()")
        return self.data

    def __bool__(self) -> bool:
        """Always True, as in micrograd (a Value is an object, not a number to branch on)."""
        _read(self, "bool()")
        return True

    __lt__, __le__ = _comparison("<", operator.lt), _comparison("<=", operator.le)
    __gt__, __ge__ = _comparison(">", operator.gt), _comparison(">=", operator.ge)

    # -- backpropagation ------------------------------------------------------------------
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
        intermediate nodes are recomputed from zero on every call.
        """
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
            listener.starting(leaves)
            self.grad += 1.0
            for v in reversed(topo):
                if v._children:
                    v._backward()
        finally:
            if collecting:
                gc.enable()
        listener.finished(self, topo)

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"


def local_grads(node: Value, g: float) -> tuple:
    """What ``node``'s op sends each operand for an incoming gradient ``g``: the op table's
    backward (``g = 1`` gives the local derivatives)."""
    op, ch = node._fn, node._children
    if op.param:
        return op.backward(SCALAR, g, node.data, ch[0].data, node._arg)
    return op.backward(SCALAR, g, node.data, *[c.data for c in ch])


def _node(op: Op, data: float, children: tuple, arg: Any = None) -> Value:
    """A new Value holding ``data``, linked to ``children`` unless inside ``no_grad()``."""
    out = _new(Value)
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


_new = object.__new__


def _lift(x: Any) -> Value | None:
    """``x`` as a Value: Values pass through, real numbers become constant leaves."""
    if isinstance(x, Value):
        return x
    if not (x.__class__ is float or x.__class__ is int or isinstance(x, numbers.Real)):
        return None
    out = Value(x)
    if modes.entered and modes.current.tracer is not None:
        modes.current.tracer.constant(out)
    return out


def _read(v: Value, how: str) -> None:
    """Tell this thread's tracer (inside zg.compile's trace) that ``how`` reads ``v``."""
    if modes.entered and modes.current.tracer is not None:
        modes.current.tracer.read(v, how)


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
    xs = _lift_all(list(values), "vsum")
    if not xs:
        return _lift_all((start,), "vsum")[0]
    if isinstance(start, Value) or start != 0:
        xs = _lift_all((start,), "vsum") + xs
    return Value._make(BY_NAME["sum"], xs)


def dot(weights: Iterable[Any], inputs: Iterable[Any], bias: Any = 0.0) -> Value:
    """``bias + w0*x0 + w1*x1 + ...`` as one graph node (a neuron's pre-activation)."""
    ws, xs = list(weights), list(inputs)
    if len(ws) != len(xs):
        raise ValueError(f"dot needs as many weights as inputs, got {len(ws)} and {len(xs)}")
    flat = [bias, *itertools.chain.from_iterable(zip(ws, xs))]  # bias, w0, x0, w1, x1, ...
    return Value._make(BY_NAME["linear"], _lift_all(flat, "dot"))


def logsumexp(values: Iterable[Any]) -> Value:
    """``log(exp(v0) + exp(v1) + ...)``, computed without overflow, as one node."""
    xs = _lift_all(list(values), "logsumexp")
    if not xs:
        raise ValueError("logsumexp needs at least one value")
    return Value._make(BY_NAME["logsumexp"], xs)


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


class Listener:
    """Told of every ``backward()``; zerograd.monitor installs the training watch's."""

    def starting(self, leaves: list[Value]) -> None:
        """The pass is about to add into these leaves' grads."""

    def finished(self, root: Value, topo: list[Value]) -> None:
        """The pass from ``root`` over ``topo`` (operands first) is done."""


listener = Listener()
