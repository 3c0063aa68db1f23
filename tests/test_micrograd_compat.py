"""micrograd code runs unchanged on zerograd (after changing its import) with the same numbers.

micrograd 0.1.0 from PyPI is the peer. micrograd multiplies by a reciprocal where zerograd
divides, so numbers agree to ~1e-12 relative rather than bit for bit.
"""

from __future__ import annotations

import math

import pytest
from conftest import needs
from hypothesis import given
from hypothesis import strategies as st

import zerograd.engine

needs("micrograd", "the original, run side by side")  # else: skip the module
import micrograd.engine  # noqa: E402

# micrograd-style user code, written against `Value` from whichever module is imported.
PROGRAM = """
from {module} import Value

a = Value(-4.0)
b = Value(2.0)
c = a + b
d = a * b + b**3
c += c + 1
c += 1 + c + (-a)
d += d * 2 + (b + a).relu()
d += 3 * d + (b - a).relu()
e = c - d
f = e**2
g = f / 2.0
g += 10.0 / f
h = (g * 0.5 - 2) ** -1 + 7 / (b ** 2) - 0.5 ** 2
h.backward()
result = [a, b, c, d, e, f, g, h]
"""


def run(module: str) -> list:
    scope: dict = {}
    exec(PROGRAM.format(module=module), scope)
    return scope["result"]


def close(x: float, y: float) -> bool:
    return math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12)


def test_micrograd_program_runs_unchanged_with_the_same_numbers():
    ours, theirs = run("zerograd.engine"), run("micrograd.engine")
    assert all(type(v) is zerograd.engine.Value for v in ours)
    assert all(type(v) is micrograd.engine.Value for v in theirs)
    for z, m in zip(ours, theirs, strict=True):
        assert close(z.data, m.data), (z, m)
    for z, m in zip(ours[:2], theirs[:2], strict=True):  # the leaves' gradients
        assert close(z.grad, m.grad), (z, m)


# A random micrograd program: the ops micrograd has, numbers on either side, nodes reused.
MICROGRAD_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "radd": lambda a, b: 1.5 + a,
    "rsub": lambda a, b: 2.0 - a,
    "rmul": lambda a, b: -0.75 * a,
    "rdiv": lambda a, b: 3.0 / b,
    "addc": lambda a, b: a + 0.5,
    "mulc": lambda a, b: a * 1.25,
    "divc": lambda a, b: a / 4,
    "neg": lambda a, b: -a,
    "square": lambda a, b: a**2,
    "cube": lambda a, b: a**3,
    "inv": lambda a, b: b**-1,
    "relu": lambda a, b: a.relu(),
    "iadd": lambda a, b: _iadd(a, b),
}


def _iadd(a, b):
    a += b  # rebinds a new node, as in micrograd
    return a


ALL_OPS = tuple(sorted(MICROGRAD_OPS))


@st.composite
def micrograd_programs(draw, ops=ALL_OPS):
    leaves = draw(st.lists(st.floats(0.25, 2.0) | st.floats(-2.0, -0.25), min_size=1, max_size=4))
    steps = []
    for _ in range(draw(st.integers(1, 20))):
        n = len(leaves) + len(steps)
        steps.append(
            (
                draw(st.sampled_from(ops)),
                draw(st.integers(0, n - 1)),
                draw(st.integers(0, n - 1)),
            )
        )
    return leaves, steps


def run_program(cls, leaves, steps):
    nodes = [cls(x) for x in leaves]
    for name, i, j in steps:
        nodes.append(MICROGRAD_OPS[name](nodes[i], nodes[j]))
    out = nodes[-1]
    out.backward()
    return nodes


def finite(x: float) -> bool:
    return math.isfinite(x) and abs(x) < 1e100


@given(program=micrograd_programs())
def test_random_micrograd_programs_give_the_same_numbers(program):
    leaves, steps = program
    try:
        theirs = run_program(micrograd.engine.Value, leaves, steps)
    except (ZeroDivisionError, OverflowError):
        # micrograd raises where zerograd gives inf/nan; zerograd must not raise
        run_program(zerograd.engine.Value, leaves, steps)
        return
    ours = run_program(zerograd.engine.Value, leaves, steps)
    if not all(finite(m.data) and finite(m.grad) for m in theirs):
        return  # beyond float range the two may round differently; nothing to compare
    for z, m in zip(ours, theirs, strict=True):
        assert close(z.data, m.data), (z, m)
    for z, m in zip(ours[: len(leaves)], theirs[: len(leaves)], strict=True):
        scale = max(1.0, max(abs(v.grad) for v in theirs[: len(leaves)]))
        assert math.isclose(z.grad, m.grad, rel_tol=1e-12, abs_tol=1e-12 * scale), (z, m)


NO_DIVISION = tuple(sorted(k for k in MICROGRAD_OPS if "div" not in k and k != "inv"))


@given(program=micrograd_programs(NO_DIVISION))
def test_forward_values_without_division_are_micrographs_bit_for_bit(program):
    """The README's claim: + - * ** relu do the same float operations in the same order."""
    leaves, steps = program
    try:
        theirs = run_program(micrograd.engine.Value, leaves, steps)
    except OverflowError:  # micrograd's float ** raises where zerograd gives inf
        return
    ours = run_program(zerograd.engine.Value, leaves, steps)
    for z, m in zip(ours, theirs, strict=True):  # == : micrograd's relu gives int 0, not 0.0
        assert z.data == m.data or (math.isnan(z.data) and math.isnan(m.data)), (z, m)


def test_graph_walk_written_for_micrograd_works_on_zerograd():
    """The lecture's draw_dot trace walks `_prev` and reads `_op`, `data`, `grad`."""

    def trace(root):
        nodes, edges = set(), set()

        def build(v):
            if v not in nodes:
                nodes.add(v)
                for child in v._prev:
                    edges.add((child, v))
                    build(child)

        build(root)
        return nodes, edges

    for module in (micrograd.engine, zerograd.engine):
        x, w = module.Value(2.0), module.Value(-3.0)
        out = (x * w + 1).relu()
        out.backward()
        nodes, edges = trace(out)
        assert {x, w, out} <= nodes
        assert all(isinstance(n._op, str) for n in nodes)
        assert {n._op for n in nodes} >= {"*", "+", "ReLU", ""}
        assert all(isinstance(n.data, (int, float)) for n in nodes)
        assert len(edges) == 5  # x, w -> *; *, 1 -> +; + -> ReLU


def test_repr_has_micrographs_shape():
    for module in (micrograd.engine, zerograd.engine):
        v = module.Value(2.5)
        assert repr(v).startswith("Value(data=2.5, grad=0")


@pytest.mark.parametrize("k", [2, 3, -1, 0.5, 1.5, 0])
def test_power_by_a_constant_matches_micrograd(k):
    z, m = zerograd.engine.Value(1.7), micrograd.engine.Value(1.7)
    zo, mo = z**k, m**k
    zo.backward()
    mo.backward()
    assert close(zo.data, mo.data) and close(z.grad, m.grad)
    assert zo._op == mo._op == f"**{k}"
