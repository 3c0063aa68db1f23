"""Calibrate the training watch's blow-up rule (zerograd.monitor: GROWTH, SPAN): false alarms
on loops that train correctly, and how soon it catches a learning rate that blows the loss up.

    python benchmarks/calibrate_watch.py [--seeds 200] [--moons-seeds 200] [--api-seeds 40]

Every run starts from ``random.seed(seed)`` and records its TrainingWarnings, sorted by kind
(the first words of the message). Sections:

1. Correct loops: the lecture's network (``MLP.lecture(3, [4, 4, 1])``) and micrograd's
   (``MLP(3, [4, 4, 1])``, ReLU, linear output) on the lecture's 4 examples, squared error
   summed, 100 steps of the lecture's hand-written SGD (``p.grad = 0.0``, ``backward()``,
   ``p.data += -lr * p.grad``) or ``zg.optim.Adam``, lr 0.01..0.1; and micrograd's moons
   demo as ``zg.demos.moons`` runs it (hinge loss + 1e-4 L2, SGD lr 1.0 - 0.9*k/100, 100
   steps), compiled (``compile=True``) for most seeds and eager for a few (an eager run takes
   ~10 s). A blow-up warning here is a false alarm unless the loss did grow 100x its best.
2. Blow-ups: the same small networks and hand-written SGD at lr 1, 2, 5, 10. A run "passes"
   at the first step whose loss exceeds 100x the best loss before it (or is nan/inf); it is
   caught if the run's first warning (of any kind) comes at most 5 steps after that (a
   warning before it counts as a delay of 0).
3. The same blow-ups through ``zg.train.Step(loss_fn, opt, compile=True)`` (the watch's
   compiled path) and ``zg.train.fit`` (which stops with TrainingDiverged), fewer seeds.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import zerograd as zg  # noqa: E402
from zerograd import demos  # noqa: E402

XS, YS = zg.data.lecture()
STEPS = 100
CAUGHT_WITHIN = 5  # steps after passing 100x its best that a warning still counts as a catch
PASS = 100.0  # a loss this many times its best so far has blown up (the measuring stick)
KINDS = (("blow-up", "the loss grew from"), ("nan/inf", "the loss became"),
         ("stuck", "gradients vanished"), ("zero_grad", "backward() added new gradients"))


def kind(message: str) -> str:
    """The watch rule that wrote ``message``."""
    return next((k for k, start in KINDS if start in message), "other")


def network(net: str) -> zg.nn.MLP:
    """The lecture's network ("lecture") or micrograd's ("micrograd"), drawn from random."""
    return zg.nn.MLP.lecture(3, [4, 4, 1]) if net == "lecture" else zg.nn.MLP(3, [4, 4, 1])


def loss_of(n: zg.nn.MLP) -> zg.Value:
    """The lecture's loss: squared error summed over the 4 examples."""
    return sum((n(x) - y) ** 2 for x, y in zip(XS, YS))


def passed(losses: list[float]) -> int | None:
    """The first step whose loss exceeds ``PASS`` x the best before it (or is nan), else None."""
    best = losses[0]
    for k, x in enumerate(losses[1:], 1):
        if not x <= PASS * best:
            return k
        best = min(best, x)
    return None


def settled(losses: list[float], seen: list) -> bool:
    """True once a blow-up run has nothing more to tell: its loss is nan/inf, or it has
    warned (a run warns once) and passed 100x (its delay is known)."""
    return not math.isfinite(losses[-1]) or bool(seen) and passed(losses) is not None


def hand_loop(seed: int, net: str, lr: float, adam: bool = False,
              blowup: bool = False) -> tuple[list[float], list[tuple[int, str]]]:
    """The lecture's loop (or Adam's): the losses, and (step, kind) of each warning.
    ``blowup``: stop once :func:`settled`."""
    random.seed(seed)
    n = network(net)
    opt = zg.optim.Adam(n.parameters(), lr=lr) if adam else None
    losses: list[float] = []
    seen: list[tuple[int, str]] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(STEPS):
            loss = loss_of(n)
            for p in n.parameters():
                p.grad = 0.0
            loss.backward()
            if opt is not None:
                opt.step()
            else:
                for p in n.parameters():
                    p.data += -lr * p.grad
            losses.append(loss.data)
            seen += [(k, kind(str(w.message))) for w in caught[len(seen):]]
            if blowup and settled(losses, seen):
                break
    return losses, seen


def step_loop(seed: int, net: str, lr: float) -> tuple[list[float], list[tuple[int, str]]]:
    """The same SGD run through ``zg.train.Step(..., compile=True)``, until :func:`settled`."""
    random.seed(seed)
    n = network(net)
    step = zg.train.Step(lambda: loss_of(n), zg.optim.SGD(n.parameters(), lr=lr), compile=True)
    losses: list[float] = []
    seen: list[tuple[int, str]] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(STEPS):
            losses.append(step())
            seen += [(k, kind(str(w.message))) for w in caught[len(seen):]]
            if settled(losses, seen):
                break
    return losses, seen


def fit_stop(seed: int, net: str, lr: float) -> int | None:
    """The step at which ``zg.train.fit`` (SGD) stopped or first warned, else None."""
    random.seed(seed)
    n = network(net)
    at: list[int] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        def note(k: int, loss: float) -> None:
            if caught and not at:
                at.append(k)

        try:
            zg.train.fit(n, lambda: loss_of(n), zg.optim.SGD(n.parameters(), lr=lr), STEPS,
                         callbacks=[note], progress=False)
        except zg.train.TrainingDiverged as err:
            at.append(err.step)
    return min(at, default=None)


def table(title: str, header: list[str], rows: list[list]) -> None:
    """Print rows under a header, columns padded to their widest cell."""
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for i, r in enumerate(cells):
        print("  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    sys.stdout.flush()


def others(counts: Counter) -> str:
    """Warnings of the other kinds, e.g. "stuck 12, nan/inf 1" (or "-")."""
    return ", ".join(f"{k} {n}" for k, n in counts.most_common() if k != "blow-up") or "-"


def correct_loops(seeds: int) -> list[list]:
    """Section 1, small networks: one row per network, optimizer and learning rate."""
    rows = []
    for net in ("lecture", "micrograd"):
        for adam, lrs in ((False, (0.01, 0.03, 0.1)), (True, (0.01, 0.03, 0.1))):
            for lr in lrs:
                blow = grown = trained = passing = 0
                kinds: Counter = Counter()
                for s in range(seeds):
                    losses, seen = hand_loop(s, net, lr, adam)
                    first = seen[0][1] if seen else None  # each run warns once
                    kinds.update(k for _, k in seen)
                    p = passed(losses)
                    passing += p is not None
                    if first == "blow-up":
                        blow += 1
                        grown += p is not None
                        trained += losses[-1] < 0.01 * losses[0]
                rows.append([net, "Adam" if adam else "SGD", lr, seeds, passing, blow, grown,
                             trained, others(kinds)])
    return rows


def moons_runs(seeds: int, eager: int) -> list[list]:
    """Section 1, the moons demo: compiled for ``seeds`` seeds, eager for ``eager``."""
    rows = []
    for compile, n in ((True, seeds), (False, eager)):
        blow = grown = trained = passing = 0
        kinds: Counter = Counter()
        for s in range(n):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                r = demos.moons(steps=STEPS, seed=s, out=None, compile=compile, progress=False,
                                print_every=STEPS, log=lambda _: None)
            found = [kind(str(w.message)) for w in caught
                     if issubclass(w.category, zg.TrainingWarning)]
            kinds.update(found)
            losses = r.history["loss"]
            p = passed(losses)
            passing += p is not None
            if "blow-up" in found:
                blow += 1
                grown += p is not None
                trained += losses[-1] < 0.01 * losses[0]
        rows.append(["moons", "SGD (compiled)" if compile else "SGD (eager)", "1.0-0.9k/100",
                     n, passing, blow, grown, trained, others(kinds)])
    return rows


def delays(p: int | None, first: int | None) -> int | None:
    """Steps from passing 100x to the first warning (0 if it came first; None: not yet)."""
    return None if first is None else max(0, first - p)


def blowups(seeds: int, api_seeds: int) -> tuple[list[list], list[list]]:
    """Sections 2 and 3: one row per network and learning rate (and way of running)."""
    rows, api_rows = [], []
    for net in ("lecture", "micrograd"):
        for lr in (1.0, 2.0, 5.0, 10.0):
            passes, waits, missed = {}, [], 0
            kinds: Counter = Counter()
            for s in range(seeds):
                losses, seen = hand_loop(s, net, lr, blowup=True)
                kinds[seen[0][1] if seen else "none"] += 1
                p = passes[s] = passed(losses)
                if p is not None:
                    d = delays(p, seen[0][0] if seen else None)
                    if d is not None and d <= CAUGHT_WITHIN:
                        waits.append(d)
                    else:
                        missed += 1
            never = kinds.pop("none", 0)
            rows.append([net, lr, seeds, len(waits) + missed, len(waits), missed,
                         *spread(waits), kinds["blow-up"], others(kinds), never])
            for how in ("Step(compile=True)", "fit"):
                waits, missed = [], 0
                for s in range(api_seeds):
                    if passes[s] is None:
                        continue
                    if how == "fit":
                        first = fit_stop(s, net, lr)
                    else:
                        _, seen = step_loop(s, net, lr)
                        first = seen[0][0] if seen else None
                    d = delays(passes[s], first)
                    if d is not None and d <= CAUGHT_WITHIN:
                        waits.append(d)
                    else:
                        missed += 1
                api_rows.append([net, lr, how, api_seeds, len(waits) + missed, len(waits),
                                 missed, *spread(waits)])
    return rows, api_rows


def spread(waits: list[int]) -> list:
    """Median and max of the delays ("-" for none)."""
    return [statistics.median(waits), max(waits)] if waits else ["-", "-"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=200, help="seeds per small-network setting")
    ap.add_argument("--moons-seeds", type=int, default=200, help="compiled moons demo runs")
    ap.add_argument("--eager-moons", type=int, default=2, help="eager moons demo runs (~10 s each)")
    ap.add_argument("--api-seeds", type=int, default=40, help="seeds for the Step and fit rows")
    args = ap.parse_args()
    for name in ("seeds", "moons_seeds", "eager_moons", "api_seeds"):
        if getattr(args, name) < 0:
            ap.error(f"--{name.replace('_', '-')} must be 0 or more")
    t0 = time.perf_counter()

    def took() -> None:
        print(f"({time.perf_counter() - t0:.0f} s so far)", flush=True)

    print(f"zerograd.monitor: GROWTH = {zg.monitor.GROWTH:g}, SPAN = {zg.monitor.SPAN}, "
          f"FLOOR = {zg.monitor.FLOOR:g}; {STEPS} steps a run")
    rows = correct_loops(args.seeds) + moons_runs(args.moons_seeds, args.eager_moons)
    table("1. Correct loops (false alarms): runs whose loss passed 100x its best; blow-up "
          "warnings; of those, runs that passed 100x, and that trained anyway (last loss < 1% "
          "of the first); warnings of the other kinds",
          ["network", "optimizer", "lr", "runs", "passed 100x", "blow-up warned",
           "...passed 100x", "...trained", "other warnings"], rows)
    took()
    rows, api_rows = blowups(args.seeds, args.api_seeds)
    table(f"2. Blow-ups, hand-written SGD loop: runs that passed 100x their best, caught within "
          f"{CAUGHT_WITHIN} steps (any warning), delays; each run's first warning by kind",
          ["network", "lr", "runs", "passed 100x", "caught", "late/missed", "median delay",
           "max delay", "first: blow-up", "first: other kinds", "never warned"], rows)
    took()
    table(f"3. The same blow-ups through zg.train.Step and zg.train.fit (first warning, or "
          f"fit's TrainingDiverged, within {CAUGHT_WITHIN} steps of passing 100x)",
          ["network", "lr", "run by", "seeds", "passed 100x", "caught", "late/missed",
           "median delay", "max delay"], api_rows)
    took()


if __name__ == "__main__":
    main()
