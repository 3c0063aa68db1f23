"""Executor "numpy": the tape scheduled by depth; each (level, op, arity) group is a few calls.

Schedule: op nodes are sorted by depth, op and arity, so every group's outputs are one
contiguous slice of the value buffer, and ``add`` chains are fused into ``sum`` nodes.
An elementwise group on a whole earlier group takes that group's order (:func:`_follow`),
so a layer's matrix product, its activation and the next layer's product hand each other
slices of the buffer. Each group is laid out as an E x Q grid (see :class:`_Group`) and
gets generated code (:mod:`.npcode`): forward reads its operand rows (as views where they
are runs of slots, else gathered) and runs the op's forward from ``ops.py`` on arrays;
backward runs the op's backward and adds one contribution per operand into the gradient
buffer, in a fixed order. Groups of a few nodes run on Python floats instead, where
NumPy's per-call cost would dominate: as generated code, or with many operands by calling
the op's own functions (compiling straight-line code for thousands of operands would cost
more than it saves); a long ``sum`` is one array fold in its own order.

Building is array work over the whole tape: every group's operand slots are gathered a
chunk at a time as int32, the grid search tests a prime power at a time, and which slots
need a gradient is propagated group by group, in schedule order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from .executors import Executor
from .npcode import (
    adder,
    build_direct,
    build_gemm,
    build_group,
    build_narrow,
    build_sum,
    gemm_kinds,
)
from .tape import CHUNK, Tape, fuse_sums, levels, operands, remap

SCALAR_WIDTH = 8  # groups this narrow run node by node on Python floats
DIRECT_OPERANDS = 256  # ... calling the op's functions, not generated code, beyond this
LONG_SUM = 16  # a lowering runs sums of more operands as one reduction (build_sum)
ZERO_RUNS = 64  # backward zeroes its gradient buffer slice by slice up to this many slices


class _Group:
    """Nodes of one (level, op, arity), laid out as an E x Q grid (node j at j // Q, j % Q).

    Each operand row is gathered as compactly as it allows: ``e`` rows depend only on the
    grid row (an example's input, shape (E, 1)), ``q`` rows only on the column (a neuron's
    weight, shape (1, Q)), ``f`` rows on both (shape (E, Q)). NumPy broadcasting does the
    rest, element by element exactly as the full gather would; in backward, contributions
    to an ``e`` or ``q`` row are summed over the other axis before being scattered.
    """

    __slots__ = ("lo", "hi", "E", "Q", "k", "narrow", "idx", "gather", "targets",
                 "run_forward", "run_backward")

    def __init__(self, op: ops.Op, lo: int, hi: int, idx: np.ndarray, k: Any,
                 needs: np.ndarray, grid: tuple | None, lowering: Any = None):
        self.lo, self.hi = lo, hi
        n = hi - lo
        need = needs[idx]  # (operand row, node): does that operand need a gradient?
        needs[lo:hi] = need.any(axis=0)  # a node does if any of its operands does
        need_row = need.any(axis=1)
        del need
        self.narrow = grid is None
        if self.narrow:  # node by node on Python floats
            self.E, self.Q, self.idx = n, 1, idx.astype(np.intp)
            self.k = k.tolist() if k is not None else None
            back = np.flatnonzero(need_row).tolist()
            self.targets = self.idx[back].reshape(-1)
        else:
            self.E, self.Q, kinds = grid
            E, Q = self.E, self.Q
            grid = idx.reshape(len(idx), E, Q)
            rows = {kd: [r for r, x in enumerate(kinds) if x == kd] for kd in "feq"}
            self.gather = tuple(a.astype(np.intp) if a.size else None for a in (
                grid[rows["f"]], grid[rows["e"], :, 0], grid[rows["q"], 0, :]))
            back = tuple([r for r in rows[kd] if need_row[r]] for kd in "feq")
            self.k = k.reshape(E, Q) if k is not None else None
            f_, e_, q_ = (grid[back[0]].reshape(-1), grid[back[1], :, 0].reshape(-1),
                          grid[back[2], 0, :].reshape(-1))
            self.targets = np.concatenate([f_, e_, q_]).astype(np.intp)
        if not need_row.any():
            self.targets = None
        if self.narrow:
            add = (adder(self.targets, len(needs), lowering) if self.targets is not None
                   else None)
            if lowering is not None:  # a lowering's long sum: its other groups have grids
                run = build_sum(self.idx, back, self.targets, add, lo, hi, lowering)
            elif idx.size > DIRECT_OPERANDS and op.name == "sum":  # a long sum: an array fold
                run = build_sum(self.idx, back, self.targets, add, lo, hi)
            else:
                build = build_direct if idx.size > DIRECT_OPERANDS else build_narrow
                run = build(op, self.idx, self.k, back, self.targets, add, lo, hi)
            self.run_forward, self.run_backward = run
        else:
            self.run_forward, self.run_backward = build_group(
                op, E, Q, kinds, self.gather, self.k, back, self.targets, len(needs), lo, hi,
                lowering)
            if op.name == "linear" and gemm_kinds(kinds):  # a layer over a batch
                self.run_forward, self.run_backward = build_gemm(
                    kinds, grid, back, self.targets, len(needs), lo, hi, self.run_backward,
                    lowering)


def _grid(idx: np.ndarray) -> tuple[int, int, list[str]]:
    """(E, Q, kind of each row) gathering the fewest numbers; Q = 1 always works.

    Over the divisors Q of n (up to 4096): a row is an ``e`` row if it is constant on each
    run of Q nodes (Q divides the row's :func:`_blocks`), a ``q`` row if it repeats every Q
    nodes (its :func:`_period` divides Q); ties go to e, then f, then q, except on a grid of
    one row (Q = n), where a row that varies along it is a ``q`` row (the same (1, Q) gather),
    so a one-neuron layer over a batch is a matrix product too."""
    a, n = idx.shape
    blocks, period = _blocks(idx), _period(idx)
    best = (a * n + 1, n, 1, ["f"] * a)
    for Q in [d for d in range(1, min(n, 4096) + 1) if n % d == 0]:
        E = n // Q
        e, q = blocks % Q == 0, Q % period == 0
        c = np.minimum(np.minimum(np.where(e, E, n), np.where(q, Q, n)), n)
        cost = int(c.sum())
        if cost < best[0]:
            kinds = np.where(e & (c == E), "e", np.where((c == n) & (Q < n), "f", "q")).tolist()
            best = (cost, E, Q, kinds)
    return best[1], best[2], best[3]


def _follow(idx: np.ndarray) -> np.ndarray | None:
    """The order of nodes that follows their first operand row holding each slot of a run
    once (an elementwise op on a whole earlier group): its output is then laid out as that
    group, and both read as a slice, not a gather. None if there is none, or it is kept."""
    n = idx.shape[1]
    for row in idx:
        lo = int(row.min())
        if int(row.max()) - lo + 1 != n:
            continue
        perm = np.full(n, -1, np.int64)
        perm[row - lo] = np.arange(n)
        if (perm < 0).any():
            continue  # a slot twice: not each once
        return None if (np.diff(row) == 1).all() else perm
    return None


def _factors(n: int) -> list[tuple[int, int]]:
    """(prime, exponent) of ``n``."""
    out, p = [], 2
    while p * p <= n:
        if n % p == 0:
            e = 0
            while n % p == 0:
                n, e = n // p, e + 1
            out.append((p, e))
        p += 1
    return out + ([(n, 1)] if n > 1 else [])


def _blocks(idx: np.ndarray) -> np.ndarray:
    """Per row, the largest divisor B of n (as far as powers up to 4096 go) such that the
    row is constant on each run of B nodes: the row is constant on runs of Q (Q | n, Q <=
    4096) exactly when Q divides B. Found one prime power at a time (rows that fail a
    power are not tried on the next), a few rows at a time."""
    a, n = idx.shape
    out = np.ones(a, np.int64)
    for r0 in range(0, a, max(1, CHUNK // n)):
        part = idx[r0 : r0 + max(1, CHUNK // n)]
        for p, e in _factors(n):
            rows, Q = np.arange(len(part)), 1
            for _ in range(e):
                Q *= p
                if Q > 4096 or not len(rows):
                    break
                M = part[rows].reshape(len(rows), n // Q, Q)
                rows = rows[(M == M[:, :, :1]).all(axis=(1, 2))]
                out[r0 + rows] *= p
    return out


def _period(idx: np.ndarray) -> np.ndarray:
    """Per row, the least divisor d of n, at most n / 2, with which the row repeats (n if
    none). For a divisor Q <= n / 2 the row repeats every Q nodes exactly when d divides Q
    (two periods p, q with p + q <= n make gcd(p, q) one, Fine and Wilf), so d's exponent
    of each prime p of n is n's minus the largest k with the row repeating every n / p^k."""
    a, n = idx.shape
    out = np.full(a, n, dtype=np.int64)
    for r0 in range(0, a, max(1, CHUNK // n)):
        part = idx[r0 : r0 + max(1, CHUNK // n)]
        for p, e in _factors(n):
            rows, Q = np.arange(len(part)), n
            for _ in range(e):
                Q //= p
                rows = rows[(part[rows, Q:] == part[rows, :-Q]).all(axis=1)]
                if not len(rows):
                    break
                out[r0 + rows] //= p
    return out


class NumpyExecutor(Executor):
    name = "numpy"
    scalar_width = SCALAR_WIDTH  # groups this narrow run on Python floats
    lowering: Any = None  # how groups' code is written: None for NumPy in place

    def __init__(self, tape: Tape):
        tape = fuse_sums(tape)
        self.n_params, self.n_inputs = tape.n_params, tape.n_inputs
        L, n = tape.n_leaves, tape.n_ops
        depth = levels(tape)
        code = tape.code.astype(np.int64)
        arity = np.diff(tape.start)
        order = np.lexsort((arity, code, depth))  # by depth, then op, then arity (stable)
        key = np.stack([depth[order], code[order], arity[order]])
        cuts = np.flatnonzero(np.any(key[:, 1:] != key[:, :-1], axis=0)) + 1
        bounds = list(zip([0, *cuts.tolist()], [*cuts.tolist(), n])) if n else []
        new_slot = np.arange(tape.n_slots, dtype=np.int32)
        needs = np.zeros(tape.n_slots, bool)  # per schedule slot: needs a gradient (below)
        needs[: tape.n_params] = True
        k_all = np.zeros(n)
        k_all[tape.k_node] = tape.k_value
        self.groups: list[_Group] = []
        for lo, hi in bounds:  # by depth: operands' slots and needs are known first
            nodes = order[lo:hi]
            op = ops.OPS[int(code[nodes[0]])]
            a = int(arity[nodes[0]])
            idx = remap(new_slot, operands(tape, nodes, a))
            perm = _follow(idx) if op.arity is not None else None
            if perm is not None:
                nodes, idx = nodes[perm], idx[:, perm]
            grid = None
            long_sum = self.lowering is not None and op.name == "sum" and a > LONG_SUM
            if hi - lo > self.scalar_width and not long_sum:  # the longer side goes last
                E, Q, kinds = _grid(idx)
                if E > Q:
                    del idx  # gathered again in the new order (one copy at a time)
                    nodes = nodes.reshape(E, Q).T.reshape(-1)
                    idx = remap(new_slot, operands(tape, nodes, a))
                    E, Q, kinds = Q, E, [{"e": "q", "q": "e"}.get(x, x) for x in kinds]
                grid = (E, Q, kinds)
            order[lo:hi] = nodes
            new_slot[L + nodes] = L + np.arange(lo, hi, dtype=np.int32)
            k = k_all[nodes] if op.param else None
            self.groups.append(_Group(op, L + lo, L + hi, idx, k, needs, grid, self.lowering))
            del idx
        self.backwards = [g.run_backward for g in reversed(self.groups) if g.targets is not None]
        self.outputs = new_slot[list(tape.outputs)].tolist()
        self.n_slots, self.consts = tape.n_slots, tape.consts
        self._zero = self._first_writes()
        self._all_params = list(range(tape.n_params))
        # per result, the slots it depends on (made when first needed); None: all of them
        self._masks: dict[int, np.ndarray | None] = {0: None} if len(self.outputs) == 1 else {}

    def _first_writes(self) -> list[tuple[int, int]] | None:
        """Mark the runs of gradient contributions that are the first write to their slots
        (walking backward's order); return the slices of the gradient buffer that still
        have to start at zero, or None (zero it all) where they would be many."""
        written = np.zeros(self.n_slots, bool)
        written[self.outputs] = True  # set to 1 or 0 before anything is added
        assigned = np.zeros(self.n_slots, bool)
        plans = []
        for g in reversed(self.groups):
            if g.targets is None:
                continue
            add_into = getattr(g.run_backward, "add_into", None)
            if add_into is None:  # a group that only adds (small): its slots start at zero
                written[g.targets] = True
                plans.append(None)
                continue
            first = []
            for _, f, t, a in add_into.runs:
                first.append(not written[a : a + t - f].any())
                if first[-1]:
                    assigned[a : a + t - f] = True
                written[a : a + t - f] = True
            if add_into.rest is not None:
                written[add_into.rest] = True
            plans.append((add_into, first))
        cuts = np.flatnonzero(np.diff(np.concatenate(([False], ~assigned, [False])).view(np.int8)))
        zero = list(zip(cuts[0::2].tolist(), cuts[1::2].tolist()))
        if len(zero) > ZERO_RUNS:
            return None
        for plan in plans:
            if plan is not None:
                plan[0].assign[:] = plan[1]
        return zero

    @property
    def nbytes(self) -> int:
        """Bytes held: the constants and every group's slot and parameter arrays."""
        total = self.consts.nbytes
        for g in self.groups:
            arrays = [g.idx] if g.narrow else [a for a in g.gather if a is not None]
            arrays += [g.targets] if g.targets is not None else []
            total += sum(a.nbytes for a in arrays) + (8 * g.E * g.Q if g.k is not None else 0)
        return total

    def forward(self, pvals: list[float], xvals: Any) -> tuple[list[float], np.ndarray]:
        """(results, every node's number) from the parameters' and inputs' numbers."""
        P = self.n_params
        v = np.empty(self.n_slots)  # every op slot is written by its group
        n = self.n_inputs  # (a list is read a quarter faster by fromiter than by setitem)
        v[:P] = np.fromiter(pvals, float, P) if type(pvals) is list else pvals
        v[P : P + n] = np.fromiter(xvals, float, n) if type(xvals) is list else xvals
        v[P + n : P + n + len(self.consts)] = self.consts
        with np.errstate(all="ignore"):
            for g in self.groups:
                g.run_forward(v)
        return v[self.outputs].tolist(), v

    def backward(self, v: np.ndarray, out: int) -> tuple[list[int], np.ndarray]:
        """(parameter indices, their gradients) of result ``out``, from forward's numbers."""
        mask = self.mask(out)
        if mask is None and self._zero is not None:  # first writes assign: zero the rest
            G = np.empty_like(v)
            for a, b in self._zero:
                G[a:b] = 0.0
        else:
            G = np.zeros_like(v)
        G[self.outputs[out]] = 1.0
        with np.errstate(all="ignore"):
            for run in self.backwards:
                run(G, v, mask)
        which = self.which(mask)
        return which, (G[: self.n_params] if mask is None else G[which])

    def mask(self, out: int) -> np.ndarray | None:
        """The slots result ``out`` depends on (None: all of them), found once."""
        if out not in self._masks:
            self._masks[out] = self._reach(out, self.n_slots)
        return self._masks[out]

    def which(self, mask: np.ndarray | None) -> list[int]:
        """The parameters ``mask`` holds, as indices (every one for None)."""
        return self._all_params if mask is None else np.flatnonzero(
            mask[: self.n_params]).tolist()

    def _reach(self, out: int, n_slots: int) -> np.ndarray | None:
        """Slots result ``out`` depends on, walking the groups backwards; None if all."""
        mask = np.zeros(n_slots, dtype=bool)
        mask[self.outputs[out]] = True
        for g in reversed(self.groups):
            sel = mask[g.lo : g.hi]
            if not sel.any():
                continue
            if g.narrow:
                mask[g.idx[:, sel]] = True
                continue
            sel = sel.reshape(g.E, g.Q)
            fi, ei, qi = g.gather
            if fi is not None:
                mask[fi[:, sel]] = True
            if ei is not None:
                mask[ei[:, sel.any(axis=1)]] = True
            if qi is not None:
                mask[qi[:, sel.any(axis=0)]] = True
        op_slots = mask[len(mask) - sum(g.hi - g.lo for g in self.groups) :]
        return None if op_slots.all() and mask[: self.n_params].all() else mask

