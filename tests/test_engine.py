"""The Value engine: API, backward semantics, memory, no_grad and gradcheck."""

from __future__ import annotations

import dataclasses
import gc
import math
import re

import pytest
from conftest import needs

import zerograd as zg
from zerograd import engine
from zerograd.engine import Value

try:
    import torch
except ImportError:  # the tests that use it start with needs("torch"): skipped without it
    torch = None


def t64(x: float) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


# -- the Value API ---------------------------------------------------------------------
def test_value_has_micrograds_attributes_and_repr():
    a = Value(2.0, label="a")
    b = Value(-3)
    c = a * b
    assert (a.data, a.grad, a._prev, a._op, a.label) == (2.0, 0.0, set(), "", "a")
    assert isinstance(b.data, float) and b.data == -3.0
    assert c._prev == {a, b} and c._op == "*"
    c.backward()
    assert re.fullmatch(r"Value\(data=-6\.0, grad=1\.0\)", repr(c))
    assert repr(a) == f"Value(data=2.0, grad={b.data!r})"


def test_value_signature_is_micrographs_plus_label():
    import inspect

    params = inspect.signature(Value).parameters
    assert list(params) == ["data", "_children", "_op", "label"]
    assert [params[k].default for k in ("_children", "_op", "label")] == [(), "", ""]


def test_hand_made_node_keeps_its_children_and_op_label():
    a, b = Value(1.0), Value(2.0)
    c = Value(3.0, (a, b), "+", label="c")
    assert c._prev == {a, b} and c._op == "+" and c.label == "c"
    c.backward()  # a hand-made node has no derivative rule: nothing flows into a or b
    assert (c.grad, a.grad, b.grad) == (1.0, 0.0, 0.0)


@pytest.mark.parametrize(
    "bad, shown",
    [("a", "str"), (None, "NoneType"), ([1.0], "list"), ({1: 2}, "dict"), (1j, "complex")],
)
def test_non_number_data_raises_type_error_naming_it(bad, shown):
    with pytest.raises(TypeError) as info:
        Value(bad)
    msg = str(info.value)
    assert shown in msg and repr(bad) in msg


def test_numbers_of_every_real_kind_are_accepted_as_floats():
    import fractions

    import numpy as np

    for x in (3, 2.5, True, fractions.Fraction(1, 4), np.float64(1.5), np.int64(7)):
        v = Value(x)
        assert type(v.data) is float and v.data == float(x)


# -- backward -----------------------------------------------------------------------------
def test_backward_through_million_deep_chain():
    """No recursion anywhere: a chain of a million nodes backpropagates (and is freed)."""
    was_enabled = gc.isenabled()
    gc.disable()  # only for speed: the cycle collector rescans the million nodes repeatedly
    try:
        a = Value(0.75)
        x = a
        for _ in range(1_000_000):
            x = -x
        x.backward()
        assert x.data == 0.75 and a.grad == 1.0
        del x  # freeing the chain must not overflow the C stack either
    finally:
        if was_enabled:
            gc.enable()


def test_reused_nodes_get_every_path_of_gradient():
    needs("torch", "the reference gradients")
    a = Value(3.0)
    b = a + a
    c = b * b
    c.backward()
    ta = t64(3.0)
    tb = ta + ta
    (tb * tb).backward()
    assert a.grad == ta.grad.item()
    assert b.grad == 2 * b.data  # d(b*b)/db


def test_gradients_accumulate_into_leaves_until_zeroed():
    needs("torch", "the reference gradients")
    a, b = Value(1.5), Value(-2.0)
    (a * b).backward()
    (a * a + b).backward()
    ta, tb = t64(1.5), t64(-2.0)
    (ta * tb).backward()
    (ta * ta + tb).backward()
    assert (a.grad, b.grad) == (ta.grad.item(), tb.grad.item())
    a.grad = b.grad = 0.0
    (a * b).backward()
    assert (a.grad, b.grad) == (b.data, a.data)


def test_backward_twice_doubles_leaf_grads_without_double_counting_intermediates():
    needs("torch", "the reference gradients")
    a, b = Value(0.5), Value(-1.25)
    h = (a * b).tanh()  # an intermediate used twice
    out = h * h + h * a
    out.backward()
    once = (a.grad, b.grad, h.grad)
    out.backward()
    assert (a.grad, b.grad) == (2 * once[0], 2 * once[1])
    assert h.grad == once[2]
    ta, tb = t64(0.5), t64(-1.25)
    th = (ta * tb).tanh()
    tout = th * th + th * ta
    tout.backward(retain_graph=True)
    tout.backward()
    assert math.isclose(a.grad, ta.grad.item(), rel_tol=1e-12)
    assert math.isclose(b.grad, tb.grad.item(), rel_tol=1e-12)


def test_backward_of_a_leaf_sets_its_grad_to_one_and_accumulates():
    a = Value(4.0)
    a.backward()
    assert a.grad == 1.0
    a.backward()
    assert a.grad == 2.0


def test_topological_order_puts_operands_first_and_lists_each_node_once():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    order = engine.topological_order(e)
    assert len(order) == len({id(v) for v in order}) == 5
    pos = {id(v): i for i, v in enumerate(order)}
    for v in order:
        for child in v._prev:
            assert pos[id(child)] < pos[id(v)]
    assert order[-1] is e


# -- memory ---------------------------------------------------------------------------------
def _count_values() -> int:
    return sum(1 for o in gc.get_objects() if type(o) is Value)


def test_graphs_hold_no_reference_cycles():
    """Built, backpropagated and dropped, a graph is freed by reference counting alone."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        before = _count_values()
        xs = [Value(0.1 * i) for i in range(10)]
        h = [(x * y + x.tanh()).exp() / (1 + y**2) for x, y in zip(xs[:-1], xs[1:], strict=True)]
        loss = zg.logsumexp(h) + zg.vsum(h) * zg.dot(xs[:3], h[:3], 1.0)
        loss = loss + (loss - xs[0]).relu().sigmoid().softplus().abs().sqrt().log()
        loss.backward()
        assert _count_values() > before + 50
        del xs, h, loss
        assert _count_values() == before
        assert gc.collect() == 0
    finally:
        if was_enabled:
            gc.enable()


# -- no_grad -------------------------------------------------------------------------------
def test_no_grad_as_context_manager_builds_no_graph():
    a, b = Value(2.0), Value(3.0)
    assert zg.is_grad_enabled()
    with zg.no_grad():
        assert not zg.is_grad_enabled()
        c = (a * b).tanh() + 1
    assert zg.is_grad_enabled()
    assert c._prev == set() and c._op == ""
    assert c.data == math.tanh(6.0) + 1
    c.backward()
    assert a.grad == 0.0 and b.grad == 0.0
    d = a * b  # graph building is back on
    assert d._prev == {a, b}


def test_no_grad_as_decorator():
    @zg.no_grad()
    def step(v: Value) -> Value:
        """Doubles v."""
        assert not zg.is_grad_enabled()
        return v * 2

    a = Value(1.5)
    out = step(a)
    assert out.data == 3.0 and out._prev == set()
    assert zg.is_grad_enabled()
    assert step.__name__ == "step" and step.__doc__ == "Doubles v."


def test_no_grad_restores_state_after_an_exception():
    with pytest.raises(RuntimeError):
        with zg.no_grad():
            raise RuntimeError("boom")
    assert zg.is_grad_enabled()

    @zg.no_grad()
    def fails():
        raise KeyError("boom")

    with pytest.raises(KeyError):
        fails()
    assert zg.is_grad_enabled()


def test_no_grad_nests():
    with zg.no_grad():
        with zg.no_grad():
            assert not zg.is_grad_enabled()
        assert not zg.is_grad_enabled()
    assert zg.is_grad_enabled()


# -- gradcheck -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fn, xs",
    [
        (lambda x, y: x * y + x / y - y**3, [0.7, -1.3]),
        (lambda x, y: (x * y).tanh() + x.sigmoid() * y.exp(), [0.4, 0.9]),
        (lambda x, y: x.log() + y.sqrt() + (x**y), [1.7, 2.2]),
        (lambda x, y: x.softplus() - abs(y) + (2 - x).relu(), [0.3, -0.8]),
        (lambda x, y, z: zg.logsumexp([x, y, z]) + zg.dot([x, y], [y, z], z), [0.1, 2.0, -1.0]),
        (lambda x, y, z: zg.vsum([x, y * y, z**-1]), [0.5, 1.5, 2.5]),
    ],
)
def test_gradcheck_passes_for_correct_ops(fn, xs):
    assert zg.gradcheck(fn, [Value(x) for x in xs]) is True


def _break_tanh(monkeypatch, factor: float) -> None:
    """Make Value.tanh use a copy of the tanh op whose derivative is scaled by ``factor``."""
    good = zg.ops.BY_NAME["tanh"]
    bad = dataclasses.replace(
        good, backward=lambda m, g, out, x: tuple(d * factor for d in good.backward(m, g, out, x))
    )
    monkeypatch.setattr(Value, "tanh", lambda self: zg.engine.apply(bad, (self,)))


def test_gradcheck_raises_naming_the_worst_entry(monkeypatch):
    _break_tanh(monkeypatch, 3.0)
    x, y, z = Value(2.0), Value(0.1), Value(0.5)
    x.grad, y.grad, z.grad = 0.25, -4.0, 7.0
    # tanh'(2) is 0.07 and tanh'(0.1) is 0.99, so y's error is the largest; z has no tanh.
    with pytest.raises(zg.GradcheckError) as info:
        zg.gradcheck(lambda a, b, c: a.tanh() + b.tanh() + c * c, [x, y, z])
    msg = str(info.value)
    assert "input 1" in msg
    assert repr(3 * (1 - math.tanh(0.1) ** 2))[:8] in msg  # the analytic (wrong) value
    # the inputs are left as they were, data and grad
    assert (x.data, y.data, z.data) == (2.0, 0.1, 0.5)
    assert (x.grad, y.grad, z.grad) == (0.25, -4.0, 7.0)


def test_gradcheck_leaves_inputs_unchanged_when_it_passes():
    x, y = Value(0.3), Value(-0.6)
    x.grad, y.grad = 1.5, 2.5
    assert zg.gradcheck(lambda a, b: (a * b).exp(), [x, y])
    assert (x.data, y.data, x.grad, y.grad) == (0.3, -0.6, 1.5, 2.5)


def test_gradcheck_tolerances_are_honoured(monkeypatch):
    _break_tanh(monkeypatch, 1.0 + 1e-4)  # a relative error of 1e-4
    x = Value(0.2)
    assert zg.gradcheck(lambda a: a.tanh(), [x])  # within rtol=1e-3
    with pytest.raises(zg.GradcheckError):
        zg.gradcheck(lambda a: a.tanh(), [x], atol=0.0, rtol=1e-5)


def test_gradcheck_refuses_non_values():
    with pytest.raises(TypeError, match="input 0"):
        zg.gradcheck(lambda a: a * 2, [1.0])
    with pytest.raises(TypeError, match="return a Value"):
        zg.gradcheck(lambda a: 2.0, [Value(1.0)])


def test_gradcheck_defaults_are_pytorchs():
    import inspect

    params = inspect.signature(zg.gradcheck).parameters
    assert [params[k].default for k in ("eps", "atol", "rtol")] == [1e-6, 1e-5, 1e-3]


def test_gradcheck_leaves_other_leaves_grads_unchanged(restore_random):
    """A model's parameters used inside fn keep their grads (a later step must not see
    gradcheck's backward pass summed into them)."""
    model = zg.nn.MLP(2, [3, 1], activation="tanh")
    model([0.1, 0.2]).backward()
    before = [(p.grad, p._passes) for p in model.parameters()]
    assert any(g for g, _ in before)
    assert zg.gradcheck(lambda a: model([a, 1.0]), [Value(0.5)])
    assert [(p.grad, p._passes) for p in model.parameters()] == before
    model.zero_grad()
    assert zg.gradcheck(lambda a: model([a, 1.0]), [Value(0.5)])
    assert all(p.grad == 0.0 for p in model.parameters())


@pytest.mark.parametrize(
    "make",
    [
        lambda: Value(10**400),
        lambda: Value(-(10**400)),
        lambda: Value(1.0) + 10**400,
        lambda: 10**400 * Value(1.0),
        lambda: Value(2.0) ** 10**400,
        lambda: zg.vsum([Value(1.0), 10**400]),
    ],
    ids=["Value", "negative", "add", "rmul", "pow", "vsum"],
)
def test_an_integer_too_large_for_a_float_says_so_and_what_to_do(make):
    with pytest.raises(OverflowError) as e:
        make()
    message = str(e.value)
    assert "integer of about 401 digits is too large for a Value" in message
    assert "float64" in message and "float('inf')" in message
    assert Value(10**300).data == 1e300  # large but representable integers still work
