"""Phase 1, capture: flatten the arguments, run ``fn`` once on placeholders, keep the graph.

Every number in the arguments (floats, ints, numpy arrays of numbers, nested in lists and
tuples) becomes a placeholder ``Value``; anything else (strings, None, flags) is *static*:
passed through as is and required to be equal on every later call.
"""

from __future__ import annotations

import inspect
import itertools
import numbers
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .. import engine, modes
from ..engine import Value
from .backends import define


class TraceError(RuntimeError):
    """``fn`` did something while tracing that a replayed graph could not reproduce."""


# -- argument structure ("spec") and the flat list of numbers ------------------------------
MAX_DEPTH = 100  # lists, tuples and dicts nested deeper than this are refused


def flatten(x: Any, flat: list) -> Any:
    """Append every number in ``x`` to ``flat``; return ``x``'s structure (a hashable spec).
    Containers nested more than :data:`MAX_DEPTH` deep, or containing themselves, raise
    ``ValueError``."""
    return _flatten(x, flat, [])


def _flatten(x: Any, flat: list, path: list) -> Any:
    """``flatten`` inside the containers whose ids are ``path`` (outermost first)."""
    if isinstance(x, (list, tuple)):
        kind = "list" if isinstance(x, list) else "tuple"
        if all([type(e) is float for e in x]):  # the common leaf row: one level of floats
            if len(path) > MAX_DEPTH + 1:
                _enter(x, path)  # raises
            flat.extend(x)
            return (kind, ("number",) * len(x))
        _enter(x, path)
        spec = (kind, tuple([_flatten(e, flat, path) for e in x]))
        path.pop()
        return spec
    if type(x) is float:
        flat.append(x)
        return "number"
    np = sys.modules.get("numpy")  # an array argument means NumPy is imported already
    # (while another thread is still importing it, it has no ndarray yet, and x is none)
    if np is not None and isinstance(x, getattr(np, "ndarray", ())):
        if x.dtype.kind not in "biuf":
            raise TypeError(f"zg.compile: numpy arrays must hold numbers, got dtype {x.dtype}")
        flat.extend(x.astype(np.float64, copy=False).ravel().tolist())
        return ("array", x.shape)
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        flat.append(float(x))
        return "number"
    if isinstance(x, Value):
        raise TypeError(
            "zg.compile: pass numbers (or lists/arrays of numbers) to a compiled function, "
            "not Values; Values it should update belong in its closure (e.g. a model)"
        )
    if isinstance(x, dict):
        _enter(x, path)
        spec = ("dict", tuple((k, _flatten(v, flat, path)) for k, v in x.items()))
        path.pop()
        return spec
    return ("static", x)


def _enter(x: Any, path: list) -> None:
    """Push the container ``x``'s id on ``path``, refusing a cycle or a depth over
    MAX_DEPTH (the containers on ``path`` are alive, so their ids are theirs alone)."""
    if id(x) in path:
        raise ValueError(
            f"zg.compile: an argument contains itself (a {type(x).__name__} inside itself); "
            "pass numbers in lists, tuples or dicts without cycles")
    if len(path) >= MAX_DEPTH + 2:  # flatten's own (args, kwargs) and args are two levels
        raise ValueError(
            f"zg.compile: an argument is nested more than {MAX_DEPTH} lists, tuples or dicts "
            "deep; pass the numbers flatter (e.g. one list per sample, or a numpy array)")
    path.append(id(x))


def extractor(spec: Any) -> Callable[[Any], list | None]:
    """A generated function doing ``flatten`` for arguments of exactly the structure
    ``spec``: the flat numbers, or None when anything differs (then ``flatten`` and
    :func:`difference` say what). Checking a known structure is cheaper than learning one."""
    lines: list[str] = []
    consts: dict[str, Any] = {"np": sys.modules.get("numpy")}  # for arrays (see flatten)
    floats: list[str] = []  # lists taken whole: then flat may hold non-floats to check
    count = [0]

    def name() -> str:
        count[0] += 1
        return f"x{count[0]}"

    def visit(s: Any, x: str) -> None:
        if s == "number":
            lines.append(f"if type({x}) is int: {x} = float({x})")  # labels are often ints
            lines.append(f"if type({x}) is not float: return None")
            lines.append(f"flat.append({x})")
            return
        kind, body = s
        if kind in ("list", "tuple"):
            lines.append(f"if type({x}) is not {kind} or len({x}) != {len(body)}: return None")
            if body and all(b == "number" for b in body):
                floats.append(x)
                lines.append(f"flat += {x}")
                return
            for i, b in enumerate(body):
                y = name()
                lines.append(f"{y} = {x}[{i}]")
                visit(b, y)
        elif kind == "array":
            lines.append(f"if type({x}) is not np.ndarray or {x}.shape != {body!r} "
                         f"or {x}.dtype.kind not in 'biuf': return None")
            lines.append(f"flat += {x}.astype(np.float64, copy=False).ravel().tolist()")
        elif kind == "dict":
            keys = f"K{len(consts)}"
            consts[keys] = [k for k, _ in body]
            lines.append(f"if type({x}) is not dict or list({x}) != {keys}: return None")
            for k, b in body:
                y = name()
                key = f"K{len(consts)}"
                consts[key] = k
                lines.append(f"{y} = {x}[{key}]")
                visit(b, y)
        else:
            c = f"K{len(consts)}"
            consts[c] = body
            lines.append(f"if type({x}) is not type({c}) or {x} != {c}: return None")

    visit(spec, "a")
    if floats:  # rows taken whole: floats, or ints made floats as flatten makes them
        lines.append("kinds = {*map(type, flat)}")  # the rest of flat is floats already
        lines.append("if kinds != {float}:")
        lines.append("    if not kinds <= {float, int}: return None")
        lines.append("    flat = [float(v) for v in flat]")
    return define(["def extract(a):", "flat = []", *lines, "return flat"], consts,
                  "<zerograd.compile arguments>")


def _describe(spec: Any) -> str:
    if spec == "number":
        return "a number"
    kind, body = spec
    if kind == "array":
        return f"a numpy array of shape {body}"
    if kind in ("list", "tuple", "dict"):
        return f"a {kind} of {len(body)}"
    return f"the constant {body!r}"


def difference(old: Any, new: Any, names: Sequence[str] = ()) -> str:
    """Where and how the call structure ``new`` differs from ``old`` (the specs of two
    ``(args, kwargs)``; they must differ). Positional argument ``i`` is called ``names[i]``
    (``X``, ``X[0]``) when there is one, else by its count (``the 2nd argument``)."""
    (_, (old_args, old_kw)), (_, (new_args, new_kw)) = old, new
    if len(old_args[1]) != len(new_args[1]):
        return (f"it was called with {len(old_args[1])} positional arguments, now "
                f"{len(new_args[1])}")
    for i, (a, b) in enumerate(zip(old_args[1], new_args[1])):
        d = _difference(a, b, _positional(i, names))
        if d:
            return d
    old_keys, new_keys = [k for k, _ in old_kw[1]], [k for k, _ in new_kw[1]]
    if old_keys != new_keys:
        return (f"the keyword arguments were {', '.join(old_keys) or 'none'}, now "
                f"{', '.join(new_keys) or 'none'}")
    for (k, a), (_, b) in zip(old_kw[1], new_kw[1]):
        d = _difference(a, b, lambda sub, k=k: f"{k}{sub}")
        if d:
            return d
    return "the arguments changed"


def _positional(i: int, names: Sequence[str]) -> Callable[[str], str]:
    """How to name positional argument ``i``, or the part ``sub`` (e.g. "[0]") of it."""
    if i < len(names):
        return lambda sub: f"{names[i]}{sub}"
    n = i + 1
    nth = f"{n}{'th' if n % 100 in (11, 12, 13) else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"
    return lambda sub: f"item {sub} of the {nth} argument" if sub else f"the {nth} argument"


def _difference(old: Any, new: Any, name: Callable[[str], str], sub: str = "") -> str:
    if old == new:
        return ""
    if (old == "number" or new == "number" or old[0] != new[0] or old[0] in ("array", "static")
            or len(old[1]) != len(new[1])):
        return f"{name(sub)} was {_describe(old)}, now {_describe(new)}"
    for i, (a, b) in enumerate(zip(old[1], new[1])):
        key = f"[{i}]"
        if old[0] == "dict":
            if a[0] != b[0]:
                return f"{name(sub)} had key {a[0]!r} where it now has {b[0]!r}"
            a, b, key = a[1], b[1], f"[{a[0]!r}]"
        d = _difference(a, b, name, sub + key)
        if d:
            return d
    return f"{name(sub)} changed"


def positional_names(fn: Callable) -> list[str]:
    """The names of ``fn``'s positional parameters, in order ([] if it has no signature)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in itertools.takewhile(lambda p: p.kind in kinds, params)]


def placeholders(spec: Any, x: Any, made: list) -> Any:
    """``x`` with every number replaced by a new placeholder Value (appended to ``made``)."""
    if spec == "number":
        v = Value(float(x))
        made.append(v)
        return v
    kind, body = spec
    if kind == "array":
        return _nest(sys.modules["numpy"].asarray(x, dtype=float).tolist(), made)
    if kind in ("list", "tuple"):
        out = [placeholders(s, e, made) for s, e in zip(body, x)]
        return out if kind == "list" else tuple(out)
    if kind == "dict":
        return {k: placeholders(s, x[k], made) for k, s in body}
    return x


def _nest(x: Any, made: list) -> Any:
    if isinstance(x, list):
        return [_nest(e, made) for e in x]
    v = Value(x)
    made.append(v)
    return v


# -- running fn ---------------------------------------------------------------------------
class Tracer:
    """The calling thread's ``modes.current.tracer`` while ``fn`` runs: it refuses a Value's
    number being read, and collects the constant leaves the engine makes of plain numbers
    (the 1 in ``1 + x``)."""

    def __init__(self) -> None:
        self.constants: list[Value] = []

    def constant(self, v: Value) -> None:
        self.constants.append(v)

    def read(self, v: Value, how: str) -> None:
        raise TraceError(
            f"zg.compile: fn used {how} on a Value (data={v.data!r}) while being traced. A "
            "compiled function replays the graph recorded on its first call, so a Python "
            "decision on a Value's number (if, max, min, sorted, float()) would be frozen to "
            "the first call's branch and silently wrong on later calls. Express it as an op "
            "instead (v.relu(), v.abs(), zg.logsumexp(...)), or make the decision outside the "
            "compiled function."
        )


def run(fn: Callable, args: tuple, kwargs: dict) -> tuple[Any, list[Value]]:
    """Call ``fn`` with tracing on; return its result and the constant leaves it created."""
    if not engine.is_grad_enabled():
        raise TraceError("zg.compile: cannot trace inside no_grad(); call it outside")
    tracer = Tracer()
    token = modes.enter("tracer", tracer)
    try:
        result = fn(*args, **kwargs)
    finally:  # the tracer holds for this thread only, and only while fn runs
        modes.leave("tracer", token)
    return result, tracer.constants


def outputs(result: Any) -> tuple[list[Value], type | None]:
    """The Values ``fn`` returned, and list/tuple if it returned a sequence (else None)."""
    if isinstance(result, Value):
        return [result], None
    if isinstance(result, (list, tuple)) and result and all(isinstance(r, Value) for r in result):
        return list(result), type(result)
    raise TypeError(
        "zg.compile: fn must return a Value or a non-empty list/tuple of Values, got "
        f"{type(result).__name__}: {result!r:.80}"
    )
