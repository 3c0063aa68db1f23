"""pow at ±inf, ±0 and nan, forward and gradients, against PyTorch float64: eager and every
executor. ``x ** y`` of two Values is torch's pow(tensor, tensor) (C's pow); ``x ** k`` of a
constant is torch's pow(tensor, scalar), which takes sqrt at k = 0.5, 1 / sqrt at -0.5 and
1 / (x * x) at -2."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import zerograd as zg
from zerograd import Value

inf, nan = math.inf, math.nan
GRID = [-inf, -2.0, -1.5, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 1.5, 2.0, inf, nan]
PAIRS = list(itertools.product(GRID, GRID))
EXECUTORS = ["eager", "python", "scalar", "numpy", "jax"]


def same(got: float, want: float, zero_sign: bool) -> bool:
    """nan for nan, the same infinity, the same zero (its sign too if ``zero_sign``), else
    within 1e-15 relative (torch's sqrt and C's pow may differ in the last bit)."""
    if got != got or want != want:
        return got != got and want != want
    if math.isinf(got) or math.isinf(want) or want == 0 or got == 0:
        return got == want and (not zero_sign or math.copysign(1, got) == math.copysign(1, want))
    return abs(got - want) <= 1e-15 * abs(want)


def torch_pow(x: float, y: float, const: bool) -> tuple[float, ...]:
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(y, dtype=torch.float64, requires_grad=True)
    out = tx ** y if const else tx ** ty
    out.backward()
    if const:
        return out.item(), tx.grad.item()
    return out.item(), tx.grad.item(), ty.grad.item()


def ours(executor: str, const: bool) -> list[tuple[float, ...]]:
    """(x ** y, and the gradients) for every pair of GRID, each pair its own leaves."""
    xs = [Value(x) for x, _ in PAIRS]
    ys = [Value(y) for _, y in PAIRS]

    def fn(s: float) -> list[Value]:
        outs = [x ** y.data * s if const else x ** y * s for x, y in zip(xs, ys)]
        return [*outs, sum(outs[1:], outs[0])]  # backward from the sum: 1.0 to each

    if executor == "eager":
        res = fn(1.0)
    else:
        res = zg.compile(fn, executor=executor)(1.0)
    res[-1].backward()
    return [(o.data, x.grad) if const else (o.data, x.grad, y.grad)
            for o, x, y in zip(res, xs, ys)]


@pytest.mark.parametrize("const", [True, False], ids=["x**k", "x**y"])
@pytest.mark.parametrize("executor", EXECUTORS)
def test_pow_at_special_values_matches_torch(executor, const):
    bad = []
    for (x, y), got in zip(PAIRS, ours(executor, const)):
        want = torch_pow(x, y, const)
        # forward: zeros with their sign; gradients: a leaf's grad starts at 0.0 and adds
        # its contributions, so torch's -0.0 is 0.0 here (see docs/explanation/exact-numbers)
        if not (same(got[0], want[0], True)
                and all(same(a, b, False) for a, b in zip(got[1:], want[1:]))):
            bad.append(f"{x!r} ** {y!r}: ours {got}, torch {want}")
    assert not bad, "\n".join(bad)


def test_the_issue_reproduction():
    assert math.isnan((Value(-inf) ** 0.5).data)
    assert (Value(1e155) ** -2).data == 0.0  # torch: 1 / (x * x), x * x overflows
    assert (Value(-0.0) ** -0.5).data == -inf
    assert (Value(-inf) ** Value(0.5)).data == inf  # torch.pow(tensor, tensor) gives inf too
