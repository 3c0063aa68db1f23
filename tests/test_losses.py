"""zerograd.losses against torch.nn.functional (float64) and micrograd's SVM loss."""

from __future__ import annotations

import math

import pytest
from conftest import needs
from hypothesis import given
from hypothesis import strategies as st

from zerograd import losses
from zerograd.engine import Value

try:
    import micrograd.engine
except ImportError:  # the tests that use it start with needs("micrograd"): skipped without it
    micrograd = None
try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the tests that use it start with needs("torch"): skipped without it
    torch = F = None

EXTREME = [0.0, 1.0, -1.0, 30.0, -30.0, 700.0, -700.0, 1000.0, -1000.0]
logit = st.one_of(st.floats(-50, 50), st.sampled_from(EXTREME))


def values(xs):
    return [Value(x) for x in xs]


def tensor(xs, grad=True):
    return torch.tensor(xs, dtype=torch.float64, requires_grad=grad)


def assert_close(a, b, rel=1e-12, abs_=1e-12):
    assert math.isclose(a, b, rel_tol=rel, abs_tol=abs_), (a, b)


def assert_grads(vals, t, rel=1e-12, abs_=None):
    """Softmax-like grads are off by about one ulp of the largest input: allow that."""
    if abs_ is None:
        abs_ = 1e-14 * max(1.0, max(abs(v.data) for v in vals))
    for v, g in zip(vals, t.grad.tolist(), strict=True):
        assert math.isclose(v.grad, g, rel_tol=rel, abs_tol=abs_), ([v.grad for v in vals], t.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@given(data=st.lists(st.tuples(st.floats(-100, 100), st.floats(-100, 100)), min_size=1, max_size=6))
def test_mse_matches_torch(reduction, data):
    needs("torch", "the reference losses and gradients")
    preds, targets = [p for p, _ in data], [t for _, t in data]
    vals = values(preds)
    out = losses.mse(vals, targets, reduction=reduction)
    out.backward()
    t = tensor(preds)
    tout = F.mse_loss(t, tensor(targets, grad=False), reduction=reduction)
    tout.backward()
    assert_close(out.data, tout.item())
    assert_grads(vals, t, abs_=1e-12)


def test_mse_default_is_mean_and_accepts_single_values():
    assert losses.mse([Value(1.0), Value(3.0)], [0.0, 0.0]).data == 5.0
    assert losses.mse(Value(2.0), 5.0, reduction="sum").data == 9.0
    assert losses.mse([Value(1.0)], [Value(4.0)]).data == 9.0


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@given(
    data=st.lists(st.tuples(st.floats(-3, 3), st.sampled_from([-1.0, 1.0])), min_size=1, max_size=8)
)
def test_hinge_matches_micrograds_svm_loss_and_torch(reduction, data):
    needs("micrograd", "its SVM loss, the original")
    needs("torch", "the reference losses and gradients")
    scores, ys = [s for s, _ in data], [y for _, y in data]
    vals = values(scores)
    out = losses.hinge(vals, ys, reduction=reduction)
    out.backward()
    # micrograd's demo: relu(1 - y * score), averaged by multiplying with 1/n
    mvals = [micrograd.engine.Value(s) for s in scores]
    terms = [(1 + -y * s).relu() for s, y in zip(mvals, ys, strict=True)]
    mout = sum(terms) * (1.0 / len(terms)) if reduction == "mean" else sum(terms)
    mout.backward()
    assert_close(out.data, mout.data)
    for v, m in zip(vals, mvals, strict=True):
        assert_close(v.grad, m.grad)
    t = tensor(scores)
    terms_t = torch.relu(1 - tensor(ys, grad=False) * t)
    tout = terms_t.mean() if reduction == "mean" else terms_t.sum()
    tout.backward()
    assert_close(out.data, tout.item())
    assert_grads(vals, t)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@given(
    data=st.lists(
        st.tuples(logit, st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0, 1))),
        min_size=1,
        max_size=6,
    )
)
def test_binary_cross_entropy_on_logits_matches_torch(reduction, data):
    needs("torch", "the reference losses and gradients")
    xs, ys = [x for x, _ in data], [y for _, y in data]
    vals = values(xs)
    out = losses.binary_cross_entropy(vals, ys, reduction=reduction)
    out.backward()
    t = tensor(xs)
    tout = F.binary_cross_entropy_with_logits(t, tensor(ys, grad=False), reduction=reduction)
    tout.backward()
    assert math.isfinite(out.data)
    # one ulp of a logit of size 1000 is 1e-13: allow that much absolute error
    assert_close(out.data, tout.item(), abs_=1e-12)
    assert_grads(vals, t)


@pytest.mark.parametrize("x", [1000.0, -1000.0, 800.0, -800.0])
@pytest.mark.parametrize("y", [0.0, 1.0, 0.5])
def test_binary_cross_entropy_is_stable_for_huge_logits(x, y):
    needs("torch", "the reference losses and gradients")
    v = Value(x)
    out = losses.binary_cross_entropy([v], [y])
    out.backward()
    t = tensor([x])
    tout = F.binary_cross_entropy_with_logits(t, tensor([y], grad=False))
    tout.backward()
    assert math.isfinite(out.data) and math.isfinite(v.grad)
    assert_close(out.data, tout.item())
    assert_close(v.grad, t.grad.item())


@given(
    logits=st.lists(logit, min_size=1, max_size=6),
    pick=st.integers(0, 5),
)
def test_cross_entropy_matches_torch(logits, pick):
    needs("torch", "the reference losses and gradients")
    target = pick % len(logits)
    vals = values(logits)
    out = losses.cross_entropy(vals, target)
    out.backward()
    t = tensor(logits)
    tout = F.cross_entropy(t, torch.tensor(target))
    tout.backward()
    assert math.isfinite(out.data)
    assert_close(out.data, tout.item(), abs_=1e-12)
    assert_grads(vals, t)


@pytest.mark.parametrize(
    "logits, target",
    [
        ([1000.0, -1000.0, 0.0], 0),
        ([1000.0, -1000.0, 0.0], 1),
        ([1000.0, 1000.0], 1),
        ([-1000.0, -1000.0, -1000.0], 2),
        ([1000.0, 999.0, -1000.0], 1),
    ],
)
def test_cross_entropy_is_stable_for_huge_logits(logits, target):
    needs("torch", "the reference losses and gradients")
    vals = values(logits)
    out = losses.cross_entropy(vals, target)
    out.backward()
    t = tensor(logits)
    tout = F.cross_entropy(t, torch.tensor(target))
    tout.backward()
    assert math.isfinite(out.data)
    assert_close(out.data, tout.item())
    assert_grads(vals, t)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_with_class_probabilities_matches_torch(reduction):
    needs("torch", "the reference losses and gradients")
    rows = [[0.5, -1.0, 2.0], [1000.0, 0.0, -1000.0], [-3.0, -3.0, 4.0]]
    probs = [[0.0, 0.0, 1.0], [0.2, 0.5, 0.3], [0.7, 0.3, 0.0]]
    vals = [values(r) for r in rows]
    out = losses.cross_entropy(vals, probs, reduction=reduction)
    out.backward()
    t = tensor(rows)
    tout = F.cross_entropy(t, tensor(probs, grad=False), reduction=reduction)
    tout.backward()
    assert_close(out.data, tout.item())
    for row, grow in zip(vals, t.grad.tolist(), strict=True):
        for v, g in zip(row, grow, strict=True):
            assert_close(v.grad, g, abs_=1e-11)


def test_cross_entropy_one_hot_row_equals_class_index():
    logits = [0.3, -1.2, 2.5, 0.0]
    assert losses.cross_entropy(logits, [0.0, 0.0, 1.0, 0.0]).data == (
        losses.cross_entropy(logits, 2).data
    )
    with pytest.raises(ValueError, match="3 class probabilities for 4 classes"):
        losses.cross_entropy(logits, [0.0, 1.0, 0.0])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_over_a_batch_matches_torch(reduction):
    needs("torch", "the reference losses and gradients")
    rows = [[0.5, -1.0, 2.0], [1000.0, 0.0, -1000.0], [-3.0, -3.0, 4.0], [0.1, 0.2, 0.3]]
    targets = [2, 1, 0, 1]
    vals = [values(r) for r in rows]
    out = losses.cross_entropy(vals, targets, reduction=reduction)
    out.backward()
    t = tensor(rows)
    tout = F.cross_entropy(t, torch.tensor(targets), reduction=reduction)
    tout.backward()
    assert_close(out.data, tout.item())
    for row, grow in zip(vals, t.grad.tolist(), strict=True):
        for v, g in zip(row, grow, strict=True):
            assert_close(v.grad, g, abs_=1e-11)


def test_losses_accept_plain_numbers_as_logits():
    assert_close(losses.cross_entropy([0.0, 0.0], 1).data, math.log(2))
    assert_close(losses.binary_cross_entropy([0.0], [1.0]).data, math.log(2))


def test_bad_loss_arguments_raise_clear_errors():
    a, b = Value(1.0), Value(2.0)
    with pytest.raises(ValueError, match="2 predictions but 1 targets"):
        losses.mse([a, b], [1.0])
    with pytest.raises(ValueError, match="no predictions"):
        losses.hinge([], [])
    with pytest.raises(ValueError, match="reduction"):
        losses.mse([a], [1.0], reduction="max")
    with pytest.raises(TypeError, match="class index"):
        losses.cross_entropy([a, b], 1.0)
    with pytest.raises(TypeError, match="class index"):
        losses.cross_entropy([a, b], True)
    with pytest.raises(ValueError, match="out of range"):
        losses.cross_entropy([a, b], 2)
    with pytest.raises(ValueError, match="out of range"):
        losses.cross_entropy([a, b], -1)
