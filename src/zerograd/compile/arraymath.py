"""The op table's array backend: ``ops.ScalarMath``'s elementary functions on NumPy arrays.

:class:`ArrayMath` gives the same IEEE results as the scalar functions, element by element
(run it under ``np.errstate(all="ignore")``, as the executors do). The numpy and jax
executors compute with it; importing this module imports NumPy.
"""

from __future__ import annotations

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
    def sign(cls, x: Any) -> Any:
        """1 for x > 0, -1 for x < 0, else 0 (nan included)."""
        return cls.where(x > 0, 1.0, cls.where(x < 0, -1.0, 0.0))

    @classmethod
    def maximum(cls, x: Any, y: Any) -> Any:
        """x if x >= y or x is nan, else y (the scalar rule, not np.maximum's)."""
        return cls.where((x >= y) | (x != x), x, y)


SELECT_MIN = 4096  # ArrayMath.where selects bits from this many elements on


def _float64(x: Any) -> bool:
    return isinstance(x, float) or getattr(x, "dtype", None) == np.float64


def _bits(x: Any) -> Any:
    """The float64 ``x`` (an array or a Python float) as int64 bits."""
    return np.float64(x).view(np.int64) if isinstance(x, float) else x.view(np.int64)


ARRAY = ArrayMath()
