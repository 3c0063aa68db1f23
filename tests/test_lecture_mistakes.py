"""The lecture's mistakes are caught in its own hand-written loop (no optimizer), and
micrograd's extension habits (ops written micrograd's way, attributes on Values, subclasses)
work after changing only the import."""

from __future__ import annotations

import math
import random
import re
import warnings

import pytest
from conftest import needs

import zerograd as zg
from zerograd.compile import TraceError
from zerograd.engine import Value
from zerograd.nn import MLP

XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]


def lecture_loop(seed: int, lr: float | list = 0.1, steps: int = 20, zero: bool = True,
                 net: str = "package") -> list:
    """The lecture's training loop, as typed in the lecture; returns the losses. ``lr`` may
    be one rate per step; ``net`` "package" is micrograd's MLP initialisation with tanh,
    "lecture" the notebook's classes (``MLP.lecture``)."""
    random.seed(seed)
    if net == "lecture":
        n = MLP.lecture(3, [4, 4, 1])
    else:
        n = MLP(3, [4, 4, 1], activation="tanh", output_activation="tanh")
    lrs = lr if isinstance(lr, list) else [lr] * steps
    losses = []
    for lr in lrs:
        ypred = [n(x) for x in XS]
        loss = sum((yout - ygt) ** 2 for ygt, yout in zip(YS, ypred))
        if zero:
            for p in n.parameters():
                p.grad = 0.0
        loss.backward()
        for p in n.parameters():
            p.data += -lr * p.grad
        losses.append(loss.data)
    return losses


@pytest.mark.parametrize("seed", [0, 1, 2, 8, 1337])
def test_forgotten_zero_grad_warns_once_at_the_second_backward(seed):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lecture_loop(seed, steps=2, zero=False)
        assert len(caught) == 1  # at the second step already
        lecture_loop(seed, steps=10, zero=False)
    mine = [w for w in caught if w.category is zg.TrainingWarning]
    assert len(mine) == 2  # once per run: one for each of the two runs
    msg = str(mine[0].message)
    assert "backward() added new gradients to old ones" in msg
    assert "41 parameters" in msg and "updated since" in msg
    assert "p.grad = 0.0" in msg and "zero_grad()" in msg
    assert mine[0].filename == __file__  # points at the loop's loss.backward() line


def test_the_zero_grad_warning_says_what_happened_and_the_fix_in_its_first_sentence():
    with pytest.warns(zg.TrainingWarning) as caught:
        lecture_loop(0, steps=2, zero=False)
    msg = str(caught[0].message)
    first = re.split(r"(?<=[.!?])\s", msg, maxsplit=1)[0]
    assert len(first.split()) < 30 and len(first) < len(msg)  # the details follow it
    assert first.startswith("backward() added new gradients to old ones")
    assert "`for p in model.parameters(): p.grad = 0.0`" in first and "zero_grad()" in first


def watched_loop(seed: int, lr: float, net: str = "micrograd", adam: bool = False,
                 steps: int = 100) -> tuple[list, list]:
    """The lecture's loop (or Adam) on micrograd's MLP (ReLU, linear output; "lecture": the
    notebook's); returns the losses and (step, warning) of each TrainingWarning."""
    random.seed(seed)
    n = MLP.lecture(3, [4, 4, 1]) if net == "lecture" else MLP(3, [4, 4, 1])
    opt = zg.optim.Adam(n.parameters(), lr=lr) if adam else None
    losses, said = [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(steps):
            ypred = [n(x) for x in XS]
            loss = sum((yout - ygt) ** 2 for ygt, yout in zip(YS, ypred))
            for p in n.parameters():
                p.grad = 0.0
            loss.backward()
            if opt is not None:
                opt.step()
            else:
                for p in n.parameters():
                    p.data += -lr * p.grad
            losses.append(loss.data)
            said += [(k, w) for w in caught[len(said):]]
    return losses, [(k, w) for k, w in said if w.category is zg.TrainingWarning]


def passed_100x(losses: list) -> int | None:
    """The first step whose loss is over 100x the best before it (or nan/inf), else None."""
    return next((k for k in range(1, len(losses)) if not losses[k] <= 100 * min(losses[:k])),
                None)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_a_loss_grown_by_orders_of_magnitude_is_named_within_5_steps(seed):
    """micrograd's MLP at lr 10: the loss grows ~1e4x a step and becomes inf only near step
    80; the watch names the growth within 5 steps of it passing 100x its best, and the
    learning rate as the likely cause."""
    losses, said = watched_loop(seed, lr=10.0)
    passed = passed_100x(losses)
    assert passed is not None and len(said) == 1  # once per run
    (k, w), text = said[0], str(said[0][1].message)
    assert passed <= k <= passed + 5 and math.isfinite(losses[k])
    best, peak = min(losses[:k + 1]), max(losses[:k + 1])
    assert text.startswith(f"the loss grew from {best:.3g} to {peak:.3g} in ")
    assert "after updates" in text and "learning rate is the likely cause" in text
    assert "zg.train.lr_find" in text and w.filename == __file__


@pytest.mark.parametrize("net, adam, lrs", [("micrograd", False, [0.01, 0.03]),
                                            ("micrograd", True, [0.01, 0.1]),
                                            ("lecture", False, [0.01, 0.1]),
                                            ("lecture", True, [0.1])])
def test_loops_that_train_are_never_told_of_a_blow_up(net, adam, lrs):
    """A small benchmarks/calibrate_watch.py: learning rates that train these networks, 6
    seeds each; no blow-up warning (the stuck rule may still name a net born dead)."""
    trained = 0
    for lr in lrs:
        for seed in range(6):
            losses, said = watched_loop(seed, lr, net, adam)
            assert not [w for _, w in said if "the loss grew" in str(w.message)], (lr, seed)
            trained += losses[-1] < 0.1 * losses[0]
    assert trained >= 4 * len(lrs)  # they did train: these loops must stay silent


def test_a_spike_the_next_update_undoes_is_not_a_blow_up():
    """micrograd's MLP, seed 17, SGD lr 0.03: near convergence one update throws the loss
    past 100x its best and above where it started, the next brings it back down, and the run
    trains on: silent."""
    losses, said = watched_loop(17, lr=0.03)
    k = passed_100x(losses)
    assert k is not None and losses[k] > losses[0] and losses[k + 1] < losses[k] / 2
    assert losses[-1] < 1e-3 * losses[0] and said == []


@pytest.mark.parametrize("net", ["package", "lecture"])
@pytest.mark.parametrize("lr", [0.01, 0.03, 0.05, 0.1])
def test_the_correct_lecture_loop_is_silent(lr, net):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for seed in range(10):
            lecture_loop(seed, lr=lr, steps=100, net=net)


def test_a_spike_that_recovers_is_not_warned():
    """The lecture's "we briefly exploded, but then ended up in a really good spot": a few
    steps at lr 0.05, then 0.2 (zero_grad done right, so only the lr rule could speak)."""
    recovered = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for seed in range(40):
            losses = lecture_loop(seed, lr=[0.05] * 5 + [0.2] * 25, net="lecture")
            spiked = any(b > 1.25 * min(losses[:i]) and b > 1.0
                         for i, b in enumerate(losses) if i)
            recovered += spiked and losses[-1] < 0.05
    assert recovered >= 3  # the case did occur, and none of those runs warned


def test_deliberate_accumulation_and_backward_twice_are_silent():
    random.seed(0)
    n = MLP(3, [4, 4, 1], activation="tanh", output_activation="tanh")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):  # one backward per example, then one update, then zero
            for x, y in zip(XS, YS):
                ((n(x) - y) ** 2).backward()
            for p in n.parameters():
                p.data += -0.05 * p.grad
            n.zero_grad()
        loss = (n(XS[0]) - 1.0) ** 2
        loss.backward()
        loss.backward()  # twice on one graph: grads doubled, data unchanged
        zg.gradcheck(lambda a, b: (a * b).tanh(), [Value(0.3), Value(-0.7)])


def test_accumulating_across_updates_on_purpose_is_silent_when_declared():
    def run(declare: str) -> None:
        random.seed(4)
        n = MLP(3, [4, 1])
        opt = zg.optim.SGD(n.parameters(), lr=0.01, accumulate=declare == "optimizer")
        for _ in range(4):
            sum((n(x) - y) ** 2 for x, y in zip(XS, YS)).backward()
            if declare == "optimizer":
                opt.step()
            else:
                for p in n.parameters():
                    p.data += -0.01 * p.grad

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run("optimizer")
        zg.engine.check_zero_grad(False)
        try:
            run("switch")
        finally:
            zg.engine.check_zero_grad(True)
    with pytest.warns(zg.TrainingWarning):
        run("nothing")


@pytest.mark.parametrize("executor", ["python", "numpy", "scalar"])
def test_compiled_backward_keeps_the_same_check(executor):
    random.seed(0)
    n = MLP(3, [4, 1])
    step = zg.compile(lambda X: sum((n(x) - y) ** 2 for x, y in zip(X, YS)), executor=executor)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(4):
            step(XS).backward()
            for p in n.parameters():
                p.data += -0.01 * p.grad
    assert [w.category for w in caught] == [zg.TrainingWarning]
    assert "backward() added new gradients" in str(caught[0].message)


# -- micrograd's extension habits ------------------------------------------------------------
def _sin(self):
    out = Value(math.sin(self.data), (self,), "sin")

    def _backward():
        self.grad += math.cos(self.data) * out.grad

    out._backward = _backward
    return out


def test_an_op_monkeypatched_onto_value_backpropagates(monkeypatch):
    monkeypatch.setattr(Value, "sin", _sin, raising=False)
    x = Value(0.5)
    y = (x * 2).sin() * x  # d/dx = 2 cos(2x) x + sin(2x)
    y.backward()
    assert y.data == pytest.approx(math.sin(1.0) * 0.5, rel=1e-15)
    assert x.grad == pytest.approx(2 * math.cos(1.0) * 0.5 + math.sin(1.0), rel=1e-15)
    x.grad = 0.0
    y.backward()  # intermediate grads start from zero again on a second pass
    assert x.grad == pytest.approx(2 * math.cos(1.0) * 0.5 + math.sin(1.0), rel=1e-15)


def test_attributes_can_be_set_on_values():
    p = Value(1.0)
    p.m, p.v = 0.0, 0.0  # an Adam written on Values
    p._vis_color = "red"
    p.m = 0.9 * p.m + 0.1 * 2.0
    assert (p.m, p.v, p._vis_color) == (pytest.approx(0.2), 0.0, "red")
    assert (p * 3).data == 3.0


def test_a_subclass_with_its_own_op_gets_the_right_gradient():
    class MyValue(Value):
        def cube(self):
            out = MyValue(self.data**3, (self,), "cube")

            def _backward():
                self.grad += 3 * self.data**2 * out.grad

            out._backward = _backward
            return out

    class Sq(Value):  # a node type whose backward is a method
        def _backward(self):
            (x,) = self._children
            x.grad += 2 * x.data * self.grad

    x = MyValue(1.5)
    y = x.cube() + Sq(x.data**2, (x,), "sq")
    y.backward()
    assert x.grad == pytest.approx(3 * 1.5**2 + 2 * 1.5, rel=1e-15)


def test_compile_refuses_a_node_made_micrographs_way_naming_the_op(monkeypatch):
    monkeypatch.setattr(Value, "sin", _sin, raising=False)
    f = zg.compile(lambda x: x.sin() * 2)
    with pytest.raises(TraceError, match="op 'sin'"):
        f(0.5)


@pytest.mark.parametrize("seed, lr", [(2, 1.0), (8, 1.0), (2, 10.0), (8, 10.0), (0, 1.0)])
def test_a_learning_rate_that_saturates_the_lecture_net_is_named(seed, lr):
    with pytest.warns(zg.TrainingWarning) as caught:
        losses = lecture_loop(seed, lr=lr, steps=20)
    assert losses[-1] > losses[0]  # it did blow up and stay there
    texts = [str(w.message) for w in caught]
    assert len(texts) == 1
    assert "tanh outputs are at ±1" in texts[0] and "gradients vanished" in texts[0]
    assert "learning rate" in texts[0] and "lr_find" in texts[0]
    assert caught[0].filename == __file__


@pytest.mark.parametrize("executor", ["python", "numpy", "scalar"])
@pytest.mark.parametrize("lr, warned", [(10.0, True), (0.05, False)])
def test_a_compiled_loss_in_the_lecture_loop_is_watched_too(executor, lr, warned):
    random.seed(2)
    n = MLP.lecture(3, [4, 4, 1])
    loss_fn = zg.compile(lambda X: sum((n(x) - y) ** 2 for x, y in zip(X, YS)),
                         executor=executor)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(50):
            loss = loss_fn(XS)
            for p in n.parameters():
                p.grad = 0.0
            loss.backward()
            for p in n.parameters():
                p.data += -lr * p.grad
    texts = [str(w.message) for w in caught]
    if warned:
        assert len(texts) == 1 and "gradients vanished" in texts[0]
        assert "learning rate" in texts[0] and caught[0].filename == __file__
    else:
        assert texts == [] and loss.data < 0.05


def _stuck_fit(opt: str, lr: float, compile: bool, seed: int = 2):
    random.seed(seed)
    model = MLP.lecture(3, [4, 4, 1])
    optimizer = getattr(zg.optim, opt)(model.parameters(), lr=lr)
    return zg.train.fit(model, lambda: sum((model(x) - y) ** 2 for x, y in zip(XS, YS)),
                        optimizer, 100, compile=compile, progress=False)


@pytest.mark.parametrize("opt, lr, compile", [("SGD", 1.0, False), ("SGD", 10.0, False),
                                               ("Adam", 1.0, False), ("SGD", 10.0, True),
                                               ("Adam", 1.0, True)])
def test_fit_stops_a_run_a_learning_rate_left_stuck(opt, lr, compile):
    with pytest.warns(zg.TrainingWarning) as caught:
        with pytest.raises(zg.TrainingDiverged) as info:
            _stuck_fit(opt, lr, compile)
    err = info.value
    assert len(caught) == 1  # warned once (the run might still have recovered), then stopped
    assert "fit stops the run if it stays stuck for 5 more steps" in str(caught[0].message)
    assert caught[0].filename == __file__
    text = str(err)
    assert f"training diverged at step {err.step}: it is stuck, with learning rate {lr:g}" in text
    assert "gradients vanished" in text and "lr_find" in text
    assert ("tanh outputs are at ±1" in text) != compile  # a compiled result keeps no graph
    assert len(err.history["loss"]) == err.step and err.history["loss"][-1] > 7.9


@pytest.mark.parametrize("compile", [False, True])
def test_fit_at_a_good_learning_rate_is_silent(compile):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for seed in range(4):
            for opt, lr in (("SGD", 0.1), ("Adam", 0.1), ("SGD", 0.05)):
                history = _stuck_fit(opt, lr, compile, seed)
                assert history["loss"][-1] < 0.01


def test_demos_training_is_silent():
    needs("sklearn", "the moons demo's data")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from zerograd import demos

        demos.DEMOS["moons"](out=None, steps=100, progress=False, print_every=1000)


@pytest.mark.parametrize("seed", [38, 136])
def test_a_dead_unit_among_the_watched_leaves_is_not_vanished_gradients(seed):
    """micrograd's moons demo, compiled: with these seeds the first parameters the watch
    glances at belong to dead ReLUs (gradient 0) while the net trains to a low loss. The
    watch looks at every gradient before it says they vanished (it warned on these)."""
    needs("sklearn", "the moons demo's data")
    from zerograd import demos

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = demos.moons(steps=100, seed=seed, out=None, compile=True, progress=False,
                        print_every=1000, log=lambda _: None)
    assert r.history["loss"][-1] < 0.05 * r.history["loss"][0]


def test_the_watch_copes_with_a_compiled_function_reborn_with_fewer_parameters():
    owner = object()  # a new compiled function may get the id of one that was freed
    long, short = [Value(float(i)) for i in range(10)], [Value(1.0)]
    assert zg.monitor.after_compiled(owner, 1.0, long) is None
    assert zg.monitor.after_compiled(owner, 1.0, short) is None
    short[0].data = 2.0  # an update: the short run is watched from here on
    assert zg.monitor.after_compiled(owner, 0.5, short) is None
