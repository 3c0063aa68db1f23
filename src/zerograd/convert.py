"""Numbers into Values and out of them (standard library only): :func:`as_float` checks what
a Value may hold, :class:`Readout` gives Values ``float()``, ``bool()`` and comparisons.

Reading a Value's number out is where ``zg.compile``'s trace must refuse to go on (a Python
decision on it would be frozen into the compiled graph), so each readout tells the calling
thread's tracer, through :func:`zerograd.modes.reading`.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable
from typing import Any

from . import modes


def as_float(x: Any) -> float:
    """``x`` as a float, or an error saying why a Value cannot hold it."""
    if not (x.__class__ is float or x.__class__ is int or isinstance(x, numbers.Real)):
        raise TypeError(f"Value needs a real number (int or float), got {type(x).__name__}: {x!r}")
    try:
        return float(x)
    except OverflowError:
        what = (f"an integer of about {int(x.bit_length() * math.log10(2)) + 1} digits"
                if isinstance(x, int) else f"this {type(x).__name__}")
        raise OverflowError(
            f"{what} is too large for a Value, which holds a float64 (at most about 1.8e308); "
            f"scale it down, or use float('inf') if infinity is meant") from None


def _comparison(how: str, compare: Callable[[float, Any], bool]) -> Callable[[Any, Any], bool]:
    """The method comparing self's number with other's (a Value's or a plain number)."""

    def method(self: Any, other: Any) -> bool:
        modes.reading(self, f"a comparison ({how})")
        return compare(self.data, other.data if isinstance(other, Readout) else other)

    method.__name__ = f"__{compare.__name__}__"
    return method


class Readout:
    """What reads a Value's ``data`` out: ``float(v)``, ``bool(v)``, ``v < w`` and so on."""

    __slots__ = ()
    data: float

    def __float__(self) -> float:
        modes.reading(self, "float()")
        return self.data

    def __bool__(self) -> bool:
        """Always True, as in micrograd (a Value is an object, not a number to branch on)."""
        modes.reading(self, "bool()")
        return True

    __lt__, __le__ = _comparison("<", operator.lt), _comparison("<=", operator.le)
    __gt__, __ge__ = _comparison(">", operator.gt), _comparison(">=", operator.ge)
