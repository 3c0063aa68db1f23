"""Value: a scalar that remembers how it was computed, and backpropagates through it.

The math of every op lives in :mod:`zerograd.ops`; this module builds the graph and walks it.
"""

from __future__ import annotations

import gc
import math
import numbers
import os
import sys
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from . import modes, monitor
from .anomaly import detect_anomaly  # noqa: F401  (zg.engine.detect_anomaly, as before)
from .ops import BY_NAME, SCALAR, Op

_ADD, _SUB, _MUL, _DIV, _NEG = (BY_NAME[n] for n in ("add", "sub", "mul", "div", "neg"))
_POW, _POWC = BY_NAME["pow"], BY_NAME["powc"]

# Module state, switched by context managers: graph building, anomaly checks, tracing hook.
# Modes (no_grad, detect_anomaly, zg.compile's tracing hooks) are per thread, in modes.py;
# while no thread has entered one (modes.entered == 0) the checks below cost one look-up.


class TrainingWarning(UserWarning):
    """A training loop that runs but is probably not what was meant (e.g. no zero_grad)."""


def _check_number(data: Any) -> float:
    if data.__class__ is float or data.__class__ is int or isinstance(data, numbers.Real):
        try:
            return float(data)
        except OverflowError:
            raise _too_large(data) from None
    raise TypeError(
        f"Value needs a real number (int or float), got {type(data).__name__}: {data!r}"
    )


def _too_large(x: Any) -> OverflowError:
    """The error for a number ``float()`` cannot hold (Values are float64)."""
    what = (f"an integer of about {int(x.bit_length() * math.log10(2)) + 1} digits"
            if isinstance(x, int) else f"this {type(x).__name__}")
    return OverflowError(
        f"{what} is too large for a Value, which holds a float64 (at most about 1.8e308); "
        f"scale it down, or use float('inf') if infinity is meant"
    )


def _binary(op: Op, swap: bool = False) -> Callable[[Value, Any], Value]:
    """The operator method applying ``op`` to (self, other), or to (other, self) if ``swap``.

    A number on the other side becomes a constant leaf; anything else is NotImplemented.
    """

    def method(self: Value, other: Any) -> Value:
        if other.__class__ is not Value:
            other = _lift(other)
            if other is None:
                return NotImplemented
        a, b = (other, self) if swap else (self, other)
        return _node(op, op.forward(SCALAR, a.data, b.data), (a, b))

    method.__name__ = f"__{'r' if swap else ''}{op.name}__"
    method.__doc__ = f"{op.doc}, with (x, y) = ({'other, self' if swap else 'self, other'})"
    return method


class Value:
    """A scalar node: ``data``, ``grad`` and the op and operands that produced it."""

    # __dict__: attributes that user code sets (p.m = 0.0, a node's own _backward closure);
    # __weakref__: the training-loop monitor remembers a loop's parameters without keeping them
    __slots__ = ("data", "grad", "_children", "_fn", "_arg", "label", "_passes", "__dict__",
                 "__weakref__")

    def __init__(
        self, data: float, _children: Iterable[Value] = (), _op: str = "", label: str = ""
    ):
        self.data = _check_number(data)
        self.grad = 0.0
        self._children = tuple(_children)
        self._fn: Op | None = None
        self._arg: Any = _op  # for a hand-made node, the label micrograd calls _op
        self.label = label
        self._passes = None

    # -- graph building -----------------------------------------------------------------
    @staticmethod
    def _make(op: Op, children: tuple, arg: Any = None) -> Value:
        """Apply ``op`` to ``children`` (Values): compute the data and link the node."""
        if op.param:
            data = op.forward(SCALAR, children[0].data, arg)
        else:
            data = op.forward(SCALAR, *[c.data for c in children])
        return _node(op, data, children, arg)

    @property
    def _prev(self) -> set:
        """The operands of this node, as a set (micrograd's attribute)."""
        return set(self._children)

    @property
    def _op(self) -> str:
        """The label of the op that produced this node ('' for a leaf)."""
        return self._fn.label(self._arg) if self._fn is not None else self._arg

    __add__ = _binary(_ADD)
    __radd__ = _binary(_ADD, swap=True)
    __sub__ = _binary(_SUB)
    __rsub__ = _binary(_SUB, swap=True)
    __mul__ = _binary(_MUL)
    __rmul__ = _binary(_MUL, swap=True)
    __truediv__ = _binary(_DIV)
    __rtruediv__ = _binary(_DIV, swap=True)
    __rpow__ = _binary(_POW, swap=True)

    def __pow__(self, other: Any) -> Value:
        if isinstance(other, Value):
            return Value._make(_POW, (self, other))
        if isinstance(other, numbers.Real):
            try:
                exponent = float(other)
            except OverflowError:
                raise _too_large(other) from None
            return Value._make(_POWC, (self,), exponent)
        return NotImplemented

    def __neg__(self) -> Value:
        return Value._make(_NEG, (self,))

    def __pos__(self) -> Value:
        return self

    def relu(self) -> Value:
        return Value._make(_RELU, (self,))

    def tanh(self) -> Value:
        return Value._make(_TANH, (self,))

    def sigmoid(self) -> Value:
        return Value._make(_SIGMOID, (self,))

    def exp(self) -> Value:
        return Value._make(_EXP, (self,))

    def log(self) -> Value:
        return Value._make(_LOG, (self,))

    def softplus(self) -> Value:
        return Value._make(_SOFTPLUS, (self,))

    def abs(self) -> Value:
        return Value._make(_ABS, (self,))

    def __abs__(self) -> Value:
        return self.abs()

    def sqrt(self) -> Value:
        return Value._make(_SQRT, (self,))

    def linear(self) -> Value:  # identity activation, so nn can call getattr(v, activation)
        return self

    # -- reading the number out (refused while zg.compile traces) ------------------------
    def __float__(self) -> float:
        if modes.entered:
            _concretized(self, "float()")
        return self.data

    def __bool__(self) -> bool:
        """Always True, as in micrograd (a Value is an object, not a number to branch on)."""
        if modes.entered:
            _concretized(self, "bool()")
        return True

    def _compare(self, other: Any, how: str) -> bool:
        if modes.entered:
            _concretized(self, f"a comparison ({how})")
        return other.data if isinstance(other, Value) else other

    def __lt__(self, other: Any) -> bool:
        return self.data < self._compare(other, "<")

    def __le__(self, other: Any) -> bool:
        return self.data <= self._compare(other, "<=")

    def __gt__(self, other: Any) -> bool:
        return self.data > self._compare(other, ">")

    def __ge__(self, other: Any) -> bool:
        return self.data >= self._compare(other, ">=")

    # -- backpropagation -------------------------------------------------------------------
    def _backward(self) -> None:
        """Add this node's share of the gradient into its operands' ``grad``. A node made
        micrograd's way (``Value(data, children, op)``) runs the closure assigned to its
        ``_backward`` instead (or a subclass's own method)."""
        op = self._fn
        if op is None:
            return
        ch = self._children
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
        for c, gr in zip(ch, grads):
            c.grad += gr

    def backward(self) -> None:
        """Backpropagate from this node: d(self)/d(node) accumulates into every node's grad.

        Leaves accumulate (``+=``) across calls until zeroed, as in PyTorch; the grads of
        intermediate nodes are recomputed from zero on every call.
        """
        # The walk allocates many short-lived containers; pausing the cycle collector keeps
        # it from rescanning the whole graph meanwhile (Values hold no cycles to find).
        paused = gc.isenabled()
        gc.disable()
        try:
            topo = topological_order(self)
            stale = 0
            for v in topo:
                if v._children:
                    v.grad = 0.0
                elif count_pass(v):
                    stale += 1
            if stale:
                warn_stale(stale, topo)
            self.grad += 1.0
            for v in reversed(topo):
                if v._children:
                    v._backward()
        finally:
            if paused:
                gc.enable()
        if self._children:
            alarm = monitor.after_backward(self, topo)
            if alarm is not None:
                warn(alarm)

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
    out.label = ""
    out._passes = None
    out._children = children
    out._fn = op
    out._arg = arg
    if modes.entered:  # some thread is in a mode: this thread's own modes decide
        m = modes.current
        if not m.grad_enabled:
            out._children, out._fn, out._arg = (), None, ""
        if m.anomaly is not None:  # inside detect_anomaly(): anomaly.Sites
            m.anomaly.made(out, op, children)
    return out


_new = object.__new__


def _concretized(v: Value, how: str) -> None:
    """Tell the tracing hook (inside zg.compile's trace) that ``v``'s number was read."""
    hook = modes.current.on_concretize
    if hook is not None:
        hook(v, how)


def count_pass(leaf: Value) -> bool:
    """Note that a backward pass is about to add into ``leaf.grad``; True if the grad holds
    a pass taken before ``leaf.data`` changed (a forgotten zero_grad in a training loop).

    ``_passes`` records the passes the grad holds since it was last zero: None (none), the
    leaf's data at the one pass, or ``(count, data at the latest)``; data None once warned
    (for good: the warning is once per run).
    """
    prev = leaf._passes
    if prev.__class__ is tuple:
        n, seen = prev
        if seen is None:
            leaf._passes = (n + 1 if leaf.grad else 1, None)
            return False
    else:
        n, seen = 1, prev
    if not leaf.grad:
        leaf._passes = leaf.data
        return False
    if seen is not None and seen != leaf.data:
        leaf._passes = (n + 1, None)
        return True
    leaf._passes = (n + 1, leaf.data)
    return False


def add_grads(leaves: list[Value], grads: list[float]) -> int:
    """Add ``grads`` into ``leaves``' grads as a backward pass does (each noted with
    :func:`count_pass`); returns how many held a pass taken before their data changed."""
    stale = 0
    for p, g in zip(leaves, grads):
        if not p.grad and p._passes.__class__ is not tuple:  # zeroed since: count_pass's
            p._passes = p.data                               # first case, inline
        elif count_pass(p):
            stale += 1
        p.grad += g
    return stale


def passes(leaf: Value) -> int:
    """How many backward passes ``leaf.grad`` holds since it was last zero."""
    p = leaf._passes
    return 0 if not leaf.grad else p[0] if p.__class__ is tuple else 1


def unreported_sum(leaf: Value) -> bool:
    """True if ``leaf.grad`` sums several passes and no warning has reported it yet."""
    p = leaf._passes
    return p.__class__ is tuple and p[1] is not None and bool(leaf.grad)


def updated_on_purpose(leaf: Value) -> None:
    """Accept ``leaf``'s new data as a deliberate update between accumulating passes."""
    p = leaf._passes
    if p.__class__ is tuple:
        if p[1] is not None:
            leaf._passes = (p[0], leaf.data)
    elif p is not None:
        leaf._passes = leaf.data


def check_zero_grad(enabled: bool) -> None:
    """Switch the forgotten-zero_grad warning of ``backward()`` on or off for the calling
    thread (on by default); off is for code that accumulates gradients across parameter
    updates on purpose."""
    modes.current.check_zero_grad = bool(enabled)


def warn_stale(stale: int, leaves: Iterable[Value]) -> None:
    """Warn that ``stale`` leaves' grads held a pass taken before their data changed, and
    mark all ``leaves`` of that pass as warned."""
    for v in leaves:
        if not v._children:
            v._passes = (passes(v), None)
    if modes.current.check_zero_grad:
        warn(
            f"backward() added new gradients to old ones, this step's to the last step's: "
            f"zero them first with `for p in model.parameters(): p.grad = 0.0` (or "
            f"model.zero_grad()). {stale} parameter{'s' if stale != 1 else ''} still held "
            f"the gradient of an earlier backward() and had been updated since, so their "
            f".grad is now the sum of both passes and the next update uses it (with an "
            f"optimizer, call optimizer.zero_grad() before each backward()). (Warned once per "
            f"run. To accumulate across updates on purpose, pass accumulate=True to the "
            f"optimizer, or call zg.engine.check_zero_grad(False) in a loop without one.)"
        )


def warn(message: str) -> None:
    """Issue a :class:`TrainingWarning` pointing at the first line of user code (or hand it to
    the calling thread's ``modes.current.on_warning``, where the playground listens)."""
    listener = modes.current.on_warning
    if listener is not None:
        listener(message)
        return
    f, level = sys._getframe(1), 2
    while f is not None and f.f_code.co_filename.startswith(_PACKAGE_DIR):
        f, level = f.f_back, level + 1
    warnings.warn(message, TrainingWarning, stacklevel=level)


def _lift(x: Any) -> Value | None:
    """``x`` as a Value: Values pass through, real numbers become constant leaves."""
    if isinstance(x, Value):
        return x
    if x.__class__ is float or x.__class__ is int or isinstance(x, numbers.Real):
        out = _new(Value)
        try:
            out.data = float(x)
        except OverflowError:
            raise _too_large(x) from None
        out.grad = 0.0
        out._children = ()
        out._fn = None
        out._arg = ""
        out.label = ""
        out._passes = None
        if modes.entered and modes.current.on_constant is not None:
            modes.current.on_constant(out)
        return out
    return None


_RELU, _TANH, _SIGMOID, _EXP, _LOG, _SOFTPLUS, _ABS, _SQRT = (
    BY_NAME[n] for n in ("relu", "tanh", "sigmoid", "exp", "log", "softplus", "abs", "sqrt")
)
_SUM, _LINEAR, _LOGSUMEXP = BY_NAME["sum"], BY_NAME["linear"], BY_NAME["logsumexp"]


def as_value(x: Any) -> Value:
    """``x`` if it is a Value, else a constant leaf holding the number ``x``."""
    v = _lift(x)
    if v is None:
        raise TypeError(f"expected a Value or a real number, got {type(x).__name__}: {x!r}")
    return v


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
    return Value._make(_SUM, xs)


def dot(weights: Iterable[Any], inputs: Iterable[Any], bias: Any = 0.0) -> Value:
    """``bias + w0*x0 + w1*x1 + ...`` as one graph node (a neuron's pre-activation)."""
    ws, xs = list(weights), list(inputs)
    if len(ws) != len(xs):
        raise ValueError(f"dot needs as many weights as inputs, got {len(ws)} and {len(xs)}")
    flat = [bias]
    for w, x in zip(ws, xs):
        flat.append(w)
        flat.append(x)
    return Value._make(_LINEAR, _lift_all(flat, "dot"))


def logsumexp(values: Iterable[Any]) -> Value:
    """``log(exp(v0) + exp(v1) + ...)``, computed without overflow, as one node."""
    xs = _lift_all(values, "logsumexp")
    if not xs:
        raise ValueError("logsumexp needs at least one value")
    return Value._make(_LOGSUMEXP, xs)


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


# -- modes ---------------------------------------------------------------------------------
class no_grad:
    """Context manager and decorator: ops inside build no graph (results are leaves). It
    holds for the calling thread only, as PyTorch's does."""

    def __init__(self) -> None:
        self._tokens: list = []

    def __enter__(self) -> None:
        self._tokens.append(modes.enter("grad_enabled", False))

    def __exit__(self, *exc: Any) -> None:
        modes.leave("grad_enabled", self._tokens.pop())

    def __call__(self, fn: Callable) -> Callable:
        import functools

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper


def is_grad_enabled() -> bool:
    """True unless the calling thread is inside ``no_grad()``."""
    return modes.current.grad_enabled


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
