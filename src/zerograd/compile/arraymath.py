"""The op table's array backend: ``ops.ScalarMath``'s elementary functions on NumPy arrays.

:class:`ArrayMath` gives the same IEEE results as the scalar functions, element by element
(run it under ``np.errstate(all="ignore")``, as the executors do). The numpy and jax
executors compute with it; importing this module imports NumPy.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np


class ArrayMath:
    """``ops.ScalarMath`` on float64 arrays, element by element, with identical IEEE cases."""

    div = staticmethod(np.divide)
    pow = staticmethod(np.power)
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    log1p = staticmethod(np.log1p)
    sqrt = staticmethod(np.sqrt)
    tanh = staticmethod(np.tanh)
    abs = staticmethod(np.abs)

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        """``np.where(cond, a, b)``, bit for bit; on large float64 operands as a bitwise
        select (``a``'s bits where ``cond``, else ``b``'s). np.where branches on every
        element: on a mask of random signs (ReLU's) it costs about 4 ns an element, the
        select about 1."""
        if (getattr(cond, "size", 0) < SELECT_MIN or cond.dtype != np.bool_
                or not (_float64(a) and _float64(b))):
            return np.where(cond, a, b)
        if isinstance(a, float) and _bits(a) == 0:  # a is +0.0: keep b's bits or none
            bits = np.bitwise_and(_bits(b), np.subtract(cond, 1, dtype=np.int64))
        else:
            on = np.negative(cond, dtype=np.int64)  # all bits set where cond, else none
            bits = np.bitwise_and(_bits(a), on)
            if not (isinstance(b, float) and _bits(b) == 0):
                bits = np.bitwise_or(bits, np.bitwise_and(_bits(b), np.invert(on, out=on)))
        return bits.view(np.float64)

    @classmethod
    def powk(cls, x: Any, k: Any) -> Any:
        """``ops.ScalarMath.powk``: ``x ** k`` for constants ``k`` (a float or an array of
        them, not changed after the first call), sqrt at k = 0.5, 1 / sqrt at -0.5 and
        1 / (x * x) at -2, as PyTorch's pow(tensor, scalar)."""
        return cls._powk(x, k, 0.0)

    @classmethod
    def powkm1(cls, x: Any, k: Any) -> Any:
        """``ops.ScalarMath.powkm1``: ``powk(x, k - 1)``."""
        return cls._powk(x, k, -1.0)

    @classmethod
    def _powk(cls, x: Any, k: Any, shift: float) -> Any:
        e = k + shift if shift else k
        half, rhalf, m2 = _halves(k, shift, e)
        if not (half or rhalf or m2):
            return cls.pow(x, e)
        if np.ndim(e) == 0:
            return (cls.sqrt(x) if half else cls.div(1.0, cls.sqrt(x)) if rhalf
                    else cls.div(1.0, x * x))
        r = cls.sqrt(x)
        rest = cls.where(e == -2.0, cls.div(1.0, x * x), cls.pow(x, e)) if m2 else cls.pow(x, e)
        return cls.where(e == 0.5, r, cls.where(e == -0.5, cls.div(1.0, r), rest))

    @classmethod
    def sign(cls, x: Any) -> Any:
        """1 for x > 0, -1 for x < 0, else 0 (nan included)."""
        return cls.where(x > 0, 1.0, cls.where(x < 0, -1.0, 0.0))

    @classmethod
    def maximum(cls, x: Any, y: Any) -> Any:
        """x if x >= y or x is nan, else y (the scalar rule, not np.maximum's)."""
        return cls.where((x >= y) | (x != x), x, y)


_HALVES: dict[tuple[int, float], tuple[Any, bool, bool, bool]] = {}  # powk's answers per k array


def _halves(k: Any, shift: float, e: Any) -> tuple[bool, bool, bool]:
    """Whether the exponents ``e = k + shift`` hold 0.5, -0.5, -2 (all True when they are
    not known yet: traced by JAX). An array ``k`` is the same constant on every call of a
    compiled group, so its answer is kept while it lives (a lookup: ~0.2 us, the test ~3)."""
    if isinstance(e, (float, int)):
        return e == 0.5, e == -0.5, e == -2.0
    if not isinstance(k, np.ndarray):
        return True, True, True
    key = (id(k), shift)
    known = _HALVES.get(key)
    if known is not None and known[0]() is k:
        return known[1:]
    answer = bool((e == 0.5).any()), bool((e == -0.5).any()), bool((e == -2.0).any())
    _HALVES[key] = (weakref.ref(k, lambda _, key=key: _HALVES.pop(key, None)), *answer)
    return answer


SELECT_MIN = 4096  # ArrayMath.where selects bits from this many elements on


def _float64(x: Any) -> bool:
    return isinstance(x, float) or getattr(x, "dtype", None) == np.float64


def _bits(x: Any) -> Any:
    """The float64 ``x`` (an array or a Python float) as int64 bits."""
    return np.float64(x).view(np.int64) if isinstance(x, float) else x.view(np.int64)


ARRAY = ArrayMath()
