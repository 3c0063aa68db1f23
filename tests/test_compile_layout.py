"""The numpy executor's layout: groups read runs of slots as views, long sums fold as arrays.

An elementwise group that consumes a whole earlier group is laid out in that group's
order, so a layer's activation and the next layer's matrix product read slices of the
value buffer, and their gradients go back into slices; the numbers stay eager's.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from conftest import needs

import zerograd as zg
from zerograd.compile.npcode import BROADCAST_MIN, adder, rows_code, scatterer, view_of
from zerograd.engine import Value


def test_view_of_finds_runs_of_slots_in_any_axis_order():
    run = np.arange(10, 34)
    for shape, axes in [((24,), (0,)), ((4, 6), (1, 0)), ((2, 3, 4), (2, 0, 1))]:
        idx = run.reshape(shape).transpose(axes)
        lo, hi, view_shape, view_axes = view_of(idx)
        buf = np.arange(40.0)
        assert (lo, hi) == (10, 34)
        assert np.array_equal(buf[lo:hi].reshape(view_shape).transpose(view_axes), buf[idx])


@pytest.mark.parametrize("idx", [[1, 2, 4], [1, 2, 2, 3], [3, 2, 1, 0]])
def test_view_of_rejects_gaps_repeats_and_reversed_runs(idx):
    assert view_of(np.array(idx)) is None


def test_scatterer_adds_runs_as_slices_and_the_rest_as_one_scatter():
    segments = [np.arange(3, 7), np.array([0, 5, 5, 9]), np.arange(5, 8)]
    chunks = (np.ones(4), np.array([1.0, 2.0, 3.0, 4.0]), np.full(3, 10.0))
    G, want = np.zeros(10), np.zeros(10)
    scatterer(segments, len(G))(G, chunks)
    np.add.at(want, np.concatenate(segments), np.concatenate(chunks))
    assert np.array_equal(G, want)


@pytest.mark.parametrize("how, targets", [
    ("runs", np.concatenate([np.arange(40, 140), np.arange(40, 140), np.arange(300, 364)])),
    ("distinct", np.random.default_rng(0).permutation(500)[:300]),
    ("bincount", np.random.default_rng(1).integers(100, 200, 900)),
    ("add.at", np.array([7, 3, 7, 450, 3])),
])
def test_adder_adds_each_slots_contributions_in_order(how, targets):
    """``adder`` matches np.add.at: to the bit where it adds in np.add.at's order (runs as
    slices, distinct slots), to rounding where bincount sums a slot's contributions first."""
    rng = np.random.default_rng(2)
    G0, c = rng.standard_normal(500), rng.standard_normal(len(targets))
    got, want = G0.copy(), G0.copy()
    adder(targets, len(G0))(got, c)
    np.add.at(want, targets, c)
    if how == "bincount":
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    else:
        assert np.array_equal(got, want)
    plan = scatterer([targets], len(G0))  # the pattern the test names is the one taken
    assert (plan.runs and plan.scatter is None) if how == "runs" else (
        not plan.runs and plan.scatter.mode == how)


def test_rows_code_broadcasts_a_run_read_by_every_row():
    """``p * p`` reads the parameters' run twice: one view broadcast, not a gather, once
    the gather would be large; other operands keep their view or gather."""
    buf = np.arange(3 * BROADCAST_MIN, dtype=float)
    run = np.arange(7, 7 + BROADCAST_MIN)
    code = rows_code("buf", np.stack([run, run]))
    assert "broadcast_to" in code
    assert np.array_equal(eval(code, {"np": np, "buf": buf}), buf[np.stack([run, run])])
    assert rows_code("buf", np.stack([run[:10], run[:10]])) is None  # small: gathered
    assert rows_code("buf", np.stack([run, run[::-1]])) is None
    assert "broadcast_to" not in rows_code("buf", np.arange(12).reshape(2, 6))


def _moons_loss(model, X, y):
    scores = [model(row) for row in X]
    data = sum((1 + -t * s).relu() for t, s in zip(y, scores)) * (1.0 / len(y))
    return data + 1e-4 * sum(p * p for p in model.parameters())


def test_an_mlp_over_a_batch_reads_each_layers_activations_as_views():
    needs("sklearn", "the moons dataset")
    random.seed(3)
    model = zg.nn.MLP(2, [12, 12, 1])
    X, y = zg.data.moons(40, signed=True)
    X, y = X.tolist(), [float(t) for t in y]
    f = zg.compile(lambda X, y: _moons_loss(model, X, y), executor="numpy")
    got = f(X, y)
    model.zero_grad()
    got.backward()
    mine = [p.grad for p in model.parameters()]
    groups = f.executor.groups
    first_op_slot = groups[0].lo
    gemms = [g for g in groups if g.run_forward.__qualname__.startswith("build_gemm")]
    assert len(gemms) == 3
    for g in gemms[1:]:  # layers 2 and 3: the activations below them are one view
        (acts,) = [a for a in g.gather[1:] if a is not None and a.min() >= first_op_slot]
        assert view_of(acts) is not None
    eager = _moons_loss(model, [[Value(a) for a in x] for x in X], y)
    model.zero_grad()
    eager.backward()
    assert got.data == pytest.approx(eager.data, rel=1e-12)
    assert mine == pytest.approx([p.grad for p in model.parameters()], rel=1e-12, abs=1e-15)


def test_a_long_sum_folds_left_to_right_to_the_bit():
    """A 3000-term sum is one node run as an array fold: the same additions, in order, so
    the result equals the eager chain of + exactly (terms of mixed sign and scale)."""
    rng = random.Random(7)
    ws = [Value(rng.uniform(-1, 1) * 10 ** rng.randint(-8, 8)) for _ in range(3000)]

    def fn(xs):
        return [sum(w * x for w, x in zip(ws, xs)), sum(ws[:1500]) * 2.0]

    xs = [rng.uniform(-1, 1) for _ in range(3000)]
    f = zg.compile(fn, executor="numpy")
    got = f(xs)
    assert any(g.run_forward.__qualname__.startswith("build_sum") for g in f.executor.groups)
    eager = fn([Value(x) for x in xs])
    assert [r.data for r in got] == [r.data for r in eager]
    for i in range(2):  # several results: each backward reaches only its own terms
        for w in ws:
            w.grad = 0.0
        got[i].backward()
        mine = [w.grad for w in ws]
        for w in ws:
            w.grad = 0.0
        eager[i].backward()
        assert mine == [w.grad for w in ws]


def test_first_writes_assign_so_the_gradient_buffer_is_not_zeroed_first(monkeypatch):
    """Backward zeroes only the slots no run of contributions writes first; those runs
    assign ``0.0 + c``. With the rest of the buffer full of nan the gradients are, bit for
    bit, those of a buffer zeroed whole."""
    needs("sklearn", "the moons dataset")
    random.seed(5)
    model = zg.nn.MLP(2, [12, 12, 1])
    X, y = zg.data.moons(40, signed=True)
    f = zg.compile(lambda X, y: _moons_loss(model, X, y), executor="numpy")
    f(X.tolist(), [float(t) for t in y])
    ex = f.executor
    assert ex._zero is not None
    scatters = [g.run_backward.add_into for g in ex.groups
                if g.targets is not None and hasattr(g.run_backward, "add_into")]
    assigned = sum(t - fr for s in scatters
                   for (_, fr, t, _), first in zip(s.runs, s.assign) if first)
    zeroed = sum(b - a for a, b in ex._zero)
    assert assigned > 3 * 40 * 12 and assigned + zeroed == ex.n_slots
    pvals = [p.data for p in f.params]
    outs, v = ex.forward(pvals, f._flat((X.tolist(), [float(t) for t in y]), {}))
    monkeypatch.setattr(np, "empty_like", lambda a: np.full_like(a, np.nan))
    _, fast = ex.backward(v, 0)
    zero, ex._zero = ex._zero, None
    _, whole = ex.backward(v, 0)
    ex._zero = zero
    assert np.isfinite(fast).all()
    assert np.array_equal(fast, whole)
