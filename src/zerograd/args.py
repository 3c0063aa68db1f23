"""Checks of arguments that every layer shares (standard library only)."""

from __future__ import annotations

import math
import numbers
from typing import Any


def count(n: Any, what: str, minimum: int = 1) -> int:
    """``n`` as an int if it is a whole number (an int, not a bool) of at least ``minimum``;
    else ``ValueError: {what} must be a whole number >= {minimum}, got {n!r}``."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < minimum:
        raise ValueError(f"{what} must be a whole number >= {minimum}, got {_shown(n)}")
    return int(n)


def _shown(x: Any) -> str:
    """``x`` for an error message, short (an int of thousands of digits has no repr)."""
    if isinstance(x, numbers.Integral) and abs(int(x)).bit_length() > 64:
        return f"an int of about {int(abs(int(x)).bit_length() * math.log10(2)) + 1} digits"
    return repr(x)[:80]


__all__ = ["count"]
