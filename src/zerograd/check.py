"""gradcheck: compare backward() against central finite differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from . import monitor
from .engine import Value, no_grad, topological_order


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` when an analytic gradient disagrees with the numeric one."""


def gradcheck(
    fn: Callable[..., Value],
    inputs: Sequence[Value],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Check ``fn(*inputs).backward()`` against ``(f(x+eps) - f(x-eps)) / (2 eps)``.

    Each entry must satisfy ``|analytic - numeric| <= atol + rtol * |numeric|`` (PyTorch's
    defaults). Returns True, or raises :class:`GradcheckError` naming the worst entry. The
    inputs' ``data`` and ``grad`` are left as they were, as are the grads of every other leaf
    ``fn`` uses (a model's parameters, say).
    """
    inputs = list(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"gradcheck needs Values as inputs; input {i} is {type(x).__name__}")
    put_back_inputs = monitor.snapshot(inputs)
    put_back_leaves = None
    try:
        for x in inputs:
            x.grad = 0.0
        out = fn(*inputs)
        if not isinstance(out, Value):
            raise TypeError(f"gradcheck needs fn to return a Value, got {type(out).__name__}")
        put_back_leaves = monitor.snapshot(v for v in topological_order(out) if v._fn is None)
        out.backward()
        analytic = [x.grad for x in inputs]
        worst = None
        with no_grad():
            for i, x in enumerate(inputs):
                x0 = x.data
                x.data = x0 + eps
                hi = fn(*inputs).data
                x.data = x0 - eps
                lo = fn(*inputs).data
                x.data = x0
                numeric = (hi - lo) / (2 * eps)
                err = abs(analytic[i] - numeric)
                excess = err - (atol + rtol * abs(numeric))
                if not excess <= 0 and (worst is None or not excess <= worst[0]):
                    worst = (excess, i, analytic[i], numeric)
    finally:
        if put_back_leaves is not None:
            put_back_leaves()
        put_back_inputs()  # last: the inputs as they were before gradcheck zeroed them
    if worst is not None:
        _, i, a, n = worst
        raise GradcheckError(
            f"gradient of input {i} is wrong: backward() gave {a!r}, finite differences "
            f"gave {n!r} (|difference| {abs(a - n):.3g} > atol {atol} + rtol {rtol} * |numeric|)"
        )
    return True
