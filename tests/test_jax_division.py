"""The jax executor divides in the eager engine's order: XLA's rewrite of (a / b) / c as
a / (b * c) overflows where eager does not (the issue's t = 5 / Value(1e155); t / t); and it
takes logs, powers and square roots of the numbers eager takes them of (XLA rewrites
log(exp(a)) as a, pow(exp(a), b) as exp(a * b), sqrt(a * a) as |a|)."""

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


def _agree(a: float, b: float) -> bool:
    if a != a or b != b:
        return a != a and b != b
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-12)


@pytest.mark.parametrize("case", [
    (lambda x, y: x.exp().log() * y, 1000.0, 1.0),  # log(exp(a)) -> a: 1000.0, eager inf
    (lambda x, y: x.exp().log() * y, 1e-300, 1.0),  # 1e-300 for eager's log(1.0) = 0.0
    (lambda x, y: (x ** y).log(), -0.5, 1.0),  # b * log(abs(a)): -0.69 for eager's nan
    (lambda x, y: (x ** -1000.0).log() * y, 0.24, 1.0),  # 1427.1 for eager's inf
], ids=["log-exp-overflow", "log-exp-tiny", "log-pow-negative", "log-powc-overflow"])
def test_log_of_exp_and_pow_is_taken_of_eager_number(case):
    """XLA rewrites log(exp(a)) as a and log(pow(a, b)) as b * log(|a|): the jax executor
    takes the log of the number eager takes it of (both compiled paths)."""
    fn, *xs = case
    x, y = Value(xs[0]), Value(xs[1])
    out = fn(x, y)
    out.backward()
    want = (out.data, [x.grad, y.grad])
    x.grad = y.grad = 0.0
    for got in _both(lambda s: fn(x, y) * s, [x, y], "jax"):
        assert _agree(got[0], want[0]), (got, want)
        assert all(_agree(g, w) for g, w in zip(got[1], want[1])), (got, want)
        x.grad = y.grad = 0.0


@pytest.mark.parametrize("case", [
    (lambda x: x.exp() ** -math.inf, 1e-300, 1.0),  # exp(a * b): 0.0 for 1.0 ** -inf = 1.0
    (lambda x: (x * x).sqrt(), 6.48e286, math.inf),  # abs(a): 6.48e286 for sqrt(inf)
], ids=["pow-exp", "sqrt-square"])
def test_pow_and_sqrt_are_taken_of_eager_number(case):
    """XLA rewrites pow(exp(a), b) as exp(a * b) and sqrt(a * a) as |a| (seen where a is
    an input of the compiled function): the jax executor takes the power and the square
    root of the numbers eager takes them of (program_at(1, 657) and (1, 614) of the fuzz)."""
    fn, x, want = case
    w = Value(-1.0)
    assert fn(Value(x)).data + w.data == want - 1.0
    f = zg.compile(lambda x: fn(x) + w, executor="jax")
    r = f(x)
    r.backward()
    assert r.data == want - 1.0 and w.grad == 1.0
    f.prepare(x)
    value, which, grads = f.value_and_grad([w.data], x)
    assert float(value) == want - 1.0 and list(grads) == [1.0]


def test_divisions_sharing_a_divisor_are_not_multiplications_by_its_reciprocal():
    """fuzz program_at(1, 19140), reduced: a group of divisions by one number x, which XLA
    divided as multiplications by 1 / x; at x = -1.8e308 that reciprocal is subnormal,
    flushed to -0.0, so x / x gave 0.0 (and a log of it, -inf)."""
    big = -1.7976931348623157e308

    def fn(xs):
        x = xs[0]
        return (x / x) + (-1.0870362842578041e-223 / x) + (3.0 / x)

    want = fn([Value(big)]).data
    assert want == 1.0
    assert zg.compile(fn, executor="jax")([big]).data == want
    p = Value(big)
    got = _both(lambda s: (p / p + 3.0 / p) * s, [p], "jax")
    p2 = Value(big)
    eager = p2 / p2 + 3.0 / p2
    eager.backward()
    for value, grads in got:
        assert value == eager.data and grads == [p2.grad], (value, grads, eager.data, p2.grad)


def test_powers_constants_are_not_multiplied_together_by_xla():
    """fuzz program_at(1, 19715), reduced: the derivative of (x ** -1.8e308) ** 1000 is
    (1000 * a) * (-1.8e308 * b) with a = b = 0: 0.0 in eager. XLA multiplied the two
    constants first, 1000 * -1.8e308 = -inf, and -inf * 0 is nan."""
    big = -1.7976931348623157e308
    p = Value(0.93)
    f = zg.compile(lambda xs: ((p + big) ** big) ** 1000.0, executor="jax")
    order = f.prepare([2.0])
    value, _, grads = f.value_and_grad([q.data for q in order], [2.0])
    r = f([2.0])
    r.backward()
    q = Value(0.93)
    eager = ((q + big) ** big) ** 1000.0
    eager.backward()
    assert eager.data == 0.0 and q.grad == 0.0
    assert float(value) == r.data == 0.0
    assert list(grads) == [p.grad] == [0.0]  # -0.0 == 0.0
