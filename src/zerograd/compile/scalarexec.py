"""Executor "scalar": a loop over the tape with ``ops.SCALAR``, for deep, narrow graphs.

No code to compile and no per-level overhead, so a chain a million nodes deep costs one
pass over flat arrays. Nodes run in the eager engine's order and gradients are summed in
its order, so the numbers are the eager engine's bit for bit.
"""

from __future__ import annotations

from .. import ops
from ..ops import SCALAR
from .executors import Executor
from .tape import Tape, as_list

CHUNK = 1 << 16  # tape entries turned into Python lists at a time (bounds the memory)


class ScalarExecutor(Executor):
    name = "scalar"

    def __init__(self, tape: Tape):
        self.tape = tape
        self._k = tape.k_of()
        self._masks: dict[int, tuple[list | None, list[int]]] = {}  # see _reach

    def _chunks(self, reverse: bool = False):
        """(first node, codes, starts, operand slots) for runs of CHUNK op nodes, as lists
        (starts counted from the run's first operand)."""
        t = self.tape
        if t.lists:  # lists already: the whole tape is one run
            yield 0, t.code, t.start, t.args
            return
        firsts = range(0, t.n_ops, CHUNK)
        for j0 in reversed(firsts) if reverse else firsts:
            j1 = min(j0 + CHUNK, t.n_ops)
            base = int(t.start[j0])
            st = (t.start[j0 : j1 + 1] - base).tolist()
            yield j0, t.code[j0:j1].tolist(), st, t.args[base : int(t.start[j1])].tolist()

    def forward(self, pvals: list[float], xvals: list[float]) -> tuple[list[float], list]:
        """(results, every node's number) from the parameters' and inputs' numbers."""
        t = self.tape
        v = list(pvals)
        v += xvals
        v += as_list(t.consts)
        fwd = [op.forward for op in ops.OPS]
        k = self._k
        for j0, code, st, args in self._chunks():
            for j, c in enumerate(code):
                a, b = st[j], st[j + 1]
                if j0 + j in k:
                    v.append(fwd[c](SCALAR, *[v[i] for i in args[a:b]], k[j0 + j]))
                elif b - a == 2:  # most nodes: binary, then unary; no list built
                    v.append(fwd[c](SCALAR, v[args[a]], v[args[a + 1]]))
                elif b - a == 1:
                    v.append(fwd[c](SCALAR, v[args[a]]))
                else:
                    v.append(fwd[c](SCALAR, *[v[i] for i in args[a:b]]))
        return [v[s] for s in t.outputs], v

    def backward(self, v: list, out: int) -> tuple[list[int], list[float]]:
        """(parameter indices, their gradients) of result ``out``, from forward's numbers."""
        t = self.tape
        L = t.n_leaves
        g = [0.0] * len(v)
        g[t.outputs[out]] = 1.0
        bwd = [op.backward for op in ops.OPS]
        k = self._k
        mask, keep = self._reach(out)
        for j0, code, st, args in self._chunks(reverse=True):
            for j in range(len(code) - 1, -1, -1):
                s = L + j0 + j
                gs = g[s]
                if gs == 0.0 and mask is not None and not mask[s]:  # not on the result's path
                    continue
                a, b = st[j], st[j + 1]
                if j0 + j in k:
                    ops_ = args[a:b]
                    parts = bwd[code[j]](SCALAR, gs, v[s], *[v[i] for i in ops_], k[j0 + j])
                elif b - a == 2:
                    x, y = args[a], args[a + 1]
                    gx, gy = bwd[code[j]](SCALAR, gs, v[s], v[x], v[y])
                    g[x] += gx
                    g[y] += gy
                    continue
                elif b - a == 1:
                    x = args[a]
                    g[x] += bwd[code[j]](SCALAR, gs, v[s], v[x])[0]
                    continue
                else:
                    ops_ = args[a:b]
                    parts = bwd[code[j]](SCALAR, gs, v[s], *[v[i] for i in ops_])
                for i, c in zip(ops_, parts):
                    g[i] += c
        return keep, [g[p] for p in keep]

    def _reach(self, out: int) -> tuple[list | None, list[int]]:
        """(per slot: does result ``out`` depend on it, None if all; those parameters)."""
        if out not in self._masks:
            reach = self.tape.reachable(out)
            mask = None if (all(reach) if self.tape.lists else reach.all()) else as_list(reach)
            keep = [p for p in range(self.tape.n_params) if mask is None or mask[p]]
            self._masks[out] = (mask, keep)
        return self._masks[out]

    @property
    def nbytes(self) -> int:
        return self.tape.nbytes

