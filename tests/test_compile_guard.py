"""A compiled function, ``Step`` and ``fit(compile=True)`` see a model changed after the
trace: they trace again (and give the changed model's numbers) or refuse with
``ModelChanged`` naming the change; never the old graph's numbers in silence (issue 26)."""

from __future__ import annotations

import math
import random

import pytest
from conftest import needs

import zerograd as zg
from zerograd import Value
from zerograd.nn import MLP, Layer, Neuron

X = [[1.0, 2.0], [-0.5, 0.3], [0.2, -1.5]]
Y = [1.0, -1.0, 0.5]


def model() -> MLP:
    random.seed(0)
    return MLP(2, [3, 3, 1])


def output(m: MLP, x):
    out = m(x)
    return out if isinstance(out, Value) else sum(out)  # an appended neuron: two outputs


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def replace_weight(m):
    m.layers[0].neurons[0].w[0] = Value(5.0)
    return "m.layers[0].neurons[0].w[0] was replaced"


def replace_bias(m):
    m.layers[2].neurons[0].b = Value(-0.75)
    return "m.layers[2].neurons[0].b was replaced"


def replace_neuron(m):
    random.seed(1)
    m.layers[1].neurons[1] = Neuron(3)
    return "m.layers[1].neurons[1] was replaced"


def append_neuron(m):
    random.seed(2)
    m.layers[-1].neurons.append(Neuron(3, nonlin=False))
    return "m.layers[2].neurons has 2 items, it had 1"


def append_layer(m):
    random.seed(3)
    m.layers.append(Layer(1, 1, activation="tanh"))
    return "m.layers has 4 items, it had 3"


def remove_layer(m):
    del m.layers[1]  # 2 -> 3 -> 3 -> 1 becomes 2 -> 3 -> 1
    return "m.layers has 2 items, it had 3"


def change_activation(m):
    m.layers[0].neurons[1].activation = "tanh"
    return "m.layers[0].neurons[1].activation changed from 'relu' to 'tanh'"


def new_list_then_item(m):
    """A neuron's weights become a new list of the same Values (the same numbers: nothing
    to notice yet), then an item of that new list is replaced."""
    n = m.layers[0].neurons[0]
    n.w = list(n.w)
    yield None
    n.w[1] = Value(-2.5)
    yield "m.layers[0].neurons[0].w"


CHANGES = [replace_weight, replace_bias, replace_neuron, append_neuron, append_layer,
           remove_layer, change_activation, new_list_then_item]
EXECUTORS = ["python", "numpy", "scalar", "jax"]
PATHS = [pytest.param(e, marks=pytest.mark.needs("jax", "the jax executor")) if e == "jax" else e
         for e in EXECUTORS] + ["Step", "fit"]


def stages(change, m):
    """Each stage of ``change`` applied to ``m``: the words the error names it with."""
    got = change(m)
    if isinstance(got, str):
        yield got
    else:
        yield from got


def loss_of(m):
    def loss_fn(X, y):
        return sum((output(m, x) - t) ** 2 for x, t in zip(X, y))
    return loss_fn


def run_path(path: str, change) -> list[str]:
    """Apply ``change`` after a first compiled call on ``path``; each later call's outcome:
    "retraced" (the changed model's numbers), "refused" (ModelChanged naming the change)
    or "silent" (other numbers, no error)."""
    m = model()
    outcomes = []
    if path in EXECUTORS:
        f = zg.compile(lambda x: output(m, x), executor=path)
        f(X[0]).backward()
        for words in stages(change, m):
            for p in m.parameters():
                p.grad = 0.0
            try:
                r = f(X[0])
                r.backward()
            except zg.compile.ModelChanged as e:
                outcomes.append("refused" if words and words in str(e) else f"wrong error {e}")
                continue
            got = [r.data] + [p.grad for p in m.parameters()]
            for p in m.parameters():
                p.grad = 0.0
            e = output(m, X[0])
            e.backward()
            want = [e.data] + [p.grad for p in m.parameters()]
            outcomes.append("retraced" if all(map(close, got, want)) else "silent")
        return outcomes
    loss_fn = loss_of(m)
    if path == "Step":
        step = zg.train.Step(loss_fn, zg.optim.SGD(m.parameters(), lr=0.01))
        step(X, Y)
        for words in stages(change, m):
            want = loss_fn(X, Y).data
            try:
                got = step(X, Y)
            except zg.compile.ModelChanged as e:
                outcomes.append("refused" if words and words in str(e) else f"wrong error {e}")
                step = zg.train.Step(loss_fn, zg.optim.SGD(m.parameters(), lr=0.01))
                step(X, Y)
                continue
            outcomes.append("retraced" if close(got, want) else "silent")
        return outcomes
    # fit: the change made by a callback between two steps
    plan = iter(stages(change, m))
    wants: list = []

    def callback(step, loss):
        words = next(plan, "done")
        if words == "done":
            return True
        wants.append((words, loss_fn(X, Y).data))
        return None

    opt = zg.optim.SGD(m.parameters(), lr=0.01)
    try:
        history = zg.train.fit(m, loss_fn, opt, steps=10, compile=True,
                               callbacks=[callback], batch=lambda: (X, Y))
    except zg.compile.ModelChanged as e:
        words = wants[-1][0]
        return ["refused" if words and words in str(e) else f"wrong error {e}"]
    except zg.train.TrainingDiverged as e:
        history = {"loss": e.history["loss"] + [e.loss]}
    return ["retraced" if close(history["loss"][i + 1], want) else "silent"
            for i, (_, want) in enumerate(wants)]


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("path", PATHS)
def test_a_changed_model_is_retraced_or_refused_never_silent(path, change):
    outcomes = run_path(path, change)
    assert outcomes and all(o in ("retraced", "refused") for o in outcomes), outcomes
    if path in EXECUTORS:  # zg.compile traces again: the changed model's numbers
        assert set(outcomes) == {"retraced"}
    elif change is not new_list_then_item:  # a training run refuses, naming the change
        assert outcomes == ["refused"]


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: c.__name__)
def test_every_change_changes_the_numbers(change):
    """So that the old graph's numbers would be caught as silent."""
    m = model()
    before = [output(m, x).data for x in X]
    for _ in stages(change, m):
        pass
    assert [output(m, x).data for x in X] != before


def test_48_cases_none_silent():
    """The issue's count: 6 paths x 8 changes, 0 silent."""
    needs("jax", "the jax executor, one of the six paths")
    results = {(p, c.__name__): run_path(p, c) for p in EXECUTORS + ["Step", "fit"]
               for c in CHANGES}
    assert len(results) == 48
    silent = [k for k, v in results.items() if any(o not in ("retraced", "refused") for o in v)]
    assert silent == []


def test_the_issues_reproduction():
    random.seed(0); m = zg.nn.MLP(2, [3, 1]); f = zg.compile(lambda x: m(x)); f([1.0, 2.0])  # noqa: E702
    m.layers[0].neurons[0].w[0] = Value(5.0)
    assert f([1.0, 2.0]).data == m([1.0, 2.0]).data
    assert math.isclose(m([1.0, 2.0]).data, 3.4236, abs_tol=1e-4)


def test_a_rebound_global_or_closure_name_is_seen():
    m = model()

    def fn(x):
        return output(m, x)

    f = zg.compile(fn)
    f(X[0])
    m = MLP(2, [2, 1])  # the closure's m now names another model
    assert f(X[0]).data == output(m, X[0]).data
    assert f.traces == 2


def test_a_constant_in_the_closure_is_baked_in():
    m, scale = model(), 2.0
    f = zg.compile(lambda x: output(m, x) * scale)
    first = f(X[0]).data
    scale = 3.0  # noqa: F841  a number: a constant of the graph, as in jax.jit
    assert f(X[0]).data == first
    assert f.traces == 1


def test_an_unchanged_model_is_not_retraced_and_updates_are_read():
    m = model()
    f = zg.compile(lambda x: output(m, x))
    f(X[0])
    for p in m.parameters():
        p.data += 0.1  # optimizer-style updates: the same Values, new numbers
    assert f(X[0]).data == output(m, X[0]).data
    assert f.traces == 1


def test_backward_of_a_result_from_before_a_retrace_is_refused():
    m = model()
    f = zg.compile(lambda x: output(m, x))
    old = f(X[0])
    replace_weight(m)
    f(X[0])  # traced again
    grads = [p.grad for p in m.parameters()]
    with pytest.raises(zg.compile.ModelChanged, match="traced again"):
        old.backward()
    assert [p.grad for p in m.parameters()] == grads  # nothing added


def test_a_model_passed_as_the_function_and_a_bound_method_are_watched():
    m = model()
    f = zg.compile(m)
    f(X[0])
    change_activation(m)
    assert f(X[0]).data == m(X[0]).data
    g = zg.compile(m.layers[0].forward)
    g(X[0])
    replace_weight(m)
    assert [v.data for v in g(X[0])] == [v.data for v in m.layers[0].forward(X[0])]


def test_a_model_reached_through_a_helper_function_is_watched():
    m = model()
    f = zg.compile(lambda x: _helper_output(m, x))
    f(X[0])
    append_layer(m)
    assert f(X[0]).data == output(m, X[0]).data


def _helper_output(m, x):
    return output(m, x)


def test_many_retraces_warn():
    m = model()
    f = zg.compile(lambda x: output(m, x))
    f(X[0])
    with pytest.warns(UserWarning, match="traced 10 times"):
        for i in range(9):
            m.layers[0].neurons[0].w[0] = Value(float(i))
            assert f(X[0]).data == output(m, X[0]).data


def test_step_refuses_after_another_call_retraced_its_loss():
    m = model()
    loss = zg.compile(loss_of(m))
    step = zg.train.Step(loss, zg.optim.SGD(m.parameters(), lr=0.01))
    step(X, Y)
    replace_bias(m)
    loss(X, Y)  # traced again outside the Step
    before = [p.data for p in m.parameters()]
    with pytest.raises(zg.compile.ModelChanged, match="traced again"):
        step(X, Y)
    assert [p.data for p in m.parameters()] == before
