"""The op table: the math of every op, written once.

Each op gives its forward value and its local vector-Jacobian product (the gradient
contribution to each operand) as functions of a *backend* ``m`` that supplies the
elementary functions. The eager engine calls them with :data:`SCALAR` on Python floats;
the compiler calls the very same functions with an array backend on NumPy arrays, or with a
symbolic backend to emit straight-line Python. Operands are ``xs``, the op's output is
``out``, the incoming gradient is ``g``. Ops with a constant parameter (``powc``'s exponent)
receive it as ``k``.

Floating point follows IEEE 754 and PyTorch float64: nothing here raises on overflow,
division by zero or a domain error; the result is ``inf`` or ``nan`` instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

inf = math.inf
nan = math.nan


class ScalarMath:
    """Elementary functions on Python floats with IEEE results instead of exceptions."""

    @staticmethod
    def div(x: float, y: float) -> float:
        try:
            return x / y
        except ZeroDivisionError:
            if x == 0 or x != x:
                return nan
            return math.copysign(inf, x) * math.copysign(1.0, y)

    @staticmethod
    def pow(x: float, y: float) -> float:
        try:
            return math.pow(x, y)
        except OverflowError:
            odd = y == math.floor(y) and math.fmod(y, 2.0) != 0
            return -inf if (x < 0 and odd) else inf
        except ValueError:  # 0 ** negative, or negative ** non-integer
            if x == 0:
                odd = y == math.floor(y) and math.fmod(y, 2.0) != 0
                return math.copysign(inf, x) if odd else inf
            return nan

    @staticmethod
    def powk(x: float, k: float) -> float:
        """``x ** k`` for a constant ``k``, as PyTorch's pow(tensor, scalar): ``sqrt(x)`` for
        k = 0.5, ``1 / sqrt(x)`` for k = -0.5 (so (-inf) ** 0.5 is nan and (-0.0) ** -0.5
        is -inf) and ``1 / (x * x)`` for k = -2, else :meth:`pow`."""
        if k != 0.5 and k != -0.5:
            if k == -2.0:  # torch: 1 / (x * x), 0.0 where x * x overflows
                return ScalarMath.div(1.0, x * x)
            try:
                return math.pow(x, k)
            except (OverflowError, ValueError):
                return ScalarMath.pow(x, k)
        r = math.sqrt(x) if x >= 0 else nan
        return r if k > 0 else ScalarMath.div(1.0, r)

    @staticmethod
    def powkm1(x: float, k: float) -> float:
        """``powk(x, k - 1)``: the power in the derivative of ``x ** k``."""
        return ScalarMath.powk(x, k - 1.0)

    @staticmethod
    def exp(x: float) -> float:
        try:
            return math.exp(x)
        except OverflowError:
            return inf

    @staticmethod
    def log(x: float) -> float:
        if x > 0:
            return math.log(x)
        if x == 0:
            return -inf
        return nan

    @staticmethod
    def log1p(x: float) -> float:
        if x > -1:
            return math.log1p(x)
        if x == -1:
            return -inf
        return nan

    @staticmethod
    def sqrt(x: float) -> float:
        return math.sqrt(x) if x >= 0 else nan

    tanh = staticmethod(math.tanh)
    abs = staticmethod(abs)

    @staticmethod
    def sign(x: float) -> float:
        return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)  # sign(nan) = 0, as torch

    @staticmethod
    def maximum(x: float, y: float) -> float:
        return x if (x >= y or x != x) else y

    @staticmethod
    def where(cond: Any, a: float, b: float) -> float:
        return a if cond else b


SCALAR = ScalarMath()


@dataclass(frozen=True)
class Op:
    """One differentiable op: ``forward(m, *xs[, k])`` and ``backward(m, g, out, *xs[, k])``.

    ``arity`` is the operand count, or ``None`` for variadic ops. ``symbol`` is the label
    shown for the node (micrograd's ``_op``); ``"{k}"`` in it is replaced by the parameter.
    """

    name: str
    symbol: str
    arity: int | None
    forward: Callable[..., Any]
    backward: Callable[..., tuple]
    param: bool = False
    doc: str = ""

    def label(self, k: Any = None) -> str:
        return self.symbol.replace("{k}", _fmt(k)) if self.param else self.symbol


def _fmt(k: Any) -> str:
    return str(int(k)) if isinstance(k, float) and k.is_integer() else str(k)


def _linear_forward(m, b, *wx):
    acc = b
    for i in range(0, len(wx), 2):
        acc = acc + wx[i] * wx[i + 1]
    return acc


def _linear_backward(m, g, out, b, *wx):
    grads = [g]
    for i in range(0, len(wx), 2):
        grads.append(g * wx[i + 1])
        grads.append(g * wx[i])
    return tuple(grads)


def _sum_forward(m, *xs):
    acc = xs[0]
    for x in xs[1:]:
        acc = acc + x
    return acc


def _logsumexp_forward(m, *xs):
    top = xs[0]
    for x in xs[1:]:
        top = m.maximum(top, x)
    top = m.where(m.abs(top) == inf, 0.0, top)  # keep inf inputs from giving inf - inf
    acc = m.exp(xs[0] - top)
    for x in xs[1:]:
        acc = acc + m.exp(x - top)
    return top + m.log(acc)


# The derivatives below are grouped as PyTorch's (torch/csrc/autograd/FunctionsManual.cpp)
# so that a huge, zero, inf or nan incoming gradient ``g`` gives what torch gives: the local
# derivative is computed first and multiplied by ``g`` last, and a mask replaces the local
# derivative (so 0 * inf = nan survives it) unless torch's replaces the whole product.
def _pow_grad_base(m, g, out, x, y):
    """torch's pow_backward_self: where(y == 0, 0, g * (y * x ** (y - 1)))."""
    return m.where(y == 0, 0.0, g * (y * m.pow(x, y - 1.0)))


def _powc_grad(m, g, out, x, k):
    """torch's pow_backward: where(k == 0, 0, g * (k * x ** (k - 1))), the power a
    pow(tensor, scalar) again (so k = 1.5 takes sqrt(x), k = 0.5 takes 1 / sqrt(x))."""
    return (m.where(k == 0, 0.0, g * (k * m.powkm1(x, k))),)


def _pow_grad_exponent(m, g, out, x, y):
    """torch's pow_backward_exponent: g * where((x == 0) & (y >= 0), 0, out * log(x))."""
    return g * m.where((x == 0) & (y >= 0), 0.0, out * m.log(x))


def _tanh_backward(m, g, out, x):
    """torch's g * (1 - out * out), whose AVX2/AVX-512 kernels round ``1 - out * out`` once
    (a fused multiply-add). Rounding out * out first loses digits as |out| -> 1 (1e-8
    relative at x = 10); there (1 - out) * (1 + out) keeps them, as 1 - |out| is exact:
    within an ulp of the fused result everywhere."""
    return (g * m.where(m.abs(out) < 0.5, 1.0 - out * out, (1.0 - out) * (1.0 + out)),)


OPS: tuple[Op, ...] = (
    Op("add", "+", 2, lambda m, x, y: x + y, lambda m, g, out, x, y: (g, g), doc="x + y"),
    Op("sub", "-", 2, lambda m, x, y: x - y, lambda m, g, out, x, y: (g, -g), doc="x - y"),
    Op("mul", "*", 2, lambda m, x, y: x * y,
       lambda m, g, out, x, y: (g * y, g * x), doc="x * y"),
    Op("div", "/", 2, lambda m, x, y: m.div(x, y),
       lambda m, g, out, x, y: (m.div(g, y), -g * m.div(out, y)), doc="x / y"),
    Op("neg", "neg", 1, lambda m, x: -x, lambda m, g, out, x: (-g,), doc="-x"),
    Op("pow", "**", 2, lambda m, x, y: m.pow(x, y),
       lambda m, g, out, x, y: (_pow_grad_base(m, g, out, x, y),
                                _pow_grad_exponent(m, g, out, x, y)),
       doc="x ** y"),
    Op("powc", "**{k}", 1, lambda m, x, k: m.powk(x, k), _powc_grad,
       param=True, doc="x ** k, k a constant"),
    Op("relu", "ReLU", 1, lambda m, x: m.where(x < 0, 0.0, x),
       lambda m, g, out, x: (m.where(out <= 0, 0.0, g),), doc="max(x, 0)"),
    Op("tanh", "tanh", 1, lambda m, x: m.tanh(x), _tanh_backward, doc="tanh(x)"),
    # torch: 1 / (1 + exp(-x)) (0 below x = -709.78), and g * (1 - out) * out
    Op("sigmoid", "sigmoid", 1, lambda m, x: 1.0 / (1.0 + m.exp(-x)),
       lambda m, g, out, x: (g * (1.0 - out) * out,), doc="1 / (1 + exp(-x))"),
    Op("exp", "exp", 1, lambda m, x: m.exp(x), lambda m, g, out, x: (g * out,), doc="e ** x"),
    Op("log", "log", 1, lambda m, x: m.log(x), lambda m, g, out, x: (m.div(g, x),),
       doc="ln(x)"),
    Op("softplus", "softplus", 1,
       lambda m, x: m.maximum(x, 0.0) + m.log1p(m.exp(-m.abs(x))),
       lambda m, g, out, x: (g / (1.0 + m.exp(-x)),),  # torch.logaddexp(x, 0)'s
       doc="ln(1 + e ** x), computed stably"),
    Op("abs", "abs", 1, lambda m, x: m.abs(x), lambda m, g, out, x: (g * m.sign(x),),
       doc="|x|"),
    Op("sqrt", "sqrt", 1, lambda m, x: m.sqrt(x),
       lambda m, g, out, x: (m.div(g, 2.0 * out),), doc="x ** 0.5"),
    Op("sum", "sum", None, _sum_forward, lambda m, g, out, *xs: (g,) * len(xs),
       doc="x0 + x1 + ... (left to right)"),
    Op("linear", "Σwx+b", None, _linear_forward, _linear_backward,
       doc="b + w0*x0 + w1*x1 + ... (left to right); operands b, w0, x0, w1, x1, ..."),
    Op("logsumexp", "logsumexp", None, _logsumexp_forward,
       lambda m, g, out, *xs: tuple(g * m.exp(x - out) for x in xs),
       doc="ln(sum(e ** xi)), computed stably"),
)

BY_NAME: dict[str, Op] = {op.name: op for op in OPS}
