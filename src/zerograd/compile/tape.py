"""Phase 2, record: the traced graph as flat arrays (op code, operand slots, output slot).

Every node has a *slot*. Slots ``[0, P)`` are the parameters (leaves ``fn`` closed over,
read afresh on every call), ``[P, P+I)`` the placeholders (the argument numbers, in
flattening order), ``[P+I, L)`` the constants ``fn`` created, and ``L + j`` the j-th op
node in topological order (operands before results, as ``engine.topological_order``).

The arrays are NumPy arrays where NumPy is installed, else Python lists holding the same
numbers (:attr:`Tape.lists`): the python and scalar executors and the checked replay run on
either, the numpy and jax executors (and :func:`fuse_sums`, :func:`levels`, :func:`remap`,
:func:`operands`, which they use) on arrays. NumPy is imported by the first function that
needs it, not by this module.
"""

from __future__ import annotations

import gc
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate, chain, compress, repeat
from operator import attrgetter, is_not, not_
from typing import TYPE_CHECKING, Any

from .. import ops
from ..anomaly import OUTSIDE
from ..engine import Value

if TYPE_CHECKING:
    import numpy as np

OP_CODE = {op.name: i for i, op in enumerate(ops.OPS)}
_CODE_OF_ID = {id(op): i for i, op in enumerate(ops.OPS)}
_PARAM_CODES = [i for i, op in enumerate(ops.OPS) if op.param]
_CHILDREN, _FN, _DATA, _ARG = (attrgetter(a) for a in ("_children", "_fn", "data", "_arg"))
CHUNK = 1 << 16  # operand slots gathered at a time (bounds the temporary arrays)


@dataclass
class Tape:
    params: list[Value]      # the leaves read on every call and given gradients
    n_inputs: int            # placeholders
    # the arrays: NumPy arrays of these dtypes, or lists of Python floats and ints
    consts: np.ndarray | list  # float64, the constants' numbers
    code: np.ndarray | list    # uint8 per op node: index into ops.OPS
    start: np.ndarray | list   # int64, n_ops + 1: node j's operands are args[start[j]:start[j+1]]
    args: np.ndarray | list    # int32 operand slots
    k_node: np.ndarray | list  # int32 op nodes with a constant parameter (powc) ...
    k_value: np.ndarray | list  # float64 ... and that parameter
    outputs: tuple[int, ...]  # slots of fn's results
    _levels: np.ndarray | None = None  # cache of levels(self)
    _fused: Tape | None = None  # cache of fuse_sums(self)
    sites: list[tuple[str, int]] | None = None  # per op node: (file, line) that created it

    @property
    def lists(self) -> bool:
        """Whether the arrays are Python lists (recorded without NumPy), not NumPy arrays."""
        return self.code.__class__ is list

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
        """Bytes of the arrays (8 per parameter reference included; a list's references
        only, for a tape of lists)."""
        arrays = (self.consts, self.code, self.start, self.args, self.k_node, self.k_value)
        if self.lists:
            return 8 * (sum(map(len, arrays)) + len(self.params))
        return sum(a.nbytes for a in arrays) + 8 * len(self.params)

    def structure(self) -> bytes:
        """Everything an executor's generated code depends on, as bytes: the slots, ops,
        wiring, constants (bit for bit) and results, not the parameters' objects or
        numbers. Two tapes with equal structures get the same code."""
        ints = [as_list(a) for a in (self.code, self.start, self.args, self.k_node)]
        floats = [as_list(a) for a in (self.consts, self.k_value)]
        head = [self.n_params, self.n_inputs, len(self.outputs), *self.outputs,
                *map(len, ints), *map(len, floats)]
        return b"".join([array("q", head).tobytes(), *(array("q", a).tobytes() for a in ints),
                         *(array("d", a).tobytes() for a in floats)])

    def k_of(self) -> dict[int, float]:
        """Op node index -> constant parameter."""
        return dict(zip(as_list(self.k_node), as_list(self.k_value)))

    def calls(self) -> Iterator[tuple[int, ops.Op, list[int], float | None]]:
        """(slot, op, operand slots, constant parameter or None) per op node, tape order."""
        L, k_of = self.n_leaves, self.k_of()
        start, args = as_list(self.start), as_list(self.args)
        for j, c in enumerate(as_list(self.code)):
            yield L + j, ops.OPS[c], args[start[j] : start[j + 1]], k_of.get(j)

    def reachable(self, out: int) -> Any:
        """Per slot, whether output ``out`` depends on it (itself included): a boolean
        NumPy array, or a list of bools for a tape of lists."""
        whole = len(set(self.outputs)) == 1 and self.outputs[out] == self.n_slots - 1
        if self.lists:
            return _reachable_list(self, out, whole)
        import numpy as np

        mask = np.zeros(self.n_slots, dtype=bool)
        mask[self.outputs[out]] = True
        if whole:
            mask[:] = True  # one result, computed last: the whole tape leads to it
            return mask
        L, start, args = self.n_leaves, self.start.tolist(), self.args
        for j in range(self.n_ops - 1, -1, -1):
            if mask[L + j]:
                mask[args[start[j] : start[j + 1]]] = True
        return mask


def _reachable_list(tape: Tape, out: int, whole: bool) -> list[bool]:
    """:meth:`Tape.reachable` on a tape of lists."""
    if whole:
        return [True] * tape.n_slots
    mask = [False] * tape.n_slots
    mask[tape.outputs[out]] = True
    L, start, args = tape.n_leaves, tape.start, tape.args
    for j in range(tape.n_ops - 1, -1, -1):
        if mask[L + j]:
            for a in args[start[j] : start[j + 1]]:
                mask[a] = True
    return mask


def as_list(a: Any) -> list:
    """A tape's array as a Python list: a NumPy array converted, a list as it is."""
    return a if a.__class__ is list else a.tolist()


def numpy_installed() -> bool:
    """Whether NumPy can be imported (importing it if so): then tapes are NumPy arrays."""
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


def record(
    outs: list[Value], inputs: list[Value], consts: list[Value], sites: dict | None = None,
    arrays: bool | None = None,
) -> Tape:
    """The graph behind ``outs`` as a Tape; ``inputs`` are the placeholders (in order).

    ``sites`` (``id(node) -> (file, line)``, as ``detect_anomaly()`` keeps) gives every op
    node's creation site, recorded in ``Tape.sites``. ``arrays``: NumPy arrays (the default
    where NumPy is installed) or Python lists (the default elsewhere); both hold the same
    numbers. Apart from the walk of the graph, the array recorder's passes over the nodes
    and operands run in C (``map``, ``np.fromiter``).
    """
    if arrays is None:
        arrays = numpy_installed()
    paused = gc.isenabled()
    gc.disable()  # the walk makes many small objects and no cycles (as Value.backward)
    try:
        return (_record if arrays else _record_lists)(outs, inputs, consts, sites)
    finally:
        if paused:
            gc.enable()


def _topological_order(outs: list[Value]) -> list[Value]:
    """``engine.topological_order`` of all of ``outs`` (the same order, without the root).
    A node whose operands are all seen already (a leaf, or most nodes of a wide graph) is
    finished at once: ``set.issuperset`` checks its operands in C."""
    order: list[Value] = []
    seen: set = set()
    covered, add, done = seen.issuperset, seen.add, order.append
    nodes: list = [None]  # the root, a stand-in joining the results
    its = [iter(outs)]
    while its:
        for child in its[-1]:
            if child not in seen:
                add(child)
                ch = child._children
                if covered(ch):
                    done(child)
                    continue
                nodes.append(child)
                its.append(iter(ch))
                break
        else:
            its.pop()
            done(nodes.pop())
    order.pop()
    return order


def _not_replayable(v: Value) -> Exception:
    from .trace import TraceError

    return TraceError(
        f"zg.compile: op '{v._op}' was made micrograd's way (Value(data, children, "
        f"op) with its own _backward), which the compiler cannot replay; write it "
        f"with zerograd's ops, or add it to the op table in zerograd/ops.py"
    )


def _record(outs: list[Value], inputs: list[Value], consts: list[Value],
            sites: dict | None) -> Tape:
    """``record``'s work, as NumPy arrays: slots by kind and order, then the operands
    mapped in one pass."""
    import numpy as np

    order = _topological_order(outs)
    N = len(order)
    is_op = list(map(is_not, map(_FN, order), repeat(None)))
    op_mask = np.fromiter(is_op, bool, N)
    arity = np.fromiter(map(len, map(_CHILDREN, order)), np.int64, N)
    bad = np.flatnonzero(~op_mask & (arity > 0))
    if bad.size:
        raise _not_replayable(order[int(bad[0])])
    leaves = list(compress(order, map(not_, is_op)))
    input_slot = {v: i for i, v in enumerate(inputs)}
    where = np.fromiter(map(input_slot.get, leaves, repeat(-1)), np.int64, len(leaves))
    is_const = np.fromiter(map(set(consts).__contains__, leaves), bool, len(leaves))
    is_const &= where < 0
    is_param = (where < 0) & ~is_const
    params = list(compress(leaves, is_param))
    const_data = np.fromiter(map(_DATA, compress(leaves, is_const)), np.float64)
    P, n_in, C = len(params), len(inputs), len(const_data)
    L = P + n_in + C
    leaf_slot = where + P
    leaf_slot[is_param] = np.arange(P)
    leaf_slot[is_const] = P + n_in + np.arange(C)
    slot = np.empty(N, np.int64)
    slot[~op_mask] = leaf_slot
    n_ops = N - len(leaves)
    slot[op_mask] = L + np.arange(n_ops)
    del leaves, where, is_const, is_param, leaf_slot
    slot_of = dict(zip(order, slot.tolist()))
    del slot
    arity = arity[op_mask]
    start = np.zeros(n_ops + 1, np.int64)
    np.cumsum(arity, out=start[1:])
    del arity
    # leaves have no operands, so this is every op node's operands in tape order
    refs = chain.from_iterable(map(_CHILDREN, order))
    args = np.fromiter(map(slot_of.__getitem__, refs), np.int32, int(start[-1]))
    op_nodes = list(compress(order, is_op))
    del order, is_op
    code = np.fromiter(map(_CODE_OF_ID.__getitem__, map(id, map(_FN, op_nodes))), np.uint8,
                       n_ops)
    k_node = np.flatnonzero(np.isin(code, _PARAM_CODES)).astype(np.int32)
    return Tape(
        params=params,
        n_inputs=n_in,
        consts=const_data,
        code=code,
        start=start,
        args=args,
        k_node=k_node,
        k_value=np.array([op_nodes[j]._arg for j in k_node.tolist()], dtype=np.float64),
        outputs=tuple(map(slot_of.__getitem__, outs)),
        sites=None if sites is None else [sites.get(id(v), OUTSIDE) for v in op_nodes],
    )


def _record_lists(outs: list[Value], inputs: list[Value], consts: list[Value],
                  sites: dict | None) -> Tape:
    """``record``'s work, as Python lists: the numbers :func:`_record` gives, its steps
    done on lists (placeholders first, then constants, then parameters take their slots)."""
    order = _topological_order(outs)
    is_op = list(map(is_not, map(_FN, order), repeat(None)))
    for v in compress(order, map(not_, is_op)):
        if v._children:
            raise _not_replayable(v)
    placeholders, const_set = set(inputs), set(consts)
    rest = [v for v in compress(order, map(not_, is_op)) if v not in placeholders]
    params = [v for v in rest if v not in const_set]
    const_leaves = [v for v in rest if v in const_set]
    P, n_in, C = len(params), len(inputs), len(const_leaves)
    L = P + n_in + C
    slot_of = dict(zip(params, range(P)))
    slot_of.update({v: P + i for i, v in enumerate(inputs)})
    slot_of.update(zip(const_leaves, range(P + n_in, L)))
    op_nodes = list(compress(order, is_op))
    del order, is_op, rest
    slot_of.update(zip(op_nodes, range(L, L + len(op_nodes))))
    code = list(map(_CODE_OF_ID.__getitem__, map(id, map(_FN, op_nodes))))
    param_codes = set(_PARAM_CODES)
    k_node = [j for j, c in enumerate(code) if c in param_codes]
    return Tape(
        params=params,
        n_inputs=n_in,
        consts=[float(v.data) for v in const_leaves],
        code=code,
        start=list(accumulate(map(len, map(_CHILDREN, op_nodes)), initial=0)),
        args=list(map(slot_of.__getitem__, chain.from_iterable(map(_CHILDREN, op_nodes)))),
        k_node=k_node,
        k_value=[float(op_nodes[j]._arg) for j in k_node],
        outputs=tuple(map(slot_of.__getitem__, outs)),
        sites=None if sites is None else [sites.get(id(v), OUTSIDE) for v in op_nodes],
    )


def remap(table: np.ndarray, a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``table[a]`` as int32 (into ``out`` if given), CHUNK entries at a time, so the index
    and result temporaries stay small whatever the size of ``a``."""
    import numpy as np

    flat = a.reshape(-1)
    res = np.empty(flat.shape, np.int32) if out is None else out.reshape(-1)
    for i in range(0, len(flat), CHUNK):
        res[i : i + CHUNK] = table[flat[i : i + CHUNK]]
    return res.reshape(a.shape)


def operands(tape: Tape, nodes: np.ndarray, a: int) -> np.ndarray:
    """int32 (a, len(nodes)): row i holds operand i of each of ``nodes`` (all of arity a)."""
    import numpy as np

    out = np.empty((a, len(nodes)), np.int32)
    step = max(1, CHUNK // max(a, 1))
    offsets = np.arange(a)[:, None]
    for i in range(0, len(nodes), step):
        out[:, i : i + step] = tape.args[tape.start[nodes[i : i + step]][None, :] + offsets]
    return out


def levels(tape: Tape) -> np.ndarray:
    """Depth of every op node: 1 + the deepest operand (leaves are at depth 0)."""
    if tape._levels is None:
        tape._levels = _levels(tape)
    return tape._levels


def _levels(tape: Tape) -> np.ndarray:
    """Depth by depth: a pass over the operands (CHUNK at a time) finds the nodes not done
    whose operands all are; they are the next depth. Passes skip stretches of the tape that
    are done; once they have cost as much as 16 scans of the whole tape (a deep, narrow
    graph), the rest is done node by node in tape order."""
    import numpy as np

    L, n = tape.n_leaves, tape.n_ops
    depth = np.zeros(n, np.int64)
    done = np.zeros(tape.n_slots, bool)  # per slot
    done[:L] = True
    start, args = tape.start, tape.args
    chunks = _chunks(start)
    budget = 16 * (len(args) + n)
    d = 0
    while chunks:
        d += 1
        ready = []
        for j0, j1 in chunks:
            s0, s1 = start[j0], start[j1]  # (every op node has an operand)
            ok = np.logical_and.reduceat(done[args[s0:s1]], start[j0:j1] - s0)
            ok &= ~done[L + j0 : L + j1]
            ready.append(j0 + np.flatnonzero(ok))
            budget -= s1 - s0 + j1 - j0
        ready = np.concatenate(ready)
        if not len(ready):
            break  # not reached: the tape is topologically ordered
        depth[ready] = d
        done[L + ready] = True
        chunks = [(j0, j1) for j0, j1 in chunks if not done[L + j0 : L + j1].all()]
        if budget < 0 and chunks:
            return _levels_loop(tape, depth, done[L:])
    return depth


def _chunks(start: np.ndarray) -> list[tuple[int, int]]:
    """Runs of nodes (first, end) with about CHUNK operands each (at least one node)."""
    import numpy as np

    n = len(start) - 1
    cuts = np.searchsorted(start, np.arange(CHUNK, start[-1], CHUNK), side="right") - 1
    cuts = np.unique(np.concatenate([[0], cuts, [n]])).tolist()
    return list(zip(cuts[:-1], cuts[1:]))


def _levels_loop(tape: Tape, depth: np.ndarray, done: np.ndarray) -> np.ndarray:
    """The depths not yet found, node by node in tape order (CHUNK operands at a time)."""
    import numpy as np

    L = tape.n_leaves
    dl = [0] * L + depth.tolist()
    for j0, j1 in _chunks(tape.start):
        todo = np.flatnonzero(~done[j0:j1])
        if not len(todo):
            continue
        s0 = int(tape.start[j0])
        start = (tape.start[j0 : j1 + 1] - s0).tolist()
        args = tape.args[s0 : tape.start[j1]].tolist()
        for j in todo.tolist():
            s, e = start[j], start[j + 1]
            if e - s == 1:
                dl[L + j0 + j] = dl[args[s]] + 1
            elif e - s == 2:
                a, b = dl[args[s]], dl[args[s + 1]]
                dl[L + j0 + j] = (a if a > b else b) + 1
            else:
                dl[L + j0 + j] = 1 + max([dl[a] for a in args[s:e]])
    return np.array(dl[L:], dtype=np.int64)


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
    """Array ops over the whole tape: each merging node's chain head is found by pointer
    jumping; the operands of nodes in no chain are copied as they are, those of each chain
    are gathered (in tape order, first operands dropped) into its head's place."""
    import numpy as np

    add, vsum = OP_CODE["add"], OP_CODE["sum"]
    L, n = tape.n_leaves, tape.n_ops
    start, args, code = tape.start, tape.args, tape.code
    arity = np.diff(start)
    if n == 0 or len(args) == 0:
        return tape
    is_sum = (code == add) | (code == vsum)
    cand = np.flatnonzero(is_sum & (arity > 0))
    first = args[start[cand]].astype(np.int64)
    ok = first >= L
    cand, first = cand[ok], first[ok]
    ok = is_sum[first - L]
    cand, first = cand[ok], first[ok]
    counted = np.zeros(tape.n_slots, bool)  # count the uses of these slots only
    counted[first] = True
    uses = np.bincount(args[counted[args]], minlength=tape.n_slots)
    uses[list(tape.outputs)] += 2
    ok = uses[first] == 1
    merging, inner = cand[ok], first[ok] - L  # node merging[i] absorbs node inner[i]
    if not len(merging):
        return tape
    up = np.arange(n)
    up[inner] = merging
    while True:  # pointer jumping: every node's chain head (itself if in no chain)
        nxt = up[up]
        if np.array_equal(nxt, up):
            break
        up = nxt
    keep = np.ones(n, bool)
    keep[inner] = False
    new_index = np.cumsum(keep) - 1
    in_chain = np.zeros(n, bool)
    in_chain[inner] = in_chain[merging] = True
    drop_first = np.zeros(n, bool)
    drop_first[merging] = True
    # chain members' operand counts go to their head: len - 1 for each merging node
    own = np.where(in_chain, 0, arity)
    members = np.flatnonzero(in_chain)
    chain_len = np.bincount(up[members], weights=arity[members] - drop_first[members],
                            minlength=n).astype(np.int64)
    lens = (own + chain_len)[keep]
    new_start = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens, out=new_start[1:])
    # the chain operands, grouped by head: (member, position) in tape order, first
    # operands of merging nodes out
    m_arity = arity[members]
    ref = np.repeat(start[members] - np.cumsum(m_arity) + m_arity, m_arity)
    ref += np.arange(len(ref))
    owner = np.repeat(members, m_arity)
    kept = ~(drop_first[owner] & (ref == start[owner]))
    ref, owner = ref[kept], owner[kept]
    chain_vals = args[ref[np.argsort(new_index[up[owner]], kind="stable")]]
    del ref, owner, kept
    # each new node's operands are a slice of args (a node in no chain) or of chain_vals (a
    # head; positions from len(args) on)
    old = np.flatnonzero(keep)
    head = in_chain[old]
    src = start[old]
    src[head] = len(args) + np.concatenate([[0], np.cumsum(lens[head])[:-1]])
    new_slot = np.arange(tape.n_slots, dtype=np.int32)
    new_slot[L:][keep] = L + np.arange(len(lens), dtype=np.int32)
    out = np.empty(int(new_start[-1]), np.int32)
    M = len(args)
    for k0, k1 in _chunks(new_start):
        s0, s1 = new_start[k0], new_start[k1]
        pos = np.repeat(src[k0:k1] - new_start[k0:k1], lens[k0:k1]) + np.arange(s0, s1)
        inside = pos < M
        vals = np.empty(len(pos), np.int32)
        vals[inside] = args[pos[inside]]
        vals[~inside] = chain_vals[pos[~inside] - M]
        out[s0:s1] = new_slot[vals]
    new_code = code[keep].copy()
    new_code[new_index[merging[keep[merging]]]] = vsum
    return Tape(
        params=tape.params,
        n_inputs=tape.n_inputs,
        consts=tape.consts,
        code=new_code,
        start=new_start,
        args=out,
        k_node=new_index[tape.k_node].astype(np.int32),
        k_value=tape.k_value,
        outputs=tuple(int(new_slot[s]) for s in tape.outputs),
    )
