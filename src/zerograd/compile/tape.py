"""Phase 2, record: the traced graph as flat arrays (op code, operand slots, output slot).

Every node has a *slot*. Slots ``[0, P)`` are the parameters (leaves ``fn`` closed over,
read afresh on every call), ``[P, P+I)`` the placeholders (the argument numbers, in
flattening order), ``[P+I, L)`` the constants ``fn`` created, and ``L + j`` the j-th op
node in topological order (operands before results, as ``engine.topological_order``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .. import engine, ops
from ..engine import Value, topological_order

OP_CODE = {op.name: i for i, op in enumerate(ops.OPS)}


@dataclass
class Tape:
    params: list[Value]      # the leaves read on every call and given gradients
    n_inputs: int            # placeholders
    consts: np.ndarray       # float64, the constants' numbers
    code: np.ndarray         # uint8 per op node: index into ops.OPS
    start: np.ndarray        # int64, len n_ops + 1: node j's operands are args[start[j]:start[j+1]]
    args: np.ndarray         # int32 operand slots
    k_node: np.ndarray       # int32 op nodes with a constant parameter (powc) ...
    k_value: np.ndarray      # float64 ... and that parameter
    outputs: tuple[int, ...]  # slots of fn's results
    _levels: np.ndarray | None = None  # cache of levels(self)
    _fused: Tape | None = None  # cache of fuse_sums(self)
    sites: list[tuple[str, int]] | None = None  # per op node: (file, line) that created it

    @property
    def n_params(self) -> int:
        return len(self.params)

    @property
    def n_leaves(self) -> int:
        return len(self.params) + self.n_inputs + len(self.consts)

    @property
    def n_ops(self) -> int:
        return len(self.code)

    @property
    def n_slots(self) -> int:
        return self.n_leaves + self.n_ops

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays (8 per parameter reference included)."""
        arrays = (self.consts, self.code, self.start, self.args, self.k_node, self.k_value)
        return sum(a.nbytes for a in arrays) + 8 * len(self.params)

    def k_of(self) -> dict[int, float]:
        """Op node index -> constant parameter."""
        return dict(zip(self.k_node.tolist(), self.k_value.tolist()))

    def calls(self) -> Iterator[tuple[int, ops.Op, list[int], float | None]]:
        """(slot, op, operand slots, constant parameter or None) per op node, tape order."""
        L, start, args, k_of = self.n_leaves, self.start.tolist(), self.args.tolist(), self.k_of()
        for j, c in enumerate(self.code.tolist()):
            yield L + j, ops.OPS[c], args[start[j] : start[j + 1]], k_of.get(j)

    def reachable(self, out: int) -> np.ndarray:
        """Boolean mask over slots: the nodes output ``out`` depends on (itself included)."""
        mask = np.zeros(self.n_slots, dtype=bool)
        mask[self.outputs[out]] = True
        if len(set(self.outputs)) == 1 and self.outputs[out] == self.n_slots - 1:
            mask[:] = True  # one result, computed last: the whole tape leads to it
            return mask
        L, start, args = self.n_leaves, self.start.tolist(), self.args
        for j in range(self.n_ops - 1, -1, -1):
            if mask[L + j]:
                mask[args[start[j] : start[j + 1]]] = True
        return mask


def record(
    outs: list[Value], inputs: list[Value], consts: list[Value], sites: dict | None = None
) -> Tape:
    """The graph behind ``outs`` as a Tape; ``inputs`` are the placeholders (in order).

    ``sites`` (``id(node) -> (file, line)``, as ``detect_anomaly()`` keeps) gives every op
    node's creation site, recorded in ``Tape.sites``.
    """
    root = Value.__new__(Value)  # a stand-in joining all results; never computed
    root._children = tuple(outs)
    order = topological_order(root)
    order.pop()
    input_slot = {id(v): i for i, v in enumerate(inputs)}
    const_ids = {id(v) for v in consts}
    codes = {id(op): i for i, op in enumerate(ops.OPS)}
    # one pass with provisional slots: kind * B + index, fixed up once the counts are known
    B = 1 << 40
    slot: dict[int, int] = {}
    params: list[Value] = []
    const_data: list[float] = []
    code: list[int] = []
    arity: list[int] = []
    args: list[int] = []
    k_node: list[int] = []
    k_value: list[float] = []
    for v in order:
        fn = v._fn
        if fn is None and v._children:
            from .trace import TraceError

            raise TraceError(
                f"zg.compile: op '{v._op}' was made micrograd's way (Value(data, children, "
                f"op) with its own _backward), which the compiler cannot replay; write it "
                f"with zerograd's ops, or add it to the op table in zerograd/ops.py"
            )
        if fn is None:
            i = id(v)
            if i in input_slot:
                slot[i] = B + input_slot[i]
            elif i in const_ids:
                slot[i] = 2 * B + len(const_data)
                const_data.append(v.data)
            else:
                slot[i] = len(params)
                params.append(v)
            continue
        j = len(code)
        slot[id(v)] = 3 * B + j
        code.append(codes[id(fn)])
        ch = v._children
        arity.append(len(ch))
        args.extend([slot[id(c)] for c in ch])
        if fn.param:
            k_node.append(j)
            k_value.append(v._arg)
    P, n_in, C = len(params), len(inputs), len(const_data)
    base = np.array([0, P, P + n_in, P + n_in + C], dtype=np.int64)

    def final(a: np.ndarray) -> np.ndarray:
        return base[a >> 40] + (a & (B - 1))

    return Tape(
        params=params,
        n_inputs=n_in,
        consts=np.array(const_data, dtype=np.float64),
        code=np.array(code, dtype=np.uint8),
        start=np.concatenate([[0], np.cumsum(arity, dtype=np.int64)]),
        args=final(np.array(args, dtype=np.int64)).astype(np.int32),
        k_node=np.array(k_node, dtype=np.int32),
        k_value=np.array(k_value, dtype=np.float64),
        outputs=tuple(final(np.array([slot[id(v)] for v in outs], dtype=np.int64)).tolist()),
        sites=None if sites is None else [
            sites.get(id(v), engine._OUTSIDE) for v in order if v._fn is not None],
    )


def levels(tape: Tape) -> np.ndarray:
    """Depth of every op node: 1 + the deepest operand (leaves are at depth 0)."""
    if tape._levels is None:
        depth = [0] * tape.n_slots
        L, start, args = tape.n_leaves, tape.start.tolist(), tape.args.tolist()
        for j in range(tape.n_ops):
            s, e = start[j], start[j + 1]
            if e - s == 1:
                depth[L + j] = depth[args[s]] + 1
            elif e - s == 2:
                a, b = depth[args[s]], depth[args[s + 1]]
                depth[L + j] = (a if a > b else b) + 1
            else:
                depth[L + j] = 1 + max([depth[a] for a in args[s:e]])
        tape._levels = np.array(depth[L:], dtype=np.int64)
    return tape._levels


def fuse_sums(tape: Tape) -> Tape:
    """The same computation with chains of ``add`` merged into single ``sum`` nodes.

    ``add(add(a, b), c)`` is ``sum(a, b, c)`` exactly: ``sum`` folds left to right and hands
    ``g`` to every operand, as the chain does. Only an inner ``add`` that feeds nothing else
    (one consumer, not a result) is merged, and only as the *first* operand, which keeps
    the order of the additions. Python's ``sum(...)`` builds such chains; fused, they no
    longer cost one depth level per term.
    """
    if tape._fused is None:
        tape._fused = _fuse_sums(tape)
    return tape._fused


def _fuse_sums(tape: Tape) -> Tape:
    add, vsum = OP_CODE["add"], OP_CODE["sum"]
    L, n = tape.n_leaves, tape.n_ops
    uses = np.bincount(tape.args, minlength=tape.n_slots)
    uses[list(tape.outputs)] += 2
    start, args, code = tape.start.tolist(), tape.args.tolist(), tape.code.tolist()
    operands: list[list[int] | None] = [None] * n
    fused_code = list(code)
    for j in range(n):
        a = args[start[j] : start[j + 1]]
        first = a[0] - L
        if code[j] in (add, vsum) and first >= 0 and fused_code[first] in (add, vsum) \
                and uses[a[0]] == 1:
            lst = operands[first]
            lst.extend(a[1:])
            operands[j], operands[first] = lst, None
            fused_code[j] = vsum
        else:
            operands[j] = a
    keep = [j for j in range(n) if operands[j] is not None]
    if len(keep) == n:
        return tape
    new_slot = np.arange(tape.n_slots, dtype=np.int64)
    new_slot[L + np.array(keep, dtype=np.int64)] = L + np.arange(len(keep))
    lens = [len(operands[j]) for j in keep]
    flat = [s for j in keep for s in operands[j]]
    k_map = tape.k_of()
    k_node = [i for i, j in enumerate(keep) if j in k_map]
    return Tape(
        params=tape.params,
        n_inputs=tape.n_inputs,
        consts=tape.consts,
        code=np.array([fused_code[j] for j in keep], dtype=np.uint8),
        start=np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
        args=new_slot[np.array(flat, dtype=np.int64)].astype(np.int32),
        k_node=np.array(k_node, dtype=np.int32),
        k_value=np.array([k_map[keep[i]] for i in k_node], dtype=np.float64),
        outputs=tuple(int(new_slot[s]) for s in tape.outputs),
    )
