"""Executor "numpy": the tape scheduled by depth, each (level, op, arity) group one call.

Forward runs the levels in order: gather the group's operands from the value buffer, call
the op's forward from ``ops.py`` with :data:`.backends.ARRAY`, write the results into the
group's contiguous slice. Backward runs the groups in reverse: the op's backward gives one
row of contributions per operand, scattered into the gradient buffer in a fixed order.
Groups of only a few nodes (a long ``sum``) run node by node with ``ops.SCALAR`` instead,
where NumPy's per-call cost would dominate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..ops import SCALAR
from .backends import ARRAY
from .tape import Tape, fuse_sums, levels

SCALAR_WIDTH = 8  # groups this narrow run node by node on Python floats


class _Group:
    __slots__ = ("op", "lo", "hi", "idx", "k", "narrow", "rows", "flat", "dense")

    def __init__(self, op: ops.Op, lo: int, hi: int, idx: np.ndarray, k: Any,
                 needs: np.ndarray):
        self.op, self.lo, self.hi, self.idx = op, lo, hi, idx  # idx: (arity, n) operand slots
        self.narrow = hi - lo <= SCALAR_WIDTH
        self.k = (k.tolist() if self.narrow else k) if k is not None else None
        # rows of operands that lead to a parameter: only those gradients are scattered
        self.rows = np.flatnonzero(needs[idx].any(axis=1)) if needs[lo:hi].any() else None
        if self.rows is not None and len(self.rows) == 0:
            self.rows = None
        self.flat = idx[self.rows].reshape(-1) if self.rows is not None else None
        self.dense = self.flat is not None and self.flat.size * 8 >= len(needs)


class NumpyExecutor:
    name = "numpy"

    def __init__(self, tape: Tape):
        self.tape = tape = fuse_sums(tape)
        L, n = tape.n_leaves, tape.n_ops
        depth = levels(tape)
        code = tape.code.astype(np.int64)
        arity = np.diff(tape.start)
        order = np.lexsort((arity, code, depth))  # by depth, then op, then arity (stable)
        new_slot = np.arange(tape.n_slots, dtype=np.int64)
        new_slot[L + order] = L + np.arange(n)
        self._old_slot = np.argsort(new_slot)  # schedule slot -> tape slot
        needs = _needs_grad(tape)[self._old_slot]
        k_all = np.zeros(n)
        k_all[tape.k_node] = tape.k_value
        self.groups: list[_Group] = []
        key = np.stack([depth[order], code[order], arity[order]])
        cuts = np.flatnonzero(np.any(key[:, 1:] != key[:, :-1], axis=0)) + 1
        bounds = [0, *cuts.tolist(), n]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            nodes = order[lo:hi]
            a = int(arity[nodes[0]])
            rows = tape.start[nodes][None, :] + np.arange(a)[:, None]  # (arity, n)
            idx = new_slot[tape.args[rows]].astype(np.intp)
            op = ops.OPS[int(code[nodes[0]])]
            k = k_all[nodes] if op.param else None
            self.groups.append(_Group(op, L + lo, L + hi, idx, k, needs))
        self.outputs = new_slot[list(tape.outputs)].tolist()
        self.template = np.zeros(tape.n_slots)
        self.template[tape.n_params + tape.n_inputs : L] = tape.consts
        self._masks: dict[int, np.ndarray | None] = {}
        self._all_params = list(range(tape.n_params))

    @property
    def nbytes(self) -> int:
        """Bytes held: the value template and every group's slot arrays."""
        return self.template.nbytes + sum(
            g.idx.nbytes + (0 if g.flat is None else g.flat.nbytes + g.rows.nbytes)
            + (0 if g.k is None else 8 * len(g.k)) for g in self.groups)

    def forward(self, pvals: list[float], xvals: Any) -> tuple[list[float], tuple]:
        """(results, saved state) from the parameters' and inputs' numbers."""
        P = self.tape.n_params
        v = self.template.copy()
        v[:P] = pvals
        v[P : P + self.tape.n_inputs] = xvals
        gathered = []
        with np.errstate(all="ignore"):
            for g in self.groups:
                f, xs = g.op.forward, v[g.idx]
                if g.narrow:
                    xs = xs.T.tolist()
                    if g.k is None:
                        v[g.lo : g.hi] = [f(SCALAR, *x) for x in xs]
                    else:
                        v[g.lo : g.hi] = [f(SCALAR, *x, k) for x, k in zip(xs, g.k)]
                elif g.k is None:
                    v[g.lo : g.hi] = f(ARRAY, *xs)
                else:
                    v[g.lo : g.hi] = f(ARRAY, *xs, g.k)
                gathered.append(xs)
        return v[self.outputs].tolist(), (v, gathered)

    def backward(self, state: tuple, out: int) -> tuple[list[int], np.ndarray]:
        """(parameter indices, their gradients) of result ``out``, from forward's state."""
        v, gathered = state
        mask = self._mask(out)
        G = np.zeros_like(v)
        G[self.outputs[out]] = 1.0
        n_slots = len(v)
        with np.errstate(all="ignore"):
            for g, xs in zip(reversed(self.groups), reversed(gathered)):
                if g.rows is None:
                    continue
                lo, hi, f = g.lo, g.hi, g.op.backward
                if g.narrow:
                    gs, os = G[lo:hi].tolist(), v[lo:hi].tolist()
                    if g.k is None:
                        c = [f(SCALAR, gi, oi, *x) for gi, oi, x in zip(gs, os, xs)]
                    else:
                        c = [f(SCALAR, gi, oi, *x, k) for gi, oi, x, k in zip(gs, os, xs, g.k)]
                    c = np.array(c, dtype=np.float64).T[g.rows]
                elif g.k is None:
                    c = _stack(f(ARRAY, G[lo:hi], v[lo:hi], *xs), g.rows, hi - lo)
                else:
                    c = _stack(f(ARRAY, G[lo:hi], v[lo:hi], *xs, g.k), g.rows, hi - lo)
                if mask is not None:
                    c[:, ~mask[lo:hi]] = 0.0  # nodes the result does not depend on
                if g.dense:
                    G += np.bincount(g.flat, c.reshape(-1), minlength=n_slots)
                else:
                    np.add.at(G, g.flat, c.reshape(-1))
        P = self.tape.n_params
        if mask is None:
            return self._all_params, G[:P]
        keep = np.flatnonzero(mask[:P])
        return keep.tolist(), G[keep]

    def _mask(self, out: int) -> np.ndarray | None:
        """Slots result ``out`` depends on (in schedule numbering), or None for all of them."""
        if out not in self._masks:
            mask = self.tape.reachable(out)
            self._masks[out] = None if mask.all() else mask[self._old_slot]
        return self._masks[out]


def _needs_grad(tape: Tape) -> np.ndarray:
    """Per slot: is it a parameter, or computed from one?"""
    needs = [False] * tape.n_slots
    needs[: tape.n_params] = [True] * tape.n_params
    L, start, args = tape.n_leaves, tape.start.tolist(), tape.args.tolist()
    for j in range(tape.n_ops):
        needs[L + j] = any([needs[a] for a in args[start[j] : start[j + 1]]])
    return np.array(needs, dtype=bool)


def _stack(parts: tuple, rows: np.ndarray, n: int) -> np.ndarray:
    """The contributions of the operand rows ``rows`` as one (len(rows), n) array."""
    picked = [parts[r] for r in rows.tolist()]
    try:
        c = np.array(picked, dtype=np.float64)
        if c.shape == (len(picked), n):
            return c
    except ValueError:
        pass
    c = np.empty((len(picked), n))
    for i, p in enumerate(picked):
        c[i] = p
    return c
