"""Small datasets for learning and demos.

Every function returns ``(X, y)`` (``Rows, Labels`` in the signatures): ``X`` a float64
array of shape ``(n, features)`` and ``y`` an int64 array of class indices
``0 .. classes-1`` (``signed=True`` gives ``-1/+1`` for the two-class sets, as micrograd's
SVM demo uses), except :func:`lecture`, which returns the lecture's plain lists. Seeded
functions give the same data for the same seed and never touch the global random state.
scikit-learn (``pip install "zerograd[data]"``) makes the sets it already knows;
:func:`spiral` and :func:`lecture` need nothing beyond NumPy.

**Without NumPy** (a Python with the standard library alone, such as Pyodide's), NumPy is
never imported and :func:`moons`, :func:`circles`, :func:`spiral`, :func:`blobs`,
:func:`xor` and :func:`train_test_split` return plain lists instead: ``X`` a list of rows
(lists of floats), ``y`` a list of ints. The sets are drawn from the same distributions as
above (the same shapes, class sizes, centres box, noise and shuffling), but with their own
numbers, not scikit-learn's or NumPy's: every random number comes from
``random.Random(seed).random()``, so a seed gives the same data on every machine and Python
version (up to the last bit, where a platform's ``sin``, ``cos`` or ``log`` rounds
differently). ``portable=True`` asks for these lists where NumPy is installed too: the
browser playground and its server draw the same points from a seed that way. :func:`lecture`
is the same everywhere; :func:`digits` needs scikit-learn,
and so NumPy, and says so.
"""

from __future__ import annotations

import math
import numbers
import random
from typing import TYPE_CHECKING, Any

from .args import count

if TYPE_CHECKING:
    import numpy as np

    Rows = np.ndarray | list[list[float]]  # X: NumPy's float64 array, or lists without NumPy
    Labels = np.ndarray | list[int]  # y: NumPy's int64 array, or a list without NumPy

LECTURE_XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
LECTURE_YS = [1.0, -1.0, -1.0, 1.0]


def _numpy(portable: bool = False) -> Any:
    """NumPy, or None where it is not installed or ``portable`` asks for the lists."""
    if portable:
        return None
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def _sklearn_datasets() -> Any:
    try:
        import sklearn.datasets
    except ImportError:
        raise ImportError(
            'this dataset comes from scikit-learn: pip install "zerograd[data]"'
        ) from None
    return sklearn.datasets


def _nonneg(x: Any, what: str) -> float:
    if not isinstance(x, numbers.Real) or isinstance(x, bool) or not 0 <= x < float("inf"):
        raise ValueError(f"{what} must be a finite number >= 0, got {x!r}")
    return float(x)


def _out(X: Any, y: Any, signed: bool = False, portable: bool = False) -> tuple[Rows, Labels]:
    np = None if portable else _numpy()
    if np is None:  # lists: the standard-library sets below
        return [[float(v) for v in row] for row in X], [2 * c - 1 if signed else c for c in y]
    y = np.asarray(y, dtype=np.int64)
    return np.asarray(X, dtype=np.float64), (2 * y - 1 if signed else y)


# -- the standard-library sets (no NumPy): every number from random.Random(seed).random() --
def _normals(rng: random.Random, n: int) -> list[float]:
    """``n`` standard normal numbers (Box-Muller: two from each pair of uniforms)."""
    out: list[float] = []
    while len(out) < n:
        r = math.sqrt(-2.0 * math.log(1.0 - rng.random()))  # 1 - u is in (0, 1]
        t = math.tau * rng.random()
        out += (r * math.cos(t), r * math.sin(t))
    return out[:n]


def _shuffle(rng: random.Random, *columns: list) -> None:
    """Shuffle the lists ``columns`` in place, all by the same permutation (Fisher-Yates)."""
    for i in range(len(columns[0]) - 1, 0, -1):
        j = int(rng.random() * (i + 1))
        for c in columns:
            c[i], c[j] = c[j], c[i]


def _with_noise(rng: random.Random, X: list[list[float]], noise: float) -> list[list[float]]:
    """``X`` with ``noise * N(0, 1)`` added to every coordinate, row by row."""
    z = iter(_normals(rng, sum(map(len, X))))
    return [[v + noise * next(z) for v in row] for row in X]


def _linspace(stop: float, n: int, endpoint: bool = True) -> list[float]:
    """``n`` evenly spaced numbers from 0 to ``stop`` (``stop`` itself left out when not
    ``endpoint``)."""
    steps = (n - 1 if endpoint else n) or 1
    return [stop * i / steps for i in range(n)]


def _moons(n: int, noise: float, rng: random.Random) -> tuple[list, list]:
    n_out = n // 2
    X = [[math.cos(t), math.sin(t)] for t in _linspace(math.pi, n_out)]
    X += [[1.0 - math.cos(t), 0.5 - math.sin(t)] for t in _linspace(math.pi, n - n_out)]
    y = [0] * n_out + [1] * (n - n_out)
    _shuffle(rng, X, y)
    return _with_noise(rng, X, noise), y


def _circles(n: int, noise: float, factor: float, rng: random.Random) -> tuple[list, list]:
    n_out = n // 2
    X = [[math.cos(t), math.sin(t)] for t in _linspace(math.tau, n_out, endpoint=False)]
    X += [[factor * math.cos(t), factor * math.sin(t)]
          for t in _linspace(math.tau, n - n_out, endpoint=False)]
    y = [0] * n_out + [1] * (n - n_out)
    _shuffle(rng, X, y)
    return _with_noise(rng, X, noise), y


def _spiral(n: int, k: int, noise: float, rng: random.Random) -> tuple[list, list]:
    r = _linspace(1.0, n)
    X: list[list[float]] = []
    for c in range(k):
        ts = [4.0 * c + 4.0 * ri + noise * z for ri, z in zip(r, _normals(rng, n))]
        X += [[ri * math.sin(t), ri * math.cos(t)] for ri, t in zip(r, ts)]
    return X, [c for c in range(k) for _ in range(n)]


def _blobs(n: int, centers: int, std: float, features: int,
           rng: random.Random) -> tuple[list, list]:
    middles = [[-10.0 + 20.0 * rng.random() for _ in range(features)] for _ in range(centers)]
    sizes = [n // centers + (i < n % centers) for i in range(centers)]
    X, y = [], []
    for c, (m, size) in enumerate(zip(middles, sizes)):
        z = iter(_normals(rng, size * features))
        X += [[mi + std * next(z) for mi in m] for _ in range(size)]
        y += [c] * size
    _shuffle(rng, X, y)
    return X, y


def _xor(n: int, noise: float, rng: random.Random) -> tuple[list, list]:
    X = [[-1.0 + 2.0 * rng.random(), -1.0 + 2.0 * rng.random()] for _ in range(n)]
    y = [int(a * b > 0) for a, b in X]
    return _with_noise(rng, X, noise), y


# -- the sets -------------------------------------------------------------------------------
def lecture() -> tuple[list[list[float]], list[float]]:
    """The lecture's four examples: 3 inputs each, targets +1/-1 (fresh lists every call)."""
    return [list(x) for x in LECTURE_XS], list(LECTURE_YS)


def moons(n: int = 100, noise: float = 0.1, seed: int = 1337,
          signed: bool = False, *, portable: bool = False) -> tuple[Rows, Labels]:
    """Two interleaving half circles (scikit-learn's ``make_moons``), 2 features, 2 classes.

    ``moons(100, 0.1, 1337, signed=True)`` is exactly micrograd's demo data.
    """
    n, noise, seed = count(n, "n", 2), _nonneg(noise, "noise"), count(seed, "seed", 0)
    if _numpy(portable) is None:
        return _out(*_moons(n, noise, random.Random(seed)), signed, portable)
    X, y = _sklearn_datasets().make_moons(n_samples=n, noise=noise, random_state=seed)
    return _out(X, y, signed)


def circles(n: int = 100, noise: float = 0.05, factor: float = 0.5, seed: int = 0,
            signed: bool = False, *, portable: bool = False) -> tuple[Rows, Labels]:
    """A small circle inside a large one (scikit-learn's ``make_circles``), 2 classes."""
    if not isinstance(factor, numbers.Real) or not 0 < factor < 1:
        raise ValueError(f"factor (inner radius / outer radius) must be in (0, 1), got {factor!r}")
    n, noise, seed = count(n, "n", 2), _nonneg(noise, "noise"), count(seed, "seed", 0)
    if _numpy(portable) is None:
        return _out(*_circles(n, noise, float(factor), random.Random(seed)), signed, portable)
    X, y = _sklearn_datasets().make_circles(n_samples=n, noise=noise, factor=float(factor),
                                             random_state=seed)
    return _out(X, y, signed)


def spiral(n_per_class: int = 100, classes: int = 3, seed: int = 0,
           noise: float = 0.2, *, portable: bool = False) -> tuple[Rows, Labels]:
    """``classes`` arms of a spiral, ``n_per_class`` points each (CS231n's toy set).

    Point ``i`` of arm ``c`` sits at radius ``r = i / (n - 1)`` and angle
    ``4c + 4r + noise * N(0, 1)`` (radians): ``(r sin t, r cos t)``.
    """
    n = count(n_per_class, "n_per_class", 2)
    k = count(classes, "classes", 2)
    seed, noise = count(seed, "seed", 0), _nonneg(noise, "noise")
    np = _numpy(portable)
    if np is None:
        return _out(*_spiral(n, k, noise, random.Random(seed)), portable=portable)
    rng = np.random.default_rng(seed)
    r = np.linspace(0.0, 1.0, n)
    X = np.empty((n * k, 2))
    y = np.repeat(np.arange(k), n)
    for c in range(k):
        t = 4.0 * c + 4.0 * r + noise * rng.standard_normal(n)
        X[c * n:(c + 1) * n] = np.column_stack([r * np.sin(t), r * np.cos(t)])
    return _out(X, y)


def blobs(n: int = 100, centers: int = 3, std: float = 1.0, features: int = 2,
          seed: int = 0, *, portable: bool = False) -> tuple[Rows, Labels]:
    """Gaussian clusters around ``centers`` random centres (scikit-learn's ``make_blobs``):
    centres uniform in [-10, 10] per feature, ``n`` points split as evenly as possible."""
    n, k = count(n, "n"), count(centers, "centers")
    features, std, seed = count(features, "features"), _nonneg(std, "std"), count(seed, "seed", 0)
    if _numpy(portable) is None:
        return _out(*_blobs(n, k, std, features, random.Random(seed)), portable=portable)
    X, y = _sklearn_datasets().make_blobs(n_samples=n, centers=k, n_features=features,
                                           cluster_std=std, random_state=seed)
    return _out(X, y)


def xor(n: int = 200, noise: float = 0.1, seed: int = 0, *,
        portable: bool = False) -> tuple[Rows, Labels]:
    """The XOR pattern: points uniform in [-1, 1]², class 1 where ``x * y > 0`` (the first and
    third quadrants), then moved by ``noise * N(0, 1)`` in each coordinate."""
    n, seed, noise = count(n, "n", 2), count(seed, "seed", 0), _nonneg(noise, "noise")
    np = _numpy(portable)
    if np is None:
        return _out(*_xor(n, noise, random.Random(seed)), portable=portable)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    return _out(X + noise * rng.standard_normal(X.shape), y)


def digits(scale: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 handwritten digits: 1797 images as 64 pixels, 10 classes.

    Pixels are 0..16; ``scale=True`` divides them by 16 so inputs lie in [0, 1]. Nothing is
    downloaded: the data ships with scikit-learn.
    """
    d = _sklearn_datasets().load_digits()
    return _out(d.data / 16.0 if scale else d.data, d.target)


def train_test_split(X: Any, y: Any, test_fraction: float = 0.2, seed: int = 0, *,
                     portable: bool = False) -> tuple[Rows, Rows, Labels, Labels]:
    """Shuffle with ``seed`` and split: ``X_train, X_test, y_train, y_test`` (NumPy arrays;
    lists, taken from ``X`` and ``y`` as they are, without NumPy or with ``portable``)."""
    np = _numpy(portable)
    if np is not None:
        X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    if not isinstance(test_fraction, numbers.Real) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")
    n_test = int(round(len(X) * test_fraction))
    if not 0 < n_test < len(X):
        raise ValueError(
            f"test_fraction {test_fraction} of {len(X)} rows leaves an empty train or test set"
        )
    seed = count(seed, "seed", 0)
    if np is None:
        order = list(range(len(X)))
        _shuffle(random.Random(seed), order)
        test, train = order[:n_test], order[n_test:]
        return [X[i] for i in train], [X[i] for i in test], [y[i] for i in train], \
            [y[i] for i in test]
    order = np.random.default_rng(seed).permutation(len(X))
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


__all__ = ["lecture", "moons", "circles", "spiral", "blobs", "xor", "digits", "train_test_split"]
