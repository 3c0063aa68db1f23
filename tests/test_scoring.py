"""zerograd.scoring: a model's scores on many rows, eager row by row or compiled chunk by chunk,
for the demos' accuracies and plots, viz's decision boundary and the playground's frames."""

from __future__ import annotations

import random

import numpy as np
import pytest

from zerograd import demos, nn, scoring
from zerograd.engine import Value, is_grad_enabled


def test_eager_scores_are_the_models_outputs_row_by_row_without_a_graph(restore_random):
    random.seed(1)
    model = nn.MLP(2, [4, 3])
    X = np.random.default_rng(1).normal(size=(5, 2))
    grad_modes = []

    def watched(row):
        grad_modes.append(is_grad_enabled())
        return model(row)

    s = scoring.scores(watched, X)
    assert s.shape == (5, 3) and grad_modes == [False] * 5
    assert s.tolist() == [[v.data for v in model(list(r))] for r in X.tolist()]
    one = nn.MLP(2, [4, 1])
    assert scoring.scores(one, X).tolist() == [one(list(r)).data for r in X.tolist()]
    assert scoring.scores(lambda rows: rows.sum(axis=1), X, batched=True).tolist() == \
        X.sum(axis=1).tolist()


@pytest.mark.parametrize("outputs, chunk, rows", [(1, 4, 9), (3, 4, 8), (2, 64, 3)])
def test_the_compiled_scorer_matches_the_eager_one_chunk_by_chunk(outputs, chunk, rows,
                                                                  restore_random):
    random.seed(2)
    model = nn.MLP(2, [5, outputs])
    X = np.random.default_rng(2).normal(size=(rows, 2))
    eager, compiled = scoring.scorer(model, False)(X), scoring.scorer(model, True, chunk)(X)
    assert compiled.shape == eager.shape == ((rows,) if outputs == 1 else (rows, outputs))
    np.testing.assert_allclose(compiled, eager, rtol=1e-12, atol=1e-12)
    model.layers[0].neurons[0].b.data += 1.0  # the scorer reads the parameters at each call
    np.testing.assert_allclose(scoring.scorer(model, False)(X),
                               scoring.scorer(model, "python", chunk)(X), rtol=1e-12)
    assert not np.allclose(scoring.scorer(model, False)(X), eager)


@pytest.mark.parametrize("chunk", [0, -1, 2.5, True])
def test_a_bad_chunk_is_refused_before_anything_is_compiled(chunk):
    with pytest.raises(ValueError, match=r"chunk must be a whole number >= 1"):
        scoring.scorer(nn.MLP(2, [1]), True, chunk)


def test_outputs_makes_one_score_a_list():
    v, vs = Value(1.0), [Value(1.0), Value(2.0)]
    assert scoring.outputs(v) == [v] and scoring.outputs(vs) is vs


def test_the_demos_scorer_is_this_one():
    assert demos.scorer is scoring.scorer and demos.CHUNK == scoring.CHUNK
