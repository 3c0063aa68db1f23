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

DATASETS = ("lecture", "moons", "circles", "spiral", "blobs", "xor", "custom")
ACTIVATIONS = ("tanh", "relu", "sigmoid")
LOSSES = ("mse", "hinge", "cross_entropy")
OPTIMIZERS = ("gd", "momentum", "adam")
MOMENTUM = 0.9

DEFAULTS: dict[str, Any] = dict(
    dataset="moons", points=200, noise=0.1, test_fraction=0.2, seed=1, hidden=[8, 8],
    activation="tanh", loss="mse", optimizer="gd", lr=0.1, batch=0, l2=0.0,
    forget_zero_grad=False, data=None,
)

# key: (kind, low, high) for numbers, (choices,) for names; sent to the page as its limits
LIMITS: dict[str, tuple] = dict(
    dataset=(DATASETS,), points=("int", 10, 1000), noise=("number", 0.0, 1.0),
    test_fraction=("number", 0.0, 0.5), seed=("int", 0, 2**31 - 1),
    hidden=("layers", 0, 6, 1, 16), activation=(ACTIVATIONS,), loss=(LOSSES,),
    optimizer=(OPTIMIZERS,), lr=("number", 1e-4, 10.0), batch=("int", 0, 1000),
    l2=("number", 0.0, 1.0), forget_zero_grad=("bool",), data=("points", 4, 1000),
)
MAX_COORD = 1e6  # a custom point's coordinates are at most this large (in absolute value)
DECIMALS = 3  # custom points are kept rounded to this many decimals (what a link carries)
LINK_POINTS = 200  # the page's link carries custom data of at most this many points


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
        elif spec[0] == "points":
            out[key] = {"kind": "points", "min": spec[1], "max": spec[2],
                        "max_coordinate": MAX_COORD, "decimals": DECIMALS,
                        "link_max": LINK_POINTS}
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
    if spec[0] == "points":
        return points(x)
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
    if new["dataset"] == "custom" and new.get("data") is None:
        raise ValueError("dataset custom needs its points: paste or upload a CSV (x, y, label) "
                         "or click on the boundary plane to add points")
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


def points(x: Any) -> list[list[float]] | None:
    """Custom data as ``[[x, y, class], ...]`` (class 0 or 1, coordinates rounded to
    ``DECIMALS``), from CSV text or a list of ``[x, y, label]`` rows; None stays None.
    ValueError naming the row and what is wrong. The text is only split and read as
    numbers, never run."""
    if x is None:
        return None
    if isinstance(x, str):
        rows, where = _csv_rows(x)
    elif isinstance(x, list):
        if len(x) > LIMITS["data"][2]:
            raise ValueError(f"data: too many points: at most {LIMITS['data'][2]}; got "
                             f"{len(x)}")
        rows, where = [], []
        for i, r in enumerate(x):
            if not isinstance(r, list) or len(r) != 3:
                raise ValueError(f"data: point {i + 1} must be a list [x, y, label]; got "
                                 f"{_shown(r)}"[:300])
            rows.append(r)
            where.append(f"point {i + 1}")
    else:
        raise ValueError(f"data must be CSV text (x,y,label rows) or a list of [x, y, label] "
                         f"points; got {type(x).__name__}")
    _, lo, hi = LIMITS["data"]
    if len(rows) > hi:
        raise ValueError(f"data: too many points: at most {hi}; got {len(rows)}")
    if not rows:
        raise ValueError(f"data: no points: give rows of x,y,label (at least {lo}, both "
                         f"classes)")
    if len(rows) < lo:
        raise ValueError(f"data: at least {lo} points are needed (both classes); got "
                         f"{len(rows)}")
    xy = [[_coord(r[0], "x", w), _coord(r[1], "y", w)] for r, w in zip(rows, where)]
    classes = _classes([r[2] for r in rows], where)
    return [[a, b, c] for (a, b), c in zip(xy, classes)]


def _csv_rows(text: str) -> tuple[list[Any], list[str]]:
    """The rows of CSV text (lines, or ``;`` between rows as in a link; fields split at
    commas or tabs) and each one's name ("row n", its line); a first row whose x and y are
    not numbers is a header, skipped."""
    rows: list[Any] = []
    names: list[str] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace(";", "\n").split("\n")
    first = True
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.replace("\t", ",").split(",")]
        if first and len(fields) >= 2 and not _number(fields[0]) and not _number(fields[1]):
            first = False  # x,y,label
            continue
        first = False
        if len(fields) != 3:
            raise ValueError(f"data: row {n} must have 3 columns (x, y, label); it has "
                             f"{len(fields)}: {line.strip()[:60]!r}")
        rows.append(fields)
        names.append(f"row {n}")
    return rows, names


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _coord(v: Any, name: str, where: str) -> float:
    """A coordinate, finite and at most MAX_COORD in size, rounded to DECIMALS."""
    if isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            raise ValueError(f"data: {where}: {name} must be a number; got {v[:40]!r}") from None
    elif isinstance(v, numbers.Real) and not isinstance(v, bool):
        if _int(v) and abs(v) > MAX_COORD:
            f = math.inf
        else:
            f = float(v)
    else:
        raise ValueError(f"data: {where}: {name} must be a number; got {_shown(v)}"[:200])
    if not math.isfinite(f) or abs(f) > MAX_COORD:
        raise ValueError(f"data: {where}: {name} must be a finite number of at most "
                         f"{MAX_COORD:g} in size; got {_shown(v)}"[:200])
    return round(f, DECIMALS)


def _classes(labels: list[Any], where: list[str]) -> list[int]:
    """Labels as classes 0/1: 0 and 1, -1 and +1, or two names (in sorted order: the first
    is class 0); ValueError unless exactly two classes are present."""
    keys = []
    for lab, w in zip(labels, where):
        if isinstance(lab, str):
            t = lab.strip()
            if _number(t) and float(t) in (-1.0, 0.0, 1.0):
                keys.append(float(t))
            elif t and not _number(t):
                keys.append(t[:40])
            else:
                raise ValueError(f"data: {w}: the label must be 0 or 1, -1 or +1, or a name; "
                                 f"got {lab[:40]!r}")
        elif isinstance(lab, numbers.Real) and not isinstance(lab, bool) and lab in (-1, 0, 1):
            keys.append(float(lab))
        else:
            raise ValueError(f"data: {w}: the label must be 0 or 1, -1 or +1, or a name; "
                             f"got {_shown(lab)}"[:200])
    kinds = set(keys)
    names = sorted(k for k in kinds if isinstance(k, str))
    nums = sorted(k for k in kinds if not isinstance(k, str))
    if names and nums:
        raise ValueError(f"data: labels mix numbers and names ({nums[0]:g} and {names[0]!r}): "
                         f"use 0/1, -1/+1 or two names")
    if len(kinds) != 2:
        shown = ", ".join(repr(k) if isinstance(k, str) else f"{k:g}" for k in names + nums)
        raise ValueError(f"data: two classes are needed, both present: the labels are "
                         f"{shown} (add points of the other class)" if len(kinds) < 2 else
                         f"data: two classes are needed, no more: the labels are {shown}")
    if nums == [0.0, 1.0] or nums == [-1.0, 1.0]:
        return [int(k == 1.0) for k in keys]
    if nums:
        raise ValueError("data: numeric labels must be 0 and 1, or -1 and +1; got "
                         f"{nums[0]:g} and {nums[1]:g}")
    return [int(k == names[1]) for k in keys]


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
    if name == "custom":
        X, y = [[p[0], p[1]] for p in cfg["data"]], [int(p[2]) for p in cfg["data"]]
    elif name == "moons":
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
