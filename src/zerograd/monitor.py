"""The training watch: it listens to every ``backward()`` and warns, with a
:class:`TrainingWarning`, about the lecture's two mistakes: a forgotten zero_grad (the passes
a leaf's grad sums, kept in its ``_passes`` field) and a learning rate that left the network
stuck or blew the loss up (standard library only).

:class:`Watch` holds the rules, for one run: it is fed each step's loss and gradient size.
It names a loss grown by orders of magnitude (``GROWTH`` x its best for ``SPAN`` steps in a
row) and a loss stuck high with vanished gradients (saturated units); ``after_*`` also name
a loss that became nan or inf. ``fit`` keeps one for its run (a blow-up stops fit sooner, by
its smoothed-loss rule). For hand-written loops ``after_backward`` finds the run by its
graph: the same number of nodes on every step, with the same leaves (its parameters) at the
same places among the first ones. A pass counts as a step when those leaves changed since the
last one (an update); a pass on unchanged parameters is evaluation or accumulation. Every
leaf is read once, at a run's first pass, and the parameters' gradients again only when those
few leaves show them vanished with the loss still high, so a loop that trains normally pays
a dictionary look-up and a glance at a few leaves per backward().
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from . import engine, modes
from .engine import TrainingWarning, Value

JUMP = 1.25  # a loss this many times its best so far has risen ...
STALLED = 0.5  # ... and one at least this fraction of its first has made no progress
FLOOR = 0.01  # best losses below this fraction of the first count as that much
FLAT = 1e-3  # gradients below this fraction of their size at the start: vanished
EDGE = 0.01  # a tanh output within this of +-1 (a sigmoid's of 0 or 1) is saturated
ANCHORS = 8  # leaves compared between passes to tell that it is the same loop
MAX_RUNS = 16
# A loss that blew up: at least GROWTH x its best so far (a best below FLOOR x the first loss
# counting as that much, so the loss is also above its first) on SPAN steps in a row.
# benchmarks/calibrate_watch.py (200 seeds): lecture-loop blow-ups at lr 1..10 warn 1 step
# after passing 100x their best; at lr 0.01..0.1 only runs whose loss grew >100x and killed
# the network warn (9 of micrograd's MLP at SGD lr 0.1); SPAN = 1 also warned a spike that
# the next update undid (micrograd's MLP, lr 0.03, seed 17: trained to 1e-5 after it).
GROWTH = 100.0  # two orders of magnitude above the best loss: blown up
SPAN = 2  # ... on this many steps in a row (one spike may be undone by the next update)
# Gradients that vanished within this many updates, or with the loss risen, were knocked out
# by the steps' size: the learning rate is named. Later, with the loss not risen, they faded
# over many small steps (a deep sigmoid net at lr 5.6e-4: at update 1710), and a smaller
# rate would not help.
QUICK = 10


def saturation(nodes: list[Any]) -> tuple[int, int, str]:
    """(saturated, total, kind) over the tanh (or else sigmoid) nodes among ``nodes``."""
    for kind, at_edge in (("tanh", lambda y: abs(y) >= 1 - EDGE),
                          ("sigmoid", lambda y: y <= EDGE or y >= 1 - EDGE)):
        outs = [v.data for v in nodes if v._fn is not None and v._fn.name == kind]
        if outs:
            return sum(map(at_edge, outs)), len(outs), kind
    return 0, 0, ""


def loss_high(loss: float, first: float, best: float) -> bool:
    """The watch's rule for a loss that is still high: risen to ``JUMP`` x its ``best`` so
    far (a best below ``FLOOR`` x the ``first`` loss counting as that much), or still
    ``STALLED`` x its first."""
    return loss >= JUMP * max(best, FLOOR * first) or loss >= STALLED * first


def grads_vanished(grad_size: float, first_size: float) -> bool:
    """The watch's rule for vanished gradients: below ``FLAT`` x their size at the first
    step."""
    return grad_size < FLAT * first_size


def size(grads: Any) -> float:
    """The largest gradient's magnitude (0 for none)."""
    return max(map(abs, grads), default=0.0)


class Watch:
    """One training run's losses and gradient sizes; :meth:`see` says when it is stuck:
    the gradients fell below ``FLAT`` x their first size while the loss stayed high (risen
    to ``JUMP`` x its best, or still ``STALLED`` x its first). The saturated tanh/sigmoid
    units, counted when it first gets stuck, go into the message. After each step
    :attr:`blew` says whether the loss has blown up: ``GROWTH`` x its best (floored at
    ``FLOOR`` x the first loss) on ``SPAN`` steps in a row."""

    __slots__ = ("step", "first", "best", "g0", "since", "saturated", "best_step", "over",
                 "peak", "peak_step", "blew")

    def __init__(self) -> None:
        self.step, self.first, self.best, self.g0 = -1, math.nan, math.inf, 0.0
        self.since = -1  # the first step of the current stuck stretch (-1: not stuck)
        self.saturated: tuple[int, int, str] = (0, 0, "")
        self.best_step = 0  # the step of the best loss
        self.over = 0  # steps in a row with the loss GROWTH x its best, up to now
        self.peak, self.peak_step = -math.inf, -1  # the largest loss of that stretch
        self.blew = False  # the loss has blown up (see grown), as of the last step seen

    def see(self, loss: float, grad_size: float,
            units: Callable[[], tuple[int, int, str]] | None = None,
            vanished: Callable[[], bool] | None = None) -> bool:
        """Note one step; True if the run is stuck at it (``units`` counts saturated units
        for the message). Sets :attr:`blew` when the loss has blown up. Where
        ``grad_size`` is taken over a few gradients only, ``vanished()`` confirms that all
        of them vanished (one unit's can be 0 in a net that trains: a dead ReLU)."""
        self.step += 1
        if self.step == 0:
            self.first, self.best, self.g0 = loss, loss, grad_size
            return False
        high = loss_high(loss, self.first, self.best)
        self.grown(loss)
        if loss < self.best:
            self.best, self.best_step = loss, self.step
        stuck = (high and grads_vanished(grad_size, self.g0)
                 and (vanished is None or vanished()))
        if stuck and self.since < 0 and units is not None:
            self.saturated = units()
        self.since = (self.step if self.since < 0 else self.since) if stuck else -1
        return stuck

    def rose(self, loss: float) -> bool:
        """True if ``loss`` is ``JUMP`` x the best so far (a best near 0 counts as
        ``FLOOR`` x the first loss, so a converged run's wobble is not a rise)."""
        return loss >= JUMP * max(self.best, FLOOR * self.first)

    def grown(self, loss: float) -> None:
        """Count ``loss`` (not yet in :attr:`best`) toward a blow-up: ``GROWTH`` x the best
        (floored as in :meth:`rose`) extends the stretch, anything less ends it. Losses
        that were ever negative (or a first one of 0) have no orders of magnitude: off."""
        base = max(self.best, FLOOR * self.first)
        if base > 0 and self.best >= 0 and loss >= GROWTH * base:
            if loss > self.peak:
                self.peak, self.peak_step = loss, self.step
            self.over += 1
        else:
            self.over, self.peak, self.peak_step = 0, -math.inf, -1
        self.blew = self.over >= SPAN

    def message(self, loss: float) -> str:
        """What the stuck run looks like, and what to do."""
        k, n, kind = self.saturated
        units = (f"{'all' if k == n else f'{k} of'} {n} {kind} outputs are at "
                 f"{'±1' if kind == 'tanh' else '0 or 1'} (within {EDGE}) and " if k else "")
        rose = self.rose(loss)
        how = (f"rose from {self.best:.4g} to {loss:.4g}" if rose else
               f"is stuck at {loss:.4g} (it started at {self.first:.4g})")
        if rose or self.since <= QUICK:
            why = ("The learning rate is the likely cause: try one 10x smaller, or find one "
                   "with zg.train.lr_find.")
        else:
            why = (f"The loss did not rise and the gradients faded over {self.since - 1} "
                   f"updates, so the steps were not too large and a smaller learning rate "
                   f"would not help: saturated units, or many sigmoid layers in a row, pass "
                   f"little gradient back. Try tanh or relu, fewer layers, or an optimizer "
                   f"such as zg.optim.Adam.")
        return (f"{units}the gradients vanished after the update at step {self.since - 1}: "
                f"the loss {how} and cannot come down. {why}")

    def blew_message(self, loss: float) -> str:
        """What the blown-up run looks like (its best, its peak since), and what to do."""
        n = self.peak_step - self.best_step
        now = f"; it is {loss:.3g} at step {self.step}" if self.step != self.peak_step else ""
        return (f"the loss grew from {self.best:.3g} to {self.peak:.3g} in {n} step"
                f"{'s' if n != 1 else ''} after updates (step {self.best_step} to "
                f"{self.peak_step}{now}): the updates blow it up. The learning rate is the "
                f"likely cause: try one 10x smaller, or find one with zg.train.lr_find.")


def blown_up(loss: float, step: int, best: float) -> str:
    """The warning for a loss that became nan or inf."""
    return (f"the loss became {loss} at step {step} (it was {best:.4g} at best): the update "
            f"blew it up. The learning rate is the likely cause: try one 10x smaller, or find "
            f"one with zg.train.lr_find.")


_GONE = object()  # stands for a leaf beyond the end of a shorter graph


class _Run(Watch):
    """A hand-written loop's Watch, with the leaves that tell it is the same loop: the first
    pass's first leaves (their places in topo, weak references, their data last seen)."""

    __slots__ = ("places", "refs", "seen", "warned", "leaves0", "params", "g_all")

    def __init__(self, topo: list[Any]) -> None:
        super().__init__()
        self.leaves0: list[tuple[int, float, float]] | None = None  # see remember()
        self.params: list[int] = []  # the places of the leaves the updates change
        self.g_all = 0.0  # their largest gradient at the first pass
        self.places = []
        for i, v in enumerate(topo):
            if not v._children:
                self.places.append(i)
                if len(self.places) == ANCHORS:
                    break
        self.refs = [weakref.ref(topo[i]) for i in self.places]
        self.seen: list[float] = []
        self.warned = False

    def leaves(self, topo: list[Any]) -> list[Any]:
        """Its leaves in ``topo``, dropping any that are not the same objects any more."""
        now = [topo[i] if i < len(topo) else _GONE for i in self.places]
        if any(v is not r() for v, r in zip(now, self.refs)):
            keep = [k for k, (v, r) in enumerate(zip(now, self.refs)) if v is r()]
            self.places = [self.places[k] for k in keep]
            self.refs = [self.refs[k] for k in keep]
            self.seen = [self.seen[k] for k in keep] if self.seen else []
            now = [now[k] for k in keep]
        return now

    def remember(self, nodes: list[Any], at: tuple[Any, Any] | None) -> None:
        """At the first pass: every gradient's size (a compiled run's), or every leaf's
        place, number and gradient (a hand-written loop's: which leaves are its parameters
        shows later, when the updates have changed them)."""
        if at is not None:
            self.g_all = size(map(float, at[1]))
        else:
            self.leaves0 = [(i, v.data, v.grad) for i, v in enumerate(nodes) if not v._children]

    def vanished(self, nodes: list[Any], at: tuple[Any, Any] | None) -> bool:
        """True if every parameter's gradient is below ``FLAT`` x the largest at the first
        pass (the targets' and other constants' gradients do not count)."""
        if at is not None:
            return size(map(float, at[1])) < FLAT * self.g_all
        if self.leaves0 is not None:
            moved = [(i, g) for i, data, g in self.leaves0
                     if i < len(nodes) and not nodes[i]._children and nodes[i].data != data]
            self.params, self.g_all, self.leaves0 = [i for i, _ in moved], size(
                g for _, g in moved), None
        return size(nodes[i].grad for i in self.params if i < len(nodes)) < FLAT * self.g_all


def after_backward(root: Any, topo: list[Any]) -> str | None:
    """Note the loss of one backward() pass; return a warning text the first time its loop
    is seen stuck (gradients vanished, loss high), its loss grown by orders of magnitude, or
    nan/inf, else None."""
    return _note(len(topo), topo, root.data, lambda: saturation(topo))


def after_compiled(owner: Any, loss: float, params: list[Any],
                   at: tuple[Any, Any] | None = None) -> str | None:
    """The same for a ``zg.compile``d function's backward: its run is the function's, its
    leaves are the parameters (the replayed graph has no nodes to count saturation on).
    ``at``: the parameters' (data, grads) at the pass, one number each in ``params``
    order, where the Values hold other numbers (a step that has updated them since)."""
    return _note(("compiled", id(owner)), params, loss, None, at)


def _note(key: Any, nodes: list[Any], loss: float,
          units: Callable[[], tuple[int, int, str]] | None,
          at: tuple[Any, Any] | None = None) -> str | None:
    """One pass of the loop ``key`` over ``nodes`` (its leaves at the same places each pass;
    their numbers at the pass are the Values', or ``at``'s)."""
    state = _thread  # each thread watches its own loops
    if state.paused:
        return None
    runs = state.runs
    run = runs.get(key)
    leaves = run.leaves(nodes) if run is not None else None
    if not leaves:
        if run is None and len(runs) >= MAX_RUNS:
            del runs[next(iter(runs))]
        run = runs[key] = _Run(nodes)
        leaves = run.leaves(nodes)
    if run.warned:
        return None
    if at is None:
        data, grads = [v.data for v in leaves], [v.grad for v in leaves]
    else:
        data, grads = ([float(xs[i]) for i in run.places] for xs in at)
    if data == run.seen:
        return None  # no update since the last pass: evaluation or accumulation
    run.seen = data
    if not math.isfinite(loss):  # on a first pass no update can be the cause
        run.warned = run.step >= 0
        return blown_up(loss, run.step + 1, run.best) if run.warned else None
    if run.step < 0:
        run.remember(nodes, at)
    if run.see(loss, size(grads), units, lambda: run.vanished(nodes, at)):
        run.warned = True
        return run.message(loss)
    if run.blew:
        run.warned = True
        return run.blew_message(loss)
    return None


# -- forgotten zero_grad: the passes each leaf's grad sums ---------------------------------
def count_pass(leaf: Value) -> bool:
    """Note that a backward pass is about to add into ``leaf.grad``; True if the grad holds
    a pass taken before ``leaf.data`` changed (a forgotten zero_grad in a training loop).

    ``_passes`` records the passes the grad holds since it was last zero: None (none), the
    leaf's data at the one pass, or ``(count, data at the latest)``; data None once warned
    (for good: the warning is once per run).
    """
    prev = leaf._passes
    if prev.__class__ is tuple:
        n, seen = prev
        if seen is None:
            leaf._passes = (n + 1 if leaf.grad else 1, None)
            return False
    else:
        n, seen = 1, prev
    if not leaf.grad:
        leaf._passes = leaf.data
        return False
    if seen is not None and seen != leaf.data:
        leaf._passes = (n + 1, None)
        return True
    leaf._passes = (n + 1, leaf.data)
    return False


def count_passes(leaves: list[Value]) -> int:
    """:func:`count_pass` for each of ``leaves``; how many held a pass from before an update."""
    stale = 0
    for p in leaves:
        if not p.grad and p._passes.__class__ is not tuple:  # zeroed since: count_pass's
            p._passes = p.data                               # first case, inline
        elif count_pass(p):
            stale += 1
    return stale


def add_grads(leaves: list[Value], grads: list[float]) -> int:
    """Add ``grads`` into ``leaves``' grads as a backward pass does (each noted with
    :func:`count_pass`); returns how many held a pass taken before their data changed."""
    stale = count_passes(leaves)
    for p, g in zip(leaves, grads):
        p.grad += g
    return stale


def passes(leaf: Value) -> int:
    """How many backward passes ``leaf.grad`` holds since it was last zero."""
    p = leaf._passes
    return 0 if not leaf.grad else p[0] if p.__class__ is tuple else 1


def put(leaves: Iterable[Value], data: Iterable[float], grads: Iterable[float],
        at: Iterable[float | None]) -> None:
    """Put ``data`` and ``grads`` into ``leaves``, each grad holding the one pass taken when
    the leaf's data was the number in ``at`` (as after backward() there and an update
    since); None in ``at``: a grad holding no pass."""
    for p, x, g, seen in zip(leaves, data, grads, at):
        p.data, p.grad, p._passes = x, g, seen


def unreported_sum(leaf: Value) -> bool:
    """True if ``leaf.grad`` sums several passes and no warning has reported it yet."""
    p = leaf._passes
    return p.__class__ is tuple and p[1] is not None and bool(leaf.grad)


def updated_on_purpose(leaf: Value) -> None:
    """Accept ``leaf``'s new data as a deliberate update between accumulating passes."""
    p = leaf._passes
    if p.__class__ is tuple:
        if p[1] is not None:
            leaf._passes = (p[0], leaf.data)
    elif p is not None:
        leaf._passes = leaf.data


def snapshot(leaves: Iterable[Value]) -> Callable[[], None]:
    """A function that puts back ``leaves``' data, grads and pass records as they are now."""
    saved = [(v, v.data, v.grad, v._passes) for v in leaves]

    def restore() -> None:
        for v, data, grad, record in saved:
            v.data, v.grad, v._passes = data, grad, record

    return restore


def warn_stale(stale: int, leaves: Iterable[Value]) -> None:
    """Warn that ``stale`` leaves' grads held a pass taken before their data changed, and
    mark all ``leaves`` of that pass as warned."""
    for v in leaves:
        v._passes = (passes(v), None)
    if modes.current.check_zero_grad:
        warn(
            f"backward() added new gradients to old ones, this step's to the last step's: "
            f"zero them first with `for p in model.parameters(): p.grad = 0.0` (or "
            f"model.zero_grad()). {stale} parameter{'s' if stale != 1 else ''} still held "
            f"the gradient of an earlier backward() and had been updated since, so their "
            f".grad is now the sum of both passes and the next update uses it (with an "
            f"optimizer, call optimizer.zero_grad() before each backward()). (Warned once per "
            f"run. To accumulate across updates on purpose, pass accumulate=True to the "
            f"optimizer, or call zg.engine.check_zero_grad(False) in a loop without one.)"
        )


# -- warnings, and the watch's own per-thread state -----------------------------------------
class _Thread(threading.local):
    paused = 0  # > 0 while fit() watches its own run
    listener: Callable[[str], None] | None = None  # takes this thread's TrainingWarnings

    def __init__(self) -> None:
        self.runs: dict = {}  # the training loops after_backward is watching


_thread = _Thread()
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message: str) -> None:
    """Issue a :class:`TrainingWarning` pointing at the first line of user code (or hand it to
    the listener :func:`send_warnings_to` set for the calling thread)."""
    if _thread.listener is not None:
        _thread.listener(message)
        return
    f, level = sys._getframe(1), 2
    while f is not None and f.f_code.co_filename.startswith(_PACKAGE_DIR):
        f, level = f.f_back, level + 1
    warnings.warn(message, TrainingWarning, stacklevel=level)


def send_warnings_to(listener: Callable[[str], None] | None) -> None:
    """Hand the calling thread's TrainingWarnings to ``listener`` (the playground shows them)
    instead of issuing them; None issues them again."""
    _thread.listener = listener


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Inside it, the calling thread's backward() passes are not watched (fit watches its
    run itself)."""
    _thread.paused += 1
    try:
        yield
    finally:
        _thread.paused -= 1


def _backward_starts(leaves: list[Value]) -> None:
    """Before a backward() pass adds into ``leaves``' grads: a forgotten zero_grad?"""
    stale = count_passes(leaves)
    if stale:
        warn_stale(stale, leaves)


def _backward_ends(root: Value, topo: list[Value]) -> None:
    """After the pass: a loss stuck, blown up, or nan?"""
    if root._children:
        alarm = after_backward(root, topo)
        if alarm is not None:
            warn(alarm)


engine.on_backward_start, engine.on_backward_end = _backward_starts, _backward_ends
