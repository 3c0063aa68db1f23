"""``detect_anomaly()``: the first op whose value or gradient turns nan or inf raises a
``FloatingPointError`` naming the op, its inputs and the line of user code that created
the node (standard library only).

Inside it, the calling thread's ``modes.current.anomaly`` is a :class:`Sites` record; the
eager engine tells it of every node it makes (:meth:`Sites.made`) and of every gradient a
node sends its operands (:meth:`Sites.sent`). ``zg.compile``'s checked replay raises the
same errors from the creation sites its tape recorded.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

from . import modes

OUTSIDE = ("<created outside detect_anomaly()>", 0)  # the site of a node made before it
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def is_bad(x: float) -> bool:
    """nan or ±inf."""
    return math.isnan(x) or math.isinf(x)


def user_site() -> tuple[str, int]:
    """File and line of the innermost frame outside the zerograd package."""
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_PACKAGE_DIR):
        f = f.f_back
    return (f.f_code.co_filename, f.f_lineno) if f is not None else ("<unknown>", 0)


def forward_error(op: str, out: float, inputs: list, site: tuple) -> FloatingPointError:
    """The error for op ``op`` giving ``out`` from finite ``inputs``."""
    return FloatingPointError(
        f"op '{op}' produced {out} in the forward pass from inputs "
        f"({', '.join(map(repr, inputs))}); the node was created at {site[0]}:{site[1]}"
    )


def backward_error(
    op: str, grads: Any, inputs: list, out: float, g: float, site: tuple
) -> FloatingPointError:
    """The error for op ``op`` turning the finite incoming gradient ``g`` into ``grads``."""
    return FloatingPointError(
        f"op '{op}' produced a gradient of {list(grads)} in the backward pass "
        f"(inputs ({', '.join(map(repr, inputs))}), output {out}, incoming gradient {g}); "
        f"the node was created at {site[0]}:{site[1]}"
    )


class Sites(dict):
    """id(node) -> (file, line) of the user code that created it, for the nodes made inside
    ``detect_anomaly()``; its two checks raise at the first nan or inf made from finite
    numbers."""

    def made(self, out: Any, op: Any, children: tuple) -> None:
        """Note where ``out`` (just computed by ``op`` from ``children``) was created."""
        site = self[id(out)] = user_site()
        if is_bad(out.data) and not any(is_bad(c.data) for c in children):
            raise forward_error(op.name, out.data, [c.data for c in children], site)

    def sent(self, node: Any, grads: tuple) -> None:
        """Check the gradients ``node`` is about to add into its operands."""
        if any(is_bad(g) for g in grads) and not is_bad(node.grad):
            inputs = [c.data for c in node._children]
            raise backward_error(node._fn.name, grads, inputs, node.data, node.grad,
                                 self.get(id(node), OUTSIDE))


class detect_anomaly:
    """Context manager: the first op giving nan or inf, forward or backward, raises (in the
    calling thread).

    The ``FloatingPointError`` names the op, its inputs and the line of user code that
    created the node.
    """

    def __init__(self) -> None:
        self._tokens: list = []

    def __enter__(self) -> detect_anomaly:
        sites = modes.current.anomaly  # nested: one record of creation sites
        self._tokens.append(modes.enter("anomaly", Sites() if sites is None else sites))
        return self

    def __exit__(self, *exc: Any) -> None:
        modes.leave("anomaly", self._tokens.pop())


__all__ = ["detect_anomaly", "Sites", "OUTSIDE", "is_bad", "forward_error", "backward_error"]
