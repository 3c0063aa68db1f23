"""Executor "python": the tape as generated straight-line Python, one function per pass.

Each op's forward and backward come from ``ops.py``, called with symbolic operands
(:mod:`.backends`) so they write their own source; elementary functions are
``ops.SCALAR``'s. Nodes are visited in the eager engine's order and gradients are summed in
its order, so results are the eager engine's bit for bit. Best for small graphs: the code
is compiled once, which takes time proportional to the graph (see the README's table).
"""

from __future__ import annotations

import collections
import re
import threading
from typing import Any

from .backends import Sym, SymbolicMath, define, lit, namespace, operand
from .executors import Executor
from .tape import Tape, as_list

_NAME = re.compile(r"[A-Za-z_]\w*")
MADE_KEPT = 4  # executors of one result kept by tape structure: the same graph again is free
_made: collections.OrderedDict[bytes, tuple] = collections.OrderedDict()
_made_lock = threading.Lock()


class PythonExecutor(Executor):
    name = "python"

    def __init__(self, tape: Tape):
        single = len(tape.outputs) == 1
        kept = single and MADE_KEPT > 0
        key = tape.structure() if kept else None
        with _made_lock:
            made = _made.get(key) if kept else None
            if made is not None:
                _made.move_to_end(key)
        if made is not None:  # a tape like this one was generated lately: its functions
            self._keep, self._all, self._forward, params0, backward0 = made
            self._backward = {0: (params0, backward0)}
            return
        self.tape = tape
        first_const = tape.n_params + tape.n_inputs
        self._const = {first_const + i: c for i, c in enumerate(as_list(tape.consts))}
        # the backward of result 0 decides which values forward keeps for it; the backward
        # of any other result (made when first needed) takes them all
        body0, params0 = self._backward_lines(0)
        used = set(_NAME.findall("\n".join(body0)))
        self._keep = [s for s in range(tape.n_slots) if f"v{s}" in used]
        self._all = [] if single else [s for s in range(tape.n_slots) if s not in self._const]
        self._forward = _build(self._forward_lines())
        self._backward = {0: (params0, self._compile_backward(body0))}
        if single:  # nothing more will be generated: the code is all that is kept
            del self.tape, self._const
        if kept:
            with _made_lock:
                _made[key] = (self._keep, self._all, self._forward, params0,
                              self._backward[0][1])
                while len(_made) > MADE_KEPT:
                    _made.popitem(last=False)

    def _compile_backward(self, body: list[str]):
        keep = self._all or self._keep
        unpack = f"({''.join(f'v{s}, ' for s in keep)}) = S"
        return _build(["def backward(S):", unpack, *body])

    # -- generation ---------------------------------------------------------------------
    def _v(self, s: int) -> Any:
        return self._const[s] if s in self._const else Sym(f"v{s}")

    def _forward_lines(self) -> list[str]:
        t = self.tape
        P, n_in = t.n_params, t.n_inputs
        lines = [f"{_names(range(P))} = P", f"{_names(range(P, P + n_in))} = X"]
        with SymbolicMath(lines) as m:
            for s, op, a, k in t.calls():
                xs = [self._v(i) for i in a]
                out = op.forward(m, *xs, k) if op.param else op.forward(m, *xs)
                _assign(lines, f"v{s}", out)
        outs = "".join(f"{lit(self._v(s))}, " for s in t.outputs)
        saved = "".join(f"v{s}, " for s in self._all or self._keep)
        lines.append(f"return ({outs}), ({saved})")
        return ["def forward(P, X):", *lines]

    def _backward_lines(self, out: int) -> tuple[list[str], list[int]]:
        t = self.tape
        mask = as_list(t.reachable(out))
        root = t.outputs[out]
        P, L = t.n_params, t.n_leaves
        lines: list[str] = []
        has_grad = {root}
        if root < P or root >= L:
            lines.append(f"g{root} = 1.0")
        with SymbolicMath(lines, prefix="u") as m:
            for s, op, a, k in reversed(list(t.calls())):
                if not mask[s] or s not in has_grad:
                    continue
                xs = [self._v(i) for i in a]
                g, o = Sym(f"g{s}"), Sym(f"v{s}")
                grads = op.backward(m, g, o, *xs, k) if op.param else op.backward(m, g, o, *xs)
                for c, gr in zip(a, grads):
                    if c < P or c >= L:  # parameters and op nodes; not placeholders/constants
                        expr = operand(gr)
                        e = expr[0] if expr[1] > 11 else f"({expr[0]})"
                        lines.append(f"g{c} = g{c} + {e}" if c in has_grad else f"g{c} = {expr[0]}")
                        has_grad.add(c)
        params = [p for p in range(P) if mask[p] and p in has_grad]
        lines.append(f"return ({''.join(f'g{p}, ' for p in params)})")
        return _live(lines), params

    def forward_code(self) -> Any:
        """The generated forward function (shared by executors of equal tape structures)."""
        return self._forward

    # -- running ------------------------------------------------------------------------
    def forward(self, pvals: list[float], xvals: list[float]) -> tuple[tuple, Any]:
        """(results, saved state for backward) from the parameters' and inputs' numbers."""
        return self._forward(pvals, xvals)

    def backward(self, saved: Any, out: int) -> tuple[list[int], Any]:
        """(parameter indices, their gradients) of result ``out``."""
        if out not in self._backward:
            body, params = self._backward_lines(out)
            self._backward[out] = (params, self._compile_backward(body))
        params, fn = self._backward[out]
        return params, fn(saved)


def _build(lines: list[str]):
    """The generated function ``lines`` define (``ops.SCALAR``'s functions in scope)."""
    return define(lines, namespace(), "<zerograd.compile python>")


def _names(slots) -> str:
    names = ", ".join(f"v{s}" for s in slots)
    return f"({names},)" if names else "_"


def _assign(lines: list[str], name: str, out: Any) -> None:
    expr = lit(out)
    last = lines[-1] if lines else ""
    temp = expr[:1] == "t" and expr[1:].isdigit()
    if temp and last.startswith(expr + " = "):  # the op's result is the temp just written
        lines[-1] = name + last[len(expr) :]
    else:
        lines.append(f"{name} = {expr}")


def _live(lines: list[str]) -> list[str]:
    """Drop assignments whose target is never read afterwards (the return line is kept)."""
    live: set[str] = set()
    kept = []
    for line in reversed(lines):
        if line.startswith("return"):
            live.update(_NAME.findall(line))
            kept.append(line)
            continue
        target, expr = line.split(" = ", 1)
        if target in live:
            live.discard(target)
            live.update(_NAME.findall(expr))
            kept.append(line)
    kept.reverse()
    return kept
