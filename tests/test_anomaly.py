"""zg.detect_anomaly(): the first op giving nan/inf raises, naming the op, inputs and line."""

from __future__ import annotations

import math
import re
import sys

import pytest

import zerograd as zg
from zerograd import Value


def here() -> int:
    """The line number of the caller's next line."""
    return sys._getframe(1).f_lineno + 1


def site(line: int) -> str:
    return re.escape(f"{__file__}:{line}")


def test_forward_log_of_negative_names_op_inputs_and_line():
    with zg.detect_anomaly():
        x = Value(-1.0)
        with pytest.raises(FloatingPointError) as info:
            line = here()
            x.log()
    msg = str(info.value)
    assert "'log'" in msg and "forward" in msg
    assert "(-1.0)" in msg and "nan" in msg
    assert re.search(site(line), msg), msg


def test_forward_division_by_zero():
    with zg.detect_anomaly():
        a, b = Value(1.0), Value(0.0)
        ok = a + b  # a finite op on the way raises nothing
        pattern = r"'div' produced inf .*\(1\.0, 0\.0\)"
        with pytest.raises(FloatingPointError, match=pattern) as info:
            line = here()
            ok / b
    assert re.search(site(line), str(info.value))


def test_backward_sqrt_at_zero_names_the_line_that_created_the_node():
    x = Value(0.0)
    with zg.detect_anomaly():
        line = here()
        y = x.sqrt()
        z = y * 3.0  # a healthy node after the bad one
        assert y.data == 0.0  # the forward pass is fine
        with pytest.raises(FloatingPointError) as info:
            z.backward()
    msg = str(info.value)
    assert "'sqrt'" in msg and "backward" in msg and "inf" in msg
    assert "(0.0)" in msg
    assert re.search(site(line), msg), msg
    assert x.grad == 0.0  # the bad gradient was not accumulated


def test_backward_reports_nodes_built_before_the_context():
    x = Value(0.0)
    y = x**0.5
    with zg.detect_anomaly(), pytest.raises(FloatingPointError, match="outside detect_anomaly"):
        y.backward()


def test_op_inside_zerograd_reports_the_users_line():
    """mse squares inside losses.py; the error points at the user's call."""
    big = Value(1e200)
    with zg.detect_anomaly():
        with pytest.raises(FloatingPointError, match="'powc' produced inf") as info:
            line = here()
            zg.losses.mse([big], [0.0])
    assert re.search(site(line), str(info.value))
    assert "losses.py" not in str(info.value)


def test_model_forward_reports_the_line_calling_the_model():
    import random

    random.seed(0)
    model = zg.nn.MLP(2, [3, 1], activation="tanh")
    model.layers[0].neurons[0].w[0].data = 1e308
    with zg.detect_anomaly():
        with pytest.raises(FloatingPointError) as info:
            line = here()
            model([10.0, 0.0])
    assert "'linear' produced inf" in str(info.value)
    assert re.search(site(line), str(info.value))


def test_only_the_first_bad_op_raises_not_the_ones_that_carry_its_nan():
    nan_leaf = Value(math.nan)
    with zg.detect_anomaly():
        carried = nan_leaf * 2.0 + 1.0  # inputs already nan: not the origin, no error
    assert math.isnan(carried.data)


def test_no_checks_outside_the_context_and_state_restored_after_an_error():
    assert math.isnan(Value(-1.0).log().data)
    with pytest.raises(FloatingPointError), zg.detect_anomaly():
        Value(-1.0).log()
    assert math.isnan(Value(-1.0).log().data)  # off again after the exception
    with zg.detect_anomaly():
        with zg.detect_anomaly():
            pass
        with pytest.raises(FloatingPointError):  # still on after the inner one closed
            Value(0.0).log()


def test_a_clean_training_step_raises_nothing():
    import random

    random.seed(1)
    model = zg.nn.MLP(2, [4, 1])
    with zg.detect_anomaly():
        loss = zg.losses.mse([model([1.0, -2.0]), model([0.5, 0.5])], [1.0, -1.0])
        loss.backward()
    assert math.isfinite(loss.data)
    assert any(p.grad != 0 for p in model.parameters())


# -- compiled functions: checked inside detect_anomaly(), exactly as the eager engine ------
EXECUTORS = ["python", "numpy", "scalar"]


def eager_error(fn, *args, backward=False) -> str:
    with zg.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        out = fn(*[Value(a) for a in args])
        if backward:
            out.backward()
    return str(info.value)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_compiled_forward_raises_the_eager_error(executor):
    w = Value(1.0)

    def fn(x, y):
        return (x * w).log() + (y * w).sqrt()  # log comes first on the tape, as in eager

    f = zg.compile(fn, executor=executor)
    assert f(2.0, 1.0).data == pytest.approx(math.log(2.0) + 1.0)  # traced outside
    assert math.isnan(f(-1.0, -1.0).data)  # outside the context: IEEE, no checks
    with zg.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        f(-1.0, -1.0)
    msg = str(info.value)
    assert msg == eager_error(fn, -1.0, -1.0)
    assert "'log' produced nan in the forward pass from inputs (-1.0)" in msg
    assert f"{__file__}:{fn.__code__.co_firstlineno + 1}" in msg
    assert math.isnan(f(-1.0, -1.0).data)  # off again afterwards


@pytest.mark.parametrize("executor", EXECUTORS)
def test_compiled_backward_raises_the_eager_error_before_touching_grads(executor):
    w = Value(1.0)

    def fn(x):
        return (x * w).sqrt() * 3.0

    with zg.detect_anomaly():
        f = zg.compile(fn, executor=executor)
        f(4.0).backward()  # traced inside the context, clean
        assert w.grad == pytest.approx(3.0)  # 3 * x / (2 sqrt(x w)) at x=4, w=1
        w.grad = 0.0
        out = f(0.0)
        assert out.data == 0.0  # the forward pass is fine
        with pytest.raises(FloatingPointError) as info:
            out.backward()
    assert str(info.value) == eager_error(fn, 0.0, backward=True)
    assert "'sqrt' produced a gradient of [inf]" in str(info.value)
    assert w.grad == 0.0  # the bad gradient was not accumulated
    out.backward()  # outside the context the same result backpropagates unchecked
    assert math.isnan(w.grad)  # inf * x, x = 0


def test_compiled_bad_intermediate_raises_though_the_result_is_finite():
    f = zg.compile(lambda x: (x * 1.0).log().relu())  # relu(-inf) = 0
    f(1.0)
    assert f(0.0).data == 0.0
    with zg.detect_anomaly(), pytest.raises(FloatingPointError, match=r"'log' produced -inf"):
        f(0.0)


def test_compiled_nan_carried_from_an_input_is_not_an_anomaly():
    f = zg.compile(lambda x: (x * 2.0 + 1.0).tanh())
    f(0.0)
    with zg.detect_anomaly():
        out = f(math.nan)  # every op's input is already nan: none is the origin
    assert math.isnan(out.data)


def test_compiled_only_the_differentiated_results_graph_is_checked():
    w = Value(0.0)
    f = zg.compile(lambda x: [x * w, (x * w).sqrt()])
    with zg.detect_anomaly():
        a, b = f(1.0)
        a.backward()  # sqrt is not on a's path: no error, like eager
        assert w.grad == 1.0
        with pytest.raises(FloatingPointError, match="'sqrt' produced a gradient of"):
            b.backward()
    assert w.grad == 1.0


def test_compiled_node_built_before_tracing_reports_unknown_site():
    p = Value(1.0)
    q = p.log()  # an op node fn closes over; the compiled replay recomputes it from p
    f = zg.compile(lambda x: x * q)
    with zg.detect_anomaly():
        f(2.0)
        p.data = -1.0
        with pytest.raises(
            FloatingPointError,
            match=r"'log' produced nan .*\(-1\.0\).*"
            r"created outside detect_anomaly",
        ):
            f(2.0)


def test_compiled_function_keeps_no_tape_outside_anomaly_mode_and_retraces_once():
    calls = []
    w = Value(1.0)

    def fn(x):
        calls.append(1)
        return (x * w).log()

    f = zg.compile(fn, executor="numpy")
    f(1.0)
    assert f._checked is None and len(calls) == 1  # nothing kept for anomaly mode
    with zg.detect_anomaly():
        assert f(2.0).data == math.log(2.0)  # traced once more, to record the sites
        assert f(3.0).data == math.log(3.0)
    assert len(calls) == 2
    assert f(4.0).data == pytest.approx(math.log(4.0)) and len(calls) == 2


def test_fit_with_compile_inside_detect_anomaly_names_the_loss_line():
    import random

    random.seed(0)
    model = zg.nn.MLP(1, [2, 1])
    data = iter([1.0, 1.0, -100.0])

    def loss_fn(t):
        return (model([t]) ** 2 + t).log()

    opt = zg.optim.SGD(model.parameters(), lr=0.01)
    with zg.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        zg.train.fit(
            model, loss_fn, opt, steps=3, compile=True, batch=lambda: next(data), progress=False
        )
    msg = str(info.value)
    assert "'log' produced nan in the forward pass" in msg
    assert re.search(site(loss_fn.__code__.co_firstlineno + 1), msg), msg
    assert next(data, None) is None  # it got to the third step
