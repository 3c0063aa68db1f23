"""Checks of arguments that every layer shares (standard library only)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

MAX_PARAMETERS = 10_000_000  # each a Value of about 260 bytes: 10 million take ~2.6 GB


def count(n: Any, what: str, minimum: int = 1) -> int:
    """``n`` as an int if it is a whole number (an int, not a bool) of at least ``minimum``;
    else ``ValueError: {what} must be a whole number >= {minimum}, got {n!r}``."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < minimum:
        raise ValueError(f"{what} must be a whole number >= {minimum}, got {_shown(n)}")
    return int(n)


def parameters(sizes: Sequence[int], what: str) -> int:
    """The parameter count of dense layers of ``sizes`` (inputs first; weights and a bias
    per neuron) of the ``what`` (a class name); ``ValueError`` if it is over
    :data:`MAX_PARAMETERS`, to be raised before anything is allocated."""
    n = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    if n > MAX_PARAMETERS:
        shown = f"{n:,}" if n.bit_length() <= 64 else f"about 10**{_digits(n) - 1}"
        raise ValueError(
            f"{what} of sizes [{', '.join(map(_shown, sizes))}] would have {shown} "
            "parameters; zerograd allows at most "
            f"{MAX_PARAMETERS:,} (each is a Python Value of about 260 bytes, so 10 million "
            "take about 2.6 GB): use smaller layers")
    return n


def _digits(n: Any) -> int:
    """About how many decimal digits the int ``n`` has (no str(): it refuses 4,300+)."""
    return int(abs(int(n)).bit_length() * math.log10(2)) + 1


def _shown(x: Any) -> str:
    """``x`` for an error message, short (an int of thousands of digits has no repr)."""
    if isinstance(x, numbers.Integral) and abs(int(x)).bit_length() > 64:
        return f"an int of about {_digits(x)} digits"
    return repr(x)[:80]


__all__ = ["count", "parameters", "MAX_PARAMETERS"]
