"""Small datasets for learning and demos.

Every function returns ``(X, y)``: ``X`` a float64 array of shape ``(n, features)`` and ``y``
an int64 array of class indices ``0 .. classes-1`` (``signed=True`` gives ``-1/+1`` for the
two-class sets, as micrograd's SVM demo uses), except :func:`lecture`, which returns the
lecture's plain lists. Seeded functions give the same data for the same seed and never touch
the global random state. scikit-learn (``pip install "zerograd[data]"``) makes the sets it
already knows; :func:`spiral` and :func:`lecture` need nothing beyond NumPy.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

LECTURE_XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
LECTURE_YS = [1.0, -1.0, -1.0, 1.0]


def _sklearn_datasets() -> Any:
    try:
        import sklearn.datasets
    except ImportError:
        raise ImportError(
            'this dataset comes from scikit-learn: pip install "zerograd[data]"'
        ) from None
    return sklearn.datasets


def _count(n: Any, what: str, minimum: int = 1) -> int:
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < minimum:
        raise ValueError(f"{what} must be a whole number >= {minimum}, got {n!r}")
    return int(n)


def _nonneg(x: Any, what: str) -> float:
    if not isinstance(x, numbers.Real) or isinstance(x, bool) or not 0 <= x < float("inf"):
        raise ValueError(f"{what} must be a finite number >= 0, got {x!r}")
    return float(x)


def _seed(seed: Any) -> int:
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    return int(seed)


def _out(X: Any, y: Any, signed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.int64)
    return np.asarray(X, dtype=np.float64), (2 * y - 1 if signed else y)


def lecture() -> tuple[list[list[float]], list[float]]:
    """The lecture's four examples: 3 inputs each, targets +1/-1 (fresh lists every call)."""
    return [list(x) for x in LECTURE_XS], list(LECTURE_YS)


def moons(n: int = 100, noise: float = 0.1, seed: int = 1337,
          signed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's ``make_moons``), 2 features, 2 classes.

    ``moons(100, 0.1, 1337, signed=True)`` is exactly micrograd's demo data.
    """
    make = _sklearn_datasets().make_moons
    X, y = make(n_samples=_count(n, "n", 2), noise=_nonneg(noise, "noise"),
                random_state=_seed(seed))
    return _out(X, y, signed)


def circles(n: int = 100, noise: float = 0.05, factor: float = 0.5, seed: int = 0,
            signed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A small circle inside a large one (scikit-learn's ``make_circles``), 2 classes."""
    if not isinstance(factor, numbers.Real) or not 0 < factor < 1:
        raise ValueError(f"factor (inner radius / outer radius) must be in (0, 1), got {factor!r}")
    make = _sklearn_datasets().make_circles
    X, y = make(n_samples=_count(n, "n", 2), noise=_nonneg(noise, "noise"),
                factor=float(factor), random_state=_seed(seed))
    return _out(X, y, signed)


def spiral(n_per_class: int = 100, classes: int = 3, seed: int = 0,
           noise: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` arms of a spiral, ``n_per_class`` points each (CS231n's toy set).

    Point ``i`` of arm ``c`` sits at radius ``r = i / (n - 1)`` and angle
    ``4c + 4r + noise * N(0, 1)`` (radians): ``(r sin t, r cos t)``.
    """
    n = _count(n_per_class, "n_per_class", 2)
    k = _count(classes, "classes", 2)
    rng = np.random.default_rng(_seed(seed))
    r = np.linspace(0.0, 1.0, n)
    X = np.empty((n * k, 2))
    y = np.repeat(np.arange(k), n)
    for c in range(k):
        t = 4.0 * c + 4.0 * r + _nonneg(noise, "noise") * rng.standard_normal(n)
        X[c * n:(c + 1) * n] = np.column_stack([r * np.sin(t), r * np.cos(t)])
    return _out(X, y)


def blobs(n: int = 100, centers: int = 3, std: float = 1.0, features: int = 2,
          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters around ``centers`` random centres (scikit-learn's ``make_blobs``)."""
    make = _sklearn_datasets().make_blobs
    X, y = make(n_samples=_count(n, "n"), centers=_count(centers, "centers"),
                n_features=_count(features, "features"), cluster_std=_nonneg(std, "std"),
                random_state=_seed(seed))
    return _out(X, y)


def xor(n: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The XOR pattern: points uniform in [-1, 1]², class 1 where ``x * y > 0`` (the first and
    third quadrants), then moved by ``noise * N(0, 1)`` in each coordinate."""
    rng = np.random.default_rng(_seed(seed))
    X = rng.uniform(-1.0, 1.0, size=(_count(n, "n", 2), 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    return _out(X + _nonneg(noise, "noise") * rng.standard_normal(X.shape), y)


def digits(scale: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 handwritten digits: 1797 images as 64 pixels, 10 classes.

    Pixels are 0..16; ``scale=True`` divides them by 16 so inputs lie in [0, 1]. Nothing is
    downloaded: the data ships with scikit-learn.
    """
    d = _sklearn_datasets().load_digits()
    return _out(d.data / 16.0 if scale else d.data, d.target)


def train_test_split(X: Any, y: Any, test_fraction: float = 0.2,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle with ``seed`` and split: ``X_train, X_test, y_train, y_test``."""
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
    order = np.random.default_rng(_seed(seed)).permutation(len(X))
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


__all__ = ["lecture", "moons", "circles", "spiral", "blobs", "xor", "digits", "train_test_split"]
