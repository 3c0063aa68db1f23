"""Modes (no_grad, detect_anomaly, zg.compile's tracing hooks) hold per thread, as PyTorch's
grad mode does, and training in several threads at once gives the numbers of training one
after another."""

from __future__ import annotations

import random
import sys
import threading
import warnings
from collections.abc import Callable

import pytest

import zerograd as zg
from zerograd import modes
from zerograd.engine import Value


@pytest.fixture(autouse=True)
def fast_switching():
    """Switch threads every microsecond, so interleavings that can go wrong do."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)
    assert modes.entered == 0  # every context the test opened was closed


def run_threads(*targets: Callable[[], None]) -> None:
    """Run each target in its own thread; re-raise the first error any of them raised."""
    errors: list[BaseException] = []

    def wrap(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - handed to the main thread
                errors.append(e)

        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "a thread hung"
    if errors:
        raise errors[0]


def test_no_grad_in_one_thread_leaves_another_building_graphs():
    inside, done = threading.Event(), threading.Event()
    seen = {}

    def a() -> None:
        with zg.no_grad():
            inside.set()
            done.wait(10)
            seen["a"] = zg.is_grad_enabled(), (Value(2.0) * 3)._children

    def b() -> None:
        inside.wait(10)
        x, y = Value(2.0), Value(3.0)
        (x * y).backward()
        seen["b"] = zg.is_grad_enabled(), x.grad, y.grad
        done.set()

    run_threads(a, b)
    assert seen["b"] == (True, 3.0, 2.0)  # torch: 3.0, 2.0
    assert seen["a"] == (False, ())
    assert zg.is_grad_enabled()


def test_a_thread_toggling_no_grad_does_not_touch_another_threads_gradients():
    stop = threading.Event()
    wrong = []

    def toggler() -> None:
        while not stop.is_set():
            with zg.no_grad():
                Value(1.0) * 2

    def worker() -> None:
        for i in range(4000):
            x, y = Value(float(i)), Value(2.0)
            (x * y + x).backward()
            if (x.grad, y.grad) != (3.0, float(i)):
                wrong.append(i)
        stop.set()

    run_threads(toggler, worker)
    assert wrong == []


@pytest.mark.parametrize("make", [zg.no_grad, zg.detect_anomaly])
def test_contexts_closed_out_of_order_restore_the_mode(make):
    def mode() -> bool:
        return not zg.is_grad_enabled() if make is zg.no_grad else (
            modes.current.anomaly is not None)

    first, second = make(), make()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the outer one closes first
    assert mode()  # the inner one is still open
    second.__exit__(None, None, None)
    assert not mode()
    one = make()  # one object entered twice, nested
    with one:
        with one:
            assert mode()
        assert mode()
    assert not mode()


def test_interleaved_exits_in_two_threads_restore_each_threads_mode():
    steps = [threading.Event() for _ in range(4)]
    after = {}

    def a() -> None:
        with zg.no_grad():
            steps[0].set()
            steps[1].wait(10)
        after["a"] = zg.is_grad_enabled()  # a left first, while b is still inside
        steps[2].set()

    def b() -> None:
        steps[0].wait(10)
        with zg.no_grad():
            steps[1].set()
            steps[2].wait(10)
            after["b inside"] = zg.is_grad_enabled()
        after["b"] = zg.is_grad_enabled()

    run_threads(a, b)
    assert after == {"a": True, "b inside": False, "b": True}


def test_reading_a_value_in_one_thread_while_another_traces():
    tracing, read = threading.Event(), threading.Event()
    got = {}

    def traced(x):
        tracing.set()
        read.wait(10)  # hold the trace open while the other thread reads numbers
        return x * 2

    def a() -> None:
        f = zg.compile(traced)
        got["a"] = f(3.0).data

    def b() -> None:
        tracing.wait(10)
        v = Value(1.5)
        got["b"] = float(v), v > 0, bool(v)
        read.set()

    run_threads(a, b)
    assert got == {"a": 6.0, "b": (1.5, True, True)}
    assert modes.current.tracer is None


def test_two_interleaved_traces_leave_no_hooks_installed():
    inside = threading.Barrier(2)
    hooks_after = []

    def trace_one(k: float) -> Callable[[], None]:
        def fn(x):
            inside.wait(10)  # both traces are open at once here
            return x * k

        def run() -> None:
            assert zg.compile(fn)(2.0).data == 2.0 * k
            hooks_after.append(modes.current.tracer)

        return run

    run_threads(trace_one(3.0), trace_one(5.0))
    assert hooks_after == [None, None]
    assert float(Value(4.0)) == 4.0  # no hook left in this thread either


def test_fit_in_one_thread_trains_while_another_is_in_no_grad():
    random.seed(3)
    model = zg.nn.MLP(2, [4, 1])
    before = [p.data for p in model.parameters()]
    X, y = [[0.5, -1.0], [1.0, 2.0], [-1.5, 0.5]], [1.0, -1.0, 1.0]
    inside, done = threading.Event(), threading.Event()

    def evaluator() -> None:
        with zg.no_grad():
            inside.set()
            done.wait(30)

    def trainer() -> None:
        inside.wait(10)
        opt = zg.optim.SGD(model.parameters(), lr=0.05)
        zg.train.fit(model, lambda: zg.losses.mse([model(x) for x in X], y), opt, 20,
                     progress=False)
        done.set()

    run_threads(evaluator, trainer)
    assert [p.data for p in model.parameters()] != before


def test_the_zero_grad_switch_holds_for_its_thread_only():
    caught = {}

    def loop(silence: bool) -> Callable[[], None]:
        def run() -> None:
            if silence:
                zg.engine.check_zero_grad(False)
            w = Value(0.5)
            with warnings.catch_warnings(record=True) as got:
                warnings.simplefilter("always")
                for _ in range(3):
                    (w * 2.0).backward()  # no zero_grad between updates
                    w.data -= 0.1 * w.grad
            caught[silence] = len(got)

        return run

    run_threads(loop(True))  # catch_warnings is process-wide: one thread at a time here
    run_threads(loop(False))
    assert caught == {True: 0, False: 1}
    assert modes.current.check_zero_grad  # the other thread's switch did not reach this one


def test_compiling_deep_functions_in_four_threads_at_once():
    """The code writer spills too-deep expressions (a sum of 300 terms) into temporaries of
    its own thread."""

    def wide(k: int, ws: list) -> Callable:
        def fn(x):
            return zg.vsum([w * x for w in ws]) + zg.dot(ws, [x] * len(ws), k) + zg.logsumexp(ws)

        return fn

    def run_once(k: int, compiled: bool) -> tuple:
        ws = [Value(0.01 * (i + k)) for i in range(300)]
        fn = zg.compile(wide(k, ws), executor="python") if compiled else wide(k, ws)
        out = fn(0.5)
        out.backward()
        return out.data, [w.grad for w in ws]

    expected = {k: run_once(k, False) for k in range(4)}
    wrong = []

    def compiler(k: int) -> Callable[[], None]:
        def run() -> None:
            for _ in range(10):
                got = run_once(k, True)
                if got[0] != pytest.approx(expected[k][0], rel=1e-12) or got[1] != pytest.approx(
                        expected[k][1], rel=1e-12):
                    wrong.append(k)

        return run

    run_threads(*(compiler(k) for k in range(4)))
    assert wrong == []


def _train(model: zg.nn.MLP, seed: int, compiled: bool, steps: int = 25) -> list[float]:
    """Adam on a random minibatch each step (its own Random), eager or compiled."""
    rng = random.Random(seed)
    X = [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(40)]
    y = [1.0 if a * b > 0 else -1.0 for a, b in X]
    opt = zg.optim.Adam(model.parameters(), lr=0.02)

    def loss_fn(xb, yb):
        return zg.losses.hinge([model(x) for x in xb], yb)

    def batch():
        idx = rng.sample(range(len(X)), 16)
        return [X[i] for i in idx], [y[i] for i in idx]

    zg.train.fit(model, loss_fn, opt, steps, batch=batch, compile=compiled, progress=False)
    return [p.data for p in model.parameters()]


def _models(n: int) -> list[zg.nn.MLP]:
    out = []
    for k in range(n):
        random.seed(100 + k)
        out.append(zg.nn.MLP(2, [8, 8, 1]))
    return out


def test_training_in_parallel_threads_gives_the_sequential_numbers_bit_for_bit():
    kinds = [False, True, False, True]
    sequential = [_train(m, k, kinds[k]) for k, m in enumerate(_models(4))]
    models, results = _models(4), {}
    stop = threading.Event()

    def trainer(k: int) -> Callable[[], None]:
        def run() -> None:
            results[k] = _train(models[k], k, kinds[k])

        return run

    random.seed(7)
    probe = zg.nn.MLP(2, [8, 1])

    def evaluator() -> None:  # no_grad evaluation of another model meanwhile
        while not stop.is_set():
            with zg.no_grad():
                out = probe([0.3, -0.2])
                assert not out._children

    def trainers() -> None:
        run_threads(*(trainer(k) for k in range(4)))
        stop.set()

    run_threads(trainers, evaluator, evaluator)
    assert [results[k] for k in range(4)] == sequential
