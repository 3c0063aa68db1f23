"""The replay used inside ``zg.detect_anomaly()``: the tape node by node, every number checked.

Forward: the first op (in tape order) whose result is nan or inf while its operands are
finite raises. Backward: the first op whose gradient contribution is nan or inf while its
incoming gradient is finite raises, before any parameter's ``grad`` is touched. The error
is the eager engine's (op, operands, the line of user code that created the node, as
recorded on the tape), and the numbers are the eager engine's bit for bit (``ops.SCALAR``,
eager order).
"""

from __future__ import annotations

from .. import modes
from ..anomaly import OUTSIDE, backward_error, forward_error
from ..anomaly import is_bad as _bad
from ..ops import SCALAR
from .tape import Tape, as_list


class CheckedExecutor:
    name = "checked"

    def __init__(self, tape: Tape):
        self.tape = tape
        self.sites = tape.sites or [OUTSIDE] * tape.n_ops

    def forward(self, pvals: list[float], xvals: list[float]) -> tuple[list[float], list]:
        """(results, every node's number); raises at the first op to make nan/inf."""
        t = self.tape
        v = [*pvals, *xvals, *as_list(t.consts)]
        for s, op, a, k in t.calls():
            xs = [v[i] for i in a]
            out = op.forward(SCALAR, *xs, k) if op.param else op.forward(SCALAR, *xs)
            if _bad(out) and not any(map(_bad, xs)):
                site = self.sites[s - t.n_leaves]
                raise forward_error(op.name, out, xs, site)
            v.append(out)
        return [v[s] for s in t.outputs], v

    def backward(self, v: list, out: int) -> tuple[list[int], list[float]]:
        """(parameter indices, their gradients) of result ``out``; checked while
        ``detect_anomaly()`` is active, as the eager engine's backward is."""
        t = self.tape
        check = modes.current.anomaly is not None
        mask = as_list(t.reachable(out))
        g = [0.0] * len(v)
        g[t.outputs[out]] = 1.0
        for s, op, a, k in reversed(list(t.calls())):
            if not mask[s]:  # not something result ``out`` depends on
                continue
            gs, xs = g[s], [v[i] for i in a]
            if op.param:
                parts = op.backward(SCALAR, gs, v[s], *xs, k)
            else:
                parts = op.backward(SCALAR, gs, v[s], *xs)
            if check and any(map(_bad, parts)) and not _bad(gs):
                site = self.sites[s - t.n_leaves]
                raise backward_error(op.name, parts, xs, v[s], gs, site)
            for i, c in zip(a, parts):
                g[i] += c
        keep = [p for p in range(t.n_params) if mask[p]]
        return keep, [g[p] for p in keep]


class Checked:
    """What a result computed by :class:`CheckedExecutor` keeps for its backward."""

    __slots__ = ("executor", "values")

    def __init__(self, executor: CheckedExecutor, values: list):
        self.executor, self.values = executor, values
