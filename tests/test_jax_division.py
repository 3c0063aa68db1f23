"""The jax executor divides in the eager engine's order: XLA's rewrite of (a / b) / c as
a / (b * c) overflows where eager does not (the issue's t = 5 / Value(1e155); t / t)."""

from __future__ import annotations

import math

import pytest

import zerograd as zg
from zerograd import Value


def _both(fn, params, executor):
    """(value, grads) through the compiled call + backward and through value_and_grad."""
    f = zg.compile(fn, executor=executor)
    r = f(1.0)
    r.backward()
    first = (r.data, [p.grad for p in params])
    order = f.prepare(1.0)
    value, which, grads = f.value_and_grad([p.data for p in order], 1.0)
    by = dict(zip(which, list(grads)))
    second = (float(value), [float(by.get(order.index(p), 0.0)) for p in params])
    return first, second


def test_t_over_t_has_eager_gradient_through_value_and_grad():
    a = Value(1e155)
    t = 5 / a
    (t / t).backward()
    assert a.grad == 0.0
    for got in _both(lambda s: (5 / a) / (5 / a) * s, [a], "jax"):
        assert got[0] == 1.0 and got[1] == [0.0], got


@pytest.mark.parametrize("executor", ["jax", "numpy", "python"])
def test_a_chain_of_divisions_does_not_overflow(executor):
    a, b, c = Value(1e200), Value(1e200), Value(1e200)
    out = a / b / c  # eager: 1e-200; a / (b * c) would be 1e200 / inf = 0
    out.backward()
    want = (out.data, [a.grad, b.grad, c.grad])
    assert want[0] == 1e-200
    for p in (a, b, c):
        p.grad = 0.0
    for got in _both(lambda s: a / b / c * s, [a, b, c], executor):
        assert math.isclose(got[0], want[0], rel_tol=1e-12), got
        for g, w in zip(got[1], want[1]):
            assert math.isclose(g, w, rel_tol=1e-12), (got, want)
        for p in (a, b, c):
            p.grad = 0.0
