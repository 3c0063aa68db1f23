"""A playground setup: its keys and limits, checked; the data, model and loss it stands for.

Everything the page can ask for is one of these keys; :func:`check` refuses anything else
before a session changes. :func:`build` makes what a setup stands for with zerograd's public
API, exactly as the script that "Show the code" exports (``script.py``) does, so the two
print the same losses.
"""

from __future__ import annotations

import math
import numbers
import random
import threading
from dataclasses import dataclass
from typing import Any

from .. import data, losses
from ..nn import MLP

DATASETS = ("lecture", "moons", "circles", "spiral", "blobs", "xor")
ACTIVATIONS = ("tanh", "relu", "sigmoid")
LOSSES = ("mse", "hinge", "cross_entropy")
OPTIMIZERS = ("gd", "momentum", "adam")
MOMENTUM = 0.9

DEFAULTS: dict[str, Any] = dict(
    dataset="moons", points=200, noise=0.1, test_fraction=0.2, seed=1, hidden=[8, 8],
    activation="tanh", loss="mse", optimizer="gd", lr=0.1, batch=0, l2=0.0,
    forget_zero_grad=False,
)

# key: (kind, low, high) for numbers, (choices,) for names; sent to the page as its limits
LIMITS: dict[str, tuple] = dict(
    dataset=(DATASETS,), points=("int", 10, 1000), noise=("number", 0.0, 1.0),
    test_fraction=("number", 0.0, 0.5), seed=("int", 0, 2**31 - 1),
    hidden=("layers", 0, 6, 1, 16), activation=(ACTIVATIONS,), loss=(LOSSES,),
    optimizer=(OPTIMIZERS,), lr=("number", 1e-4, 10.0), batch=("int", 0, 1000),
    l2=("number", 0.0, 1.0), forget_zero_grad=("bool",),
)


def limits() -> dict[str, dict[str, Any]]:
    """The limits as the page reads them: ``{key: {kind, min, max} or {choices}}``."""
    out: dict[str, dict[str, Any]] = {}
    for key, spec in LIMITS.items():
        if isinstance(spec[0], tuple):
            out[key] = {"kind": "choice", "choices": list(spec[0])}
        elif spec[0] == "layers":
            out[key] = {"kind": "layers", "min_layers": spec[1], "max_layers": spec[2],
                        "min": spec[3], "max": spec[4]}
        elif spec[0] == "bool":
            out[key] = {"kind": "bool"}
        else:
            out[key] = {"kind": spec[0], "min": spec[1], "max": spec[2]}
    return out


def _int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _one(key: str, x: Any) -> Any:
    """``x`` as the value of ``key``, or ValueError saying what is allowed."""
    spec = LIMITS[key]
    if isinstance(spec[0], tuple):
        if x not in spec[0] or not isinstance(x, str):
            raise ValueError(f"{key} must be one of {', '.join(spec[0])}; got {_shown(x)}")
        return x
    if spec[0] == "bool":
        if not isinstance(x, bool):
            raise ValueError(f"{key} must be true or false; got {_shown(x)}")
        return x
    if spec[0] == "layers":
        _, lo, hi, wlo, whi = spec
        if (not isinstance(x, list) or not lo <= len(x) <= hi
                or not all(_int(w) and wlo <= w <= whi for w in x)):
            shown = ("[" + ", ".join(_shown(w) for w in x[:hi + 1]) + "]"
                     if isinstance(x, list) else _shown(x))
            raise ValueError(f"hidden must be a list of {lo} to {hi} layer widths, each a "
                             f"whole number from {wlo} to {whi}; got {shown}"[:300])
        return [int(w) for w in x]
    kind, lo, hi = spec
    ok = _int(x) if kind == "int" else isinstance(x, numbers.Real) and not isinstance(x, bool)
    # compared, never converted, until in range: an int of 400 digits (JSON allows it) is too
    # large for a float, nan fails every comparison
    if not ok or not lo <= x <= hi:
        if kind == "int":
            raise ValueError(f"{key} must be a whole number from {lo} to {hi}; got "
                             f"{_shown(x)}")
        raise ValueError(f"{key} must be a number from {lo:g} to {hi:g}; got {_shown(x)}")
    return int(x) if kind == "int" else float(x)


def _shown(x: Any) -> str:
    """``x`` for an error message: short, even for an int of thousands of digits."""
    if _int(x) and abs(x).bit_length() > 64:
        return f"an int of about {int(abs(x).bit_length() * math.log10(2)) + 1} digits"
    return repr(x)[:200]


def check(update: Any, current: dict[str, Any]) -> dict[str, Any]:
    """``current`` with the keys of ``update`` replaced, each checked; ValueError (naming the
    key and its limits) for an unknown key or a value out of range. ``current`` is kept."""
    if not isinstance(update, dict):
        raise ValueError(f"config must be an object of setup keys; got {type(update).__name__}")
    unknown = sorted(str(k) for k in update if k not in LIMITS)
    if unknown:
        raise ValueError(f"unknown setup key {unknown[0][:40]!r}; the keys are "
                         f"{', '.join(LIMITS)}")
    new = dict(current)
    for key, x in update.items():
        new[key] = _one(key, x)
    return new


MAX_STEPS_PER_FRAME = 10_000  # the page's speeds: 1 step a frame up to this, or no limit


def check_speed(n: Any) -> int | None:
    """A ``speed`` message's ``steps_per_frame``: a whole number from 1 to
    ``MAX_STEPS_PER_FRAME``, or None (as fast as it goes); ValueError otherwise."""
    if n is None:
        return None
    if not _int(n) or not 1 <= n <= MAX_STEPS_PER_FRAME:
        raise ValueError(f"speed: steps_per_frame must be a whole number from 1 to "
                         f"{MAX_STEPS_PER_FRAME}, or null (as fast as it goes); got "
                         f"{_shown(n)}"[:300])
    return int(n)


@dataclass
class Data:
    """A setup's examples as lists: train and test rows, labels 0/1 and targets for its
    loss (the test lists are None without a test set)."""

    X: list[list[float]]
    y: list[int]
    t: list[float]
    X_test: list[list[float]] | None
    y_test: list[int] | None
    t_test: list[float] | None


def make_data(cfg: dict[str, Any]) -> Data:
    """The examples of ``cfg``, drawn by the standard library (``portable=True``), so the
    page's Python, the server and the exported script get the same points from a seed
    (ValueError if its numbers leave an empty train or test set)."""
    name, n, noise, seed = cfg["dataset"], cfg["points"], cfg["noise"], cfg["seed"]
    if name == "lecture":
        xs, ys = data.lecture()
        y = [int(v > 0) for v in ys]
        return Data(xs, y, targets(y, cfg["loss"]), None, None, None)
    if name == "moons":
        X, y = data.moons(n, noise=noise, seed=seed, portable=True)
    elif name == "circles":
        X, y = data.circles(n, noise=noise, seed=seed, portable=True)
    elif name == "spiral":
        X, y = data.spiral(n // 2, classes=2, seed=seed, noise=noise, portable=True)
    elif name == "blobs":
        X, y = data.blobs(n, centers=2, std=1.0 + 4.0 * noise, seed=seed, portable=True)
    else:
        X, y = data.xor(n, noise=noise, seed=seed, portable=True)
    if cfg["test_fraction"] == 0:
        return Data(X, y, targets(y, cfg["loss"]), None, None, None)
    X, X_test, y, y_test = data.train_test_split(X, y, cfg["test_fraction"], seed=seed,
                                                 portable=True)
    return Data(X, y, targets(y, cfg["loss"]), X_test, y_test, targets(y_test, cfg["loss"]))


def targets(y: list[int], loss: str) -> list[float]:
    """What ``loss`` compares the output with: ±1 for the squared error and hinge, 0/1 for
    cross-entropy."""
    return [float(c) if loss == "cross_entropy" else 2.0 * c - 1.0 for c in y]


_DRAWING = threading.Lock()  # the weights are drawn from the global random module


def make_model(cfg: dict[str, Any], nin: int) -> MLP:
    """The lecture's MLP for ``cfg``, drawn after ``random.seed(seed)``: each bias uniform
    in [-1, 1] like the weights; a tanh output for the squared error, else a linear one."""
    out = "tanh" if cfg["loss"] == "mse" else None
    with _DRAWING:
        random.seed(cfg["seed"])
        return MLP(nin, cfg["hidden"] + [1], activation=cfg["activation"],
                   output_activation=out, bias="uniform")


def data_loss(model: MLP, X: Any, t: Any, loss: str) -> Any:
    """The mean loss of ``model``'s outputs on the rows of ``X`` against targets ``t``."""
    scores = [model(x) for x in X]
    if loss == "mse":
        return losses.mse(scores, t)
    if loss == "hinge":
        return losses.hinge(scores, t)
    return losses.binary_cross_entropy(scores, t)


def objective(model: MLP, params: list, X: Any, t: Any, cfg: dict[str, Any]) -> Any:
    """What training minimises: the data loss, plus ``l2 * sum(p * p)`` when l2 > 0."""
    loss = data_loss(model, X, t, cfg["loss"])
    if cfg["l2"] > 0:
        loss = loss + cfg["l2"] * sum(p * p for p in params)
    return loss


def batch_rows(rng: random.Random, n: int, batch: int) -> list[int] | None:
    """The rows one step trains on: ``batch`` drawn without replacement by ``rng``, or None
    (all of them) when the batch is 0 or covers the set."""
    return None if batch == 0 or batch >= n else rng.sample(range(n), batch)
