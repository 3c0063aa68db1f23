"""Loss functions on Values (and plain numbers for targets)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from .engine import Value, as_value, logsumexp, vsum

REDUCTIONS = ("mean", "sum")


def _pairs(preds: Any, targets: Any, name: str) -> tuple[list, list]:
    preds = [preds] if isinstance(preds, (Value, numbers.Real)) else list(preds)
    targets = [targets] if isinstance(targets, (Value, numbers.Real)) else list(targets)
    if len(preds) != len(targets):
        raise ValueError(f"{name}: {len(preds)} predictions but {len(targets)} targets")
    if not preds:
        raise ValueError(f"{name}: no predictions given")
    return preds, targets


def _reduce(terms: list, reduction: str, name: str) -> Value:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    total = vsum(terms)
    return total * (1.0 / len(terms)) if reduction == "mean" else total


def mse(preds: Any, targets: Any, reduction: str = "mean") -> Value:
    """Mean (or sum) of ``(pred - target) ** 2``."""
    preds, targets = _pairs(preds, targets, "mse")
    return _reduce([(p - t) ** 2 for p, t in zip(preds, targets)], reduction, "mse")


def hinge(scores: Any, labels: Any, reduction: str = "mean") -> Value:
    """Max-margin loss ``relu(1 - y * score)`` with labels in {-1, +1} (micrograd's SVM loss)."""
    scores, labels = _pairs(scores, labels, "hinge")
    return _reduce([(1 + -y * s).relu() for s, y in zip(scores, labels)], reduction, "hinge")


def binary_cross_entropy(logits: Any, targets: Any, reduction: str = "mean") -> Value:
    """``softplus(x) - x * y`` per logit ``x`` and target ``y`` in [0, 1]: stable for any x."""
    logits, targets = _pairs(logits, targets, "binary_cross_entropy")
    return _reduce(
        [as_value(x).softplus() - x * y for x, y in zip(logits, targets)],
        reduction,
        "binary_cross_entropy",
    )


def cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Value:
    """``logsumexp(logits) - logits[target]`` for one example (a list of logits and a class
    index), or the mean/sum over a batch (a list of such lists and a list of indices)."""
    if logits and isinstance(logits[0], (list, tuple)):
        rows, targets = _pairs(logits, target, "cross_entropy")
        return _reduce([_ce_one(r, t) for r, t in zip(rows, targets)], reduction, "cross_entropy")
    return _ce_one(logits, target)


def _ce_one(logits: Sequence[Any], target: Any) -> Value:
    if not isinstance(target, numbers.Integral) or isinstance(target, bool):
        raise TypeError(f"cross_entropy: the target must be a class index (int), got {target!r}")
    if not 0 <= target < len(logits):
        raise ValueError(
            f"cross_entropy: target {target} is out of range for {len(logits)} classes"
        )
    return logsumexp(logits) - logits[target]
