"""Datasets: shapes, label sets, seeding, and micrograd's demo data reproduced exactly."""

import random

import numpy as np
import pytest
from conftest import needs

from zerograd import data

SKLEARN = pytest.mark.needs("sklearn", "scikit-learn makes this set")


def test_lecture_is_the_lectures_four_examples_and_fresh_each_call():
    xs, ys = data.lecture()
    assert xs == [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    assert ys == [1.0, -1.0, -1.0, 1.0]
    xs[0][0] = 99.0
    assert data.lecture()[0][0][0] == 2.0


def test_moons_with_micrograds_seeding_is_micrograds_demo_data():
    needs("sklearn", "its make_moons, the reference")
    from sklearn.datasets import make_moons

    state = np.random.get_state()
    try:
        np.random.seed(1337)
        random.seed(1337)
        X_ref, y_ref = make_moons(n_samples=100, noise=0.1)
    finally:
        np.random.set_state(state)
    X, y = data.moons(100, 0.1, 1337, signed=True)
    assert np.array_equal(X, X_ref)
    assert np.array_equal(y, y_ref * 2 - 1)


def test_seeded_sets_do_not_touch_the_global_random_state():
    needs("sklearn", "its moons, circles and blobs")
    before = np.random.get_state()[1].copy()
    r = random.getstate()
    data.moons(50, 0.2, 3)
    data.spiral(20, 3, 4)
    data.circles(40, 0.1, seed=5)
    data.blobs(30, seed=6)
    data.xor(30, seed=7)
    assert np.array_equal(np.random.get_state()[1], before)
    assert random.getstate() == r


@pytest.mark.parametrize(
    "make, n, features, labels",
    [
        pytest.param(lambda s: data.moons(60, 0.1, s), 60, 2, {0, 1}, marks=SKLEARN),
        pytest.param(lambda s: data.moons(60, 0.1, s, signed=True), 60, 2, {-1, 1}, marks=SKLEARN),
        pytest.param(lambda s: data.circles(80, 0.05, 0.5, s), 80, 2, {0, 1}, marks=SKLEARN),
        pytest.param(lambda s: data.circles(80, 0.05, 0.5, s, signed=True), 80, 2, {-1, 1},
                     marks=SKLEARN),
        (lambda s: data.spiral(25, 3, s), 75, 2, {0, 1, 2}),
        (lambda s: data.spiral(10, 5, s), 50, 2, {0, 1, 2, 3, 4}),
        pytest.param(lambda s: data.blobs(90, 4, seed=s), 90, 2, {0, 1, 2, 3}, marks=SKLEARN),
        pytest.param(lambda s: data.blobs(30, 2, features=5, seed=s), 30, 5, {0, 1}, marks=SKLEARN),
        (lambda s: data.xor(70, 0.1, seed=s), 70, 2, {0, 1}),
    ],
)
def test_shapes_labels_and_seeding(make, n, features, labels):
    X, y = make(7)
    assert X.shape == (n, features) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    assert set(y.tolist()) == labels
    X2, y2 = make(7)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    X3, _ = make(8)
    assert not np.array_equal(X, X3)


def test_xor_labels_are_the_quadrants_before_the_noise():
    X, y = data.xor(500, noise=0.0, seed=3)
    assert np.array_equal(y, (X[:, 0] * X[:, 1] > 0).astype(np.int64))
    assert np.abs(X).max() <= 1.0 and 0.4 < y.mean() < 0.6
    Xn, yn = data.xor(500, noise=0.1, seed=3)
    assert np.array_equal(yn, y) and 0.05 < np.abs(Xn - X).mean() < 0.15


def test_spiral_classes_are_balanced_and_inside_the_unit_disc():
    X, y = data.spiral(40, 3, seed=1)
    assert np.bincount(y).tolist() == [40, 40, 40]
    assert np.all(np.hypot(X[:, 0], X[:, 1]) <= 1.0 + 1e-12)


def test_digits_is_sklearns_bundled_set_scaled_to_unit_range():
    needs("sklearn", "its bundled digits")
    from sklearn.datasets import load_digits

    X, y = data.digits()
    ref = load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert set(y.tolist()) == set(range(10))
    assert X.min() == 0.0 and X.max() == 1.0
    assert np.array_equal(X * 16.0, ref.data)
    assert np.array_equal(data.digits(scale=False)[0], ref.data)


def test_train_test_split_partitions_the_rows():
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    Xtr, Xte, ytr, yte = data.train_test_split(X, y, 0.3, seed=2)
    assert len(Xte) == 3 and len(Xtr) == 7
    assert sorted(ytr.tolist() + yte.tolist()) == list(range(10))
    assert np.array_equal(Xtr[:, 0], ytr * 2.0)  # rows stay with their labels
    again = data.train_test_split(X, y, 0.3, seed=2)
    assert np.array_equal(again[1], Xte)


@pytest.mark.parametrize(
    "call, words",
    [
        pytest.param(lambda: data.moons(0), "n must be", marks=SKLEARN),
        pytest.param(lambda: data.moons(10, noise=-1), "noise", marks=SKLEARN),
        pytest.param(lambda: data.moons(10, seed=-3), "seed", marks=SKLEARN),
        (lambda: data.spiral(10, classes=1), "classes"),
        pytest.param(lambda: data.circles(10, factor=1.5), "factor", marks=SKLEARN),
        pytest.param(lambda: data.blobs(2.5), "n must be", marks=SKLEARN),
        (lambda: data.train_test_split([[1], [2]], [1], 0.5), "rows"),
        (lambda: data.train_test_split([[1], [2]], [1, 2], 1.5), "test_fraction"),
        (lambda: data.train_test_split([[1], [2]], [1, 2], 0.01), "empty"),
    ],
)
def test_bad_arguments_say_what_is_wrong(call, words):
    with pytest.raises(ValueError, match=words):
        call()
