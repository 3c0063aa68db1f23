"""zg.compile's arguments: cycles and deep nesting get a clear error, not RecursionError."""

from __future__ import annotations

import pytest

import zerograd as zg
from zerograd.compile import trace


def _nested(depth: int, leaf: object) -> object:
    x = leaf
    for _ in range(depth):
        x = [x]
    return x


def _dig(x):
    while isinstance(x, list):
        x = x[0]
    return x * 2.0


def test_a_list_containing_itself_is_refused_before_tracing():
    f = zg.compile(lambda x: x[0] * 3.0)
    x = [1.0]
    x.append(x)
    with pytest.raises(ValueError, match="contains itself"):
        f(x)
    assert f.params == [] and f.executor is None  # nothing traced
    assert f([2.0, 5.0]).data == 6.0


def test_a_dict_containing_itself_is_refused():
    f = zg.compile(lambda d: d["a"] * 3.0)
    d: dict = {"a": 1.0}
    d["me"] = d
    with pytest.raises(ValueError, match="contains itself"):
        f(d)


def test_nesting_3000_deep_is_refused_with_the_limit_named():
    f = zg.compile(_dig)
    with pytest.raises(ValueError, match=f"more than {trace.MAX_DEPTH} lists"):
        f(_nested(3000, 1.5))
    assert f.executor is None
    assert f(_nested(3, 1.5)).data == 3.0


@pytest.mark.parametrize("executor", ["python", "scalar", "numpy", "jax"])
def test_nesting_up_to_the_limit_compiles(executor):
    f = zg.compile(_dig, executor=executor)
    assert f(_nested(trace.MAX_DEPTH, 1.5)).data == 3.0
    assert f(_nested(trace.MAX_DEPTH, 4.0)).data == 8.0  # the extractor's path
    with pytest.raises(ValueError, match=f"more than {trace.MAX_DEPTH} lists"):
        f(_nested(trace.MAX_DEPTH + 1, 1.5))
    with pytest.raises(ValueError, match=f"more than {trace.MAX_DEPTH} lists"):
        f(x=_nested(trace.MAX_DEPTH + 1, 1.5))  # a keyword argument: the same limit


def test_a_traced_function_refuses_a_cycle_later():
    f = zg.compile(lambda x: x[0] * x[1][0])
    assert f([2.0, [3.0]]).data == 6.0
    x: list = [2.0]
    x.append(x)
    with pytest.raises(ValueError, match="contains itself"):
        f(x)
    assert f([2.0, [4.0]]).data == 8.0
