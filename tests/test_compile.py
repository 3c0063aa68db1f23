"""zg.compile: traced once, replayed by every executor with the eager engine's numbers."""

from __future__ import annotations

import math
import random
import re

import numpy as np
import pytest
from conftest import needs
from hypothesis import given, settings
from hypothesis import strategies as st

import zerograd as zg
from zerograd import modes, monitor
from zerograd.compile import EXECUTORS, TraceError
from zerograd.compile.backends import ARRAY, lit
from zerograd.engine import Value
from zerograd.ops import OPS, SCALAR, ScalarMath

EXACT = ("python", "scalar")  # these run the scalar math in the eager order: bit for bit
JAX = pytest.mark.needs("jax", "the jax executor")


def executors(*names: str) -> list:
    """The executors as parameters: "jax" needs JAX (skipped without it)."""
    return [pytest.param(n, marks=JAX) if n == "jax" else n for n in names]


ALL = executors(*sorted(EXECUTORS))
inf, nan = math.inf, math.nan


def close(a: float, b: float, rel: float = 1e-12) -> bool:
    """Equal to ``rel`` relative to max(|a|, |b|, 1); nan matches nan, inf matches inf."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b), 1.0)


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def check(executor: str, got: list[float], want: list[float], what: str) -> None:
    ok = same if executor in EXACT else close
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if not ok(g, w)]
    assert not bad, f"{executor}: {what} differ from eager at (index, compiled, eager) {bad[:5]}"


# -- the op table: every op, every executor -------------------------------------------------
GRID = [-2.5, -1.0, -0.5, 0.0, 0.3, 1.0, 2.0, 3.7]
EDGES = [-0.0, inf, -inf, nan, 1e300, -1e-300, 710.0, -746.0]


def operand_rows(arity: int, n: int, seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    rows = [[rng.choice(GRID) for _ in range(arity)] for _ in range(n)]
    rows += [[rng.choice(GRID + EDGES) for _ in range(arity)] for _ in range(n // 2)]
    rows += [[e] * arity for e in EDGES]
    return rows


def op_cases(op, arity: int | None) -> tuple[list[list[float]], list[float]]:
    arity = op.arity or arity  # variadic ops: b, w0, x0, w1, x1 for linear
    rows = operand_rows(arity, 16, seed=len(op.name))
    ks = [rng for rng in [2.0, 3.0, -1.0, 0.5, 0.0, 1.5, -2.0, 1 / 3]]
    return rows, [ks[i % len(ks)] for i in range(len(rows))]


CASES = [(op, n) for op in OPS for n in ([None] if op.arity else [5, 1])]


@pytest.mark.parametrize("executor", ALL)
@pytest.mark.parametrize("op, arity", CASES,
                         ids=[op.name + (f"-{n}" if n else "") for op, n in CASES])
def test_every_op_in_the_table_matches_eager(op, arity, executor):
    """Each op, forward and gradient, many operand values, one result per case; variadic
    ops with five operands and with one (which some return as is)."""
    rows, ks = op_cases(op, arity)
    # even operand positions are parameters (closed over), odd ones come in as arguments
    params = [[Value(x) for x in row] for row in rows]

    def fn(xs):
        outs = []
        for i, (ps, row) in enumerate(zip(params, xs)):
            operands = [p if j % 2 == 0 else x for j, (p, x) in enumerate(zip(ps, row))]
            k = ks[i] if op.param else None
            outs.append(zg.engine.apply(op, tuple(operands), k))
        return outs

    f = zg.compile(fn, executor=executor)
    for trial in range(2):  # the trace, then a replay with new numbers
        data = [[x * (1 + trial) for x in row] for row in rows]
        got = f(data)
        eager = fn([[Value(x) for x in row] for row in data])
        check(executor, [r.data for r in got], [e.data for e in eager], f"{op.name} values")
        for r, e, ps in zip(got, eager, params):
            for p in ps:
                p.grad = 0.0
            e.backward()
            want = [p.grad for p in ps]
            for p in ps:
                p.grad = 0.0
            r.backward()
            check(executor, [p.grad for p in ps], want, f"{op.name} gradients")


def test_array_backend_matches_the_scalar_backend_on_every_function():
    """ArrayMath has each ScalarMath function, with the same IEEE results."""
    names = [n for n in dir(ScalarMath) if not n.startswith("_")]
    xs = np.array(GRID + EDGES + [0.5, -3.0, 1e-320, 20.0])
    ys = np.roll(xs, 3)
    with np.errstate(all="ignore"):
        for name in names:
            assert hasattr(ARRAY, name), f"ArrayMath lacks {name}: the numpy executor needs it"
            f, g = getattr(SCALAR, name), getattr(ARRAY, name)
            n = f.__code__.co_argcount if hasattr(f, "__code__") else 1
            if name == "where":
                got, want = g(xs > 0, xs, ys), [f(c, a, b) for c, a, b in zip(xs > 0, xs, ys)]
            elif n == 2:
                got, want = g(xs, ys), [f(a, b) for a, b in zip(xs.tolist(), ys.tolist())]
            else:
                got, want = g(xs), [f(a) for a in xs.tolist()]
            check("numpy", np.asarray(got, dtype=float).tolist(), want, f"ArrayMath.{name}")


@pytest.mark.parametrize("a_kind", ["array", "row", "+0.0", "-0.0", "1.5", "nan"])
@pytest.mark.parametrize("b_kind", ["array", "column", "+0.0", "-0.0", "-2.0"])
def test_where_on_large_arrays_selects_the_same_bits_as_np_where(a_kind, b_kind):
    """From SELECT_MIN elements on, ArrayMath.where is a bitwise select: the same bits as
    np.where (signed zeros, infinities, nan payloads), broadcasting the same way."""
    from zerograd.compile.backends import SELECT_MIN

    rng = np.random.default_rng(1)
    E, Q = 64, SELECT_MIN // 64 + 3
    edges = np.array(EDGES + [-0.0, 1e-320, -1e-320])

    def operand(kind, shape):
        if kind in ("array", "row", "column"):
            x = rng.standard_normal(shape)
            x.flat[: len(edges)] = edges
            return x
        return float(kind)

    a = operand(a_kind, {"row": (1, Q)}.get(a_kind, (E, Q)))
    b = operand(b_kind, {"column": (E, 1)}.get(b_kind, (E, Q)))
    cond = rng.random((E, Q)) < 0.5
    got, want = ARRAY.where(cond, a, b), np.where(cond, a, b)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert np.array_equal(got.view(np.int64), want.view(np.int64))
    x = operand("array", (E, Q))
    for name in ("sign", "maximum"):
        args = (x,) if name == "sign" else (x, np.roll(x, 7))
        got = getattr(ARRAY, name)(*args)
        want = [getattr(SCALAR, name)(*vals) for vals in zip(*(y.ravel().tolist() for y in args))]
        assert np.array_equal(got.ravel().view(np.int64), np.array(want).view(np.int64)), name


def test_literals_in_generated_code_round_trip():
    for x in [0.1, -0.0, 1e-320, -2.5, 1e300, 3, -4, True]:
        assert eval(lit(x)) == x and str(eval(lit(x))) == str(x)
    ns = {"inf": inf, "nan": nan}
    assert eval(lit(inf), ns) == inf and eval(lit(-inf), ns) == -inf
    assert math.isnan(eval(lit(nan), ns))


# -- random graphs with shared sub-expressions ----------------------------------------------
UNARY = ["tanh", "relu", "sigmoid", "softplus", "abs", "neg"]
BINARY = ["add", "sub", "mul"]


@st.composite
def graphs(draw):
    """A recipe: each step applies an op to earlier nodes (any of them: sharing is common)."""
    n_params = draw(st.integers(1, 4))
    leaves = draw(st.lists(st.floats(-2, 2), min_size=n_params + 2, max_size=n_params + 2))
    steps = []
    for i in range(draw(st.integers(1, 25))):
        pick = st.integers(0, len(leaves) + i - 1)
        kind = draw(st.sampled_from(["unary", "binary", "binary", "dot", "sum", "vsum", "lse",
                                     "sq"]))
        if kind == "unary":
            steps.append((draw(st.sampled_from(UNARY)), [draw(pick)]))
        elif kind == "binary":
            steps.append((draw(st.sampled_from(BINARY)), [draw(pick), draw(pick)]))
        else:
            steps.append((kind, draw(st.lists(pick, min_size=1, max_size=5))))
    return n_params, leaves, steps


def build(recipe, params, xs):
    n_params, _, steps = recipe
    nodes = list(params) + list(xs)
    for kind, at in steps:
        a = [nodes[i] for i in at]
        if kind == "neg":
            nodes.append(-a[0])
        elif kind in UNARY:
            nodes.append(getattr(a[0], kind)())
        elif kind == "add":
            nodes.append(a[0] + a[1])
        elif kind == "sub":
            nodes.append(a[0] - a[1])
        elif kind == "mul":
            nodes.append(a[0] * a[1])
        elif kind == "dot":
            nodes.append(zg.dot(a, a[::-1], 0.5))
        elif kind == "sum":
            nodes.append(sum(a) * 0.5)  # Python's sum: a chain of adds from 0
        elif kind == "lse":
            nodes.append(zg.logsumexp(a))
        elif kind == "vsum":
            nodes.append(zg.vsum(a))
        else:
            nodes.append(a[0] ** 2)
    return nodes[-1] + 0.0 * sum(nodes)  # every node takes part


@pytest.mark.parametrize("executor", ALL)
@settings(max_examples=25, deadline=None)
@given(recipe=graphs())
def test_random_graphs_with_shared_subexpressions_match_eager(executor, recipe):
    n_params, leaves, _ = recipe
    params = [Value(x) for x in leaves[:n_params]]
    x0 = leaves[n_params:]
    f = zg.compile(lambda xs: build(recipe, params, xs), executor=executor)
    for xs in (x0, [x * 0.5 - 0.25 for x in x0]):
        got = f(xs)
        for p in params:
            p.grad = 0.0
        got.backward()
        mine = [p.grad for p in params]
        eager = build(recipe, params, [Value(x) for x in xs])
        for p in params:
            p.grad = 0.0
        eager.backward()
        check(executor, [got.data] + mine, [eager.data] + [p.grad for p in params], "graph")


def test_wide_random_graph_on_the_numpy_executor_matches_eager():
    """Many copies of one sub-network: the numpy executor's grid groups take part."""
    needs("jax", "the jax executor, one of every executor")
    rng = random.Random(7)
    model = zg.nn.MLP(3, [8, 8, 1], activation="tanh")
    X = [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(40)]

    def loss(X):
        fit = zg.vsum([(model(x) - 0.5) ** 2 for x in X])
        return fit + sum(p.abs() for p in model.parameters())

    for executor in sorted(EXECUTORS):
        f = zg.compile(loss, executor=executor)
        got = f(X)
        model.zero_grad()
        got.backward()
        mine = [p.grad for p in model.parameters()]
        eager = loss([[Value(a) for a in x] for x in X])
        model.zero_grad()
        eager.backward()
        check(executor, [got.data] + mine, [eager.data] + [p.grad for p in model.parameters()],
              "MLP")


@pytest.mark.parametrize("executor", ALL)
def test_long_sums_and_dots_compile_in_every_executor(executor):
    """3000-term folds: generated code must not nest 3000 parentheses deep."""
    ws = [Value(0.001 * i) for i in range(3000)]
    f = zg.compile(lambda xs: zg.dot(ws, xs) + sum(x * w for x, w in zip(xs, ws)),
                   executor=executor)
    xs = [1.0 + i % 7 for i in range(3000)]
    r = f(xs)
    r.backward()
    e = zg.dot(ws, xs) + sum(x * w for x, w in zip(xs, ws))
    got = [w.grad for w in ws]
    for w in ws:
        w.grad = 0.0
    e.backward()
    check(executor, [r.data] + got, [e.data] + [w.grad for w in ws], "long folds")


def test_long_folds_in_wide_numpy_groups():
    """20 dots of 1500 terms each: one group of generated NumPy code with a long fold."""
    ws = [Value(0.001 * i) for i in range(1500)]
    X = np.linspace(-1, 1, 20 * 1500).reshape(20, 1500)
    f = zg.compile(lambda X: zg.vsum([zg.dot(ws, row).tanh() for row in X]), executor="numpy")
    r = f(X)
    r.backward()
    got = [w.grad for w in ws]
    for w in ws:
        w.grad = 0.0
    e = zg.vsum([zg.dot(ws, [Value(a) for a in row]).tanh() for row in X.tolist()])
    e.backward()
    check("numpy", [r.data] + got, [e.data] + [w.grad for w in ws], "wide long folds")


@pytest.mark.parametrize("executor", ALL)
def test_an_op_returning_its_operand_unchanged(executor):
    """A one-term sum is its operand: the operand's own line must survive in the code."""
    w = Value(-2.0)
    f = zg.compile(lambda x: zg.vsum([(x * w).relu()]) * 3.0, executor=executor)
    r = f(-1.5)
    r.backward()
    assert (r.data, w.grad) == (9.0, -4.5)


@pytest.mark.parametrize("executor", executors("numpy", "jax"))
def test_several_results_of_a_wide_network_on_the_array_executors(executor):
    """The loss and each score: every backward follows only its own part of the graph
    (the batched, fused products are masked then)."""
    random.seed(5)
    model = zg.nn.MLP(3, [12, 12, 1])
    X = np.random.default_rng(5).normal(size=(20, 3))

    def fn(X):
        scores = [model(list(r)) for r in X]
        return [zg.vsum([s.relu() for s in scores])] + scores

    f = zg.compile(fn, executor=executor)
    got = f(X)
    eager = fn([[Value(a) for a in r] for r in X.tolist()])
    for i in (0, 3, 17):
        model.zero_grad()
        got[i].backward()
        mine = [p.grad for p in model.parameters()]
        model.zero_grad()
        eager[i].backward()
        check(executor, [got[i].data] + mine, [eager[i].data] + [p.grad for p in
                                                                 model.parameters()], f"result {i}")


def test_the_jax_executor_trains_a_layer_over_a_batch_in_one_call_as_eager_does():
    """value_and_grad (fit's fast path) through the jax executor: the layers run as matrix
    products (the gemm groups), the result and every gradient are eager's to 1e-12."""
    needs("jax", "the jax executor")
    random.seed(3)
    model = zg.nn.MLP(2, [8, 8, 1])
    X = np.random.default_rng(3).uniform(-1, 1, size=(30, 2)).tolist()
    Y = [1.0 if a * b > 0 else -1.0 for a, b in X]

    def loss(X, Y):
        data = zg.vsum([(1 + -y * model(x)).relu() for x, y in zip(X, Y)]) * (1 / len(X))
        return data + 1e-4 * sum(p * p for p in model.parameters())

    f = zg.compile(loss, executor="jax")
    params = f.prepare(X, Y)
    assert any("gemm" in g.run_forward.__qualname__ for g in f.executor.groups)
    for _ in range(2):  # the second call replays the compiled program on new numbers
        value, which, grads = f.value_and_grad(np.array([p.data for p in params]), X, Y)
        model.zero_grad()
        eager = loss([[Value(a) for a in x] for x in X], Y)
        eager.backward()
        assert which == list(range(len(params)))
        check("jax", [value, *np.asarray(grads).tolist()], [eager.data] + [p.grad for p in params],
              "value and gradients")
        for p in params:
            p.data -= 0.5 * p.grad


def test_a_jax_training_loop_takes_each_loss_with_its_gradients_in_one_call():
    """The lecture's loop over a jax-compiled loss: once a result's backward() has been
    called, the next call takes the loss and its gradients in one XLA call (not a forward
    and then a backward); the numbers are the eager loop's. A call whose result gets no
    backward() turns that off for the call after it."""
    needs("jax", "the jax executor")
    def setup():
        random.seed(4)
        model = zg.nn.MLP(2, [6, 6, 1])
        X = np.random.default_rng(4).uniform(-1, 1, size=(12, 2)).tolist()
        Y = [1.0 if a * b > 0 else -1.0 for a, b in X]

        def loss(X, Y):
            return sum((1 + -y * model(x)).relu() for x, y in zip(X, Y)) * (1 / len(X))
        return model, loss, X, Y

    def train(model, f, X, Y):
        losses = []
        for _ in range(3):
            out = f(X, Y)
            model.zero_grad()
            out.backward()
            for p in model.parameters():
                p.data -= 0.1 * p.grad
            losses.append(out.data)
        return losses + [p.data for p in model.parameters()] + [p.grad for p in
                                                                 model.parameters()]

    model, loss, X, Y = setup()
    f = zg.compile(loss, executor="jax")
    f.prepare(X, Y)
    calls = {"forward": 0, "value_and_grad": 0}
    for name in calls:
        method = getattr(f.executor, name)

        def counted(*args, name=name, method=method):
            calls[name] += 1
            return method(*args)
        setattr(f.executor, name, counted)
    got = train(model, f, X, Y)
    assert calls == {"forward": 1, "value_and_grad": 2}
    m_e, loss_e, X_e, Y_e = setup()
    assert got == pytest.approx(train(m_e, loss_e, X_e, Y_e), rel=1e-12, abs=1e-14)
    assert f(X, Y).data == pytest.approx(loss_e(X_e, Y_e).data, rel=1e-12)  # no backward()
    f(X, Y)
    assert calls == {"forward": 2, "value_and_grad": 3}


def test_pieces_read_and_write_as_one_buffer_would():
    """The jax executor's buffer of segments: slices and gathers within and across
    segments, partial and whole sets, and adds with repeated slots give a NumPy buffer's
    numbers (float64, as the executor runs), slots never written read 0; a gather
    cannot be set."""
    needs("jax", "the jax executor")
    import jax
    import jax.numpy as jnp

    from zerograd.compile.jaxexec import Pieces

    writes = [(slice(0, 4), np.arange(4.0), False), (slice(5, 9), 7.0, False),
              (slice(2, 7), np.arange(5.0) + 10, True), (8, 3.0, False),
              (np.array([1, 10, 10, 4, 1]), np.array([1.0, 2, 3, 4, 5]), True),
              (np.array([6, 0, 11, 4, 2]), np.arange(5.0) + 0.5, True)]  # distinct: a gather
    reads = [slice(0, 12), slice(5, 9), slice(3, 6), np.array([[11, 0], [4, 8]]),
             np.array([6, 7]), np.array([], dtype=int)]
    want = np.zeros(12)
    with jax.enable_x64(True):
        v = Pieces(jnp, np.array([0, 4, 5, 9, 12]), (None,) * 4)
        for key, x, add in writes:
            v = v.at[key].add(x) if add else v.at[key].set(x)
            if add and isinstance(key, np.ndarray):
                np.add.at(want, key, x)
            elif add:
                want[key] += x
            else:
                want[key] = x
        for key in reads:
            got = np.asarray(v[key])
            assert got.dtype == np.float64 and np.array_equal(got, want[key])
        with pytest.raises(TypeError, match="only added into"):
            v.at[np.array([0, 1])].set(1.0)


def test_the_jax_executor_runs_a_long_sum_as_one_reduction():
    """sum(p * p) over 3000 parameters: XLA gets one reduction (its order of addition) and
    one product, not 2999 additions to compile; the value and gradients are eager's."""
    needs("jax", "the jax executor")
    import jax

    ps = [Value(0.01 * i - 7.0) for i in range(3000)]
    f = zg.compile(lambda: sum(p * p for p in ps), executor="jax")
    params = f.prepare()
    with jax.enable_x64(True):
        hlo = f.executor._value_and_grad.lower(np.zeros(len(params)), np.zeros(0)).as_text()
    assert hlo.count("stablehlo.add") < 20
    value, which, grads = f.value_and_grad(np.array([p.data for p in params]))
    assert value == pytest.approx(sum(p.data * p.data for p in ps), rel=1e-12)
    assert np.asarray(grads) == pytest.approx([2 * p.data for p in params], rel=1e-12)


def test_the_jax_executor_without_jax_says_how_to_install_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "jax", None)
    with pytest.raises(ImportError, match=r'pip install "zerograd\[jax\]"'):
        zg.compile(lambda x: x * 2.0, executor="jax")


@pytest.mark.parametrize("executor", ALL)
def test_a_result_does_not_take_nan_from_a_node_it_does_not_depend_on(executor):
    """log'(0) is inf, so log's backward gives 0 * inf = nan even with no gradient flowing;
    the backward of the other result must skip that node, as the eager engine does."""
    w = Value(2.0)

    def fn(x):
        a = x * w
        return [a * 3.0, a.log(), (a * a).sqrt()]

    got, eager = zg.compile(fn, executor=executor)(0.0), fn(Value(0.0))
    for i in range(3):
        w.grad = 0.0
        got[i].backward()
        mine = w.grad
        w.grad = 0.0
        eager[i].backward()
        check(executor, [got[i].data, mine], [eager[i].data, w.grad], f"result {i}")
    assert w.grad != w.grad and mine != mine  # the last result's own gradient is nan


# -- PyTorch float64 ------------------------------------------------------------------------
@pytest.mark.parametrize("executor", ALL)
def test_compiled_mlp_matches_pytorch_float64(executor):
    torch = needs("torch", "the reference")
    random.seed(3)
    model = zg.nn.MLP(3, [4, 4, 1], activation="tanh", output_activation="tanh")
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    f = zg.compile(lambda xs, ys: sum((model(x) - y) ** 2 for x, y in zip(xs, ys)),
                   executor=executor)
    loss = f(xs, ys)
    model.zero_grad()
    loss.backward()
    h = torch.tensor(xs, dtype=torch.float64)
    weights = []
    for layer in model.layers:
        W = torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64,
                         requires_grad=True)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64,
                         requires_grad=True)
        weights += [W, b]
        h = torch.tanh(h @ W.T + b)
    tloss = ((h.squeeze(1) - torch.tensor(ys, dtype=torch.float64)) ** 2).sum()
    tloss.backward()
    assert loss.data == pytest.approx(tloss.item(), rel=1e-9)
    want = []
    for W, b in zip(weights[0::2], weights[1::2]):
        for row, bg in zip(W.grad.tolist(), b.grad.tolist()):
            want += row + [bg]
    assert [p.grad for p in model.parameters()] == pytest.approx(want, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("executor", ALL)
def test_compiled_mixed_ops_match_pytorch_float64(executor):
    """Division, powers, exp/log, sigmoid, softplus, abs, sqrt and logsumexp together."""
    torch = needs("torch", "the reference")
    a, b = Value(0.7), Value(-1.3)

    def fn(x, y):
        u = (a * x / (1 + b * b)) ** 3 + (x.abs() + 1).sqrt() * y.sigmoid()
        v = zg.logsumexp([u, a * y, (b - x).softplus()]) + (y * y + 1).log() * b.exp()
        return v + a ** y.abs()

    f = zg.compile(fn, executor=executor)
    for x, y in [(0.5, -2.0), (-1.5, 0.25), (2.0, 3.0)]:
        a.grad = b.grad = 0.0
        r = f(x, y)
        r.backward()
        ta = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
        tb = torch.tensor(-1.3, dtype=torch.float64, requires_grad=True)
        tx, ty = torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
        u = (ta * tx / (1 + tb * tb)) ** 3 + torch.sqrt(tx.abs() + 1) * torch.sigmoid(ty)
        v = torch.logsumexp(torch.stack([u, ta * ty, torch.nn.functional.softplus(tb - tx)]), 0)
        t = v + torch.log(ty * ty + 1) * torch.exp(tb) + ta ** ty.abs()
        t.backward()
        assert r.data == pytest.approx(t.item(), rel=1e-9)
        assert [a.grad, b.grad] == pytest.approx([ta.grad.item(), tb.grad.item()], rel=1e-9)


# -- micrograd's moons demo -----------------------------------------------------------------
def test_moons_demo_trains_compiled_to_micrograds_recorded_losses():
    needs("sklearn", "micrograd's moons data")
    from sklearn.datasets import make_moons

    np.random.seed(1337)
    random.seed(1337)
    X, y = make_moons(n_samples=100, noise=0.1)
    y = y * 2 - 1
    model = zg.nn.MLP(2, [16, 16, 1])

    def total_loss(X, y):
        scores = [model(row) for row in X]
        data = sum((1 + -yi * si).relu() for yi, si in zip(y, scores)) * (1.0 / len(y))
        return data + 1e-4 * sum(p * p for p in model.parameters())

    step = zg.compile(total_loss)
    losses = []
    for k in range(100):
        loss = step(X, y)
        losses.append(loss.data)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= (1.0 - 0.9 * k / 100) * p.grad
    assert step.executor.name == "numpy"
    assert losses[0] == pytest.approx(0.8958441028683222, abs=1e-9)
    assert losses[99] == pytest.approx(0.010978370135492717, abs=1e-9)
    scores = [model(list(row)).data for row in X]
    assert all((s > 0) == (t > 0) for s, t in zip(scores, y))


# -- depth ----------------------------------------------------------------------------------
def test_million_node_chain_compiles_and_replays():
    w = Value(0.9)
    n = 500_000  # two op nodes per step: a million in all

    def chain(x):
        for _ in range(n):
            x = (x + w).tanh()
        return x

    f = zg.compile(chain)
    assert f(0.5).data == pytest.approx(0.9519271201308964, rel=1e-12)  # the fixed point
    assert f.n_ops == 1_000_000 and f.executor.name == "scalar"
    x0 = -0.25
    out = f(x0)
    out.backward()
    xs = [x0]  # reference: the same recurrence on floats, and its derivative
    for _ in range(n):
        xs.append(math.tanh(xs[-1] + 0.9))
    dw, g = 0.0, 1.0
    for k in range(n, 0, -1):
        g *= 1.0 - xs[k] * xs[k]
        dw += g
    assert out.data == xs[-1]
    assert w.grad == pytest.approx(dw, rel=1e-12)


@pytest.mark.parametrize("executor", ["numpy", "python"])
def test_deep_chain_on_the_other_executors(executor):
    w = Value(0.5)

    def chain(x):
        for _ in range(1500):
            x = x * w + 0.5
        return x

    f = zg.compile(chain, executor=executor)
    out = f(1.0)
    out.backward()
    eager = chain(Value(1.0))
    w.grad, g = 0.0, w.grad
    eager.backward()
    check(executor, [out.data, g], [eager.data, w.grad], "chain")


# -- the contract: structure, refusals, results, accumulation, fresh parameters -------------
def test_arguments_of_another_structure_or_shape_are_refused():
    w = Value(2.0)
    f = zg.compile(lambda xs, scale: sum(x * w for x in xs) * scale)
    f([1.0, 2.0], 3.0)
    with pytest.raises(ValueError, match=r": xs was a list of 2, now a list of 3"):
        f([1.0, 2.0, 3.0], 3.0)
    with pytest.raises(ValueError, match=r": scale was a number, now a list of 1"):
        f([1.0, 2.0], [3.0])
    g = zg.compile(lambda X: sum(x * w for row in X for x in row))
    g(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"numpy array of shape \(2, 3\), now a numpy array "
                                         r"of shape \(3, 2\)"):
        g(np.ones((3, 2)))
    h = zg.compile(lambda x, mode: x * w if mode == "double" else x)
    h(1.0, "double")
    with pytest.raises(ValueError, match="the constant 'double', now the constant 'single'"):
        h(1.0, "single")
    assert h(4.0, "double").data == 8.0  # the matching call still works


def test_a_shape_error_names_the_argument_as_the_caller_wrote_it():
    w = Value(2.0)

    def loss(X, y, *rest, scale=1.0):
        return X[0][0] * w * scale + y[0]

    f = zg.compile(loss)
    f([[1.0, 2.0]], [1.0], 5.0, [6.0], scale=2.0)
    calls = [
        (([[1.0, 2.0, 3.0]], [1.0], 5.0, [6.0]), {"scale": 2.0}, "X[0] was a list of 2, now"),
        (([[1.0, 2.0]], 1.0, 5.0, [6.0]), {"scale": 2.0}, "y was a list of 1, now a number"),
        (([[1.0, 2.0]], [1.0], [5.0], [6.0]), {"scale": 2.0}, "the 3rd argument was a number"),
        (([[1.0, 2.0]], [1.0], 5.0, [[6.0]]), {"scale": 2.0},
         "item [0] of the 4th argument was a number, now a list of 1"),
        (([[1.0, 2.0]], [1.0], 5.0, [6.0]), {"scale": [2.0]}, "scale was a number, now a list"),
        (([[1.0, 2.0]], [1.0], 5.0, [6.0]), {}, "keyword arguments were scale, now none"),
        (([[1.0, 2.0]], [1.0]), {"scale": 2.0}, "called with 4 positional arguments, now 2"),
    ]
    for args, kwargs, words in calls:
        with pytest.raises(ValueError, match=re.escape(words)) as e:
            f(*args, **kwargs)
        assert "arguments[" not in str(e.value)
    assert f([[3.0, 0.0]], [1.0], 5.0, [6.0], scale=2.0).data == 13.0  # the traced call


@pytest.mark.parametrize("how, fn", [
    ("bool", lambda x: x * 2 if x else x),
    ("float", lambda x: x * float(x)),
    ("comparison", lambda x: x if x > 0 else -x),
    ("comparison", lambda x: max(x, x * 2)),
])
def test_python_decisions_on_traced_values_are_refused(how, fn):
    f = zg.compile(fn)
    assert zg.compile.TraceError is TraceError
    with pytest.raises(TraceError, match=rf"(?s){how}.*first call's branch"):
        f(1.5)
    assert modes.current.tracer is None  # restored
    assert float(Value(2.0)) == 2.0  # eager use is unaffected afterwards


def test_baked_control_flow_is_the_documented_behaviour():
    """Reading .data is invisible to tracing: the first call's branch is replayed."""
    f = zg.compile(lambda x: x * 2 if x.data > 0 else -x)
    assert f(3.0).data == 6.0
    assert f(-3.0).data == -6.0  # eagerly it would be 3.0: the doc says so


def test_bad_uses_are_reported_clearly():
    with pytest.raises(TypeError, match="needs a function"):
        zg.compile(3)
    with pytest.raises(ValueError, match="unknown executor 'gpu'"):
        zg.compile(lambda x: x, executor="gpu")
    with pytest.raises(TypeError, match="must return a Value"):
        zg.compile(lambda x: 3.0)(1.0)
    with pytest.raises(TypeError, match="not Values"):
        zg.compile(lambda x: x)(Value(1.0))
    with zg.no_grad(), pytest.raises(TraceError, match="no_grad"):
        zg.compile(lambda x: x * 2)(1.0)


@pytest.mark.parametrize("executor", ALL)
def test_list_and_tuple_results_backpropagate_separately(executor):
    a, b = Value(2.0), Value(-3.0)
    f = zg.compile(lambda x: (a * x, (a * b).tanh(), b + x), executor=executor)
    r = f(4.0)
    assert isinstance(r, tuple)
    check(executor, [v.data for v in r], [8.0, math.tanh(-6.0), 1.0], "results")
    r[0].backward()
    assert (a.grad, b.grad) == (4.0, 0.0) and monitor.passes(b) == 0  # not on r[0]'s path
    r[2].backward()
    assert (a.grad, b.grad) == (4.0, 1.0)
    g = zg.compile(lambda x: [a * x, b], executor=executor)
    s = g(1.0)
    assert isinstance(s, list)
    s[1].backward()  # a parameter returned as is: d b / d b = 1
    assert b.grad == 2.0


@pytest.mark.parametrize("executor", ALL)
def test_results_that_are_leaves(executor):
    """fn may return an argument or a parameter untouched: no op nodes at all."""
    w = Value(2.0)
    f = zg.compile(lambda x: (w, x), executor=executor)
    r = f(3.0)
    assert [v.data for v in r] == [2.0, 3.0]
    r[0].backward()
    r[1].backward()  # an input: no parameter depends on it
    assert w.grad == 1.0
    assert zg.compile(lambda x: x, executor=executor)(4.0).data == 4.0


@pytest.mark.parametrize("executor", ALL)
def test_backward_accumulates_like_eager(executor):
    w = Value(3.0)
    f = zg.compile(lambda x: w * w * x, executor=executor)
    r = f(2.0)
    r.backward()
    assert (w.grad, monitor.passes(w)) == (12.0, 1)
    r.backward()
    assert (w.grad, monitor.passes(w), r.grad) == (24.0, 2, 1.0)
    e = w * w * 2.0
    w.grad = 0.0
    e.backward()
    e.backward()
    assert (w.grad, monitor.passes(w)) == (24.0, 2)  # the eager engine does the same


@pytest.mark.parametrize("executor", ALL)
def test_updated_parameters_and_new_inputs_are_seen(executor):
    w, c = Value(1.0), Value(10.0)
    f = zg.compile(lambda x: (w * x + 1) * c, executor=executor)
    assert f(2.0).data == 30.0
    w.data = 5.0
    assert f(2.0).data == 110.0
    c.data = 1.0
    assert f(3.0).data == 16.0
    assert len(f._params) == 2  # the constant 1 is not a parameter


def test_arrays_nested_lists_and_dicts_are_flattened_in_order():
    w = Value(1.0)
    f = zg.compile(lambda d, X: d["a"] * w + X[1][0] * 10 + X[0][1] * 100)
    assert f({"a": 1.0}, np.array([[1.0, 2.0], [3.0, 4.0]])).data == 231.0
    assert f({"a": 2}, np.array([[0.0, 1.0], [1.0, 0.0]])).data == 112.0
    h = zg.compile(lambda xs, n: xs[0] * w + xs[1] * n)
    assert h([1.0, 2.0], 3.0).data == 7.0
    assert h([1, np.float64(2.0)], np.int64(3)).data == 7.0  # other number types: the slow path
    with pytest.raises(ValueError, match="was a list of 2, now a tuple of 2"):
        h((1.0, 2.0), 3.0)
    big = 2**53 + 1  # integer arrays arrive as floats, as on the first call
    g = zg.compile(lambda X: X[0] * X[0] * w)
    g(np.array([1.0]))
    assert g(np.array([big])).data == float(big) * float(big)
    with pytest.raises(ValueError, match=r"numpy array of shape \(2, 2\), now a list of 2"):
        f({"a": 2}, [[0.0, 1.0], [1.0, 0.0]])


def test_auto_picks_python_for_small_and_numpy_for_wide_graphs():
    w = Value(0.5)
    small = zg.compile(lambda x: (x * w).tanh())
    small(1.0)
    assert small.executor.name == "python"
    wide = zg.compile(lambda xs: zg.vsum([(x * w).tanh() for x in xs]))
    wide(np.linspace(-1, 1, 5000))
    assert wide.executor.name == "numpy"
    assert "op nodes" in repr(wide)


def test_compiled_tape_memory_is_small_per_node():
    random.seed(0)
    model = zg.nn.MLP(2, [16, 16, 1])
    X = np.random.default_rng(0).normal(size=(100, 2))
    f = zg.compile(lambda X: zg.vsum([model(list(r)).relu() for r in X]), executor="numpy")
    f(X)
    assert f.executor.nbytes <= 64 * f.n_nodes


# -- a layer over a batch is a matrix product --------------------------------------------------
GEMM_TOL = 1e-12  # BLAS adds a layer's products in its own order (measured: up to 2e-14)


def _layer_loss(model, X):
    return zg.vsum([o * o for x in X for o in _as_list(model(x))])


def _as_list(out):
    return out if isinstance(out, list) else [out]


@pytest.mark.parametrize("sizes, batch", [([8, 8, 1], 40), ([16, 3], 25), ([12], 30)])
def test_layers_over_a_batch_run_as_matrix_products_and_match_eager(sizes, batch):
    rng = random.Random(11)
    random.seed(5)
    model = zg.nn.MLP(3, sizes, activation="tanh", bias="uniform")
    X = [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(batch)]
    f = zg.compile(lambda X: _layer_loss(model, X), executor="numpy")
    got = f(X)
    model.zero_grad()
    got.backward()
    mine = [p.grad for p in model.parameters()]
    gemms = [g for g in f.executor.groups if g.run_forward.__qualname__.startswith("build_gemm")]
    assert len(gemms) == len(sizes)  # every layer, not the node-by-node code
    eager = _layer_loss(model, [[Value(a) for a in x] for x in X])
    model.zero_grad()
    eager.backward()
    assert got.data == pytest.approx(eager.data, rel=GEMM_TOL)
    for p, g in zip(model.parameters(), mine, strict=True):
        # a gradient that cancels to about 0 keeps rounding at the loss's scale
        assert g == pytest.approx(p.grad, rel=GEMM_TOL, abs=GEMM_TOL * max(1.0, abs(eager.data)))


def test_a_layer_with_several_results_backpropagates_only_what_each_depends_on():
    """Results of a compiled function depend on some examples only: a matrix product over
    the whole batch must not add the others' gradients (the masked path runs instead)."""
    random.seed(2)
    model = zg.nn.MLP(2, [10, 2])
    X = [[0.1 * i, -0.05 * i] for i in range(20)]
    f = zg.compile(lambda X: [model(x)[0] for x in X], executor="numpy")
    outs = f(X)
    for k in (0, 7, 19):
        model.zero_grad()
        outs[k].backward()
        mine = [p.grad for p in model.parameters()]
        model.zero_grad()
        model([Value(a) for a in X[k]])[0].backward()
        assert mine == pytest.approx([p.grad for p in model.parameters()], rel=1e-12, abs=1e-15)


def test_auto_measures_width_after_fusing_sums():
    """micrograd's moons loss ends with ``sum(p*p for p in parameters)``: a chain of adds as
    deep as the parameter count, but one node once fused, so the graph is wide: numpy."""
    random.seed(1)
    model = zg.nn.MLP(2, [16, 16, 1])
    X = [[0.1 * i, 0.2 - 0.05 * i] for i in range(30)]

    def loss(X):
        scores = [model(x) for x in X]
        return sum((1 - s).relu() for s in scores) + 1e-4 * sum(p * p for p in model.parameters())

    f = zg.compile(loss)
    f(X)
    assert f.executor.name == "numpy"


def test_int_labels_take_the_known_structure_fast_path_and_give_the_same_numbers():
    from zerograd.compile import trace

    w = Value(0.5)
    f = zg.compile(lambda X, y: sum((w * x[0] - t) ** 2 for x, t in zip(X, y)))
    X = [[1.0, 2.0], [3.0, 4.0]]
    as_floats = f(X, [1.0, -1.0]).data
    spec = trace.flatten(((X, [1, -1]), {}), [])
    fast = trace.extractor(spec)
    assert fast(((X, [1, -1]), {})) == [1.0, 2.0, 3.0, 4.0, 1.0, -1.0]
    assert fast(((X, [1, 2.5]), {})) == [1.0, 2.0, 3.0, 4.0, 1.0, 2.5]
    assert fast(((X, [True, 1.0]), {})) is None  # a bool is not a number here: flatten says
    assert fast(((X, [1, -1, 0]), {})) is None
    assert f(X, [1, -1]).data == as_floats
    assert f._extract(((X, [1, -1]), {})) is not None


def test_generated_code_of_the_same_source_is_compiled_once():
    from zerograd.compile import backends

    lines = ["def f(x):", "return x * 2.0 + 1.0"]
    f1, f2 = (backends.define(list(lines), {}, "<t>") for _ in range(2))
    assert f1.__code__ is f2.__code__ and f1 is not f2 and f2(3.0) == 7.0
    for i in range(backends.CODE_KEPT):  # older sources make way for newer ones
        backends.define(["def f(x):", f"return x + {i}.5"], {}, "<t>")
    assert backends.define(list(lines), {}, "<t>").__code__ is not f1.__code__


def test_a_tape_of_the_same_structure_reuses_the_generated_python_and_only_it():
    from zerograd.compile import pyexec

    def model(c):
        a, b = Value(1.5), Value(-2.0)
        return (lambda x: (a * x[0] + b * x[1] + c).tanh()), [a, b]

    made = [model(0.25), model(0.25), model(-0.0)]
    compiled = [zg.compile(f, executor="python") for f, _ in made]
    for g, (f, ps) in zip(compiled, made):
        out = g([0.5, 3.0])
        out.backward()
        grads = [p.grad for p in ps]
        for p in ps:
            p.grad = 0.0
        eager = f([0.5, 3.0])
        eager.backward()
        assert out.data == eager.data and grads == [p.grad for p in ps]
    generated = [g.executor.forward_code() for g in compiled]
    assert generated[0] is generated[1]  # one generated function for both
    assert generated[2] is not generated[0]  # a constant differs (only in its sign)
    assert pyexec.MADE_KEPT >= 2
