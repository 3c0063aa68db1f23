"""benchmarks/fuzz.py's reasons for a jax result that differs from eager: each is accepted
only where recomputing the program as XLA computes it gives jax's numbers."""

from __future__ import annotations

import math
import os
import sys
from fractions import Fraction

from conftest import needs

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))

needs("jax", "the executor whose differences are explained")
needs("torch", "test_fuzz's reference")
import fuzz  # noqa: E402
import test_fuzz as tf  # noqa: E402
from test_fuzz import Program, Step  # noqa: E402

inf, nan, MAX = math.inf, math.nan, sys.float_info.max


def test_fma_rounds_the_exact_result_once():
    assert fuzz.fma(0.1, 10.0, -1.0) == float(Fraction(0.1) * 10 - 1) == 2.0**-54
    assert 0.1 * 10.0 - 1.0 == 0.0  # rounded twice: the product's error is lost
    assert fuzz.fma(-1e300, 1e154, inf) == inf  # the product does not overflow inside
    assert math.isnan(-1e300 * 1e154 + inf)
    assert fuzz.fma(1e300, 1e300, -MAX) == inf and fuzz.fma(-1e300, 1e300, MAX) == -inf
    assert fuzz.fma(MAX, 2.0, -MAX) == MAX  # exact in range although MAX * 2 is not
    assert math.isnan(fuzz.fma(inf, 0.0, 1.0)) and math.isnan(fuzz.fma(1.0, 2.0, nan))
    assert fuzz.fma(2.0**-1074, 0.5, 0.0) == 0.0  # ties to even, to 0
    assert fuzz.fma(3 * 2.0**-1074, 0.5, 0.0) == 2 * 2.0**-1074  # 1.5 ulps: to even, 2
    assert math.copysign(1.0, fuzz.fma(-0.0, 1.0, -0.0)) == -1.0
    assert math.copysign(1.0, fuzz.fma(2.0, 3.0, -6.0)) == 1.0  # exact cancellation: +0


# the first unexplained program, reduced: inf + (-1e300 * 1e154) is nan, fused inf
DOT = Program((True, False, True), (Step("dot", (0, 1, 2)),), ((inf, -1e300, 1e154),) * 2)


def _numbers(prog: Program, s: int = 0) -> tuple[list, list[float]]:
    eager = tf.run_eager(prog, prog.samples[s])
    return eager, [eager[-1].data] + [v.grad for v, p in zip(eager, prog.params) if p]


def test_a_fused_dot_is_documented_where_it_gives_jax_numbers():
    eager, want = _numbers(DOT)
    assert math.isnan(want[0])
    data, grads = fuzz.run_jax(DOT)[0]
    assert data == inf  # XLA's fused multiply-add
    assert fuzz.jax_reasons(DOT, eager, data, grads) == [fuzz.FMA]
    assert fuzz.check(DOT, ["jax"]).documented


def test_a_fused_dot_does_not_explain_other_numbers():
    eager, want = _numbers(DOT)
    assert fuzz.jax_reasons(DOT, eager, -inf, want[1:]) == ["jax differs from eager"]
    assert fuzz.jax_reasons(DOT, eager, inf, [5.0, want[2]]) == ["jax differs from eager"]
    # no dot, the same numbers: a product fused into a sum, not a dot
    add = Program((True, False, True), (Step("mul", (1, 2)), Step("add", (0, 3))),
                  DOT.samples)
    eager, want = _numbers(add)
    assert math.isnan(want[0])
    assert fuzz.jax_reasons(add, eager, inf, want[1:]) == [fuzz.CONTRACT]
    # a quotient in the sum: nothing to fuse
    quotient = Program((True, False, True), (Step("div", (1, 2)), Step("add", (0, 3))),
                       ((inf, -1e300, 1e-154),) * 2)
    eager, want = _numbers(quotient)
    assert math.isnan(want[0])
    assert fuzz.jax_reasons(quotient, eager, inf, want[1:]) == ["jax differs from eager"]


def test_recomputing_without_xla_gives_eager_numbers():
    """The recomputation is eager's own where the change does not apply: over programs
    without dot, fusing dots or taking XLA's functions agrees with eager (so a reason is not
    free)."""
    seen = 0
    for i in range(150):
        prog = tf.program_at(3, i)
        if any(st.op == "dot" for st in prog.steps):
            continue
        eager, want = _numbers(prog)
        for changes in (("dots",), ("math",)):  # exp/log/tanh/pow: XLA's to an ulp or two
            got = fuzz.as_xla(prog, eager, *changes)
            assert all(tf.agree(a, b) for a, b in zip(got, want)), (i, changes, got, want)
        seen += 1
    assert seen > 50


# program_at(1, 319), sample 1: tanh near 1, whose derivative 1 - out * out loses ~4 digits
# to cancellation, so XLA's tanh (an ulp from libm's) moves a gradient by 5e-12
TANH = tf.program_at(1, 319)


def test_xla_math_is_documented_where_it_gives_jax_numbers():
    eager, want = _numbers(TANH, 1)
    data, grads = fuzz.run_jax(TANH)[1]
    assert not all(tf.agree(a, b) for a, b in zip([data, *grads], want))
    assert fuzz.jax_reasons(TANH, eager, data, grads) == [fuzz.MATH]


def test_xla_math_does_not_explain_other_numbers():
    eager, want = _numbers(TANH, 1)
    data, grads = fuzz.run_jax(TANH)[1]
    off = [grads[0] * (1 + 1e-9), *grads[1:]]  # 1e-9: beyond an ulp of tanh, amplified
    assert fuzz.jax_reasons(TANH, eager, data, off) == ["jax differs from eager"]


# the constant -5e-324 is subnormal: XLA divides by zero, eager by it (to 3.5e307)
TINY_DIV = Program((True,), (Step("mul", (0, -1.7)), Step("div", (1, -5e-324)),
                             Step("sigmoid", (0,)), Step("add", (3, 2))), ((1e-16,),) * 2)


def test_flushed_subnormals_are_documented_where_they_give_jax_numbers():
    eager, want = _numbers(TINY_DIV)
    assert want[0] == -1.7e-16 / -5e-324 + eager[3].data
    data, grads = fuzz.run_jax(TINY_DIV)[0]
    assert data == inf  # -1.7e-16 / 0.0
    assert fuzz.jax_reasons(TINY_DIV, eager, data, grads) == [fuzz.FLUSH]


def test_flushed_subnormals_do_not_explain_other_numbers():
    eager, want = _numbers(TINY_DIV)
    assert fuzz.jax_reasons(TINY_DIV, eager, nan, want[1:]) == ["jax differs from eager"]
    assert fuzz.jax_reasons(TINY_DIV, eager, want[0] * 1.5, want[1:]) == [
        "jax differs from eager"]
    # a node of 1e-310 (subnormal) does not make every difference documented
    prog = Program((True,), (Step("mul", (0, 1e-300)), Step("add", (1, 0))), ((1e-10,),) * 2)
    eager, want = _numbers(prog)
    assert 0 < eager[1].data < 2.2e-308
    assert fuzz.jax_reasons(prog, eager, want[0], want[1:]) == [fuzz.FLUSH]  # 1e-10 + 0
    assert fuzz.jax_reasons(prog, eager, 2e-10, want[1:]) == ["jax differs from eager"]


# program_at(1, 142), sample 1: a gradient of 1 + -1 + 5.9e-17, which eager rounds to 0.0
ORDER = tf.program_at(1, 142)


def test_another_order_of_adding_gradients_is_documented_within_its_bound():
    eager, want = _numbers(ORDER, 1)
    data, grads = fuzz.run_jax(ORDER)[1]
    assert want[1] == 0.0 and grads[0] != 0.0 and abs(grads[0]) < 1e-16
    assert fuzz.jax_reasons(ORDER, eager, data, grads) == [fuzz.ORDER]
    # 1e-13: beyond 64 ulps of the contributions' magnitudes (about 3)
    assert fuzz.jax_reasons(ORDER, eager, data, [1e-13, *grads[1:]]) == [
        "jax differs from eager"]
    assert fuzz.jax_reasons(ORDER, eager, data * (1 + 1e-9), grads) == [
        "jax differs from eager"]  # a value is not a sum of gradient contributions


# program_at(1, 232), sample 1: pow(-(-5e-324), 1e-300): XLA's negation keeps the subnormal,
# its pow takes it (1.0), the derivative's test x == 0 takes it as 0 (eager: log(5e-324))
SUBNORMAL_POW = tf.program_at(1, 232)


def test_flushing_follows_which_xla_ops_flush():
    eager, want = _numbers(SUBNORMAL_POW, 1)
    data, grads = fuzz.run_jax(SUBNORMAL_POW)[1]
    assert want[1] < -1000 and 0 < grads[0] < 1
    assert fuzz.jax_reasons(SUBNORMAL_POW, eager, data, grads) == [fuzz.FLUSH, fuzz.MATH]
    assert fuzz.jax_reasons(SUBNORMAL_POW, eager, data, [0.0, *grads[1:]]) == [
        "jax differs from eager"]


def test_flushing_reaches_inside_an_op():
    """program_at(1, 624), sample 0: a division's derivative -g * (out / y) at y = MAX holds
    1 / MAX = 5.6e-309, which XLA flushes: the gradient is 2.0 for eager's 1.0."""
    prog = tf.program_at(1, 624)
    eager, want = _numbers(prog)
    data, grads = fuzz.run_jax(prog)[0]
    assert want[2] == 1.0 and grads[1] == 2.0
    assert fuzz.jax_reasons(prog, eager, data, grads) == [fuzz.FLUSH]
    assert fuzz.jax_reasons(prog, eager, data, [grads[0], 3.0, grads[2]]) == [
        "jax differs from eager"]


# program_at(1, 3979), sample 1: node 5 = x*x - x*x (one mul node, used twice) at x = -2.96e13;
# XLA fuses the product into the subtraction, fma(-x, x, x*x): the product's rounding error
PRODUCT_SUM = tf.program_at(1, 3979)


def test_a_product_fused_into_a_sum_is_documented_where_it_gives_jax_numbers():
    eager, want = _numbers(PRODUCT_SUM, 1)
    data, grads = fuzz.run_jax(PRODUCT_SUM)[1]
    x = PRODUCT_SUM.samples[1][1]
    error = float(Fraction(x) * Fraction(x) - Fraction(x * x))  # exact x² less rounded x²
    assert want[1] == 0.0 and grads[0] == -error != 0.0
    assert fuzz.jax_reasons(PRODUCT_SUM, eager, data, grads) == [fuzz.CONTRACT]


def test_a_product_fused_into_a_sum_does_not_explain_other_numbers():
    eager, want = _numbers(PRODUCT_SUM, 1)
    data, grads = fuzz.run_jax(PRODUCT_SUM)[1]
    # the other product fused (the error's other sign), or another value
    assert fuzz.jax_reasons(PRODUCT_SUM, eager, data, [-grads[0], *grads[1:]]) == [
        "jax differs from eager"]
    assert fuzz.jax_reasons(PRODUCT_SUM, eager, data * (1 + 1e-9), grads) == [
        "jax differs from eager"]


# program_at(1, 5830) reduced: x ** 5e-324, whose constant XLA flushes in the derivative
# 5e-324 * x ** (5e-324 - 1): the gradient is 0.0 where eager's is 9.5e-117
TINY_POWER = Program((True,), (Step("pow", (0, 5e-324)),), ((5.2e-208,),))


def test_a_flushed_constant_is_documented_where_it_gives_jax_numbers():
    eager, want = _numbers(TINY_POWER)
    data, grads = fuzz.run_jax(TINY_POWER)[0]
    assert want == [1.0, 5e-324 * 5.2e-208 ** (5e-324 - 1)] and want[1] > 9e-117
    assert data == 1.0 and grads == [0.0]
    assert fuzz.jax_reasons(TINY_POWER, eager, data, grads) == [fuzz.FLUSH]
    assert fuzz.jax_reasons(TINY_POWER, eager, 0.0, grads) == ["jax differs from eager"]
    assert fuzz.jax_reasons(TINY_POWER, eager, data, [1e-117]) == ["jax differs from eager"]
