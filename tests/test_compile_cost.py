"""The vectorised record/build of zg.compile against plain per-node definitions.

``tape.record``, ``fuse_sums``, ``levels`` and the numpy executor's grid search work on
whole arrays (a chunk at a time); here each is checked against the simplest loop that
says what it computes, on random graphs, with tiny chunks too. No timings: the speed and
memory goals are measured in benchmarks/bench_first_call.py.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

import zerograd as zg
from zerograd import engine, modes
from zerograd.compile import npexec, tape
from zerograd.compile.trace import Tracer
from zerograd.engine import Value
from zerograd.ops import OPS

ADD, SUM = tape.OP_CODE["add"], tape.OP_CODE["sum"]


def random_graph(seed: int) -> tuple[list[Value], list[Value], list[Value]]:
    """(results, placeholders, constants) of a random graph with sums, chains and dots."""
    rng = random.Random(seed)
    params = [Value(rng.uniform(-1, 1)) for _ in range(rng.randint(1, 6))]
    inputs = [Value(rng.uniform(-1, 1)) for _ in range(rng.randint(0, 5))]
    consts: list[Value] = []
    pool = params + inputs
    for _ in range(rng.randint(1, 60)):
        a, b, k = rng.choice(pool), rng.choice(pool), rng.random()
        if k < 0.3:
            v = a + b
        elif k < 0.4:
            consts.append(Value(rng.uniform(-1, 1)))
            v = a + consts[-1]
        elif k < 0.5:
            v = a * b
        elif k < 0.6:
            v = a ** 2.0
        elif k < 0.7:
            v = zg.engine.vsum(rng.sample(pool, min(len(pool), 3)))
        elif k < 0.8:
            v = (a + b) + a
        elif k < 0.9:
            v = zg.engine.dot(params[:1], [a])
        else:
            v = a.tanh()
        pool.append(v)
    made = pool[len(params) + len(inputs):]
    return [rng.choice(made) for _ in range(rng.randint(1, 3))], inputs, consts


def reference_tape(outs: list[Value], inputs: list[Value], consts: list[Value]) -> dict:
    """The tape's fields, node by node (see the module docstring of tape.py)."""
    root = Value.__new__(Value)
    root._children = tuple(outs)
    order = engine.topological_order(root)[:-1]
    leaves = [v for v in order if v._fn is None]
    op_nodes = [v for v in order if v._fn is not None]
    where = {id(v): i for i, v in enumerate(inputs)}
    const_ids = {id(v) for v in consts} - set(where)
    params = [v for v in leaves if id(v) not in where and id(v) not in const_ids]
    cs = [v for v in leaves if id(v) in const_ids]
    P, n_in, C = len(params), len(inputs), len(cs)
    slot = {id(v): i for i, v in enumerate(params)}
    slot.update({i: P + w for i, w in where.items()})
    slot.update({id(v): P + n_in + i for i, v in enumerate(cs)})
    slot.update({id(v): P + n_in + C + j for j, v in enumerate(op_nodes)})
    codes = [[i for i, op in enumerate(OPS) if op is v._fn][0] for v in op_nodes]
    return {
        "params": [id(p) for p in params], "consts": [v.data for v in cs], "code": codes,
        "operands": [[slot[id(c)] for c in v._children] for v in op_nodes],
        "k": {j: v._arg for j, v in enumerate(op_nodes) if v._fn.param},
        "outputs": tuple(slot[id(v)] for v in outs),
    }


def fields(t: tape.Tape) -> dict:
    start, args = t.start.tolist(), t.args.tolist()
    return {
        "params": [id(p) for p in t.params], "consts": t.consts.tolist(),
        "code": t.code.tolist(),
        "operands": [args[start[j] : start[j + 1]] for j in range(t.n_ops)],
        "k": t.k_of(), "outputs": t.outputs,
    }


def reference_fused(t: tape.Tape) -> dict:
    """fuse_sums by its definition: an add/sum whose first operand is an add/sum used only
    there (and not a result) takes that node's operands in place of it."""
    f = fields(t)
    L = t.n_leaves
    uses: dict[int, int] = {}
    for a in f["operands"]:
        for s in a:
            uses[s] = uses.get(s, 0) + 1
    for s in t.outputs:
        uses[s] = uses.get(s, 0) + 2
    ops_, code, gone = [list(a) for a in f["operands"]], list(f["code"]), set()
    for j, a in enumerate(f["operands"]):
        first = a[0] - L
        if code[j] in (ADD, SUM) and first >= 0 and code[first] in (ADD, SUM) \
                and uses[a[0]] == 1:
            ops_[j] = ops_[first] + a[1:]
            code[j] = SUM
            gone.add(first)
    keep = [j for j in range(t.n_ops) if j not in gone]
    new = {L + j: L + i for i, j in enumerate(keep)}
    return {
        "params": f["params"], "consts": f["consts"], "code": [code[j] for j in keep],
        "operands": [[new.get(s, s) for s in ops_[j]] for j in keep],
        "k": {keep.index(j): k for j, k in f["k"].items()},
        "outputs": tuple(new.get(s, s) for s in t.outputs),
    }


def reference_levels(t: tape.Tape) -> list[int]:
    depth = [0] * t.n_slots
    for j, a in enumerate(fields(t)["operands"]):
        depth[t.n_leaves + j] = 1 + max(depth[s] for s in a)
    return depth[t.n_leaves :]


@pytest.fixture(params=[1 << 16, 5], ids=["chunks", "tiny chunks"])
def chunk(request, monkeypatch):
    monkeypatch.setattr(tape, "CHUNK", request.param)
    monkeypatch.setattr(npexec, "CHUNK", request.param)
    return request.param


def test_record_fuse_and_levels_match_their_definitions(chunk):
    for seed in range(300):
        outs, inputs, consts = random_graph(seed)
        t = tape.record(outs, inputs, consts)
        assert fields(t) == reference_tape(outs, inputs, consts), seed
        fused = tape.fuse_sums(t)
        assert fields(fused) == reference_fused(t), seed
        assert tape.levels(t).tolist() == reference_levels(t), seed
        assert tape.levels(fused).tolist() == reference_levels(fused), seed


def test_long_chains_deep_graphs_and_a_network(chunk):
    """Python sums thousands long, a chain deep enough for levels' node-by-node finish,
    and a small moons-style loss (with its constants, as zg.compile records them)."""
    rng = random.Random(1)
    ps = [Value(rng.uniform(-1, 1)) for _ in range(50)]
    xs = [Value(1.0) for _ in range(10)]
    c = Value(0.5)
    v = xs[0]
    for i in range(3000):
        v = (v * 0.999 + c) if i % 3 else v.tanh()
    random.seed(3)
    model = zg.nn.MLP(2, [6, 6, 1])
    tracer = Tracer()  # collects the constants the engine makes of plain numbers
    made = tracer.constants
    token = modes.enter("tracer", tracer)
    try:
        scores = [model(x) for x in zip(xs, reversed(xs))]
        net = sum((1 + -x * s).relu() for x, s in zip(xs, scores)) * 0.1
        net = net + 1e-4 * sum(p * p for p in model.parameters())
    finally:
        modes.leave("tracer", token)
    graphs = [[sum(p * p for p in ps) + zg.engine.vsum([sum(xs), sum(ps[:5])]), v], [v],
              [net]]
    for outs in graphs:
        t = tape.record(outs, xs, [c, *made])
        assert fields(t) == reference_tape(outs, xs, [c, *made])
        assert fields(tape.fuse_sums(t)) == reference_fused(t)
        assert tape.levels(tape.fuse_sums(t)).tolist() == reference_levels(tape.fuse_sums(t))
    t = tape.record([v], xs, [c])
    done = np.zeros(t.n_ops, bool)
    assert tape._levels_loop(t, np.zeros(t.n_ops, np.int64), done).tolist() == \
        reference_levels(t)


def reference_grid(idx: np.ndarray) -> tuple[int, int, list[str]]:
    """The grid by its definition: over the divisors Q of n (up to 4096) the layout
    gathering the fewest numbers, each row as e (E numbers), q (Q) or f (n)."""
    a, n = idx.shape
    best = (a * n + 1, n, 1, ["f"] * a)
    for Q in [d for d in range(1, min(n, 4096) + 1) if n % d == 0]:
        E, M = n // Q, idx.reshape(a, n // Q, Q)
        kinds, cost = [], 0
        for r in range(a):
            options = [(n, "f")]
            if (M[r] == M[r][:, :1]).all():
                options.append((E, "e"))
            if (M[r] == M[r][:1, :]).all():
                options.append((Q, "q"))
            c, kind = min(options)
            kinds.append(kind)
            cost += c
        if cost < best[0]:
            best = (cost, E, Q, kinds)
    return best[1], best[2], best[3]


def test_grid_matches_its_definition(chunk):
    rng = np.random.default_rng(0)
    for n in [*range(1, 70), 96, 360, 1000, 1024, 4100]:
        rows = [np.zeros(n, int), np.arange(n), rng.integers(0, 2, n)]
        for p in {1, 2, 3, int(rng.integers(1, n + 1)), n}:
            rows.append(np.resize(rng.integers(0, 3, p), n))  # repeats every p
            rows.append(np.repeat(rng.integers(0, 3, -(-n // p)), p)[:n])  # runs of p
            rows.append(np.resize(np.repeat(rng.integers(0, 2, 3), p), n))
        for _ in range(4):
            pick = rng.integers(0, len(rows), int(rng.integers(1, 6)))
            idx = np.stack([rows[i] for i in pick]).astype(np.int32)
            assert npexec._grid(idx) == reference_grid(idx), (n, idx)


def test_tiny_chunks_give_the_same_compiled_numbers(chunk):
    random.seed(4)
    model = zg.nn.MLP(2, [8, 8, 1])
    X = np.random.default_rng(4).normal(size=(30, 2))
    y = np.where(np.arange(30) % 2, 1.0, -1.0)

    def loss(X, y):
        scores = [model(row) for row in X]
        data = sum((1 + -yi * si).relu() for yi, si in zip(y, scores)) * (1.0 / len(y))
        return data + 1e-4 * sum(p * p for p in model.parameters())

    f = zg.compile(loss, executor="numpy")
    r = f(X, y)
    model.zero_grad()
    r.backward()
    got = [r.data] + [p.grad for p in model.parameters()]
    e = loss([[Value(a) for a in row] for row in X.tolist()], [Value(b) for b in y])
    model.zero_grad()
    e.backward()
    want = [e.data] + [p.grad for p in model.parameters()]
    assert np.allclose(got, want, rtol=1e-12, atol=1e-15)


def test_long_folds_run_by_the_ops_own_functions_with_several_results():
    """A 600-term sum and dot (one node each: called directly, not generated) in a function
    with several results: each backward takes only what its result depends on."""
    ws = [Value(0.01 * i - 2.0) for i in range(600)]
    u = Value(0.5)

    def fn(xs):
        s = zg.vsum([w * x for w, x in zip(ws, xs)])
        d = zg.dot(ws, xs, u)
        return [s.tanh(), (d * u).relu() + s, u * 3.0]

    xs = [1.0 + (i % 7) * 0.25 for i in range(600)]
    f = zg.compile(fn, executor="numpy")
    got = f(xs)
    assert any(g.narrow and g.run_forward.__name__ == "forward" and
               g.run_forward.__qualname__.startswith("build_direct") for g in f.executor.groups)
    eager = fn([Value(x) for x in xs])
    for i in range(3):
        for p in [*ws, u]:
            p.grad = 0.0
        got[i].backward()
        mine = [got[i].data] + [p.grad for p in [*ws, u]]
        for p in [*ws, u]:
            p.grad = 0.0
        eager[i].backward()
        want = [eager[i].data] + [p.grad for p in [*ws, u]]
        assert np.allclose(mine, want, rtol=1e-12, atol=0.0), i
