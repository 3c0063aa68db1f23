"""``zg.compile``: trace a scalar function once, replay its graph as a few array ops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .function import EXECUTORS, CompiledFunction, CompiledValue
from .guard import ModelChanged
from .trace import TraceError


def compile(fn: Callable[..., Any] | None = None, *, executor: str = "auto") -> Any:
    """Compile ``fn``: trace it on the first call, replay the recorded graph afterwards.

    Every number in the arguments (floats, nested lists/tuples of floats, numpy arrays)
    becomes a placeholder; ``fn`` runs once in the eager engine and its graph is compiled.
    Later calls with arguments of the same structure and shapes replay that graph with the
    new numbers and the current ``.data`` of every Value ``fn`` closed over (a model's
    parameters), so optimizer updates are seen. The result has ``.data`` and ``.backward()``
    (which adds into those Values' ``.grad``, as the eager engine does); a list/tuple of
    results works too. Other structures or shapes raise ``ValueError``.

    The models and Values ``fn`` reaches (its closure, the globals it names, ...) are
    checked by identity on each call: a replaced parameter, a neuron or layer added or
    removed, a changed activation or a rebound name makes it trace ``fn`` again (a compiled
    training run, ``zg.train.Step`` or ``fit``, raises ``zg.compile.ModelChanged`` naming
    the change instead). Plain numbers captured from outside are constants of the graph.

    ``executor`` is "auto" (by graph size), "python" (generated straight-line code: small
    graphs), "numpy" (vectorised by depth level: wide graphs) or "scalar" (a loop over the
    tape: deep, narrow graphs); "jax" (opt-in, ``pip install "zerograd[jax]"``) runs the
    numpy executor's program as one ``jax.jit`` program per pass, float64. "python" and
    "scalar" need only the standard library: where NumPy is missing, "auto" picks one of
    them and "numpy" or "jax" raise ``ImportError`` saying what to install.

    Python control flow runs once, while tracing, and is baked in (as in ``jax.jit``)::

        def f(x):  # the branch the FIRST call takes is recorded
            return x * 2 if x.data > 0 else -x

    Reading ``.data`` cannot be detected, so don't; converting a Value to bool or float or
    comparing it (``if x > 0``, ``max(x, y)``) while tracing raises ``TraceError``. Write
    the choice as an op instead (``x.relu()``, ``x.abs()``). Leaves made with ``no_grad()``
    or ``Value(...)`` inside ``fn`` are read on each call but keep their traced numbers.

    Inside ``zg.detect_anomaly()`` a call replays the graph node by node and its result's
    ``.backward()`` is checked, raising the eager engine's ``FloatingPointError`` (op,
    inputs, the line of ``fn`` that created the node). A function traced outside
    ``detect_anomaly()`` keeps no copy of its graph for this, so its first call inside
    ``detect_anomaly()`` traces ``fn`` once more (on that call's arguments).
    """
    if fn is None:  # used as @zg.compile(executor=...)
        return lambda f: CompiledFunction(f, executor)
    return CompiledFunction(fn, executor)


compile.TraceError = TraceError  # type: ignore[attr-defined]  # zg.compile.TraceError
compile.ModelChanged = ModelChanged  # type: ignore[attr-defined]

__all__ = ["compile", "CompiledFunction", "CompiledValue", "TraceError", "ModelChanged",
           "EXECUTORS"]
