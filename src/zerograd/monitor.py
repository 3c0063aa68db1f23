"""Watches hand-written training loops through their backward() passes and names a learning
rate that saturated the network or blew the loss up (standard library only).

A loop is recognised by its graph: the same number of nodes on every step, with the same
leaves (its parameters) at the same places among the first ones. Nothing is scanned until
the loss has risen well above its best, so a loop that trains normally pays one dictionary
look-up per backward().
"""

from __future__ import annotations

import math
import weakref
from typing import Any

JUMP = 1.25  # a loss this many times its best so far (and above its first) is suspicious
SATURATED = 0.4  # ... with this share of its tanh/sigmoid units saturated and no gradient
EDGE = 0.01  # a tanh output within this of +-1 (a sigmoid's of 0 or 1) is saturated
FLAT = 1e-3  # parameters' gradients below this fraction of their size at the start: vanished
MAX_RUNS = 16


ANCHORS = 8  # leaves compared between passes to tell that it is the same loop


class _Run:
    __slots__ = ("anchors", "step", "first", "best", "g0", "jump", "warned")

    def __init__(self, topo: list[Any]) -> None:
        self.anchors = []  # (position in topo, weak ref to a leaf): the first pass's first
        for i, v in enumerate(topo):
            if not v._children:
                self.anchors.append((i, weakref.ref(v)))
                if len(self.anchors) == ANCHORS:
                    break
        self.step, self.first, self.best, self.g0 = -1, math.nan, math.inf, 0.0
        self.jump, self.warned = -1, False


_runs: dict[int, _Run] = {}


def saturation(nodes: list[Any]) -> tuple[int, int, str]:
    """(saturated, total, kind) over the tanh (or else sigmoid) nodes among ``nodes``."""
    for kind, at_edge in (("tanh", lambda y: abs(y) >= 1 - EDGE),
                          ("sigmoid", lambda y: y <= EDGE or y >= 1 - EDGE)):
        outs = [v.data for v in nodes if v._fn is not None and v._fn.name == kind]
        if outs:
            return sum(map(at_edge, outs)), len(outs), kind
    return 0, 0, ""


def size(grads: list[float]) -> float:
    """The largest gradient's magnitude (0 for none)."""
    return max(map(abs, grads), default=0.0)


def stuck_message(loss: float, best: float, jump: int, saturated: tuple[int, int, str]) -> str:
    """What a saturated, stuck run looks like, and what to do."""
    k, n, kind = saturated
    units = (f"{'all' if k == n else f'{k} of'} {n} {kind} outputs are at "
             f"{'±1' if kind == 'tanh' else '0 or 1'} (within {EDGE}) and " if k else "")
    return (f"{units}the gradients vanished after the update at step {jump - 1}: the loss rose "
            f"from {best:.4g} to {loss:.4g} and cannot come down. The learning rate is the "
            f"likely cause: try one 10x smaller, or find one with zg.train.lr_find.")


def after_backward(root: Any, topo: list[Any]) -> str | None:
    """Note the loss of one backward() pass; return a warning text the first time its loop
    is seen stuck (saturated, gradients vanished) or blown up, else None."""
    key = len(topo)
    run = _runs.get(key)
    if run is not None:
        run.anchors = [(i, r) for i, r in run.anchors if topo[i] is r()]  # the parameters
    if run is None or not run.anchors:
        if run is None and len(_runs) >= MAX_RUNS:
            del _runs[next(iter(_runs))]
        run = _runs[key] = _Run(topo)
    run.step += 1
    loss = root.data
    if run.step == 0:
        run.first = run.best = loss
        run.g0 = size([r().grad for _, r in run.anchors])
        return None
    if run.warned:
        return None
    if not math.isfinite(loss):
        run.warned = True
        return (f"the loss became {loss} at step {run.step} (it was {run.best:.4g} at best): "
                f"the update blew it up. The learning rate is the likely cause: try one 10x "
                f"smaller, or find one with zg.train.lr_find.")
    if loss < run.best:
        run.best, run.jump = loss, -1
        return None
    if loss < JUMP * run.best or loss <= run.first:
        run.jump = -1
        return None
    run.jump = run.step if run.jump < 0 else run.jump
    if size([topo[i].grad for i, _ in run.anchors]) < FLAT * run.g0:
        sat = saturation(topo)
        if sat[1] and sat[0] >= SATURATED * sat[1]:
            run.warned = True
            return stuck_message(loss, run.best, run.jump, sat)
    return None
