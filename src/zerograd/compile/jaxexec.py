"""Executor "jax": the numpy executor's program, written for ``jax.numpy`` and run by XLA.

The schedule, the E x Q grids, the operand gathers, the matrix products and every op's
math are the numpy executor's (:mod:`.npexec`, :mod:`.npcode`, ``ops.py``); only the code
each group gets differs: it returns a new buffer (``v.at[lo:hi].set``, ``G.at[T].add``)
instead of writing into one, and every group runs, however narrow, as arrays. The buffers
are :class:`Pieces`, one array per group's outputs, so XLA works on those arrays and not
on updates of one long buffer. The groups' functions are then traced once by ``jax.jit``
into one XLA program for forward, one per result for backward, and one for both
(:meth:`JaxExecutor.value_and_grad`, the training fast path), all in float64.

XLA computes the elementary functions (exp, tanh, log, ...) with its own code, not the C
library's, and may add a GEMM's products in another order: results agree with the eager
engine to about 1e-12 relative, not to the bit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .arraymath import ArrayMath
from .npcode import partition
from .npexec import NumpyExecutor
from .tape import Tape

INSTALL = 'the "jax" executor needs JAX: pip install "zerograd[jax]"'


def require() -> tuple[Any, Any]:
    """(jax, jax.numpy), or an ImportError saying how to install them."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as e:
        raise ImportError(f"{INSTALL} ({e})") from None
    return jax, jnp


def _divide(jnp: Any) -> Callable[[Any, Any], Any]:
    """``jnp.divide`` with its computed operands behind an optimization barrier. XLA's
    algebraic simplifier rewrites ``(a / b) / c`` as ``a / (b * c)``, ``a / (b / c)`` as
    ``a * c / b`` and ``a / sqrt(b)`` as ``a * rsqrt(b)``: equal for real numbers, not for
    floats where ``b * c`` overflows (``t = 5 / 1e155; t / t`` gave a nan gradient). It
    also divides by a broadcast number as a multiplication by its reciprocal, whose
    subnormal XLA flushes (``x / x`` gave 0.0 at ``x = -1.8e308`` when a group of divisions
    shared the divisor). The operands go behind the barrier broadcast to the result's
    shape: XLA sees no operand it could rewrite, and divides as the eager engine does."""
    from jax.lax import optimization_barrier

    def divide(a: Any, b: Any) -> Any:
        if isinstance(a, float):
            return jnp.divide(a, optimization_barrier(b))
        if isinstance(b, float):
            return jnp.divide(optimization_barrier(a), b)
        return jnp.divide(*optimization_barrier(tuple(jnp.broadcast_arrays(a, b))))

    return divide


def _power(jnp: Any) -> Callable[[Any, Any], Any]:
    """``jnp.power`` with its base behind an optimization barrier. XLA's algebraic
    simplifier rewrites ``pow(exp(a), b)`` as ``exp(a * b)``: ``exp(1e-300) ** -inf`` is
    ``1.0 ** -inf = 1.0`` in eager, ``exp(1e-300 * -inf) = 0.0`` rewritten."""
    from jax.lax import optimization_barrier

    def power(x: Any, y: Any) -> Any:
        return jnp.power(optimization_barrier(x), y)

    return power


def _sqrt(jnp: Any) -> Callable[[Any], Any]:
    """``jnp.sqrt`` of its operand behind an optimization barrier. XLA rewrites
    ``sqrt(a * a)`` as ``abs(a)``: ``6.5e286`` where eager's ``a * a`` overflows to inf."""
    from jax.lax import optimization_barrier

    def sqrt(x: Any) -> Any:
        return jnp.sqrt(optimization_barrier(x))

    return sqrt


def _log(jnp: Any) -> Callable[[Any], Any]:
    """``jnp.log`` of its operand behind an optimization barrier. XLA's algebraic simplifier
    rewrites ``log(exp(a))`` as ``a`` and ``log(pow(a, b))`` as ``b * log(abs(a))``: equal
    for real numbers, not for floats where ``exp`` or ``pow`` overflows (``log(exp(1000))``
    gave 1000.0 for eager's inf) or ``pow`` is nan (``log((-0.5) ** 1.0)`` gave -0.69 for
    nan). Behind the barrier XLA takes the log of the number eager takes it of."""
    from jax.lax import optimization_barrier

    def log(x: Any) -> Any:
        return jnp.log(optimization_barrier(x))

    return log


def _constant(jnp: Any) -> Callable[[Any], Any]:
    """A group's constants (``x ** k``'s ``k``) behind an optimization barrier, for the
    backward pass. Seen as constants, XLA multiplies two groups' constants together first:
    ``g * (1000 * a) * (-1.8e308 * b)`` became ``(g * a * b) * -inf`` (1000 * -1.8e308
    overflows), a nan where eager's order gives 0.0 (fuzz program 19715)."""
    from jax.lax import optimization_barrier

    def constant(k: Any) -> Any:
        return optimization_barrier(jnp.asarray(k))

    return constant


class Functional:
    """The lowering :func:`.npcode.build_group` writes JAX code with: names for the
    generated code, and the scatter of gradient contributions into an immutable buffer."""

    def __init__(self, jnp: Any):
        math = type("JaxMath", (ArrayMath,), {
            name: staticmethod(getattr(jnp, fn)) for name, fn in (
                ("exp", "exp"),
                ("log1p", "log1p"), ("tanh", "tanh"), ("abs", "abs"),
                ("where", "where"))})  # sign and maximum: ArrayMath's, on this where
        math.div = staticmethod(_divide(jnp))
        math.log = staticmethod(_log(jnp))
        math.pow = staticmethod(_power(jnp))
        math.sqrt = staticmethod(_sqrt(jnp))
        self.jnp = jnp
        self.names = {"np": jnp, "M": math(), "_constant": _constant(jnp),
                      "_mask": lambda x, m: x if m is None else jnp.where(m, x, 0.0)}

    def scatterer(self, segments: list[np.ndarray]) -> Any:
        """``add_into(G, chunks, fresh) -> G``: each chunk of contributions added at its
        segment of slots (runs of slots as slices, the rest as one scatter-add)."""
        runs, rest, T = partition(segments)
        jnp = self.jnp

        def add_into(G: Any, chunks: tuple, fresh: bool = False) -> Any:
            for i, f, t, a in runs:
                G = G.at[a : a + t - f].add(chunks[i][f:t])
            if rest:
                G = G.at[T].add(chunks[rest[0]] if len(rest) == 1 else
                                jnp.concatenate([chunks[i] for i in rest]))
            return G

        return add_into


class Pieces:
    """A slot buffer held as pieces, one array per segment of slots (the leaves, each
    group's outputs): what the generated code reads and writes as ``v`` and ``G``, with the
    same indexing (``v[lo:hi]``, ``v[I]``, ``v.at[lo:hi].set(x)``, ``G.at[T].add(c)``).

    XLA then sees each group's output as an array of its own, not updates of one long
    buffer: a slice of a segment costs nothing, a gather over several segments concatenates
    only those, and a gradient added to a few slots touches only their segment. Immutable,
    as JAX arrays are; a piece that is None holds zeros."""

    def __init__(self, jnp: Any, bounds: np.ndarray, parts: tuple):
        self.jnp, self.bounds, self.parts = jnp, bounds, parts  # segment i: bounds[i:i+2]

    def _part(self, i: int) -> Any:
        p = self.parts[i]
        return self.jnp.zeros(int(self.bounds[i + 1] - self.bounds[i])) if p is None else p

    def _segment(self, slots: Any) -> Any:
        """The segment holding each slot."""
        return np.searchsorted(self.bounds, slots, "right") - 1

    def _span(self, lo: int, hi: int) -> tuple[int, int]:
        """The first and last segments holding slots [lo, hi)."""
        return int(self._segment(lo)), int(self._segment(hi - 1))

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            lo, hi, _ = key.indices(int(self.bounds[-1]))
            if hi <= lo:
                return self.jnp.zeros(0)
            i, j = self._span(lo, hi)
            if i == j:
                a = self.bounds[i]
                return self._part(i)[lo - a : hi - a]
            return self.jnp.concatenate([self._part(s) for s in range(i, j + 1)])[
                lo - self.bounds[i] : hi - self.bounds[i]]
        idx = np.asarray(key, dtype=np.intp)
        if idx.size == 0:
            return self.jnp.zeros(idx.shape)
        seg = self._segment(idx)
        used = np.unique(seg)
        if len(used) == 1:
            return self._part(int(used[0]))[idx - self.bounds[used[0]]]
        sizes = np.diff(self.bounds)[used]
        start = np.zeros(len(self.bounds), np.intp)  # where each used segment starts below
        start[used] = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        both = self.jnp.concatenate([self._part(int(s)) for s in used])
        return both[idx - self.bounds[seg] + start[seg]]

    @property
    def at(self) -> _At:
        return _At(self)

    def _with(self, key: Any, x: Any, add: bool) -> Pieces:
        jnp, parts, b = self.jnp, list(self.parts), self.bounds
        if isinstance(key, (int, np.integer)):
            key = slice(int(key), int(key) + 1)
        if isinstance(key, slice):
            lo, hi, _ = key.indices(int(b[-1]))
            if hi <= lo:
                return self
            x = jnp.broadcast_to(jnp.asarray(x, dtype=float), (hi - lo,))
            i, j = self._span(lo, hi)
            for s in range(i, j + 1):
                a, z = max(lo, int(b[s])), min(hi, int(b[s + 1]))
                piece = x[a - lo : z - lo]
                if (a, z) == (b[s], b[s + 1]):
                    parts[s] = piece if not add or parts[s] is None else parts[s] + piece
                else:
                    at = self._part(s).at[a - b[s] : z - b[s]]
                    parts[s] = at.add(piece) if add else at.set(piece)
            return Pieces(jnp, b, tuple(parts))
        if not add:
            raise TypeError("a gather of slots is only added into, not set")
        idx = np.asarray(key, dtype=np.intp).reshape(-1)
        x = jnp.broadcast_to(x, idx.shape)
        seg = self._segment(idx)
        for s in np.unique(seg).tolist():
            where = np.flatnonzero(seg == s)
            piece = (x[int(where[0]) : int(where[-1]) + 1]
                     if int(where[-1]) - int(where[0]) + 1 == len(where) else x[where])
            parts[s] = self._added(s, idx[where] - b[s], piece)
        return Pieces(jnp, b, tuple(parts))

    def _added(self, s: int, local: np.ndarray, c: Any) -> Any:
        """Segment ``s`` with ``c`` added at its slots ``local``: distinct ones as a gather
        of ``c`` (XLA runs it faster than a scatter, and faster than laying a block of them
        out by pads and reshapes), others as a scatter-add."""
        jnp, size, part = self.jnp, int(self.bounds[s + 1] - self.bounds[s]), self.parts[s]
        if len(np.unique(local)) != local.size:
            return self._part(s).at[local].add(c)
        inv = np.full(size, local.size, np.intp)  # slot -> its place in c, or the zero after
        inv[local] = np.arange(local.size)
        y = (c if local.size == size else jnp.append(c, 0.0))[inv]
        return y if part is None else part + y


@functools.cache
def _register(jax: Any) -> None:
    """Make :class:`Pieces` a pytree (its parts; the bounds ride along), once."""
    jax.tree_util.register_pytree_node(
        Pieces, lambda v: (v.parts, (v.jnp, tuple(v.bounds.tolist()))),
        lambda aux, parts: Pieces(aux[0], np.asarray(aux[1]), tuple(parts)))


class _At:
    """``pieces.at[key]``: ``.set(x)`` and ``.add(x)``, each a new :class:`Pieces`."""

    def __init__(self, pieces: Pieces, key: Any = None):
        self.pieces, self.key = pieces, key

    def __getitem__(self, key: Any) -> _At:
        return _At(self.pieces, key)

    def set(self, x: Any) -> Pieces:
        return self.pieces._with(self.key, x, add=False)

    def add(self, x: Any) -> Pieces:
        return self.pieces._with(self.key, x, add=True)


class JaxExecutor(NumpyExecutor):
    name = "jax"
    fused_value_and_grad = trains_on_device = True
    scalar_width = 0  # under jit, a narrow group costs no call of its own: arrays throughout

    def __init__(self, tape: Tape):
        jax, jnp = require()
        self._jax, self.lowering = jax, Functional(jnp)
        super().__init__(tape)  # builds the groups' code; nothing is traced yet
        P, L = tape.n_params, tape.n_leaves
        consts, groups, outputs = np.asarray(self.consts, float), self.groups, self.outputs
        n = self.n_inputs
        bounds = np.unique([0, P, P + n, L, *[g.lo for g in groups], self.n_slots])
        _register(jax)  # v passes from forward to backward's jit
        empty = (None,) * (len(bounds) - 1)

        def forward(p: Any, x: Any) -> tuple[Any, Any]:
            v = Pieces(jnp, bounds, empty).at[0:P].set(p)
            v = v.at[P : P + n].set(x) if n else v
            v = v.at[P + n : L].set(consts) if L > P + n else v
            for g in groups:
                v = g.run_forward(v)
            return v[outputs], v

        def backward(v: Any, out: int, mask: np.ndarray | None) -> Any:
            G = Pieces(jnp, bounds, empty).at[self.outputs[out]].set(1.0)
            for run in self.backwards:
                G = run(G, v, mask)
            return G[:P] if mask is None else G[np.asarray(self.which(mask), dtype=np.intp)]

        def value_and_grad(p: Any, x: Any) -> tuple[Any, Any]:
            outs, v = forward(p, x)
            return outs[0], backward(v, 0, self.mask(0))

        self._backward, self._loss_and_grads = backward, value_and_grad
        self._forward, self._value_and_grad = jax.jit(forward), jax.jit(value_and_grad)
        self._backward_of: dict[int, Any] = {}  # per result: its jitted backward

    def _first_writes(self) -> None:
        return None  # a new buffer starts at zero: nothing to assign first

    def _arrays(self, pvals: Any, xvals: Any) -> tuple[np.ndarray, np.ndarray]:
        n = self.n_inputs
        p = np.fromiter(pvals, float, self.n_params) if type(pvals) is list else pvals
        x = np.fromiter(xvals, float, n) if type(xvals) is list else xvals
        return np.asarray(p, float), np.asarray(x, float).reshape(n)

    def forward(self, pvals: Any, xvals: Any) -> tuple[list[float], Any]:
        """(results, every node's number, as a JAX array) from the parameters' and inputs'
        numbers."""
        with self._jax.enable_x64(True):
            outs, v = self._forward(*self._arrays(pvals, xvals))
            return np.asarray(outs).tolist(), v

    def backward(self, v: Any, out: int) -> tuple[list[int], np.ndarray]:
        """(parameter indices, their gradients) of result ``out``, from forward's numbers."""
        mask = self.mask(out)
        if out not in self._backward_of:
            self._backward_of[out] = self._jax.jit(
                lambda v: self._backward(v, out, mask))
        with self._jax.enable_x64(True):
            return self.which(mask), np.asarray(self._backward_of[out](v))

    def value_and_grad(self, pvals: Any, xvals: Any) -> tuple[float, list[int], np.ndarray]:
        """(result 0, parameter indices, their gradients) in one XLA call."""
        with self._jax.enable_x64(True):
            value, grads = self._value_and_grad(*self._arrays(pvals, xvals))
            return float(value), self.which(self.mask(0)), np.asarray(grads)

    def training_step(self, read: np.ndarray, pick: np.ndarray, pad: bool,
                      rule: Callable, k: int = 1) -> Callable:
        """``k`` training steps as one XLA program, every array staying on the device:
        ``steps(data, others, ss, state, x) -> (heads, datas, grads, states, data', state',
        last data, last grad)``. Step ``j`` reads ``data`` and ``state`` as the steps before
        it left them and ``ss[name][j]``, its scalars; ``heads[j]`` is its loss and largest
        gradient magnitude, ``datas[j]``, ``grads[j]`` and ``states[name][j]`` its numbers,
        gradients and optimizer state (before its update); ``data'`` and ``state'`` follow
        the last update.

        Parameter ``i`` the loss reads is ``data[read[i]]``, or the next of ``others`` where
        ``read[i] < 0``; trained number ``j``'s gradient is the loss's gradient ``pick[j]``
        (in :meth:`which` order; with ``pad``, one zero after the last). ``rule(data,
        grad, s, state, jnp) -> (data', state')`` is the optimizer's step, ``s`` its
        scalars. Nothing is updated in place: the caller keeps or drops the new numbers."""
        jax, jnp = self._jax, self.lowering.jnp
        reads, fill = np.maximum(read, 0), np.flatnonzero(read < 0)

        def steps(data, others, ss, state, x):
            def one(carry, s):
                data, state = carry
                p = data[reads]
                p = p.at[fill].set(others) if len(fill) else p
                value, grads = self._loss_and_grads(p, x)
                grad = (jnp.append(grads, 0.0) if pad else grads)[pick]
                new, after = rule(data, grad, s, state, jnp)
                head = jnp.stack([value, jnp.max(jnp.abs(grad), initial=0.0)])
                return (new, after), (head, data, grad, state)

            (new, after), (heads, datas, grads, states) = jax.lax.scan(
                one, (data, state), ss, length=k, unroll=k)
            return heads, datas, grads, states, new, after, datas[-1], grads[-1]

        jitted = jax.jit(steps)

        def run(*args: Any) -> Any:
            with jax.enable_x64(True):
                return jitted(*args)

        return run
