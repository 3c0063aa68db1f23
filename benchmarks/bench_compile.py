"""zg.compile against PyTorch, torch.compile, JAX, NumPy/numba by hand and micrograd.

Run: PYTHONPATH=src python benchmarks/bench_compile.py [--quick] [--only W1,W2,grid,W3,W4]
     [--grid 64x1000,128x100]

Workloads (float64 everywhere):
W1   the lecture's MLP(3, [4, 4, 1]) tanh (``MLP.lecture``) on its 4 examples, one SGD step,
     (a) with the parameter list captured once, (b) with the loop a user writes
     (``model.zero_grad()``, ``model.parameters()`` each step, ``p.data -= lr * p.grad``);
W2   micrograd's moons demo, MLP(2, [16, 16, 1]) ReLU, hinge loss + 1e-4 L2, 100 points,
     one SGD step, (a) and (b);
grid the same moons network with width h in {32, 64, 128} on 100 and 1000 points;
W3   a chain x = tanh(x + w) one million nodes deep, forward + backward;
W4   100,000 binary ops (67 layers 1000 wide, * and + mixed), forward + backward.
zerograd's compiled function runs with executor "auto" and with each executor; its first
call (trace + compile + forward + backward) is set against one eager forward + backward
of the same graph, in time and in peak memory (tracemalloc).

The harness (:func:`race`), the same for every workload:
* check: each peer is built from zerograd's seeded numbers; its first two calls (the loss
  before and after one update; for W3/W4 the value and the gradients) must match zerograd
  eager's to 1e-9 relative, or it is not timed;
* warm-up: those two calls (the first is the cold one: tracing, jit compiling), then more
  calls until WARM seconds have passed; the calls per block are BLOCK seconds' worth at the
  median warm-call time (at least 1): the cold first call never sets them;
* interleaved runs: in each run every peer times one block in turn (A B C A B C ...),
  after a gc.collect() (with everything built before the runs frozen out of the
  collector: ``gc.freeze()``); a block's time / calls is that run's time per call; a peer whose
  call takes over SLOW seconds takes part in the first MIN_RUNS runs only;
* reported per peer: best, median and min..max over the runs, and the ratio to zerograd
  auto of the same run (median and min..max over the runs; above 1: zerograd is faster).
Progress goes to stderr, the markdown report to stdout.
"""

from __future__ import annotations

import os

# One thread for every library, set before NumPy (OpenBLAS), PyTorch or XLA start theirs.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS",
                      "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse
import datetime
import gc
import platform
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import peers as pe
from peers import Peer, Unavailable

import zerograd as zg
from zerograd.engine import Value

SEED = 1337
MIN_RUNS = 3  # every timed peer takes part in at least this many runs ...
SLOW = 1.0  # ... and in only that many when one of its calls takes longer (seconds)
TOLERANCE = 1e-9  # relative (to the largest number checked) difference allowed in the check
DATA_IN_LOSS = "zerograd fit fast path, jax executor, data in the loss"
STEP_LOOP = "zerograd Step, hand-written loop"
STEP_LOOP_JAX = "zerograd Step, hand-written loop, jax"
EXECUTORS = ("python", "numpy", "scalar")  # auto's choices (jax: its fast-path row)
# executors not measured where they cannot pay off (auto never picks them there):
PYTHON_MAX_OPS = 20_000  # generated code: its first call took 5-7 s at 15,773 op nodes
#                          (grid h=32, 100 points) and grows faster than the graph
SCALAR_MAX_OPS = 300_000  # the tape loop: ~15 us per op node per step (4 s at 270,837)
NUMPY_MAX_DEPTH = 20_000  # one array op per depth level: a 20,000-deep chain's first call
#                          took 5 s, a 200,000-deep one 86 s
MICROGRAD_MAX_NODES = 100_000  # W2's ~65,000 micrograd nodes take seconds per step


@dataclass
class Settings:
    block: float  # seconds of calls per timed block
    warm: float  # seconds of warm-up calls after the check
    quick: bool


# -- the harness -----------------------------------------------------------------------------
def close(got: list[float], want: list[float]) -> float:
    """Largest difference relative to the largest number wanted (inf if lengths differ)."""
    if len(got) != len(want):
        return float("inf")
    scale = max(max(abs(w) for w in want), 1e-300)
    return max(abs(g - w) for g, w in zip(got, want)) / scale


def timed_call(p: Peer) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = p.step()
    if p.sync is not None:
        p.sync()
    return time.perf_counter() - t0, out


def check_and_warm(p: Peer, want: list[float] | None, s: Settings) -> list[float]:
    """The check's two calls, then warm-up; sets ``p.calls``; returns the checked numbers."""
    t, out = timed_call(p)  # the cold call
    p.cold = t if p.cold is None else p.cold
    got = p.probe(out)
    t, out = timed_call(p)
    got += p.probe(out)
    if want is not None and p.probe is not no_numbers and (err := close(got, want)) > TOLERANCE:
        p.step = None
        p.note = (f"NOT TIMED: first results {_short(got)} differ from zerograd eager's "
                  f"{_short(want)} (relative {err:.1e})")
        return got
    warm, t_end = [t], time.perf_counter() + s.warm
    while time.perf_counter() < t_end:
        warm.append(timed_call(p)[0])
    p.calls = max(1, round(s.block / statistics.median(warm)))
    return got


def _short(xs: list[float]) -> str:
    return "[" + ", ".join(f"{x:.12g}" for x in xs[:3]) + (", ...]" if len(xs) > 3 else "]")


def block_time(p: Peer) -> float:
    step, n = p.step, p.calls
    gc.collect()
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    if p.sync is not None:
        p.sync()
    return (time.perf_counter() - t0) / n


def race(peers: list[Peer], ref: Peer, runs: int, s: Settings) -> None:
    """Check and warm every peer (``ref`` first, whose numbers the others must match), then
    ``runs`` interleaved runs of one block per peer; fills ``p.times`` and ``p.calls``."""
    want = None
    for p in [ref] + [p for p in peers if p is not ref]:
        if p.step is None:
            continue
        log(f"  check + warm {p.name}")
        try:
            got = check_and_warm(p, want, s)
        except Exception as e:  # a peer that fails here (e.g. torch.compile) is reported
            p.step = None
            p.note = f"FAILED: {type(e).__name__}: {str(e).strip().splitlines()[0][:160]}"
            if p is ref:
                raise
            continue
        if p is ref:
            want = got
    live = [p for p in peers if p.step is not None]
    gc.collect()
    gc.freeze()  # what lives now (libraries, models) is left out of every later collection:
    try:  # the gc.collect() before each block stays cheap, and no peer's own collections
        for r in range(runs):  # pay for scanning the other libraries' objects
            log(f"  run {r + 1}/{runs}")
            for p in live:
                if r < MIN_RUNS or p.times[-1] <= SLOW:
                    p.times.append(block_time(p))
    finally:
        gc.unfreeze()


def ratios(a: Peer, b: Peer) -> list[float]:
    """a's time / b's time, run by run (the runs both took part in: the first ones)."""
    return [x / y for x, y in zip(a.times, b.times)]


# -- zerograd's side -------------------------------------------------------------------------
@dataclass
class Work:
    key: str
    title: str
    make: Callable[[], tuple[Callable, list[Value], Any]]  # fresh (fn, parameters, model)
    args: tuple  # fn's arguments, plain numbers: the compiled and the eager call alike
    lr: float | None  # SGD after backward; None: forward + backward only (W3, W4)
    runs: int
    peers: list[Callable[[], Peer]]  # the other families' peers, built when timed
    user_loop: bool = False  # also time the loop a user writes
    depth: int = 0  # graph depth when it is large (W3), for NUMPY_MAX_DEPTH


@dataclass
class FirstCall:
    first: list[float]  # seconds of each first call (fresh zg.compile each)
    eager: list[float]  # seconds of each eager forward + backward, interleaved with them
    peak_first: int  # bytes, tracemalloc
    peak_eager: int
    held: int  # bytes still held by the compiled function after its first call
    n_ops: int
    executor: str
    compiled: Any  # the last first call's compiled function and (fn, params, model)
    eager_step: float = float("inf")  # the zerograd eager peer's median step, once timed


def eager_ref(fc: FirstCall) -> float:
    """One eager step to set the first call against: the faster of the eager forward +
    backward timed next to the first calls (the first of them may pay the memory growth)
    and the eager peer's median step (which adds zeroing the gradients and the update)."""
    return min(statistics.median(fc.eager), fc.eager_step)


def zero(params: list[Value]) -> None:
    for p in params:
        p.grad = 0.0


def zerograd_step(call: Callable, params: list[Value], model: Any, work: Work,
                  user_loop: bool = False) -> tuple[Callable, Callable]:
    """(step, probe) of one unit of ``work`` around ``call`` (eager fn or compiled)."""
    args, lr = work.args, work.lr
    if lr is None:  # forward + backward
        def step():
            for p in params:
                p.grad = 0.0
            out = call(*args)
            out.backward()
            return out

        return step, lambda out: [out.data] + [p.grad for p in params]
    if user_loop:
        def step():
            loss = call(*args)
            model.zero_grad()
            loss.backward()
            for p in model.parameters():
                p.data -= lr * p.grad
            return loss
    else:
        def step():
            loss = call(*args)
            for p in params:
                p.grad = 0.0
            loss.backward()
            for p in params:
                p.data -= lr * p.grad
            return loss

    return step, lambda loss: [loss.data]


def step_loop(fn: Callable, params: list[Value], work: Work,
              compile: bool | str) -> tuple[Callable, Callable]:
    """(step, probe) of a hand-written loop over ``zg.train.Step``: ``loss = step(X, y)``,
    the Values updated (data and grads) on every call."""
    step_obj = zg.train.Step(fn, zg.optim.SGD(params, lr=work.lr), compile=compile)
    args = work.args

    def step():
        return step_obj(*args)

    return step, lambda loss: [loss]


def no_numbers(_: Any) -> list[float]:
    """The probe of a floor row, which computes no loss to check."""
    return []


def loop_alone(model: Any, work: Work) -> tuple[Callable, Callable]:
    """(step, probe) of the loop a user writes without the loss: ``zero_grad()``,
    ``parameters()`` and the update, a floor under any hand-written loop over Values."""
    lr = work.lr

    def step():
        model.zero_grad()
        for p in model.parameters():
            p.data -= lr * p.grad

    return step, no_numbers


def fast_path_step(compiled: Any, params: list[Value], work: Work,
                   batch: bool = True) -> tuple[Callable, Callable]:
    """(step, probe) of ``zg.train.fit(..., compile=True)``'s step, run by fit's own step
    object: the loss and gradients in arrays, the divergence and stuck checks, the update
    (the optimizer's rule, SGD at the work's lr). ``batch``: the data come each step from
    ``batch=lambda: (X, y)``; else ``compiled`` takes no arguments (the data are in the
    loss, as micrograd's demo has them). Where the stuck check stops the run (the grid's
    h=128 nets at lr 0.1), its checks start again and the timing goes on."""
    optimizer = zg.optim.SGD(params, lr=work.lr)
    steps = zg.train._Steps(
        zg.train._loss_caller(compiled, (lambda: work.args) if batch else None, False),
        optimizer, params, None)

    def step():
        try:
            return steps()[0]
        except zg.train.TrainingDiverged:
            steps.smoother, steps.first, steps.watch = (
                zg.train.Smoother(), None, zg.monitor.Watch())
            return steps()[0]

    return step, lambda loss: [loss]


def first_call(work: Work, s: Settings) -> FirstCall:
    """The first call of a new ``zg.compile(fn)`` (trace + compile + forward + backward)
    against one eager forward + backward, interleaved, repeated while under 10 s (up to 5
    times); then peak memory of each (tracemalloc, separate calls)."""
    fn, params, model = work.make()
    first, eager, t_end = [], [], time.perf_counter() + 10.0
    c = None
    while not first or (time.perf_counter() < t_end and len(first) < 5 and not s.quick):
        c = None
        gc.collect()
        t0 = time.perf_counter()
        fn(*work.args).backward()
        eager.append(time.perf_counter() - t0)
        zero(params)
        gc.collect()
        t0 = time.perf_counter()
        c = zg.compile(fn)
        c(*work.args).backward()
        first.append(time.perf_counter() - t0)
        zero(params)
        log(f"  first call {first[-1]:.3f} s, eager {eager[-1]:.3f} s")
    peak_eager, _, _ = traced(lambda: fn(*work.args).backward())
    zero(params)

    def compile_once():
        c2 = zg.compile(fn)
        c2(*work.args).backward()
        return c2

    peak_first, held, _ = traced(compile_once)
    zero(params)
    return FirstCall(first, eager, peak_first, peak_eager, held, c.n_ops, c.executor.name,
                     (c, fn, params, model))


def traced(thunk: Callable) -> tuple[int, int, Any]:
    """(peak bytes, bytes still allocated, result) of ``thunk()``, above the start."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    out = thunk()
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak - base, current - base, out


def zerograd_peers(work: Work, fc: FirstCall) -> tuple[list[Peer], Peer, list]:
    """zerograd's peers: auto (the first call's compiled function), auto with the user's
    loop, each executor, and the eager engine; (peers, eager peer, aliases)."""
    c, fn, params, model = fc.compiled
    auto = Peer(f"zerograd compiled, auto ({fc.executor})",
                *zerograd_step(c, params, model, work), cold=fc.first[-1],
                note="executor auto; first call: the section below")
    out, aliases = [auto], []
    if work.user_loop:
        fn2, params2, model2 = work.make()
        out.append(Peer("zerograd compiled, auto, user loop",
                        *zerograd_step(zg.compile(fn2), params2, model2, work, user_loop=True),
                        note="zero_grad(), parameters() each step"))
        fn2, params2, _ = work.make()
        out.append(Peer(STEP_LOOP, *step_loop(fn2, params2, work, True),
                        note="for k in ...: loss = step(X, y), step = zg.train.Step(loss_fn, "
                             "SGD, compile=True): arrays inside, the Values written each call"))
        try:
            fn2, params2, _ = work.make()
            jax_loop = step_loop(fn2, params2, work, "jax")
        except ImportError as e:
            out.append(Peer(STEP_LOOP_JAX, note=f"not measured: {e}"))
        else:
            out.append(Peer(STEP_LOOP_JAX, *jax_loop, note='the same, compile="jax"'))
        out.append(Peer("the user loop alone, no loss", *loop_alone(work.make()[2], work),
                        note="zero_grad(), parameters(), the update: a floor for any loop "
                             "over Values (nothing to check)"))
    if work.lr is not None:
        fn2, params2, _ = work.make()
        out.append(Peer("zerograd fit fast path", *fast_path_step(zg.compile(fn2), params2,
                                                                  work),
                        note="fit(compile=True)'s step: arrays, no Values touched"))
        try:
            fn3, params3, _ = work.make()
            jaxed = zg.compile(fn3, executor="jax")
        except ImportError as e:
            out.append(Peer("zerograd fit fast path, jax executor", note=f"not measured: {e}"))
        else:
            out.append(Peer("zerograd fit fast path, jax executor",
                            *fast_path_step(jaxed, params3, work),
                            note='fit(compile="jax")\'s step, batch=lambda: (X, y): the '
                                 "numpy executor's program and the update, run by XLA"))
            fn4, params4, _ = work.make()
            inside = zg.compile(lambda: fn4(*work.args), executor="jax")
            out.append(Peer(DATA_IN_LOSS, *fast_path_step(inside, params4, work, batch=False),
                            note='fit(compile="jax")\'s step, the data in the loss: '
                                 f"{zg.train.STEPS_PER_CALL} steps per XLA call, each call "
                                 "sent before the one before it is checked"))
    for name in EXECUTORS:
        label = f"zerograd compiled, {name}"
        if name == fc.executor:
            alias = Peer(label, note="auto's choice: the auto row's compiled function")
            aliases.append((alias, auto))
            out.append(alias)
            continue
        why = skip_executor(name, fc.n_ops, work.depth)
        if why:
            out.append(Peer(label, note=f"not measured: {why}"))
            continue
        fn2, params2, model2 = work.make()
        out.append(Peer(label, *zerograd_step(zg.compile(fn2, executor=name), params2,
                                              model2, work)))
    fn2, params2, model2 = work.make()
    eager = Peer("zerograd eager", *zerograd_step(fn2, params2, model2, work),
                 note="the eager engine")
    out.append(eager)
    if work.user_loop:
        fn2, params2, model2 = work.make()
        out.append(Peer("zerograd eager, user loop",
                        *zerograd_step(fn2, params2, model2, work, user_loop=True)))
    return out, eager, aliases


def skip_executor(name: str, n_ops: int, depth: int) -> str:
    if name == "python" and n_ops > PYTHON_MAX_OPS:
        return (f"{n_ops:,} op nodes > {PYTHON_MAX_OPS:,} (generated code: compiling it took "
                f"5-7 s at 15,773, grid h=32 n=100)")
    if name == "scalar" and n_ops > SCALAR_MAX_OPS:
        return f"{n_ops:,} op nodes > {SCALAR_MAX_OPS:,} (~15 us per node per step)"
    if name == "numpy" and depth > NUMPY_MAX_DEPTH:
        return f"{depth:,} levels deep > {NUMPY_MAX_DEPTH:,} (one array op per level)"
    return ""


# -- running a workload ----------------------------------------------------------------------
RESULTS: dict[str, dict[str, Any]] = {}


def run(work: Work, s: Settings) -> None:
    log(f"{work.key}: {work.title}")
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fc = first_call(work, s)
        zpeers, eager, aliases = zerograd_peers(work, fc)
        others = []
        for make in work.peers:
            try:
                others.append(make())
            except Unavailable as e:
                others.append(Peer(getattr(make, "label", "?"), note=f"skipped: {e}"))
        peers = zpeers + others
        race(peers, eager, 1 if s.quick else work.runs, s)
    for alias, src in aliases:
        alias.times, alias.calls, alias.cold = src.times, src.calls, src.cold
    if eager.times:
        fc.eager_step = statistics.median(eager.times)
    RESULTS[work.key] = {"peers": {p.name: p for p in peers}, "first": fc, "auto": peers[0]}
    seen = sorted({f"{w.category.__name__}: {str(w.message)[:90]}..." for w in caught
                   if not issubclass(w.category, (DeprecationWarning, FutureWarning))})
    report(work, peers, fc, seen, time.perf_counter() - t0)


def peer(label: str, fn: Callable, *args: Any, **kwargs: Any) -> Callable[[], Peer]:
    """A deferred peer (built when its workload runs); ``label`` names it if it is skipped."""
    def make() -> Peer:
        return fn(*args, **kwargs)

    make.label = label  # type: ignore[attr-defined]
    return make


def not_timed(name: str, why: str) -> Callable[[], Peer]:
    return peer(name, lambda: Peer(name, note=why))


# -- the workloads ---------------------------------------------------------------------------
def mlp_work(key: str, title: str, X: list, y: list, nin: int, sizes: list[int], *,
             lr: float, runs: int, lecture: bool = False, user_loop: bool = False,
             quick: bool = False) -> Work:
    """An MLP training step: the lecture's tanh net with squared error, or the moons demo's
    ReLU net with hinge loss + 1e-4 L2; every peer family gets zerograd's seeded weights."""
    reg = 0.0 if lecture else 1e-4

    def make():
        random.seed(SEED)
        if lecture:
            model = zg.nn.MLP.lecture(nin, sizes)

            def fn(X, y):
                return sum((model(x) - t) ** 2 for x, t in zip(X, y))
        else:
            model = zg.nn.MLP(nin, sizes)

            def fn(X, y):
                scores = [model(row) for row in X]
                data = sum((1 + -t * s).relu() for t, s in zip(y, scores)) * (1.0 / len(y))
                return data + reg * sum(p * p for p in model.parameters())

        return fn, model.parameters(), model

    model = make()[2]
    task = pe.MLPTask(
        X, y, [([[w.data for w in n.w] for n in layer.neurons],
                [n.b.data for n in layer.neurons]) for layer in model.layers],
        act="tanh" if lecture else "relu", out_act="tanh" if lecture else "linear",
        loss="sse" if lecture else "hinge", lr=lr, reg=reg)
    h = max(sizes)
    mg_nodes = len(y) * (2 * nin * h + 2 * h * h + 4 * h + 6) + 4 * sum(
        (a + 1) * b for a, b in zip([nin] + sizes, sizes))
    work = Work(key, title, make, (X, y), lr, runs, [
        peer("PyTorch eager", pe.torch_mlp, task),
        not_timed("torch.compile", "skipped (--quick): compiling takes seconds") if quick
        else peer("torch.compile", pe.torch_mlp, task, compiled=True),
        peer("JAX jit", pe.jax_mlp, task),
        peer("NumPy by hand", pe.numpy_mlp, task),
        peer("numba by hand", pe.numba_mlp, task),
        not_timed("micrograd 0.1.0", "skipped (--quick)") if quick and len(y) > 10
        else peer("micrograd 0.1.0", pe.micrograd_mlp, task) if mg_nodes <= MICROGRAD_MAX_NODES
        else not_timed("micrograd 0.1.0", f"skipped: ~{mg_nodes:,} nodes per step > "
                       f"{MICROGRAD_MAX_NODES:,} (W2's ~65,000 take seconds a step)"),
    ], user_loop=user_loop)
    return work


def moons(n: int) -> tuple[list, list]:
    X, y = zg.data.moons(n, signed=True)  # micrograd's demo data for n = 100
    return X.tolist(), [float(t) for t in y]


def w1(s: Settings) -> Work:
    X, y = zg.data.lecture()
    return mlp_work("W1", "the lecture's MLP(3, [4, 4, 1]) tanh, 4 examples, one SGD step "
                    "(lr 0.05)", X, [float(t) for t in y], 3, [4, 4, 1], lr=0.05,
                    runs=15, lecture=True, user_loop=True, quick=s.quick)


def w2(s: Settings) -> Work:
    n = 30 if s.quick else 100
    X, y = moons(n)
    return mlp_work("W2", f"moons demo MLP(2, [16, 16, 1]) ReLU, hinge + 1e-4 L2, {n} points, "
                    "one SGD step (lr 0.1)", X, y, 2, [16, 16, 1], lr=0.1, runs=15,
                    user_loop=True, quick=s.quick)


def grid(s: Settings, only: str | None = None) -> list[Work]:
    """The grid's workloads; ``only`` ("64x1000,128x100"): just those widths x points."""
    sizes = [(8, 50)] if s.quick else [
        (h, n) for n in (100, 1000) for h in (32, 64, 128)]
    if only:
        sizes = [tuple(int(x) for x in hn.split("x")) for hn in only.split(",")]
    works = []
    for h, n in sizes:
        X, y = moons(n)
        works.append(mlp_work(f"grid h={h} n={n}", f"moons MLP(2, [{h}, {h}, 1]) ReLU, hinge "
                              f"+ 1e-4 L2, {n} points, one SGD step (lr 0.1)", X, y, 2,
                              [h, h, 1], lr=0.1, runs=9 if n <= 100 else 5, quick=s.quick))
    return works


def w3(s: Settings, nodes: int) -> Work:
    steps, x0, w0 = nodes // 2, 0.5, 0.9

    def make():
        w = Value(w0)

        def chain(x):
            for _ in range(steps):
                x = (x + w).tanh()
            return x

        return chain, [w], None

    return Work("W3", f"a chain x = tanh(x + w), {nodes:,} nodes deep, forward + backward",
                make, (x0,), None, 5, [
                    peer("PyTorch eager", pe.torch_chain, steps, x0, w0),
                    not_timed("torch.compile", "not attempted: dynamo would unroll the "
                              f"{steps:,}-step Python loop into one graph"),
                    peer("JAX jit", pe.jax_chain, steps, x0, w0),
                    not_timed("NumPy by hand", "n/a: a chain has nothing to vectorise "
                              "(see Python floats by hand)"),
                    peer("numba by hand", pe.numba_chain, steps, x0, w0),
                    peer("Python floats by hand", pe.python_chain, steps, x0, w0),
                    peer("micrograd 0.1.0", lambda: Peer(
                        "micrograd 0.1.0", note=pe.micrograd_chain(steps, x0, w0))),
                ], depth=nodes)


WIDTH = 1000
PA = [(2 * i * 7 + 1) % WIDTH for i in range(WIDTH // 2)]
PB = [(2 * i * 13 + 5) % WIDTH for i in range(WIDTH // 2)]


def w4(s: Settings, layers: int) -> Work:
    rng = random.Random(4)
    w0 = [rng.uniform(-1, 1) for _ in range(WIDTH)]
    x0 = [rng.uniform(-1, 1) for _ in range(WIDTH)]

    def make():
        ws = [Value(v) for v in w0]

        def net(x):
            h = [wi * xi for wi, xi in zip(ws, x)]
            for _ in range(layers - 1):
                new = []
                for i in range(WIDTH // 2):
                    new.append(h[2 * i] * h[PA[i]])
                    new.append((h[2 * i + 1] + h[PB[i]]) * 0.5)
                h = new
            return zg.vsum(h)

        return net, ws, None

    task = pe.MixTask(w0, x0, PA, PB, layers)
    n_ops = WIDTH + (layers - 1) * WIDTH * 3 // 2 + 1
    return Work("W4", f"{n_ops:,} ops ({layers} layers {WIDTH} wide, * and + mixed), "
                "forward + backward", make, (x0,), None, 7, [
                    peer("PyTorch eager", pe.torch_mix, task),
                    not_timed("torch.compile", "skipped (--quick)") if s.quick
                    else peer("torch.compile", pe.torch_mix, task, compiled=True),
                    peer("JAX jit", pe.jax_mix, task),
                    peer("NumPy by hand", pe.numpy_mix, task),
                    peer("numba by hand", pe.numba_mix, task),
                    not_timed("micrograd 0.1.0", "skipped (--quick)") if s.quick
                    else peer("micrograd 0.1.0", pe.micrograd_mix, task),
                ])


# -- the report ------------------------------------------------------------------------------
def log(msg: str) -> None:
    print(f"[{time.perf_counter() - START:7.1f} s] {msg}", file=sys.stderr, flush=True)


def fmt(t: float) -> str:
    if t < 0.9995e-3:  # so that 999.6 us prints as 1 ms, not 1e+03 us
        return f"{t * 1e6:.3g} us"
    if t < 0.9995:
        return f"{t * 1e3:.3g} ms"
    return f"{t:.3g} s"


def fmt_ratio(rs: list[float]) -> str:
    return f"{statistics.median(rs):.2f}x ({min(rs):.2f}..{max(rs):.2f})"


def mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} kB"


def report(work: Work, peers: list[Peer], fc: FirstCall, seen: list[str], took: float) -> None:
    auto = peers[0]
    out = [f"### {work.key}: {work.title}", "",
           "| peer | best | median | min..max | vs zerograd auto | calls/block x runs | first call "
           "| note |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for p in peers:
        if not p.times:
            out.append(f"| {p.name} | — | — | — | — | — | — | {p.note} |")
            continue
        ratio = "1 (reference)" if p is auto else fmt_ratio(ratios(p, auto))
        lo, mid, hi = min(p.times), statistics.median(p.times), max(p.times)
        cold = fmt(p.cold) if p.cold is not None else "—"
        out.append(f"| {p.name} | {fmt(lo)} | {fmt(mid)} | {fmt(lo)}..{fmt(hi)} | {ratio} | "
                   f"{p.calls} x {len(p.times)} | {cold} | {p.note} |")
    f, e = statistics.median(fc.first), statistics.median(fc.eager)
    out += ["", f"First call of `zg.compile` (trace + compile + forward + backward; executor "
            f"{fc.executor}, {fc.n_ops:,} op nodes): {fmt(f)} (median of {len(fc.first)}: "
            f"{fmt(min(fc.first))}..{fmt(max(fc.first))}); one eager forward + backward: "
            f"{fmt(e)} between them ({fmt(min(fc.eager))}..{fmt(max(fc.eager))}), "
            f"{fmt(fc.eager_step)} as the zerograd eager row's median step; first call / the "
            f"faster of the two: **{f / eager_ref(fc):.2f}x** (goal <= 2x).",
            f"Peak memory (tracemalloc): first call {mb(fc.peak_first)}, eager graph "
            f"{mb(fc.peak_eager)}: **{fc.peak_first / max(fc.peak_eager, 1):.2f}x** (goal <= 2x);"
            f" the compiled function holds {mb(fc.held)} after it.",
            f"Measured in {took:.0f} s."]
    if seen:
        out.append(f"Warnings while measuring ({len(seen)} kinds, each peer trains its own "
                   f"copy): " + "; ".join(seen[:3]))
    print("\n".join(out) + "\n", flush=True)


def goals() -> None:
    """The issue's goals, judged on the medians of the per-run ratios above."""
    lines = ["## Goals", ""]

    def judge(what: str, rs: list[float] | None, ok: Callable[[float], bool]) -> None:
        if not rs:
            lines.append(f"- {what}: not measured")
            return
        m = statistics.median(rs)
        spread = f" (runs {min(rs):.2f}..{max(rs):.2f})" if len(rs) > 1 else ""
        lines.append(f"- {what}: {m:.2f}x{spread} — {'holds' if ok(m) else 'DOES NOT HOLD'}"
                     f"{'' if ok(min(rs)) == ok(max(rs)) else ' (not in every run)'}")

    def pair(key: str, a: str, b: str) -> list[float] | None:
        ps = RESULTS.get(key, {}).get("peers", {})
        pa, pb = ps.get(a), ps.get(b)
        return ratios(pa, pb) if pa and pb and pa.times and pb.times else None

    for key, need in (("W1", 5.0), ("W2", 3.0)):
        judge(f"{key} user loop >= {need:g}x faster than PyTorch eager (PyTorch / zerograd)",
              pair(key, "PyTorch eager", "zerograd compiled, auto, user loop"),
              lambda m, need=need: m >= need)
        for what, label in (("Step", STEP_LOOP), ("Step, jax", STEP_LOOP_JAX)):
            judge(f"{key} hand-written loop over {what} >= {need:g}x faster than PyTorch "
                  f"eager (PyTorch / zerograd)",
                  pair(key, "PyTorch eager", label), lambda m, need=need: m >= need)
        floor = pair(key, "PyTorch eager", "the user loop alone, no loss")
        if floor:
            lines.append(f"  - its bound: the user's loop without the loss (zero_grad, "
                         f"parameters, update) is {statistics.median(floor):.2f}x (runs "
                         f"{min(floor):.2f}..{max(floor):.2f}) PyTorch's whole step")
    fast_paths = (("fit's fast path", "zerograd fit fast path"),
                  ('fit(compile="jax")\'s fast path', "zerograd fit fast path, jax executor"),
                  ('fit(compile="jax")\'s fast path, data in the loss', DATA_IN_LOSS))
    for what, label in fast_paths:
        judge(f"W2 through {what} no slower per step than JAX jit (fast path / JAX)",
              pair("W2", label, "JAX jit"), lambda m: m <= 1.0)
    for key, res in RESULTS.items():
        if not key.startswith("grid"):
            continue
        for what, label in fast_paths:
            judge(f"{key}: {what} faster than PyTorch eager (PyTorch / fast path)",
                  pair(key, "PyTorch eager", label), lambda m: m > 1.0)
            judge(f"{key}: {what} within 2x of JAX jit (fast path / JAX)",
                  pair(key, label, "JAX jit"), lambda m: m <= 2.0)
        auto = res["auto"].name
        judge(f"{key}: faster than PyTorch eager (PyTorch / zerograd auto)",
              pair(key, "PyTorch eager", auto), lambda m: m > 1.0)
        judge(f"{key}: within 2x of JAX jit (zerograd auto / JAX)",
              pair(key, auto, "JAX jit"), lambda m: m <= 2.0)
        fc = res["first"]
        judge(f"{key}: first call <= 2x one eager step (first / eager, medians)",
              [statistics.median(fc.first) / eager_ref(fc)], lambda m: m <= 2.0)
        judge(f"{key}: first call's peak memory <= 2x the eager graph's",
              [fc.peak_first / max(fc.peak_eager, 1)], lambda m: m <= 2.0)
    for key, res in RESULTS.items():
        auto, ps = res["auto"], res["peers"]
        measured = [p for n, p in ps.items() if n.startswith("zerograd compiled, ")
                    and n.split(", ")[1] in EXECUTORS and p.times]
        if not measured:
            continue
        best = min(measured, key=lambda p: statistics.median(p.times))
        what = (f"{key}: auto ({res['first'].executor}) within 1.2x of the best executor it "
                f"can choose")
        if len(measured) == 1:
            lines.append(f"- {what}: not tested, auto's choice was the only executor measured")
            continue
        judge(f"{what} ({best.name.split(', ')[1]}; {len(measured)} measured)",
              ratios(auto, best), lambda m: m <= 1.2)
    print("\n".join(lines) + "\n")


def header(s: Settings) -> None:
    try:
        rev = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                             text=True, cwd=os.path.dirname(os.path.abspath(__file__)),
                             timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        rev = "?"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    v = {m: pe.version(m) or "not installed" for m in
         ("numpy", "torch", "jax", "jaxlib", "numba", "micrograd", "zerograd")}
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"# zg.compile benchmark{' (--quick)' if s.quick else ''}\n\n"
          f"- date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}\n"
          f"- machine: {platform.platform()}, {cpu}, {os.cpu_count()} CPUs; load average "
          f"{load} at the start\n"
          f"- Python {sys.version.split()[0]}, numpy {v['numpy']}, torch {v['torch']}, jax "
          f"{v['jax']} (jaxlib {v['jaxlib']}), numba {v['numba']}, micrograd "
          f"{v['micrograd']}, zerograd {v['zerograd']} (git {rev})\n"
          f"- settings: float64 everywhere; one thread each: torch.set_num_threads(1), "
          f"OMP/OPENBLAS/MKL_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, XLA_FLAGS="
          f"`{os.environ['XLA_FLAGS']}`; "
          f"runs per workload {'1 (--quick)' if s.quick else '3 to 15 (see each table)'}, "
          f"block {s.block:g} s, warm-up 2 checked calls + {s.warm:g} s; check tolerance "
          f"{TOLERANCE:g} relative\n"
          f"- times are per call (one training step, or forward + backward for W3/W4); "
          f"ratios are peer / zerograd auto in the same run: above 1, zerograd is faster\n",
          flush=True)


START = time.perf_counter()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: small sizes, 1 run, short blocks (under a minute)")
    ap.add_argument("--only", default="W1,W2,grid,W3,W4", help="workloads, comma-separated")
    ap.add_argument("--grid", default=None,
                    help="grid sizes to run, width x points, comma-separated (e.g. 128x1000)")
    ap.add_argument("--chain", type=int, default=None, help="W3's depth (default 1,000,000)")
    opts = ap.parse_args()
    s = Settings(block=0.02 if opts.quick else 0.1, warm=0.02 if opts.quick else 0.3,
                 quick=opts.quick)
    only = {w.strip().lower() for w in opts.only.split(",")}
    header(s)
    zg.compile(lambda x: (x * 2.0).tanh())(0.5).backward()  # import the compiler's modules
    works: list[Work] = []
    if "w1" in only:
        works.append(w1(s))
    if "w2" in only:
        works.append(w2(s))
    if "grid" in only:
        works += grid(s, opts.grid)
    if "w3" in only:
        works.append(w3(s, opts.chain or (2_000 if s.quick else 1_000_000)))
    if "w4" in only:
        works.append(w4(s, 4 if s.quick else 67))
    for work in works:
        run(work, s)
    goals()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Whole run: {time.perf_counter() - START:.0f} s; load average {load} at the end.")


if __name__ == "__main__":
    main()
