"""Generated NumPy code for one group of the numpy executor, with same-shaped ops batched.

An op's forward or backward from ``ops.py`` is run once on :class:`Lazy` operands, which
record the expression instead of computing it. The record is then written out as
straight-line NumPy code, level by level; ops at one level that do the same thing to
different operand rows (``linear``'s ``w_i * x_i`` for every i) become ONE call on the
stacked rows. Element by element the arithmetic is unchanged, so the numbers are exactly
those of running the op function on the arrays directly. In backward, a batched product
whose rows are only summed over one grid axis (``linear``'s ``g * x_i`` for every i) is done
as one matrix product: the same products, added in another fixed order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import permutations
from typing import Any

import numpy as np

from ..engine import topological_order
from ..ops import SCALAR
from .arraymath import ARRAY
from .backends import Sym, SymbolicMath, define, lit, namespace, refuse_branch

View = tuple[int, int, tuple, tuple]  # slots [lo, hi) as (shape, axes): see view_of


def view_of(idx: np.ndarray) -> View | None:
    """``idx`` as ``buf[lo:hi].reshape(shape).transpose(axes)`` (a view, no gather) when it
    holds every slot of one run [lo, hi) laid out along its axes in some order; else None."""
    n = idx.size
    if n == 0 or idx.ndim > 3:
        return None
    lo = int(idx.min())
    if int(idx.max()) - lo + 1 != n:
        return None
    run = np.arange(lo, lo + n)
    for perm in permutations(range(idx.ndim)):
        shape = tuple(idx.shape[p] for p in perm)
        axes = tuple(np.argsort(perm).tolist())
        if np.array_equal(run.reshape(shape).transpose(axes), idx):
            return lo, lo + n, shape, axes
    return None


def view_code(buf: str, view: View) -> str:
    """The expression reading ``view`` of array ``buf``."""
    lo, hi, shape, axes = view
    code = f"{buf}[{lo}:{hi}].reshape({shape})"
    return code if axes == tuple(range(len(axes))) else f"{code}.transpose({axes})"


BROADCAST_MIN = 4096


def rows_code(buf: str, idx: np.ndarray) -> str | None:
    """The expression reading ``buf[idx]`` as a view: :func:`view_of`'s, or, when every row
    of a large ``idx`` is the same run of slots (``p * p``), that run broadcast (below
    BROADCAST_MIN slots the gather costs less than ``np.broadcast_to``); else None."""
    view = view_of(idx)
    if view is not None:
        return view_code(buf, view)
    if (idx.size >= BROADCAST_MIN and (idx == idx[:1]).all()
            and (row := view_of(idx[0])) is not None):
        return f"np.broadcast_to({view_code(buf, row)}, {idx.shape})"
    return None


def reader(idx: np.ndarray):
    """``f(buf) = buf[idx]``, as a view of ``buf`` where :func:`view_of` finds one."""
    view = view_of(idx)
    if view is None:
        return lambda buf: buf[idx]
    lo, hi, shape, axes = view
    return lambda buf: buf[lo:hi].reshape(shape).transpose(axes)


def adder(targets: np.ndarray, n_slots: int, lowering: Any = None) -> Callable:
    """``add(G, c)``: adds contributions ``c`` into a buffer of ``n_slots`` at slots
    ``targets``, each slot's in the order of ``targets`` (as ``np.add.at``): the
    :func:`scatterer` of one segment (a functional ``lowering``'s returns the new ``G``)."""
    add_into = (scatterer([targets], n_slots) if lowering is None
                else lowering.scatterer([targets]))
    return lambda G, c: add_into(G, (c,))


def _scatter(targets: np.ndarray, n_slots: int) -> Callable[[np.ndarray, Any], None]:
    """``add(G, c)`` for slots that are not a few long runs: all different as
    ``G[T] += c``; else many as one ``bincount`` over the slots they span, few with
    ``np.add.at`` (each slot's contributions in order). ``add.mode`` names the way."""
    if _distinct(targets, n_slots):
        mode = "distinct"

        def add(G: np.ndarray, c: Any) -> None:
            G[targets] += c
    elif targets.size * 8 >= int(targets.max()) - int(targets.min()) + 1:
        mode = "bincount"
        lo = int(targets.min())
        rel, width = targets - lo, int(targets.max()) - lo + 1

        def add(G: np.ndarray, c: Any) -> None:
            G[lo : lo + width] += np.bincount(rel, c, minlength=width)
    else:
        mode = "add.at"

        def add(G: np.ndarray, c: Any) -> None:
            np.add.at(G, targets, c)
    add.mode = mode
    return add


RUN_MIN = 32  # scatterer: runs of slots this long on average are added as slices


def _runs(targets: np.ndarray) -> list[tuple[int, int, int]] | None:
    """``targets`` as runs of consecutive slots, (from, to) in ``targets`` and the first
    slot, if there are at most 16 of them, RUN_MIN slots long on average (an empty
    ``targets`` is no run); else None."""
    if targets.size == 0:
        return []
    cut = np.flatnonzero(np.diff(targets) != 1) + 1
    if len(cut) >= 16 or targets.size < RUN_MIN * (len(cut) + 1):
        return None
    ends = [0, *cut.tolist(), targets.size]
    return [(i, j, int(targets[i])) for i, j in zip(ends[:-1], ends[1:])]


def _distinct(targets: np.ndarray, n_slots: int) -> bool:
    """Are the slots in ``targets`` all different?"""
    if targets.size * 8 >= n_slots:  # a mark per slot is cheaper than sorting
        seen = np.zeros(n_slots, bool)
        seen[targets] = True
        return int(np.count_nonzero(seen)) == targets.size
    return len(np.unique(targets)) == targets.size


_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "lt": "<", "le": "<=",
           "gt": ">", "ge": ">=", "eq": "==", "ne": "!=", "and": "&", "or": "|"}


class Lazy:
    """A recorded value: a leaf (``fn`` None, ``args`` = (where it lives,)) or an op on args."""

    __slots__ = ("fn", "args")

    def __init__(self, fn: str | None, args: tuple):
        self.fn, self.args = fn, args

    def __neg__(self) -> Lazy:
        return Lazy("neg", (self,))

    def __pos__(self) -> Lazy:
        return self

    @property
    def _children(self) -> tuple:
        """The Lazy operands (for ``engine.topological_order``)."""
        return tuple([a for a in self.args if isinstance(a, Lazy)])

    def __bool__(self) -> bool:
        return refuse_branch(self)

    # by identity: distinct objects have distinct hashes, so a set never calls __eq__
    # (which records an op); the graph walk keeps its seen nodes in a set
    __hash__ = object.__hash__


def _binary(name: str):
    return (lambda a, b: Lazy(name, (a, b))), (lambda a, b: Lazy(name, (b, a)))


for _name in _SYMBOL:
    _f, _r = _binary(_name)
    setattr(Lazy, f"__{_name}__", _f)
    if _name in ("add", "sub", "mul", "truediv", "and", "or"):
        setattr(Lazy, f"__r{_name}__", _r)


class LazyMath:
    """The backend for recording: every elementary function becomes a Lazy node."""

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        if not isinstance(cond, Lazy):  # decided now (a constant)
            return a if cond else b
        return Lazy("where", (cond, a, b))

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args: Lazy(name, args)


LAZY = LazyMath()


_BOOL = ("lt", "le", "gt", "ge", "eq", "ne", "and", "or")


def _floats(n: Lazy, known: dict[int, bool]) -> bool:
    """Does computed ``n`` hold float64 (not bools)? ``known``: its args' answers so far."""
    if n.fn in _BOOL:
        return False
    args = n.args[1:] if n.fn == "where" else n.args
    if n.fn != "where" and n.fn not in _SYMBOL and n.fn != "neg":
        return True  # an elementary function of ARRAY: float results
    return any(isinstance(a, float) or (isinstance(a, Lazy) and known.get(id(a), a.fn is None))
               for a in args)


def _walk(roots: list) -> list[Lazy]:
    """Every computed Lazy the roots need, operands first (``engine.topological_order``)."""
    order = topological_order(Lazy("roots", tuple(roots)))  # type: ignore[arg-type]
    order.pop()
    return [n for n in order if n.fn is not None]


class Emitter:
    """Writes the lines computing ``roots``; a value lives at ``place[id]``:
    ``("plain", expr)`` or ``("stack", name, i)`` (row i of a stacked array)."""

    def __init__(self, place: dict[int, tuple], shape: dict[int, tuple]):
        self.place, self.shape = place, shape  # shape: of one value (a stack row), by id
        self.lines: list[str] = []
        self.count = 0
        self.products: dict[str, tuple] = {}  # batched products: name -> (n, args, kinds)

    def shape_of(self, a: Any) -> tuple:
        return self.shape[id(a)] if isinstance(a, Lazy) else ()

    def expr(self, a: Any) -> str:
        if not isinstance(a, Lazy):
            return lit(a)
        p = self.place[id(a)]
        return p[1] if p[0] == "plain" else f"{p[1]}[{p[2]}]"

    def _desc(self, a: Any) -> tuple:
        if not isinstance(a, Lazy):
            return ("c", lit(a))
        p = self.place[id(a)]
        return ("p", p[1]) if p[0] == "plain" else ("s", p[1])

    def emit(self, roots: list) -> list[str]:
        """Lines computing every root; returns each root's expression."""
        nodes = _walk(roots)
        self.uses: dict[int, int] = {}
        for n in nodes:
            for a in n.args:
                self.uses[id(a)] = self.uses.get(id(a), 0) + 1
        for r in roots:
            self.uses[id(r)] = self.uses.get(id(r), 0) + 2
        self.floats: dict[int, bool] = {}
        for n in nodes:  # operands first
            self.floats[id(n)] = _floats(n, self.floats)
        level: dict[int, int] = {}
        by_level: dict[int, list[Lazy]] = {}
        for n in nodes:
            lv = level[id(n)] = 1 + max(
                [level.get(id(a), 0) for a in n.args if isinstance(a, Lazy)], default=0)
            by_level.setdefault(lv, []).append(n)
        for lv in sorted(by_level):
            groups: dict[tuple, list[Lazy]] = {}
            for n in by_level[lv]:
                key = (n.fn, tuple(self._desc(a) for a in n.args))
                groups.setdefault(key, []).append(n)
            for members in groups.values():
                self._batch(members)
        return [self.expr(r) for r in roots]

    def _batch(self, members: list[Lazy]) -> None:
        self.count += 1
        name = f"b{self.count}"
        if len(members) == 1:
            args = [self.expr(a) for a in members[0].args]
            self.place[id(members[0])] = ("plain", name)
        else:
            args = []
            for pos, a in enumerate(members[0].args):
                if not isinstance(a, Lazy) or self.place[id(a)][0] == "plain":
                    args.append(self.expr(a))
                    continue
                stack = self.place[id(a)][1]
                rows = [self.place[id(m.args[pos])][2] for m in members]
                if rows == list(range(rows[0], rows[0] + len(rows))):
                    args.append(f"{stack}[{rows[0]}:{rows[0] + len(rows)}]")
                else:
                    args.append(f"{stack}[np.array({rows})]")
            for i, m in enumerate(members):
                self.place[id(m)] = ("stack", name, i)
        shape = np.broadcast_shapes(*[self.shape_of(a) for a in members[0].args])
        for m in members:
            self.shape[id(m)] = shape
        fn = members[0].fn
        first = members[0].args[0]
        if (len(members) == 1 and fn in ("add", "sub", "mul", "truediv")
                and isinstance(first, Lazy) and self.floats.get(id(first), False)
                and self.uses.get(id(first)) == 1 and self.shape_of(first) == shape
                and self.place[id(first)][0] == "plain"):
            # the left operand is a fresh array read only here: update it in place
            self.place[id(members[0])] = self.place[id(first)]
            self.lines.append(f"{args[0]} {_SYMBOL[fn]}= {args[1]}")
            return
        if fn == "mul" and len(members) > 1:  # a batched product: reductions may fuse it
            kinds = []
            for a in members[0].args:
                stacked = isinstance(a, Lazy) and self.place[id(a)][0] == "stack"
                kinds.append(("stack" if stacked else "plain", self.shape_of(a)))
            self.products[name] = (len(members), args, kinds, [id(m) for m in members])
        if fn in _SYMBOL:
            code = f"({args[0]} {_SYMBOL[fn]} {args[1]})"
        elif fn == "neg":
            code = f"(-{args[0]})"
        else:
            code = f"M.{fn}({', '.join(args)})"
        self.lines.append(f"{name} = {code}")

    def reduced(self, kind: str, parts: list) -> list[tuple[str, int]]:
        """(1-D expression, operand rows it covers), in order, of the contributions
        ``parts`` to operand rows of ``kind``: whole for "f", summed over Q for "e" and over
        E for "q"."""
        runs: list[list] = []  # [batch name or None, first row, last row, part]
        for p in parts:
            where = self.place.get(id(p)) if isinstance(p, Lazy) else None
            last = runs[-1] if runs else None
            if (where and where[0] == "stack" and last and last[0] == where[1]
                    and last[2] == where[2] - 1):
                last[2] = where[2]
            elif where and where[0] == "stack":
                runs.append([where[1], where[2], where[2], p])
            else:
                runs.append([None, 0, 0, p])
        out = []
        for name, i0, i1, p in runs:
            fused = self._fused(kind, name, i0, i1)
            if fused is not None:
                out.append((fused, i1 + 1 - i0))
                continue
            if name is None:
                x, lead = self.expr(p), ()
            else:
                x, lead = f"{name}[{i0}:{i1 + 1}]", (i1 + 1 - i0,)
            full = lead + ("E", "Q")
            if self.shape_of(p) != self.full:
                x = f"np.broadcast_to({x}, ({', '.join(map(str, full))}))"
            x = f"_mask({x}, m)"
            if kind == "e" and self.full[1] != 1:
                x = f"({x} @ onesQ)"
            elif kind == "q" and self.full[0] != 1:
                x = f"(onesE @ {x})"
            out.append((f"{x}.reshape(-1)", i1 + 1 - i0))
        return out


    def _fused(self, kind: str, name: str | None, i0: int, i1: int) -> str | None:
        """A whole batched product ``A * B[i]`` summed over one grid axis, as one matrix
        product (the same products, summed in another fixed order); None if it does not
        fit. With a mask (several results) the product is made and masked as usual."""
        E, Q = self.full
        info = self.products.get(name) if name else None
        if info is None or kind not in "eq" or E == 1 or Q == 1 or i0 != 0:
            return None
        n, args, kinds, ids = info
        if i1 + 1 != n or kinds[0][0] == kinds[1][0] or any(self.uses[i] != 2 for i in ids):
            return None  # not the whole batch, or some member is needed elsewhere too
        plain, stack = (0, 1) if kinds[0][0] == "plain" else (1, 0)
        want = (1, Q) if kind == "e" else (E, 1)
        if kinds[plain][1] != (E, Q) or kinds[stack][1] != want:
            return None
        line = f"{name} = ({args[0]} * {args[1]})"
        if line not in self.lines or any(
                re.search(rf"\b{name}\b", x) for x in self.lines if x != line):
            return None
        self.lines.remove(line)  # the product is only made when a mask needs it
        a, b = args[plain], args[stack]
        if kind == "e":
            fast = f"({b}.reshape({n}, {Q}) @ {a}.T)"
            slow = f"(_mask({args[0]} * {args[1]}, m) @ onesQ)"
        else:
            fast = f"({b}.reshape({n}, {E}) @ {a})"
            slow = f"(onesE @ _mask({args[0]} * {args[1]}, m))"
        return f"({fast} if m is None else {slow}).reshape(-1)"


def _mask(x: np.ndarray, m: np.ndarray | None) -> np.ndarray:
    return x if m is None else np.where(m, x, 0.0)


def build_group(op, E: int, Q: int, kinds: list[str], gather: tuple, k: Any, back: tuple,
                targets: Any, n_slots: int, lo: int, hi: int, lowering: Any = None):
    """(forward(v), backward(G, v, mask)) for one group, as generated functions; operand
    rows that are runs of slots are read as views (:func:`view_of`), not gathered.

    ``lowering`` None writes NumPy code that updates ``v`` and ``G`` in place; a
    :class:`Functional` lowering writes code for an array library whose arrays are immutable
    (JAX): the same lines, but forward returns the new ``v`` and backward the new ``G``."""
    names = {"f": "F", "e": "EE", "q": "QQ"}
    counters = {"f": 0, "e": 0, "q": 0}
    shapes = {"f": (E, Q), "e": (E, 1), "q": (1, Q)}
    leaves, place, shape = [], {}, {}
    for kd in kinds:
        leaf = Lazy(None, (kd,))
        place[id(leaf)] = ("stack", names[kd], counters[kd])
        shape[id(leaf)] = shapes[kd]
        counters[kd] += 1
        leaves.append(leaf)
    load = []
    for kd, idx, tail in zip("feq", gather, ("", "[:, :, None]", "[:, None, :]")):
        if idx is not None:
            read = rows_code("v", idx) or f"v[I{kd.upper()}]"
            load.append(f"{names[kd]} = {read}{tail}")
    ns = {"np": np, "M": ARRAY, "_mask": _mask, "inf": np.inf, "nan": np.nan, "E": E, "Q": Q,
          **(lowering.names if lowering is not None else {}),
          "IF": gather[0], "IE": gather[1], "IQ": gather[2], "K": k, "T": targets,
          "onesE": np.ones(E), "onesQ": np.ones(Q)}
    kleaf = Lazy(None, ("k",))
    place[id(kleaf)], shape[id(kleaf)] = ("plain", "K"), (E, Q)
    extra = (kleaf,) if op.param else ()

    em = Emitter(dict(place), dict(shape))
    (result,) = em.emit([op.forward(LAZY, *leaves, *extra)])
    store = (f"v[{lo}:{hi}].reshape(E, Q)[...] = {result}" if lowering is None else
             f"return v.at[{lo}:{hi}].set(np.broadcast_to({result}, (E, Q)).reshape(-1))")
    fwd = ["def forward(v):", *load, *em.lines, store]

    g, o = Lazy(None, ("g",)), Lazy(None, ("out",))
    place[id(g)], place[id(o)] = ("plain", "g"), ("plain", "out")
    shape[id(g)] = shape[id(o)] = (E, Q)
    bwd = None
    if targets is not None:
        # a lowering may hide the constants from its compiler in the backward pass
        # (``_constant``: JAX's, so that XLA multiplies no two groups' constants together)
        hide = op.param and lowering is not None and "_constant" in lowering.names
        em = Emitter({**place, **({id(kleaf): ("plain", "KB")} if hide else {})}, dict(shape))
        em.full = (E, Q)
        parts = op.backward(LAZY, g, o, *leaves, *extra)
        rows = [r for kind_rows in back for r in kind_rows]
        em.emit([parts[r] for r in rows])
        chunks, sizes = [], []
        for kd, kind_rows in zip("feq", back):
            for code, rows in em.reduced(kd, [parts[r] for r in kind_rows]):
                chunks.append(code)
                sizes.append(rows * {"f": E * Q, "e": E, "q": Q}[kd])
        segments = np.split(targets, np.cumsum(sizes)[:-1])
        ns["add_into"] = (scatterer(segments, n_slots) if lowering is None
                          else lowering.scatterer(segments))
        body = [*load, *(["KB = _constant(K)"] if hide else []),
                f"g = G[{lo}:{hi}].reshape(E, Q)", f"out = v[{lo}:{hi}].reshape(E, Q)",
                f"m = None if m is None else m[{lo}:{hi}].reshape(E, Q)",
                *em.lines,  # after the reductions, which may take lines back
                f"{'' if lowering is None else 'return '}"
                f"add_into(G, ({', '.join(chunks)},), m is None)"]
        bwd = ["def backward(G, v, m):", *body]
    forward, backward = _define(fwd, bwd, ns, op.name)
    if backward is not None:
        backward.add_into = ns["add_into"]
    return forward, backward


def scatterer(segments: list[np.ndarray], n_slots: int):
    """``add_into(G, chunks, fresh=False)``: adds each chunk of contributions into ``G`` at
    its segment of slots, in order; a segment of a few long runs of slots as slices
    (``G[a:b] += c``), the others together as one scatter (:func:`_scatter`).

    ``add_into.runs`` lists the runs (chunk, from, to, first slot) in the order they are
    added, ``add_into.rest`` the other slots and ``add_into.scatter`` their scatter; a run
    whose ``add_into.assign`` entry the executor sets is the first write to its slots,
    which ``fresh`` (a buffer not zeroed there) then takes as ``G[a:b] = 0.0 + c``: the
    same numbers without zeroing first."""
    runs, rest, T = partition(segments)
    add = _scatter(T, n_slots) if rest else None
    assign = [False] * len(runs)

    def add_into(G: np.ndarray, chunks: tuple, fresh: bool = False) -> None:
        for (i, f, t, a), first in zip(runs, assign):
            if first and fresh:
                np.add(0.0, chunks[i][f:t], out=G[a : a + t - f])
            else:
                G[a : a + t - f] += chunks[i][f:t]
        if rest:
            add(G, chunks[rest[0]] if len(rest) == 1 else
                np.concatenate([chunks[i] for i in rest]))

    add_into.runs, add_into.rest, add_into.assign, add_into.scatter = runs, T, assign, add
    return add_into


def partition(segments: list[np.ndarray]) -> tuple[list[tuple], list[int], Any]:
    """(runs, rest, T) of a scatter into ``segments`` of slots: the runs of slots added as
    slices, (chunk, from, to, first slot), in order; the chunks that are not a few long runs;
    their slots together (None if there are none)."""
    runs, rest = [], []
    for i, seg in enumerate(segments):
        r = _runs(seg)
        if r is None:
            rest.append(i)
        else:
            runs += [(i, f, t, a) for f, t, a in r]
    return runs, rest, (np.concatenate([segments[i] for i in rest]) if rest else None)


def build_narrow(op, idx: np.ndarray, k: list | None, back: list[int], targets: Any,
                 add: Any, lo: int, hi: int):
    """(forward(v), backward(G, v, mask)) for a group of a few nodes, as straight-line code on
    Python floats (``ops.SCALAR``'s functions, as the eager engine runs them)."""
    a, n = idx.shape
    xs = [[Sym(f"x{j}_{i}") for i in range(a)] for j in range(n)]
    unpack = f"({''.join(f'x{j}_{i}, ' for j in range(n) for i in range(a))}) = v[I].tolist()"
    ns = namespace()
    ns.update(np=np, I=idx.T.reshape(-1), add=add)
    lines = [unpack]
    with SymbolicMath(lines) as m:
        outs = [op.forward(m, *xs[j], *((k[j],) if op.param else ())) for j in range(n)]
    lines.append(f"v[{lo}:{hi}] = [{', '.join(lit(o) for o in outs)}]")
    fwd = ["def forward(v):", *lines]
    bwd = None
    if targets is not None:
        lines = [unpack, f"({''.join(f'g{j}, ' for j in range(n))}) = G[{lo}:{hi}].tolist()",
                 f"({''.join(f'o{j}, ' for j in range(n))}) = v[{lo}:{hi}].tolist()"]
        with SymbolicMath(lines, prefix="u") as m:
            parts = [op.backward(m, Sym(f"g{j}"), Sym(f"o{j}"), *xs[j],
                                 *((k[j],) if op.param else ())) for j in range(n)]
        lines.append(f"c = [{', '.join(lit(parts[j][r]) for r in back for j in range(n))}]")
        # several results: nodes the differentiated one does not depend on give nothing
        lines.append(f"if m is not None: c = np.where(np.tile(m[{lo}:{hi}], {len(back)}), c, 0.0)")
        lines.append("add(G, c)")
        bwd = ["def backward(G, v, m):", *lines]
    return _define(fwd, bwd, ns, op.name)


def build_direct(op, idx: np.ndarray, k: list | None, back: list[int], targets: Any,
                 add: Any, lo: int, hi: int):
    """(forward(v), backward(G, v, mask)) for a group of a few nodes with many operands (a
    long ``sum`` or ``linear``): the op's own functions called on Python floats with
    ``ops.SCALAR``, as the eager engine calls them. Nothing to generate or compile, which
    for thousands of operands costs more than it would ever save."""
    a, n = idx.shape
    at = idx.T.reshape(-1)
    fwd, bwd = op.forward, op.backward
    ks = [(k[j],) if op.param else () for j in range(n)]
    cuts = [(j * a, (j + 1) * a) for j in range(n)]

    def forward(v: np.ndarray) -> None:
        x = v[at].tolist()
        v[lo:hi] = [fwd(SCALAR, *x[s:e], *kj) for (s, e), kj in zip(cuts, ks)]

    def backward(G: np.ndarray, v: np.ndarray, m: Any) -> None:
        x, g, o = v[at].tolist(), G[lo:hi].tolist(), v[lo:hi].tolist()
        parts = [bwd(SCALAR, g[j], o[j], *x[s:e], *ks[j]) for j, (s, e) in enumerate(cuts)]
        c = [parts[j][r] for r in back for j in range(n)]
        if m is not None:  # several results: nodes the differentiated one does not use
            c = np.where(np.tile(m[lo:hi], len(back)), c, 0.0)
        add(G, c)

    return forward, (backward if targets is not None else None)


def build_sum(idx: np.ndarray, back: list[int], targets: Any, add: Any, lo: int,
              hi: int, lowering: Any = None) -> tuple:
    """(forward(v), backward(G, v, mask)) for long ``sum`` nodes (operands ``idx``, (a, n))
    on arrays: ``sum``'s math (ops.py) is ``x0 + x1 + ...`` left to right, which
    ``np.add.accumulate`` does in that very order (its last row is the fold, to the bit);
    backward hands ``g`` to every operand. A functional ``lowering`` (JAX) sums in one
    reduction, in XLA's order, where the op's own code would be a chain of ``a`` additions
    for XLA to compile, and returns the new buffers."""
    read = reader(idx)
    if lowering is None:
        xp = np

        def forward(v: np.ndarray) -> None:
            v[lo:hi] = np.add.accumulate(read(v), axis=0)[-1]
    else:
        xp = lowering.jnp

        def forward(v: Any) -> Any:
            return v.at[lo:hi].set(read(v).sum(axis=0))

    def backward(G: Any, v: Any, m: Any) -> Any:
        g = G[lo:hi] if m is None else xp.where(m[lo:hi], G[lo:hi], 0.0)
        return add(G, xp.tile(g, len(back)))  # NumPy's adds in place: None

    return forward, (backward if targets is not None else None)


def _define(fwd: list[str], bwd: list[str] | None, ns: dict, opname: str) -> tuple:
    """(forward, backward or None), defined from their lines in ``ns``."""
    where = f"<zerograd.compile numpy {opname}>"
    return define(fwd, ns, where), (define(bwd, ns, where) if bwd is not None else None)


# -- a layer over a batch: one matrix product ------------------------------------------------
def gemm_kinds(kinds: list[str]) -> bool:
    """True for a ``linear`` group that is a layer over a batch: every ``w`` operand varies
    with one axis of the grid only and every ``x`` with the other (operands b, w0, x0, ...)."""
    ws, xs = set(kinds[1::2]), set(kinds[2::2])
    return len(ws) == 1 and len(xs) == 1 and ws | xs == {"e", "q"}


def build_gemm(kinds: list[str], grid: np.ndarray, back: tuple, targets: Any, n_slots: int,
               lo: int, hi: int, masked_backward: Any, lowering: Any = None) -> tuple:
    """(forward, backward) of a ``linear`` group laid out as a layer over a batch (see
    :func:`gemm_kinds`): forward ``out = A.T @ B + b``, backward ``B @ g.T`` for the operands
    along the grid's rows and ``A @ g`` for those along its columns, ``g`` summed for ``b``.

    ``linear``'s math (ops.py) is ``b + w0*x0 + w1*x1 + ...``; the products are the same and
    only the order of the additions is BLAS's. A, B and b are read as views where their
    slots are runs (:func:`reader`). A backward restricted to some nodes (``m``, a compiled
    function with several results) runs ``masked_backward``, the generated node-by-node
    code, so nodes outside the mask contribute exactly nothing. ``lowering``: as for
    :func:`build_group` (a functional one returns the new buffers).
    """
    _, E, Q = grid.shape
    pairs = range(1, len(kinds))
    e_rows = [r for r in pairs if kinds[r] == "e"]  # one of w_i, x_i per i, in order of i
    q_rows = [r for r in pairs if kinds[r] == "q"]
    kb = kinds[0]
    A = reader(grid[e_rows, :, 0].astype(np.intp))  # (nin, E)
    B = reader(grid[q_rows, 0, :].astype(np.intp))  # (nin, Q)
    bias = reader({"q": grid[0, 0, :], "e": grid[0, :, 0][:, None], "f": grid[0]}[kb]
                  .astype(np.intp))

    if lowering is None:
        def forward(v: np.ndarray) -> None:
            out = v[lo:hi].reshape(E, Q)
            np.matmul(A(v).T, B(v), out=out)
            out += bias(v)
    else:  # the same products, into a new buffer
        def forward(v: Any) -> Any:
            return v.at[lo:hi].set((A(v).T @ B(v) + bias(v)).reshape(-1))

    def select(rows: list[int], kind: str) -> tuple[bool, list[int] | None]:
        """(is b among ``rows``, which of the kind's operand rows; None for all of them)."""
        kind_rows = e_rows if kind == "e" else q_rows
        at = {r: j for j, r in enumerate(kind_rows)}
        sel = [at[r] for r in rows if r in at]
        return 0 in rows, (None if sel == list(range(len(kind_rows))) else sel)

    (b_e, sel_e), (b_q, sel_q) = select(back[1], "e"), select(back[2], "q")
    if targets is None:
        return forward, None
    n_e = len(e_rows) if sel_e is None else len(sel_e)
    n_q = len(q_rows) if sel_q is None else len(sel_q)
    sizes = [E * Q] * bool(back[0]) + [E] * b_e + [n_e * E] * bool(n_e) + [Q] * b_q + [
        n_q * Q] * bool(n_q)  # b first where it rides along an axis, as select orders them
    segments = np.split(targets, np.cumsum(sizes)[:-1])
    add_into = scatterer(segments, n_slots) if lowering is None else lowering.scatterer(segments)

    def backward(G: np.ndarray, v: np.ndarray, m: Any) -> Any:
        if m is not None:
            return masked_backward(G, v, m)
        g = G[lo:hi].reshape(E, Q)
        parts = [g.reshape(-1)] if back[0] else []  # only b can vary with both axes
        if b_e:
            parts.append(g.sum(axis=1))
        if n_e:
            ge = B(v) @ g.T
            parts.append((ge if sel_e is None else ge[sel_e]).reshape(-1))
        if b_q:
            parts.append(g.sum(axis=0))
        if n_q:
            gq = A(v) @ g if E > 1 else A(v) * g  # (one row: the same products, BLAS is slow)
            parts.append((gq if sel_q is None else gq[sel_q]).reshape(-1))
        return add_into(G, parts, True)  # a functional lowering's new G; NumPy's None

    backward.add_into = add_into
    return forward, backward
