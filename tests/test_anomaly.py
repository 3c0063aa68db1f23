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
