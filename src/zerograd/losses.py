"""Loss functions on Values (and plain numbers for targets)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from .engine import Value, as_value, dot, logsumexp, vsum

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
    """Cross-entropy of one example's logits against a class index, ``logsumexp(logits) -
    logits[target]``, or against class probabilities (e.g. a one-hot row, as PyTorch takes
    them), ``-sum(p_i * log_softmax(logits)_i)``. A batch (a list of logit lists and a list
    of targets) gives the mean or sum over its examples."""
    if logits and isinstance(logits[0], (list, tuple)):
        rows, targets = _pairs(logits, target, "cross_entropy")
        return _reduce([_ce_one(r, t) for r, t in zip(rows, targets)], reduction, "cross_entropy")
    return _ce_one(logits, target)


def _ce_one(logits: Sequence[Any], target: Any) -> Value:
    if isinstance(target, (list, tuple)):
        if len(target) != len(logits):
            raise ValueError(f"cross_entropy: {len(target)} class probabilities for "
                             f"{len(logits)} classes")
        # -sum(p_i * (x_i - lse)) = lse * sum(p) - sum(p_i * x_i)
        return logsumexp(logits) * vsum(target) - dot(target, logits)
    if not isinstance(target, numbers.Integral) or isinstance(target, bool):
        raise TypeError(f"cross_entropy: the target must be a class index (int) or a list of "
                        f"class probabilities, got {target!r}")
    if not 0 <= target < len(logits):
        raise ValueError(
            f"cross_entropy: target {target} is out of range for {len(logits)} classes"
        )
    return logsumexp(logits) - logits[target]
