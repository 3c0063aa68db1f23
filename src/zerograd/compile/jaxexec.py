"""Executor "jax": the numpy executor's program, written for ``jax.numpy`` and run by XLA.

The schedule, the E x Q grids, the operand gathers, the matrix products and every op's
math are the numpy executor's (:mod:`.npexec`, :mod:`.npcode`, ``ops.py``); only the code
each group gets differs: it returns a new buffer (``v.at[lo:hi].set``, ``G.at[T].add``)
instead of writing into one, and every group runs, however narrow, as arrays. The groups'
functions are then traced once by ``jax.jit`` into one XLA program for forward, one per
result for backward, and one for both (:meth:`JaxExecutor.value_and_grad`, the training
fast path), all in float64.

XLA computes the elementary functions (exp, tanh, log, ...) with its own code, not the C
library's, and may add a GEMM's products in another order: results agree with the eager
engine to about 1e-12 relative, not to the bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backends import ArrayMath
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


class Functional:
    """The lowering :func:`.npcode.build_group` writes JAX code with: names for the
    generated code, and the scatter of gradient contributions into an immutable buffer."""

    def __init__(self, jnp: Any):
        math = type("JaxMath", (ArrayMath,), {
            name: staticmethod(getattr(jnp, fn)) for name, fn in (
                ("div", "divide"), ("pow", "power"), ("exp", "exp"), ("log", "log"),
                ("log1p", "log1p"), ("sqrt", "sqrt"), ("tanh", "tanh"), ("abs", "abs"),
                ("where", "where"))})  # sign and maximum: ArrayMath's, on this where
        self.jnp = jnp
        self.names = {"np": jnp, "M": math(),
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


class JaxExecutor(NumpyExecutor):
    name = "jax"
    scalar_width = 0  # under jit, a narrow group costs no call of its own: arrays throughout

    def __init__(self, tape: Tape):
        jax, jnp = require()
        self._jax, self.lowering = jax, Functional(jnp)
        super().__init__(tape)  # builds the groups' code; nothing is traced yet
        P, L = tape.n_params, tape.n_leaves
        consts, tail = np.asarray(self.consts, float), self.n_slots - L
        groups, outputs = self.groups, np.asarray(self.outputs)

        def forward(p: Any, x: Any) -> tuple[Any, Any]:
            v = jnp.concatenate([p, x, consts, jnp.zeros(tail)])
            for g in groups:
                v = g.run_forward(v)
            return v[outputs], v

        def backward(v: Any, out: int, mask: np.ndarray | None) -> Any:
            G = jnp.zeros(self.n_slots).at[self.outputs[out]].set(1.0)
            for run in self._backwards:
                G = run(G, v, mask)
            return G[:P] if mask is None else G[np.asarray(self.which(mask), dtype=np.intp)]

        def value_and_grad(p: Any, x: Any) -> tuple[Any, Any]:
            outs, v = forward(p, x)
            return outs[0], backward(v, 0, self.mask(0))

        self._backward = backward
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
