"""Every op in the op table, value and derivative, against PyTorch float64.

The tests are driven by ``zerograd.ops.OPS``: each op needs an entry in ``REFERENCES`` (how
to call it through zerograd's public API and what PyTorch computes), so adding an op to the
table without a reference here fails the suite.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import needs
from hypothesis import given, settings
from hypothesis import strategies as st

import zerograd as zg
from zerograd import engine
from zerograd.engine import Value
from zerograd.ops import BY_NAME, OPS, SCALAR

try:
    import torch
except ImportError:  # the tests that use it call needs("torch"): skipped without it
    torch = None

inf, nan = math.inf, math.nan

# Values where floating point gets interesting: zeros of both signs, tiny and huge numbers,
# overflow thresholds of exp, infinities and nan.
EDGES = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.5,
    2.0,
    3.0,
    1e-300,
    -1e-300,
    5e-324,
    1e300,
    -1e300,
    20.0,
    -20.0,
    709.0,
    710.0,
    -745.0,
    -746.0,
    1000.0,
    -1000.0,
    inf,
    -inf,
    nan,
]
numbers_ = st.one_of(
    st.floats(-10, 10),
    st.sampled_from(EDGES),
    st.floats(allow_nan=True, allow_infinity=True),
)
# Exponents for powc: integers (odd, even, negative, zero), halves, and arbitrary floats.
exponents = st.one_of(
    st.sampled_from([0.0, 1.0, 2.0, 3.0, -1.0, -2.0, -3.0, 0.5, -0.5, 1.5, 1 / 3]),
    st.floats(-6, 6),
    st.integers(-5, 5),
)


@dataclass(frozen=True)
class Ref:
    """How to apply an op with zerograd's public API and with torch (float64 tensors)."""

    zg: Callable[[list[Value], Any], Value]
    torch: Callable[[list[torch.Tensor], Any], torch.Tensor]
    arity: st.SearchStrategy[int] = st.just(1)


def _stack(ts):
    return torch.stack(ts)


def _torch_linear(ts, k):
    acc = ts[0]
    for i in range(1, len(ts), 2):
        acc = acc + ts[i] * ts[i + 1]
    return acc


REFERENCES: dict[str, Ref] = {
    "add": Ref(lambda v, k: v[0] + v[1], lambda t, k: t[0] + t[1], st.just(2)),
    "sub": Ref(lambda v, k: v[0] - v[1], lambda t, k: t[0] - t[1], st.just(2)),
    "mul": Ref(lambda v, k: v[0] * v[1], lambda t, k: t[0] * t[1], st.just(2)),
    "div": Ref(lambda v, k: v[0] / v[1], lambda t, k: t[0] / t[1], st.just(2)),
    "neg": Ref(lambda v, k: -v[0], lambda t, k: -t[0]),
    "pow": Ref(lambda v, k: v[0] ** v[1], lambda t, k: t[0] ** t[1], st.just(2)),
    # A constant exponent, as a user writes it in torch: pow(tensor, scalar), which takes
    # sqrt at 0.5 and 1 / sqrt at -0.5 ((-inf) ** 0.5 is nan, as zerograd's powc gives).
    "powc": Ref(lambda v, k: v[0] ** k, lambda t, k: t[0] ** float(k)),
    "relu": Ref(lambda v, k: v[0].relu(), lambda t, k: torch.relu(t[0])),
    "tanh": Ref(lambda v, k: v[0].tanh(), lambda t, k: torch.tanh(t[0])),
    "sigmoid": Ref(lambda v, k: v[0].sigmoid(), lambda t, k: torch.sigmoid(t[0])),
    "exp": Ref(lambda v, k: v[0].exp(), lambda t, k: torch.exp(t[0])),
    "log": Ref(lambda v, k: v[0].log(), lambda t, k: torch.log(t[0])),
    # softplus(x) = log(1 + e^x) = logaddexp(x, 0); F.softplus switches to x above 20.
    "softplus": Ref(
        lambda v, k: v[0].softplus(),
        lambda t, k: torch.logaddexp(t[0], torch.zeros((), dtype=torch.float64)),
    ),
    "abs": Ref(lambda v, k: abs(v[0]), lambda t, k: torch.abs(t[0])),
    "sqrt": Ref(lambda v, k: v[0].sqrt(), lambda t, k: torch.sqrt(t[0])),
    "sum": Ref(lambda v, k: zg.vsum(v), lambda t, k: _stack(t).sum(), st.integers(1, 5)),
    "linear": Ref(
        lambda v, k: zg.dot(v[1::2], v[2::2], v[0]),
        _torch_linear,
        st.integers(0, 3).map(lambda n: 1 + 2 * n),
    ),
    "logsumexp": Ref(
        lambda v, k: zg.logsumexp(v), lambda t, k: torch.logsumexp(_stack(t), 0), st.integers(1, 5)
    ),
}


def same(a: float, b: float, rel: float = 1e-12, abs_: float = 1e-300) -> bool:
    """Equal as IEEE results: both nan, the same infinity, or close (relative to size)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


# Derivatives such as tanh's 1 - out**2 cancel near saturation: one ulp of difference in
# out (libm vs torch) is 1e-16 absolute, so derivatives also get an absolute tolerance.
GRAD_ABS = 1e-15


def run_both(name: str, xs: list[float], k: Any = None):
    """(zerograd out, zerograd grads, torch out, torch grads) for op ``name`` at ``xs``."""
    needs("torch", "the reference values and derivatives")  # the tests calling this skip
    ref = REFERENCES[name]
    vals = [Value(x) for x in xs]
    out = ref.zg(vals, k)
    assert out._fn is BY_NAME[name], f"the zerograd call for {name!r} built a {out._fn} node"
    out.backward()
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    tout = ref.torch(ts, k)
    tout.backward()
    tgrads = [t.grad.item() if t.grad is not None else 0.0 for t in ts]
    return out.data, [v.grad for v in vals], tout.item(), tgrads


def sum_scale(name: str, xs: list[float]) -> float:
    """Sum of |terms| of a variadic op: its rounding error depends on the summation order
    (torch sums pairwise), so results that cancel are compared to this size, not their own."""
    if name == "linear":
        terms = [xs[0]] + [xs[i] * xs[i + 1] for i in range(1, len(xs), 2)]
    elif BY_NAME[name].arity is None:
        terms = xs
    else:
        return 0.0
    try:
        total = math.fsum(abs(t) for t in terms)
    except OverflowError:  # fsum raises where the exact sum passes float64's range
        return 0.0
    return total if math.isfinite(total) else 0.0


def check_against_torch(name: str, xs: list[float], k: Any = None) -> None:
    data, grads, tdata, tgrads = run_both(name, xs, k)
    where = f"{name}{tuple(xs)}" + (f" with k={k!r}" if k is not None else "")
    scale = 1e-15 * sum_scale(name, xs)
    assert same(data, tdata, abs_=max(scale, 1e-300)), (
        f"{where}: zerograd {data!r}, torch {tdata!r}"
    )
    for i, (g, tg) in enumerate(zip(grads, tgrads, strict=True)):
        if math.isnan(tg):  # torch gives no value: any IEEE answer is acceptable
            continue
        assert same(g, tg, abs_=max(scale, GRAD_ABS)), (
            f"{where}: d/dx{i} zerograd {g!r}, torch {tg!r}"
        )


def test_every_op_in_the_table_has_a_torch_reference():
    names = [op.name for op in OPS]
    assert len(set(names)) == len(names), "op names in OPS must be unique"
    missing = sorted(set(names) - set(REFERENCES))
    assert not missing, f"ops without a torch reference in tests/test_ops.py: {missing}"
    stale = sorted(set(REFERENCES) - set(names))
    assert not stale, f"references for ops that are not in OPS: {stale}"


@pytest.mark.parametrize("name", [op.name for op in OPS])
@settings(max_examples=120)
@given(data=st.data())
def test_op_value_and_derivative_match_torch(name, data):
    ref = REFERENCES[name]
    n = data.draw(ref.arity, label="arity")
    xs = data.draw(st.lists(numbers_, min_size=n, max_size=n), label="xs")
    k = data.draw(exponents, label="k") if BY_NAME[name].param else None
    check_against_torch(name, xs, k)


@pytest.mark.parametrize("name", [op.name for op in OPS])
@given(data=st.data())
def test_op_matches_torch_at_ordinary_points(name, data):
    """Away from the edges torch always gives a value: the derivative must match too."""
    ref = REFERENCES[name]
    n = data.draw(ref.arity, label="arity")
    positive = name in ("log", "sqrt", "pow", "powc", "div")  # keep to the real domain
    lo = 0.1 if positive else -5.0
    xs = data.draw(st.lists(st.floats(lo, 5.0), min_size=n, max_size=n), label="xs")
    k = data.draw(st.floats(-3, 3), label="k") if BY_NAME[name].param else None
    data_, grads, tdata, tgrads = run_both(name, xs, k)
    assert math.isclose(data_, tdata, rel_tol=1e-12, abs_tol=1e-15)
    for g, tg in zip(grads, tgrads, strict=True):
        assert not math.isnan(tg)
        assert math.isclose(g, tg, rel_tol=1e-12, abs_tol=1e-15), (xs, k, grads, tgrads)


class ZG:
    """The functions the edge expressions need, zerograd's way."""

    softplus = staticmethod(lambda v: v.softplus())
    logsumexp = staticmethod(zg.logsumexp)
    powc = staticmethod(lambda v, k: v**k)


class TORCH:
    """The same functions, torch's way."""

    softplus = staticmethod(lambda t: torch.logaddexp(t, torch.zeros_like(t)))
    logsumexp = staticmethod(lambda ts: torch.logsumexp(torch.stack(list(ts)), 0))
    powc = staticmethod(lambda t, k: torch.pow(t, torch.tensor(float(k), dtype=torch.float64)))


@pytest.mark.parametrize(
    "expr, expected",
    [
        (lambda v, f: v / 0, inf),
        (lambda v, f: -v / 0, -inf),
        (lambda v, f: (v - v) / 0, nan),
        (lambda v, f: (v - 1).log(), -inf),
        (lambda v, f: (v - 2).log(), nan),
        (lambda v, f: (v * 1000).exp(), inf),
        (lambda v, f: (v * 1000).tanh(), 1.0),
        (lambda v, f: (v * -1000).tanh(), -1.0),
        (lambda v, f: (v * -1000).sigmoid(), 0.0),
        (lambda v, f: (v * 1000).sigmoid(), 1.0),
        (lambda v, f: f.softplus(v * 1000), 1000.0),
        (lambda v, f: f.softplus(v * -1000), 0.0),
        (lambda v, f: (v - 1) ** -1, inf),
        (lambda v, f: (v - 2).sqrt(), nan),
        (lambda v, f: (v * 1e200) ** 2, inf),
        (lambda v, f: 10 ** (v * 1000), inf),
        (lambda v, f: f.logsumexp([v * 1000, v * 1000]), 1000 + math.log(2)),
        (lambda v, f: f.logsumexp([v * -1000, v * -1000]), -1000 + math.log(2)),
    ],
)
def test_edge_values_follow_ieee_like_torch(expr, expected):
    """Nothing raises (no OverflowError, ZeroDivisionError, ValueError); values are IEEE's
    and agree with torch, as do the derivatives wherever torch gives one."""
    needs("torch", "the reference values and derivatives")
    v = Value(1.0)
    out = expr(v, ZG)
    out.backward()
    t = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    tout = expr(t, TORCH)
    tout.backward()
    assert same(out.data, expected), out.data
    assert same(out.data, tout.item())
    if not math.isnan(t.grad.item()):
        assert same(v.grad, t.grad.item()), (v.grad, t.grad.item())


MAX = 1.7976931348623157e308


# (rel 1e-15 where torch's formula takes an exp or log as a tensor op: those come from MKL,
# whose last bit depends on the CPU; elsewhere, bit for bit)
@pytest.mark.parametrize(
    "xs, expr, rel",
    [
        # powc: torch's grad * (k * x ** (k - 1)); g * k first overflowed to -inf
        ([0.06931471805599453], lambda v, f: f.powc(v[0], 3) * -MAX, 0.0),
        ([1e-300], lambda v, f: f.powc(v[0], 0.5) * 5e-324, 0.0),  # g * k underflowed to 0
        # powc with k == 0: zeros, whatever the incoming gradient
        ([2.0], lambda v, f: f.powc(v[0], 0) * inf, 0.0),
        ([0.0], lambda v, f: f.powc(v[0], 0) * nan, 0.0),
        # pow's exponent: grad * where((x == 0) & (y >= 0), 0, out * log(x)): inf * 0 = nan
        ([0.0, 2.0, inf], lambda v, f: v[0] ** v[1] * v[2], 0.0),
        ([-0.0, 0.0, -inf], lambda v, f: v[0] ** v[1] * v[2], 0.0),
        ([0.0, 0.0, nan], lambda v, f: v[0] ** v[1] * v[2], 0.0),
        ([0.0, 3.5, nan], lambda v, f: v[0] ** v[1] * v[2], 0.0),
        # pow's base: where(y == 0, 0, grad * (y * x ** (y - 1))): no 0 * inf from g * y
        ([5e-324, 5e-324, 0.5], lambda v, f: v[0] ** v[1] * v[2], 1e-15),
        ([1e300, 1e-300, -inf], lambda v, f: v[0] ** v[1] * v[2], 0.0),
        ([2.0, 0.0, inf], lambda v, f: v[0] ** v[1] * v[2], 0.0),
        # sigmoid: 1 / (1 + exp(-x)) (0 below -709.78), derivative grad * (1 - out) * out
        ([-710.0], lambda v, f: v[0].sigmoid() * 1e300, 0.0),
        ([1.26], lambda v, f: v[0].sigmoid() * -2.6, 0.0),
        # softplus as logaddexp(x, 0): grad / (1 + exp(-x)), not grad * sigmoid(x)
        ([-710.0], lambda v, f: f.softplus(v[0]) * 1e300, 0.0),
        ([-30.0], lambda v, f: f.softplus(v[0]) * 3.0, 1e-15),
    ],
)
def test_derivatives_at_the_edges_are_torchs(xs, expr, rel):
    """Each row once differed: value and every gradient are torch's, nan included (torch's
    formulas, evaluated in its order, with its masks)."""
    needs("torch", "the reference values and derivatives")
    vals = [Value(x) for x in xs]
    out = expr(vals, ZG)
    out.backward()
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    tout = expr(ts, TORCH)
    tout.backward()
    assert same(out.data, tout.item(), rel=rel, abs_=0.0), (out.data, tout.item())
    for v, t in zip(vals, ts, strict=True):
        assert same(v.grad, t.grad.item(), rel=rel, abs_=0.0), (xs, v.grad, t.grad.item())


@pytest.mark.parametrize("x", [0.3, -0.6, 0.9, 3.0, -10.0, 10.0, 18.0, 1e-8])
def test_tanh_derivative_is_within_an_ulp_of_exact(x):
    """tanh's 1 - out**2 is rounded once, as torch's fused multiply-add gives it (rounding
    out**2 first lost digits as |out| -> 1: 1e-8 relative at x = 10)."""
    from fractions import Fraction

    v = Value(x)
    v.tanh().backward()
    out = math.tanh(x)
    exact = float(1 - Fraction(out) ** 2)
    assert abs(v.grad - exact) <= math.ulp(exact), (v.grad, exact)


NASTY = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1000.0, -1000.0, inf, -inf, nan]


@pytest.mark.parametrize("name", [op.name for op in OPS])
def test_op_at_every_combination_of_edge_values_matches_torch(name):
    """An exhaustive grid of the nastiest values (every pair for two operands): nothing
    raises, and values and derivatives agree with torch wherever torch gives one."""
    needs("torch", "the reference values and derivatives")
    op = BY_NAME[name]
    n = {None: 2, 1: 1, 2: 2}[op.arity] if name != "linear" else 3
    ks = [None] if not op.param else [0.0, 1.0, 2.0, 3.0, -1.0, -2.0, 0.5, -0.5, 1000.0, -1000.0]
    for xs in itertools.product(NASTY, repeat=n):
        for k in ks:
            check_against_torch(name, list(xs), k)


@given(x=st.floats(-5, 5), y=st.floats(0.1, 5), c=st.floats(-3, 3).filter(lambda c: c != 0))
def test_numbers_work_on_either_side_of_every_operator(x, y, c):
    """``v op c`` and ``c op v`` for + - * / ** against torch, values and grads."""
    needs("torch", "the reference values and derivatives")
    exprs = [
        lambda v, w: v + c,
        lambda v, w: c + v,
        lambda v, w: v - c,
        lambda v, w: c - v,
        lambda v, w: v * c,
        lambda v, w: c * v,
        lambda v, w: v / c,
        lambda v, w: c / w,
        lambda v, w: w**c,
        lambda v, w: abs(c) ** v,
        lambda v, w: w**v,
        lambda v, w: -v,
    ]
    for f in exprs:
        a, b = Value(x), Value(y)
        out = f(a, b)
        out.backward()
        ta = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        tb = torch.tensor(y, dtype=torch.float64, requires_grad=True)
        tout = f(ta, tb)
        tout.backward()
        assert math.isclose(out.data, tout.item(), rel_tol=1e-12, abs_tol=1e-300)
        for g, t in ((a.grad, ta.grad), (b.grad, tb.grad)):
            tg = 0.0 if t is None else t.item()
            assert math.isclose(g, tg, rel_tol=1e-12, abs_tol=1e-300)


def test_operators_build_the_expected_ops():
    a, b = Value(2.0), Value(3.0)
    assert (a**b)._fn is BY_NAME["pow"]
    assert (2**b)._fn is BY_NAME["pow"]
    assert (a**2)._fn is BY_NAME["powc"]
    assert (a**2)._op == "**2"
    assert (a**0.5)._op == "**0.5"
    assert (a + 1)._op == "+" and (a * 1)._op == "*" and a.relu()._op == "ReLU"


@pytest.mark.parametrize("bad", ["a", None, [1.0], (1.0,), {"x": 1}, 1 + 2j])
def test_operators_with_non_numbers_raise_type_error(bad):
    v = Value(1.0)
    for f in (
        lambda: v + bad,
        lambda: bad + v,
        lambda: v * bad,
        lambda: v - bad,
        lambda: v / bad,
        lambda: v**bad,
    ):
        with pytest.raises(TypeError):
            f()


def test_functional_ops_refuse_non_numbers_and_bad_sizes():
    with pytest.raises(TypeError, match="str"):
        zg.vsum([Value(1.0), "a"])
    with pytest.raises(TypeError, match="NoneType"):
        zg.logsumexp([None])
    with pytest.raises(ValueError, match="at least one"):
        zg.logsumexp([])
    with pytest.raises(ValueError, match="2 weights .* 3 inputs|as many weights"):
        zg.dot([1.0, 2.0], [1.0, 2.0, 3.0])


def test_vsum_and_dot_equal_the_chains_they_replace():
    xs = [Value(float(i) * 0.37 - 1) for i in range(7)]
    ws = [Value(float(i) * -0.21 + 0.5) for i in range(7)]
    b = Value(0.25)
    assert zg.vsum(xs).data == sum(xs).data
    assert zg.vsum(xs, start=b).data == sum(xs, b).data
    assert zg.vsum([]).data == 0.0
    assert zg.dot(ws, xs, b).data == sum((w * x for w, x in zip(ws, xs, strict=True)), b).data
    out = zg.dot(ws, xs, b)
    assert len(out._prev) == 15  # one node with every operand, not a chain
    out.backward()
    assert [x.grad for x in xs] == [w.data for w in ws]
    assert [w.grad for w in ws] == [x.data for x in xs]
    assert b.grad == 1.0


def test_logsumexp_is_stable_for_huge_and_infinite_inputs():
    needs("torch", "the reference values and derivatives")
    for xs in (
        [1000.0, 1000.0, -1000.0],
        [-1000.0, -999.0],
        [inf, 1.0],
        [-inf, 1.0],
        [-inf, -inf],
        [1e308, 1e308],
    ):
        vals = [Value(x) for x in xs]
        out = zg.logsumexp(vals)
        out.backward()
        ts = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
        tout = torch.logsumexp(ts, 0)
        tout.backward()
        assert same(out.data, tout.item()), (xs, out.data, tout.item())
        for v, tg in zip(vals, ts.grad.tolist(), strict=True):
            if not math.isnan(tg):
                assert same(v.grad, tg), (xs, [v.grad for v in vals], ts.grad.tolist())


@st.composite
def programs(draw):
    """A random DAG: a few leaves, then ops (any op in the table) over earlier nodes, with
    nodes reused freely (an operand may be any earlier node, even twice in one op)."""
    leaf = st.floats(0.1, 2.0) | st.floats(-2.0, -0.1)
    leaves = draw(st.lists(leaf, min_size=1, max_size=4), label="leaves")
    steps = []
    for _ in range(draw(st.integers(1, 16), label="n ops")):
        op = draw(st.sampled_from(OPS), label="op")
        n = draw(REFERENCES[op.name].arity)
        operands = draw(
            st.lists(st.integers(0, len(leaves) + len(steps) - 1), min_size=n, max_size=n),
            label="operands",
        )
        k = draw(st.sampled_from([2.0, 3.0, -1.0, 0.5])) if op.param else None
        steps.append((op.name, operands, k))
    return leaves, steps


def run_program(leaves, steps, make_leaf, apply, total):
    nodes = [make_leaf(x) for x in leaves]
    for name, operands, k in steps:
        nodes.append(apply(name, [nodes[i] for i in operands], k))
    return nodes[: len(leaves)], total(nodes[len(leaves) :])


def error_scales(root: Value) -> dict[int, float]:
    """For every node, the sum of |every gradient contribution| that reaches it, propagated
    like a gradient (the op table's own derivatives at |g|). Gradients that cancel can differ
    by rounding in proportion to this size, whatever order the two libraries add them in."""
    scale = {id(root): 1.0}
    for v in reversed(engine.topological_order(root)):
        if v._fn is None:
            continue
        g, ch = scale.get(id(v), 0.0), v._children
        if v._fn.param:
            local = v._fn.backward(SCALAR, g, v.data, ch[0].data, v._arg)
        else:
            local = v._fn.backward(SCALAR, g, v.data, *[c.data for c in ch])
        for c, d in zip(ch, local, strict=True):
            scale[id(c)] = scale.get(id(c), 0.0) + abs(d)
    return scale


def close_1e9(a: float, b: float, scale: float = 0.0) -> bool:
    """Equal to 1e-9 relative, or within rounding of contributions of total size ``scale``."""
    if same(a, b, rel=1e-9, abs_=1e-12):
        return True
    if not math.isfinite(scale):  # contributions overflow: the order of additions decides
        return True
    return abs(a - b) <= 1e-12 * scale


@settings(max_examples=150)
@given(program=programs())
def test_random_graphs_with_shared_nodes_match_torch(program):
    """Data and every leaf's grad of a random DAG agree with PyTorch to 1e-9 relative."""
    needs("torch", "the reference values and derivatives")
    leaves, steps = program
    zleaves, zroot = run_program(
        leaves, steps, Value, lambda name, xs, k: REFERENCES[name].zg(xs, k), zg.vsum
    )
    zroot.backward()
    tleaves, troot = run_program(
        leaves,
        steps,
        lambda x: torch.tensor(x, dtype=torch.float64, requires_grad=True),
        lambda name, xs, k: REFERENCES[name].torch(xs, k),
        lambda ts: torch.stack(ts).sum(),
    )
    troot.backward()
    size = math.fsum(abs(v.data) for v in zroot._prev)
    assert close_1e9(zroot.data, troot.item(), size), (zroot.data, troot.item())
    scales = error_scales(zroot)
    for z, t in zip(zleaves, tleaves, strict=True):
        tg = t.grad.item() if t.grad is not None else 0.0
        assert close_1e9(z.grad, tg, scales.get(id(z), 0.0)), (
            [v.grad for v in zleaves],
            [t.grad for t in tleaves],
        )
