"""Backends for the op table: the same op functions, run on arrays or turned into source.

:class:`SymbolicMath` and :class:`Sym` make an op function *write code*: operands are
source strings, every operator returns a longer one, and every elementary function call is
emitted as a line ``t7 = _exp(v3)`` calling ``ops.SCALAR``'s own function. The array
backend, ``ArrayMath`` (``ARRAY``, ``SELECT_MIN``), lives in :mod:`.arraymath`, which needs
NumPy; its names here import it on first use.
"""

from __future__ import annotations

import collections
import math
import threading
from typing import Any

_ARRAY_NAMES = ("ArrayMath", "ARRAY", "SELECT_MIN")


def __getattr__(name: str) -> Any:
    if name in _ARRAY_NAMES:  # the array backend, from the module that imports NumPy
        from . import arraymath

        return getattr(arraymath, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def lit(x: Any) -> str:
    """Python source for the constant or Sym ``x`` (inf and nan are names bound to them)."""
    return operand(x)[0]


def operand(x: Any) -> tuple[str, int]:
    """(source, precedence) of an operand: 100 for atoms, 13 for a unary minus."""
    if isinstance(x, Sym):
        return x.s, x.prec
    if isinstance(x, bool):
        return repr(x), 100
    if isinstance(x, float):
        if math.isnan(x):
            return "nan", 100
        if math.isinf(x):
            return ("inf", 100) if x > 0 else ("-inf", 13)
        return repr(x), (100 if math.copysign(1.0, x) > 0 else 13)
    if isinstance(x, int):
        return repr(x), (100 if x >= 0 else 13)
    raise TypeError(f"cannot emit a constant of type {type(x).__name__}: {x!r}")


# Python's operator precedence; comparisons do not associate (a < b < c is a chain)
_PREC = {"|": 7, "&": 8, "+": 11, "-": 11, "*": 12, "/": 12}
_COMPARE = 6
_MAX_DEPTH = 100  # deeper expressions are split into temporaries (the parser has limits)


class _Writing(threading.local):
    """The SymbolicMath writers open in this thread, innermost last."""

    def __init__(self) -> None:
        self.stack: list[SymbolicMath] = []


_writing = _Writing()


def _bin(op: str):
    p = _PREC.get(op, _COMPARE)

    def make(a: Any, b: Any) -> Sym:
        (sa, pa), (sb, pb) = operand(a), operand(b)
        left = sa if (pa > p or (pa == p and p != _COMPARE)) else f"({sa})"
        right = sb if pb > p else f"({sb})"
        depth = 1 + max(getattr(a, "depth", 0), getattr(b, "depth", 0))
        out = Sym(f"{left} {op} {right}", p, depth)
        if depth > _MAX_DEPTH:
            spill = _writing.stack  # the SymbolicMath this thread is writing with, if any
            return spill[-1].temp(out.s) if spill else out
        return out

    return make, (lambda a, b: make(b, a))


class Sym:
    """A Python expression (source text, its precedence and nesting depth)."""

    __slots__ = ("s", "prec", "depth")

    def __init__(self, s: str, prec: int = 100, depth: int = 0):
        self.s, self.prec, self.depth = s, prec, depth

    __add__, __radd__ = _bin("+")
    __sub__, __rsub__ = _bin("-")
    __mul__, __rmul__ = _bin("*")
    __truediv__, __rtruediv__ = _bin("/")
    __lt__, __gt__ = _bin("<")[0], _bin(">")[0]
    __le__, __ge__ = _bin("<=")[0], _bin(">=")[0]
    __eq__, __ne__ = _bin("==")[0], _bin("!=")[0]
    __and__, __rand__ = _bin("&")
    __or__, __ror__ = _bin("|")
    __hash__ = None  # type: ignore[assignment]

    def __neg__(self) -> Sym:
        s = self.s if self.prec >= 13 else f"({self.s})"
        return Sym(f"-{s}", 13, self.depth + 1)

    def __pos__(self) -> Sym:
        return self

    def __bool__(self) -> bool:
        return refuse_branch(self)

    def __repr__(self) -> str:
        return f"Sym({self.s})"


def refuse_branch(operand: Any) -> bool:
    """What ``bool()`` of a recorded operand does (a :class:`Sym`, npcode's ``Lazy``): an op's
    math is recorded once for every element, so it must not branch on one."""
    raise TypeError("an op's math must not branch on an operand; use m.where")


class SymbolicMath:
    """A backend whose functions append ``tN = _name(args)`` to ``lines`` and return ``tN``.

    Every function of ``ops.ScalarMath`` is available under its own name; the generated code
    must bind ``_name`` to ``ops.SCALAR.name`` (see :func:`namespace`).
    """

    def __init__(self, lines: list[str], prefix: str = "t"):
        self.lines = lines
        self.prefix = prefix
        self.count = 0

    def __enter__(self) -> SymbolicMath:
        _writing.stack.append(self)  # too-deep expressions go to this writer's temporaries
        return self

    def __exit__(self, *exc: Any) -> None:
        _writing.stack.pop()

    def temp(self, expr: str) -> Sym:
        self.count += 1
        name = f"{self.prefix}{self.count}"
        self.lines.append(f"{name} = {expr}")
        return Sym(name)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        if not isinstance(cond, Sym):  # decided while generating (a constant parameter)
            return a if cond else b
        return Sym(f"({lit(a)} if {cond.s} else {lit(b)})", 100,
                   1 + max(cond.depth, getattr(a, "depth", 0), getattr(b, "depth", 0)))

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)

        def call(*args: Any) -> Sym:
            return self.temp(f"_{name}({', '.join(lit(a) for a in args)})")

        return call


def namespace() -> dict[str, Any]:
    """Globals for generated code: ``_name`` for every ``ops.SCALAR`` function, inf, nan."""
    from .. import ops

    ns: dict[str, Any] = {"inf": math.inf, "nan": math.nan}
    for name in dir(ops.ScalarMath):
        if not name.startswith("_"):
            ns[f"_{name}"] = getattr(ops.SCALAR, name)
    return ns


CODE_KEPT = 8  # compiled sources kept: a graph of the same shape again skips Python's compile
CODE_KEPT_CHARS = 4_000_000  # and at most this much source in all (the code is ~10x bigger)
_compiled: collections.OrderedDict[tuple[str, str], Any] = collections.OrderedDict()
_compiled_lock = threading.Lock()


def define(lines: list[str], ns: dict[str, Any], filename: str) -> Any:
    """The function whose source is ``lines`` (a ``def`` line, then its body), defined in
    ``ns``; ``filename`` names it in tracebacks. The last ``CODE_KEPT`` sources keep their
    compiled code (Python's compile takes most of a big graph's first call)."""
    src = lines[0] + "\n" + "".join(f"    {x}\n" for x in lines[1:])
    with _compiled_lock:
        code = _compiled.pop((src, filename), None)
    if code is None:
        code = compile(src, filename, "exec")
    with _compiled_lock:
        _compiled[src, filename] = code
        while len(_compiled) > CODE_KEPT or (
                len(_compiled) > 1 and sum(len(k[0]) for k in _compiled) > CODE_KEPT_CHARS):
            _compiled.popitem(last=False)
    exec(code, ns)
    return ns[lines[0][4 : lines[0].index("(")]]
