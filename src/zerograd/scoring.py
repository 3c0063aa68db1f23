"""A model's scores on many rows at once, for plots, accuracies and the playground's frames:
row by row on the Values (under ``no_grad``), or through ``zg.compile`` chunk by chunk.

NumPy is imported by the functions that return arrays, when they are called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .args import count
from .engine import no_grad

CHUNK = 64  # rows per call of the compiled scorer: a small graph traces fast, replays cheaply


def outputs(s: Any) -> list:
    """A model's output as a list: its class scores, or its one score."""
    return s if isinstance(s, list) else [s]


def scores(model: Callable, X: Any, batched: bool = False) -> Any:
    """``model``'s scores on the rows of ``X`` as a NumPy array: shape (m,) for one output,
    (m, k) for k. ``batched``: ``model(X)`` takes all the rows at once and returns their
    scores (e.g. a compiled function); else it is called on each row, under ``no_grad``."""
    import numpy as np

    if batched:
        return np.asarray(model(X), dtype=float)
    out = []
    with no_grad():
        for row in X:
            s = model([float(x) for x in row])
            if isinstance(s, (list, tuple)):
                out.append([float(getattr(v, "data", v)) for v in s])
            else:
                out.append(float(getattr(s, "data", s)))
    return np.asarray(out, dtype=float)


def scorer(model: Any, compile: bool | str, chunk: int = CHUNK) -> Callable[[Any], Any]:
    """``scores(X)``: the model's outputs on the rows of ``X``, shape (n,) for one output or
    (n, k) for k, from the current parameters. Eager (``compile=False``): row by row under
    ``no_grad``. Compiled (True, or an executor's name): a ``zg.compile``\\ d forward over
    ``chunk`` rows, called chunk by chunk (the last chunk padded with zeros); rows given as
    lists give lists (no NumPy needed), an array gives an array."""
    chunk = count(chunk, "chunk")
    if not compile:
        return lambda X: scores(model, X)
    from .compile import compile as zg_compile

    fn = zg_compile(lambda rows: [v for r in rows for v in outputs(model(r))],
                    executor="auto" if compile is True else str(compile))

    def chunked(X: Any) -> Any:
        n, pad = len(X), -len(X) % chunk
        if hasattr(X, "shape"):  # an array in, an array out
            import numpy as np

            rows = np.zeros((n + pad, X.shape[1]))
            rows[:n] = X
        else:  # lists in, lists out (no NumPy needed)
            rows = [[float(v) for v in r] for r in X]
            rows += [[0.0] * (len(rows[0]) if rows else 0)] * pad
        flat = [v.data for i in range(0, n + pad, chunk) for v in fn(rows[i:i + chunk])]
        k = len(flat) // max(1, n + pad)
        if hasattr(X, "shape"):
            s = np.array(flat).reshape(n + pad, k)[:n]
            return s[:, 0] if k == 1 else s
        return flat[:n] if k == 1 else [flat[i:i + k] for i in range(0, n * k, k)]

    return chunked


__all__ = ["CHUNK", "outputs", "scores", "scorer"]
