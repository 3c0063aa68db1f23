"""The standard-library core: zerograd without NumPy.

In a venv holding nothing but the standard library (zerograd's source on its path): import
zerograd, train the lecture's network with the hand-written loop and with ``fit``, run
``gradcheck``, make the datasets, and run ``zg.compile``'s python executor, each with the
numbers a NumPy install gives and without NumPy ever being imported. Here, in the test
process, with NumPy hidden: the datasets' standard-library sets are checked against their
distributions, and the tape recorded as lists is checked against the one recorded as NumPy
arrays, down to the python executor's generated source.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from test_compile import CASES, build, graphs, op_cases
from test_compile_cost import random_graph

import zerograd as zg
from zerograd import data, engine
from zerograd.compile import EXECUTORS, anomaly, executors, pyexec, scalarexec, tape
from zerograd.engine import Value

ROOT = Path(__file__).resolve().parents[1]


# -- a Python without NumPy ------------------------------------------------------------------
@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> str:
    """A venv's interpreter with no packages at all, zerograd's source on its path."""
    venv = tmp_path_factory.mktemp("stdlib") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    probe = run(python, "import importlib.util; print(importlib.util.find_spec('numpy'))")
    assert probe == "None", f"the bare venv can import NumPy: {probe}"
    return python


def run(python: str, code: str) -> str:
    """Run ``code`` in ``python`` with only zerograd's source added to its path; its output.
    Every script ends by checking that NumPy was never imported."""
    code = textwrap.dedent(code) + "\nassert 'numpy' not in sys.modules, 'NumPy was imported'\n"
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": os.environ.get("PATH", ""),
           "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([python, "-c", "import sys\n" + code], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


HAND_LOOP = """
    import json, random
    from zerograd import data
    from zerograd.lecture import MLP

    xs, ys = data.lecture()
    random.seed(1337)
    n = MLP(3, [4, 4, 1])
    losses = []
    for _ in range(20):  # the lecture's loop, as typed on camera
        ypred = [n(x) for x in xs]
        loss = sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred))
        for p in n.parameters():
            p.grad = 0.0
        loss.backward()
        for p in n.parameters():
            p.data += -0.05 * p.grad
        losses.append(loss.data)
    print(json.dumps(losses))
"""


def test_importing_zerograd_needs_nothing_beyond_the_standard_library(bare_python):
    out = run(bare_python, """
        import zerograd as zg
        print(zg.__version__, zg.Value(2.0) * 3)
    """)
    assert out == f"{zg.__version__} {Value(2.0) * 3}"


def test_importing_zerograd_does_not_import_numpy_where_it_is_installed():
    code = "import sys, zerograd; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False"]


def test_the_lecture_network_trains_with_its_hand_written_loop(bare_python, restore_random,
                                                               capsys):
    losses = json.loads(run(bare_python, HAND_LOOP))
    exec(textwrap.dedent(HAND_LOOP), {})  # the same loop here, with NumPy installed
    assert losses == json.loads(capsys.readouterr().out)  # the same numbers, to the bit
    assert len(losses) == 20 and losses[-1] < losses[0] / 4


FIT = """
    import json, random
    import zerograd as zg
    from zerograd.lecture import MLP

    xs, ys = zg.data.lecture()
    random.seed(1337)
    model = MLP(3, [4, 4, 1])

    def loss_fn():
        return sum((model(x) - y) ** 2 for x, y in zip(xs, ys))

    opt = zg.optim.SGD(model.parameters(), lr=0.05)
    history = zg.train.fit(model, loss_fn, opt, 30, progress=False)
    print(json.dumps(history["loss"]))
"""


def test_the_lecture_network_trains_with_fit(bare_python, restore_random, capsys):
    losses = json.loads(run(bare_python, FIT))
    exec(textwrap.dedent(FIT), {})  # the same run here, with NumPy installed
    assert losses == json.loads(capsys.readouterr().out)
    assert len(losses) == 30 and losses[-1] < losses[0] / 4


def test_gradcheck_runs_and_catches_a_wrong_gradient(bare_python):
    out = run(bare_python, """
        import zerograd as zg
        from zerograd.engine import Value

        f = lambda a, b: (a * b).tanh() + a.exp() / b - (a - b).relu() ** 2
        print(zg.gradcheck(f, [Value(0.3), Value(-1.2)]))

        def wrong(a):  # made micrograd's way, with a wrong derivative (2a, not 3a^2)
            out = Value(a.data ** 3, (a,), "cube")
            def _backward():
                a.grad += 2 * a.data * out.grad
            out._backward = _backward
            return out
        try:
            zg.gradcheck(wrong, [Value(1.5)])
        except zg.GradcheckError as e:
            print("caught", type(e).__name__)
    """)
    assert out.splitlines() == ["True", "caught GradcheckError"]


DATASETS = {
    "moons": "data.moons(40, 0.1, seed=3)",
    "moons signed": "data.moons(41, 0.2, seed=4, signed=True)",
    "circles": "data.circles(30, 0.05, 0.4, seed=5, signed=True)",
    "spiral": "data.spiral(12, 3, seed=6)",
    "blobs": "data.blobs(25, 4, 0.5, features=3, seed=7)",
    "xor": "data.xor(30, 0.1, seed=8)",
    "split": "data.train_test_split(*data.moons(20, seed=9), 0.25, seed=10)",
}


def test_the_datasets_give_the_same_numbers_as_any_numpy_free_run(bare_python, monkeypatch):
    """Lists, and the numbers of the standard-library sets made in this process with NumPy
    hidden: a seed gives the same set wherever NumPy is absent."""
    out = run(bare_python, f"""
        import json
        from zerograd import data
        sets = {{name: eval(call) for name, call in {DATASETS!r}.items()}}
        for made in sets.values():
            assert all(type(part) is list for part in made), made
        try:
            data.digits()
        except ImportError as e:
            sets["digits"] = str(e)
        print(json.dumps(sets))
    """)
    there = json.loads(out)
    monkeypatch.setitem(sys.modules, "numpy", None)
    for name, call in DATASETS.items():
        here = eval(call)
        assert json.loads(json.dumps(here)) == there[name], name
    assert 'pip install "zerograd[data]"' in there["digits"]


def test_compile_runs_the_python_executor_with_the_eager_numbers(bare_python):
    out = run(bare_python, """
        import json, random
        import zerograd as zg

        random.seed(0)
        model = zg.nn.MLP(3, [4, 4, 1])
        xs, ys = zg.data.lecture()

        def loss(X, Y):
            return sum((model(x) - y) ** 2 for x, y in zip(X, Y)) * 0.25

        def grads(run):
            model.zero_grad()
            out = run()
            out.backward()
            return [out.data] + [p.grad for p in model.parameters()]

        results = {}
        for executor in ("python", "auto", "scalar"):
            f = zg.compile(loss, executor=executor)
            for shift in (0.0, 0.5):  # the trace, then a replay on new inputs
                X = [[v + shift for v in x] for x in xs]
                got = grads(lambda: f(X, ys))
                assert got == grads(lambda: loss(X, ys)), (executor, shift)
            results[executor] = f.executor.name
        with zg.detect_anomaly():
            assert grads(lambda: f(xs, ys)) == grads(lambda: loss(xs, ys))
        try:
            zg.compile(loss, executor="numpy")
        except ImportError as e:
            results["numpy"] = str(e)
        print(json.dumps(results))
    """)
    results = json.loads(out)
    assert results["python"] == results["auto"] == "python"
    assert results["scalar"] == "scalar"
    assert "pip install numpy" in results["numpy"]


# -- the tape as lists and as arrays -----------------------------------------------------------
def as_lists(t: tape.Tape) -> dict:
    return {"params": [id(p) for p in t.params], "n_inputs": t.n_inputs,
            **{f: tape.as_list(getattr(t, f))
               for f in ("consts", "code", "start", "args", "k_node", "k_value")},
            "outputs": t.outputs, "sites": t.sites}


def test_both_tape_recorders_record_the_same_numbers():
    for seed in range(200):
        outs, inputs, consts = random_graph(seed)
        arrays = tape.record(outs, inputs, consts, arrays=True)
        lists = tape.record(outs, inputs, consts, arrays=False)
        assert not arrays.lists and lists.lists
        assert as_lists(lists) == as_lists(arrays), seed
        assert all(type(getattr(lists, f)) is list for f in ("consts", "code", "args"))
        assert [type(x) for x in lists.consts + lists.k_value] == \
            [float] * (len(lists.consts) + len(lists.k_value))
        assert list(lists.calls()) == list(arrays.calls())
        assert lists.k_of() == arrays.k_of()
        for out in range(len(outs)):
            assert lists.reachable(out) == arrays.reachable(out).tolist(), (seed, out)
    sites = {id(v): ("f.py", i) for i, v in enumerate(engine.topological_order(outs[0]))}
    assert as_lists(tape.record(outs, inputs, consts, sites, arrays=False)) == \
        as_lists(tape.record(outs, inputs, consts, sites, arrays=True))


def test_a_micrograd_node_is_refused_by_both_recorders():
    x = Value(2.0)
    odd = Value(4.0, (x,), "square")
    for arrays in (True, False):
        with pytest.raises(zg.compile.TraceError, match="micrograd's way"):
            tape.record([odd * 2.0], [x], [], arrays=arrays)


def generated(fn, args: tuple, arrays: bool, monkeypatch) -> tuple[list[str], list]:
    """The python executor's source for ``fn`` (forward, then the backward of every result)
    with the tape recorded as arrays or as lists, and the numbers it gives."""
    sources: list[str] = []
    real = pyexec.define

    def spy(lines, ns, filename):
        sources.append("\n".join(lines))
        return real(lines, ns, filename)

    with monkeypatch.context() as m:
        m.setattr(tape, "numpy_installed", lambda: arrays)
        m.setattr(pyexec, "define", spy)
        m.setattr(pyexec, "MADE_KEPT", 0)  # generate it here, not from an earlier tape
        f = zg.compile(fn, executor="python")
        outs = f(*args)
        outs = outs if isinstance(outs, list | tuple) else [outs]
        numbers = [o.data for o in outs]
        for o in outs:
            o.backward()
    assert sources and f.executor.name == "python"
    return sources, numbers


def same_source_both_ways(fn, args: tuple, monkeypatch, params=()) -> None:
    for p in params:
        p.grad = 0.0
    from_arrays, numbers = generated(fn, args, True, monkeypatch)
    grads = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    from_lists, numbers_too = generated(fn, args, False, monkeypatch)
    assert from_lists == from_arrays
    assert same(numbers_too, numbers) and same([p.grad for p in params], grads)


def same(a: list[float], b: list[float]) -> bool:
    """Equal number for number, nan matching nan."""
    return len(a) == len(b) and all(x == y or (x != x and y != y) for x, y in zip(a, b))


@pytest.mark.parametrize("op, arity", CASES,
                         ids=[op.name + (f"-{n}" if n else "") for op, n in CASES])
def test_every_op_generates_the_same_python_from_either_tape(op, arity, monkeypatch):
    rows, ks = op_cases(op, arity)
    params = [[Value(x) for x in row] for row in rows]

    def fn(xs):
        return [engine.apply(op, tuple(p if j % 2 == 0 else x
                                      for j, (p, x) in enumerate(zip(ps, row))),
                            ks[i] if op.param else None)
                for i, (ps, row) in enumerate(zip(params, xs))]

    same_source_both_ways(fn, (rows,), monkeypatch, [p for ps in params for p in ps])


@settings(max_examples=40, deadline=None)
@given(recipe=graphs())
def test_random_graphs_generate_the_same_python_from_either_tape(recipe):
    n_params, leaves, _ = recipe
    params = [Value(x) for x in leaves[:n_params]]
    with pytest.MonkeyPatch.context() as monkeypatch:
        same_source_both_ways(lambda xs: build(recipe, params, xs), (leaves[n_params:],),
                              monkeypatch, params)


def test_networks_generate_the_same_python_from_either_tape(monkeypatch, restore_random):
    import numpy as np

    from zerograd.lecture import MLP as LectureMLP

    random.seed(0)
    lecture = LectureMLP(3, [4, 4, 1])
    xs, ys = data.lecture()
    same_source_both_ways(
        lambda X, Y: sum((lecture(x) - y) ** 2 for x, y in zip(X, Y)), (xs, ys), monkeypatch,
        lecture.parameters())
    relu = zg.nn.MLP(2, [8, 3])
    X = np.random.default_rng(0).normal(size=(5, 2))
    same_source_both_ways(  # an array argument, several results, constants and a dict
        lambda X, opts: [zg.logsumexp(relu(x)) * opts["scale"] + 1.5 for x in X] +
        [sum(p * p for p in relu.parameters()) ** 0.5],
        (X, {"scale": 0.3, "name": "static"}), monkeypatch, relu.parameters())


def test_the_scalar_and_checked_replays_run_on_a_tape_of_lists():
    for seed in range(60):
        outs, inputs, consts = random_graph(seed)
        xvals = [v.data for v in inputs]
        runs = []
        for arrays in (True, False):
            t = tape.record(outs, inputs, consts, arrays=arrays)
            pvals = [p.data for p in t.params]
            for ex in (scalarexec.ScalarExecutor(t), anomaly.CheckedExecutor(t)):
                values, saved = ex.forward(pvals, xvals)
                runs.append((values, [ex.backward(saved, i) for i in range(len(outs))]))
        assert runs[2] == runs[0] and runs[3] == runs[1], seed
        assert runs[0][0] == [v.data for v in outs], seed


def test_without_numpy_auto_picks_python_then_the_scalar_loop(monkeypatch):
    monkeypatch.setitem(sys.modules, "numpy", None)

    def chain(n: int):
        def f(x):
            for _ in range(n):
                x = x * 0.5 + 1.0
            return x
        return f

    for n_ops, want in [(6, "python"), (executors.PYTHON_SMALL + 2, "python"),
                        (executors.PYTHON_MAX_OPS, "python"),
                        (executors.PYTHON_MAX_OPS + 2, "scalar")]:
        f = zg.compile(chain(n_ops // 2))
        out = f(3.0)
        assert (f.n_ops, f.executor.name) == (n_ops, want)
        assert out.data == chain(n_ops // 2)(Value(3.0)).data


def test_without_numpy_the_array_executors_say_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "numpy", None)
    package = sys.modules["zerograd.compile"]
    for name in ("npexec", "npcode", "jaxexec", "arraymath"):  # imported afresh, as they are
        monkeypatch.delitem(sys.modules, f"{package.__name__}.{name}", raising=False)  # there
        monkeypatch.delattr(package, name, raising=False)
    assert "numpy" in EXECUTORS and "jax" in EXECUTORS  # names known, nothing imported
    with pytest.raises(ImportError, match=r'"numpy" executor needs NumPy: pip install numpy'):
        zg.compile(lambda x: x * 2, executor="numpy")
    with pytest.raises(ImportError, match=r'pip install "zerograd\[jax\]"'):
        zg.compile(lambda x: x * 2, executor="jax")
    assert sorted(EXECUTORS) == ["jax", "numpy", "python", "scalar"]


def test_compile_with_numpy_hidden_gives_the_eager_numbers(monkeypatch, restore_random):
    monkeypatch.setitem(sys.modules, "numpy", None)
    random.seed(1)
    model = zg.nn.MLP(2, [6, 6, 1])
    X, y = data.moons(30, seed=2, signed=True)  # lists, with NumPy hidden

    def loss(X, y):
        return sum((1 + -yi * model(x)).relu() for x, yi in zip(X, y)) * (1.0 / len(y))

    f = zg.compile(loss)
    for rows in (X, [[a * 0.5, b] for a, b in X]):
        model.zero_grad()
        got = f(rows, y)
        got.backward()
        mine = [p.grad for p in model.parameters()]
        model.zero_grad()
        want = loss(rows, y)
        want.backward()
        assert got.data == want.data and mine == [p.grad for p in model.parameters()]
    assert f.executor.name == "python" and f.n_ops > executors.PYTHON_SMALL


# -- the datasets without NumPy ----------------------------------------------------------------
@pytest.fixture
def no_numpy(monkeypatch):
    """NumPy hidden: ``import numpy`` raises ImportError, as where it is not installed."""
    monkeypatch.setitem(sys.modules, "numpy", None)


SETS = {
    "moons": lambda s: data.moons(50, 0.1, s),
    "moons signed": lambda s: data.moons(51, 0.1, s, signed=True),
    "circles": lambda s: data.circles(40, 0.05, 0.5, s),
    "circles signed": lambda s: data.circles(41, 0.05, 0.3, s, signed=True),
    "spiral": lambda s: data.spiral(20, 3, s),
    "blobs": lambda s: data.blobs(33, 4, features=5, seed=s),
    "xor": lambda s: data.xor(40, 0.1, seed=s),
}
SHAPES = {"moons": (50, 2, {0, 1}), "moons signed": (51, 2, {-1, 1}),
          "circles": (40, 2, {0, 1}), "circles signed": (41, 2, {-1, 1}),
          "spiral": (60, 2, {0, 1, 2}), "blobs": (33, 5, {0, 1, 2, 3}), "xor": (40, 2, {0, 1})}


@pytest.mark.parametrize("name", SETS)
def test_the_sets_are_lists_seeded_and_leave_the_global_random_state(name, no_numpy,
                                                                        restore_random):
    state = random.getstate()
    X, y = SETS[name](7)
    assert random.getstate() == state
    n, features, labels = SHAPES[name]
    assert type(X) is list and len(X) == n and all(type(r) is list for r in X)
    assert {len(r) for r in X} == {features}
    assert all(type(v) is float and math.isfinite(v) for r in X for v in r)
    assert type(y) is list and all(type(c) is int for c in y) and set(y) == labels
    assert SETS[name](7) == (X, y)
    assert SETS[name](8)[0] != X


def test_moons_lie_on_their_half_circles_in_shuffled_order(no_numpy):
    X, y = data.moons(101, noise=0.0, seed=3)
    assert y.count(0) == 50 and y.count(1) == 51 and y != sorted(y)
    for (a, b), c in zip(X, y):
        if c == 0:  # the upper half of the unit circle
            assert math.isclose(math.hypot(a, b), 1.0) and b >= -1e-12
        else:  # the lower half of the circle of radius 1 around (1, 0.5)
            assert math.isclose(math.hypot(a - 1.0, b - 0.5), 1.0) and b <= 0.5 + 1e-12
    across = [a for a, _ in X]  # each half circle from end to end
    assert math.isclose(min(across), -1.0) and math.isclose(max(across), 2.0)


def test_noise_is_standard_normal_times_the_noise_level(no_numpy):
    """The same seed with and without noise: the same points, moved by noise * N(0, 1)."""
    clean, y = data.xor(4000, noise=0.0, seed=5)
    noisy, y2 = data.xor(4000, noise=0.5, seed=5)
    assert y2 == y == [int(a * b > 0) for a, b in clean]
    z = [(p - q) / 0.5 for r, s in zip(noisy, clean) for p, q in zip(r, s)]
    mean = sum(z) / len(z)
    sd = math.sqrt(sum((v - mean) ** 2 for v in z) / len(z))
    assert abs(mean) < 0.05 and abs(sd - 1.0) < 0.05
    assert abs(sum(abs(v) < 1.0 for v in z) / len(z) - 0.6827) < 0.02  # the bell's shape
    assert all(abs(v) <= 1.0 for r in clean for v in r)
    assert 0.45 < sum(y) / len(y) < 0.55


def test_circles_have_radius_one_and_factor(no_numpy):
    X, y = data.circles(60, noise=0.0, factor=0.3, seed=1)
    radii = {c: sorted({round(math.hypot(a, b), 12) for (a, b), k in zip(X, y) if k == c})
             for c in (0, 1)}
    assert radii == {0: [1.0], 1: [0.3]} and y.count(0) == y.count(1) == 30


def test_spiral_arms_follow_their_angle_inside_the_unit_disc(no_numpy):
    X, y = data.spiral(25, 4, seed=2, noise=0.0)
    assert [y.count(c) for c in range(4)] == [25] * 4
    for i, ((a, b), c) in enumerate(zip(X, y)):
        r = (i % 25) / 24
        assert math.isclose(math.hypot(a, b), r, abs_tol=1e-12)
        if r:
            t = 4.0 * c + 4.0 * r
            assert math.isclose(a, r * math.sin(t), abs_tol=1e-12)
            assert math.isclose(b, r * math.cos(t), abs_tol=1e-12)


def test_blobs_split_the_points_evenly_around_centres_in_the_box(no_numpy):
    X, y = data.blobs(103, centers=4, std=0.01, features=3, seed=4)
    assert sorted(y.count(c) for c in range(4)) == [25, 26, 26, 26] and y != sorted(y)
    for c in range(4):
        rows = [r for r, k in zip(X, y) if k == c]
        centre = [sum(col) / len(rows) for col in zip(*rows)]
        assert all(-10.0 <= m <= 10.0 for m in centre)
        assert max(abs(v - m) for r in rows for v, m in zip(r, centre)) < 0.1


def test_train_test_split_of_lists_keeps_rows_with_their_labels(no_numpy):
    X = [[float(i), 2.0 * i] for i in range(10)]
    y = list(range(10))
    Xtr, Xte, ytr, yte = data.train_test_split(X, y, 0.3, seed=2)
    assert len(Xte) == 3 and len(Xtr) == 7 and sorted(ytr + yte) == y
    assert all(r[0] == c for r, c in zip(Xtr + Xte, ytr + yte))
    assert data.train_test_split(X, y, 0.3, seed=2) == (Xtr, Xte, ytr, yte)
    with pytest.raises(ValueError, match="rows"):
        data.train_test_split(X, y[:3])
    with pytest.raises(ValueError, match="seed"):
        data.train_test_split(X, y, seed=-1)


def test_digits_without_numpy_names_the_extra(no_numpy, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # scikit-learn needs NumPy
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r'pip install "zerograd\[data\]"'):
        data.digits()


def test_bad_arguments_are_refused_without_numpy_too(no_numpy):
    for call, words in [(lambda: data.moons(1), "n must be"),
                        (lambda: data.circles(10, factor=1.0), "factor"),
                        (lambda: data.spiral(10, classes=1), "classes"),
                        (lambda: data.blobs(10, centers=0), "centers"),
                        (lambda: data.xor(10, noise=-0.1), "noise"),
                        (lambda: data.moons(10, seed=1.5), "seed")]:
        with pytest.raises(ValueError, match=words):
            call()


# -- the playground's session, as the page's Python runs it -----------------------------------
TAB = """
    import json
    from zerograd.playground.inpage import Tab

    tab = Tab()
    tab.handle(json.dumps({"type": "config", "config": SETUP}))
    for _ in range(15):
        tab.handle('{"type": "step"}')
    tab.handle('{"type": "graph", "which": "example", "index": 3}')
    tab.handle('{"type": "backprop", "action": "all"}')
    tab.handle('{"type": "code"}')
    print(tab.take())
"""
TAB_SETUPS = [{"dataset": "moons", "hidden": [4, 3], "batch": 16, "optimizer": "adam"},
              {"dataset": "lecture", "hidden": [4, 4], "forget_zero_grad": True}]


@pytest.mark.parametrize("setup", TAB_SETUPS)
def test_the_pages_session_runs_without_numpy_with_the_servers_numbers(bare_python, setup):
    from zerograd.playground.inpage import Tab

    page = json.loads(run(bare_python, "SETUP = " + repr(setup) + "\n" + textwrap.dedent(TAB)))
    ns = {"Tab": Tab}
    here = io.StringIO()
    with contextlib.redirect_stdout(here):
        exec("SETUP = " + repr(setup) + "\n" + textwrap.dedent(TAB).replace(
            "from zerograd.playground.inpage import Tab\n", ""), ns)
    native = json.loads(here.getvalue())
    # statuses say what compiles when, and split the frames they come between
    kinds = [m["type"] for m in page if m["type"] not in ("status", "frame")]
    assert kinds == [m["type"] for m in native if m["type"] not in ("status", "frame")]
    assert "graph" in kinds and "code" in kinds
    assert next(m for m in page if m["type"] == "data") == next(
        m for m in native if m["type"] == "data")  # the same points, bit for bit
    rows = [r for m in page if m["type"] == "frame" for r in m["losses"]]
    assert [r[0] for r in rows] == [0] + list(range(16))  # hello's step 0, every step
    losses = [r[1] for r in rows]
    assert losses == pytest.approx([r[1] for m in native if m["type"] == "frame"
                                    for r in m["losses"]], rel=1e-12, abs=0)
    assert min(losses[-3:]) < losses[0]
    walked = next(m for m in page if m["type"] == "backprop")["steps"]
    assert [s["grad"] for s in walked] == pytest.approx(
        [s["grad"] for s in next(m for m in native if m["type"] == "backprop")["steps"]],
        rel=1e-12)
    warned = [m["text"] for m in page if m["type"] == "warning"]
    assert warned == [m["text"] for m in native if m["type"] == "warning"]
    assert bool(warned) == setup.get("forget_zero_grad", False)
    assert next(m for m in page if m["type"] == "code") == next(
        m for m in native if m["type"] == "code")


def test_portable_sets_are_the_standard_library_sets_where_numpy_is_installed(bare_python):
    calls = ["moons(31, noise=0.2, seed=4)", "circles(20, seed=2)", "spiral(9, classes=2)",
             "blobs(17, centers=2, seed=3)", "xor(12, seed=5)"]
    bare = json.loads(run(bare_python, "import json\nfrom zerograd import data\nprint(json.dumps(["
                          + ", ".join(f"data.train_test_split(*data.{c}, 0.25, seed=1)"
                                      for c in calls) + "]))"))
    here = [data.train_test_split(*eval("data." + c[:-1] + ", portable=True)"), 0.25, seed=1,
                                  portable=True) for c in calls]
    assert all(isinstance(part, list) for split in here for part in split)
    assert json.loads(json.dumps(here)) == bare


WARM = """
    import json
    from zerograd.playground import session
    from zerograd.playground.inpage import Tab

    def run(uses, at_least):
        session.PYTHON_USES = uses  # 0: every pass on the scalar loop, nothing generated
        tab = Tab()
        tab.handle(json.dumps({"type": "config", "config": {"hidden": [5, 4], "points": 90}}))
        tab.handle('{"type": "play"}')
        while not tab.core.trainer.loss_fn.traces:
            tab.advance(0.02)
        goal = max(at_least, tab.core.trainer.steps + 20)  # 20 steps on compiled code
        while tab.core.trainer.steps < goal:
            tab.advance(0.02)
        tab.handle('{"type": "pause"}')
        tr = tab.core.trainer
        rows = [r for m in json.loads(tab.take()) if m["type"] == "frame" for r in m["losses"]]
        kinds = [tr.quick_fn.traces if tr.quick_fn else None, tr.loss_fn.traces,
                 tr.loss_fn.executor.name]
        return [r[1] for r in rows], kinds

    warm = run(60000, 0)
    print(json.dumps([warm, run(0, len(warm[0]))]))
"""


def test_the_pages_first_steps_run_on_the_scalar_loop_then_on_compiled_code(bare_python):
    (warm, kinds), (scalar, kinds_scalar) = json.loads(run(bare_python, WARM))
    assert kinds == [1, 1, "python"]  # the scalar loop first, then the generated Python
    assert kinds_scalar == [None, 1, "scalar"]
    assert len(warm) >= 21 and scalar[:len(warm)] == warm  # the switch changes no number
