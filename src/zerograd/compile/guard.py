"""What a compiled function's graph was traced from, and a cheap check that it still is.

A traced graph holds the parameter Values ``fn`` reached and bakes in the model's shape
(its layers and neurons, each neuron's activation). :class:`Guard`, made at trace time,
finds the models and Values ``fn`` can reach (its closure, the globals it names, its
defaults, a bound method's object, a ``functools.partial``'s arguments, and the functions of
the same file it calls), keeps a shallow copy of every container it walked (each module's
attributes, each list or dict of modules or Values) and what each name was bound to. On each
call :meth:`Guard.changed` compares the live containers with their copies in one tuple
comparison in C, identity first (Values and modules compare by identity): a replaced Value,
an added, removed or replaced neuron or layer, a changed activation or a rebound name is
seen. :meth:`Guard.what` names the first change.

Numbers and data captured in the closure (a float, a list of floats) are constants of the
graph, baked in as in ``jax.jit``, and not watched.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from operator import is_
from typing import Any

from ..engine import Value
from ..nn import Module

_SKIP = (types.ModuleType, type, types.BuiltinFunctionType)


class ModelChanged(RuntimeError):
    """The model a compiled training run traced changed under it (a replaced parameter, an
    added or removed neuron or layer, a changed activation, a rebound name)."""


class Guard:
    """The objects ``fn``'s trace depended on, by identity (see the module's docstring)."""

    __slots__ = ("live", "copies", "names", "spaces", "keys", "objs")

    def __init__(self, fn: Callable) -> None:
        live: list = []  # containers walked (module __dict__s, lists, dicts)
        names: list[str] = []  # how to call each, for what()
        cells: list = []  # closure cells and what they held
        globs: list = []  # (globals, name, what it was bound to)
        seen: set[int] = set()

        def container(obj: Any, name: str) -> None:
            if id(obj) in seen:
                return
            seen.add(id(obj))
            if isinstance(obj, Module):
                d = vars(obj)
                live.append(d)
                names.append(name)
                for k, v in list(d.items()):
                    container(v, f"{name}.{k}")
            elif type(obj) in (list, tuple, dict) and _holds(obj):
                if type(obj) is not tuple:  # a tuple cannot change: its items are walked
                    live.append(obj)
                    names.append(name)
                items = obj.items() if type(obj) is dict else enumerate(obj)
                for k, v in list(items):
                    container(v, f"{name}[{k!r}]")

        funcs: set[int] = set()

        def function(f: Any, name: str, home: dict | None) -> None:
            """The names ``f`` reads from its closure and globals, watched by binding."""
            if isinstance(f, functools.partial):
                function(f.func, name, home)
                for i, a in enumerate(f.args):
                    reached(a, f"{name}'s argument {i}", home)
                for k, a in f.keywords.items():
                    reached(a, f"{name}'s argument {k}", home)
                return
            if isinstance(f, types.MethodType):
                reached(f.__self__, f"{name}'s object", home)
                f = f.__func__
            if not isinstance(f, types.FunctionType) or id(f) in funcs:
                if isinstance(f, Module) or (callable(f) and not isinstance(f, _SKIP)
                                             and hasattr(f, "__dict__")):
                    reached(f, name, home)
                return
            if home is not None and f.__globals__ is not home:
                return  # another file's function (a library's): not the user's model code
            funcs.add(id(f))
            code = f.__code__
            for var, cell in zip(code.co_freevars, f.__closure__ or ()):
                try:
                    obj = cell.cell_contents
                except ValueError:  # not assigned yet
                    continue
                if reached(obj, var, f.__globals__):
                    cells.append((cell, obj, f"the name {var!r} in {f.__qualname__}'s closure"))
            g = f.__globals__
            for var in _global_names(code):
                if var in g and reached(g[var], var, g):
                    globs.append((g, var, g[var]))
            for i, d in enumerate(f.__defaults__ or ()):
                reached(d, f"{f.__qualname__}'s default {i}", g)
            for k, d in (f.__kwdefaults__ or {}).items():
                reached(d, f"{f.__qualname__}'s default {k}", g)

        def reached(obj: Any, name: str, home: dict | None) -> bool:
            """Walk ``obj`` if it can hold the model; whether it is worth watching."""
            if isinstance(obj, (Module, Value)) or (type(obj) in (list, tuple, dict)
                                                    and _holds(obj)):
                container(obj, name)
                return True
            if isinstance(obj, (types.FunctionType, types.MethodType, functools.partial)):
                function(obj, name, home)
                return True
            if (callable(obj) and not isinstance(obj, _SKIP) and hasattr(obj, "__dict__")
                    and any(isinstance(v, (Module, Value)) for v in vars(obj).values())):
                live.append(vars(obj))  # a callable object holding a model
                names.append(name)
                for k, v in list(vars(obj).items()):
                    reached(v, f"{name}.{k}", home)
                return True
            return False

        function(fn, getattr(fn, "__name__", "fn"), None)
        # a closure cell compares by what it holds: a new cell holding the object is its copy
        self.live = (*[c for c, _, _ in cells], *live)
        self.copies = (*[types.CellType(o) for _, o, _ in cells], *[c.copy() for c in live])
        self.names = [n for _, _, n in cells] + names
        self.spaces, self.keys, self.objs = (tuple(c) for c in zip(*globs)) if globs \
            else ((), (), ())

    def changed(self) -> bool:
        """Whether anything watched differs from trace time (the hot path: one comparison
        of two tuples, in C, and the globals' names if ``fn`` reads the model from there)."""
        try:
            return self.live != self.copies or bool(self.spaces) and not all(
                map(is_, map(dict.get, self.spaces, self.keys), self.objs))
        except Exception:  # an attribute whose == raises (a numpy array replaced)
            return True

    def what(self) -> str:
        """The first change, in words (call after :meth:`changed` said there is one)."""
        for space, key, obj in zip(self.spaces, self.keys, self.objs):
            if space.get(key) is not obj:
                return f"the global name {key!r} now refers to another object"
        for obj, copy, name in zip(self.live, self.copies, self.names):
            try:
                if obj == copy:
                    continue
            except Exception:
                pass
            if type(obj) is types.CellType:
                return f"{name} now refers to another object"
            if type(obj) is list:
                if len(obj) != len(copy):
                    return f"{name} has {len(obj)} items, it had {len(copy)}"
                i = next((i for i, (a, b) in enumerate(zip(obj, copy)) if a is not b), 0)
                return f"{name}[{i}] was replaced"
            added = [k for k in obj if k not in copy]
            gone = [k for k in copy if k not in obj]
            if added or gone:
                return (f"{name} " + " and ".join(
                    f"{what} {', '.join(map(repr, keys))}"
                    for what, keys in (("gained", added), ("lost", gone)) if keys))
            for k in obj:
                a, b = obj[k], copy[k]
                if a is b:
                    continue
                where = f"{name}.{k}" if isinstance(k, str) and k.isidentifier() else (
                    f"{name}[{k!r}]")
                if isinstance(a, (Module, Value, list, tuple, dict)) or isinstance(
                        b, (Module, Value, list, tuple, dict)):
                    return f"{where} was replaced"
                return f"{where} changed from {b!r:.40} to {a!r:.40}"
            return f"{name} changed"
        return "nothing"


def _holds(obj: Any) -> bool:
    """Whether a list, tuple or dict holds modules or Values (perhaps nested): a part of
    the model to watch, not data (a constant of the graph)."""
    items = obj.values() if type(obj) is dict else obj
    for v in items:
        if isinstance(v, (Module, Value)):
            return True
        if type(v) in (list, tuple, dict) and _holds(v):
            return True
    return False


def _global_names(code: types.CodeType) -> list[str]:
    """The names ``code`` (and the code nested in it: lambdas, comprehensions) may read
    from its globals."""
    out = list(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out += _global_names(c)
    return out
