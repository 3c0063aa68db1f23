"""Layer sizes whose parameter count is absurd are refused before anything is allocated."""

from __future__ import annotations

import random

import pytest

from zerograd import lecture, nn
from zerograd.args import MAX_PARAMETERS, parameters

MAKERS = [
    (lambda: nn.MLP(2, [10**24]), "MLP"), (lambda: lecture.MLP(2, [10**24]), "MLP"),
    (lambda: nn.MLP(2, [4, 10**7]), "MLP"), (lambda: lecture.MLP(2, [4, 10**7]), "MLP"),
    (lambda: nn.MLP.lecture(5000, [2001, 1]), "MLP"),
    (lambda: nn.Layer(4000, 4000), "Layer"), (lambda: lecture.Layer(4000, 4000), "Layer"),
    (lambda: nn.Neuron(10**5000), "Neuron"), (lambda: lecture.Neuron(10**7), "Neuron"),
]


@pytest.mark.parametrize("make, what", MAKERS)
def test_an_absurd_size_is_refused_before_a_number_is_drawn(make, what):
    random.seed(3)
    state = random.getstate()
    with pytest.raises(ValueError, match=rf"^{what} of sizes .* parameters; zerograd allows "
                                         r"at most 10,000,000 .*use smaller layers"):
        make()
    assert random.getstate() == state


def test_the_count_is_exact_at_the_limit():
    assert parameters([3, 4, 4, 1], "MLP") == 41  # the lecture's MLP(3, [4, 4, 1])
    assert MAX_PARAMETERS == 10_000_000
    assert parameters([MAX_PARAMETERS - 1, 1], "Neuron") == MAX_PARAMETERS
    with pytest.raises(ValueError, match="would have 10,000,001 parameters"):
        parameters([MAX_PARAMETERS, 1], "Neuron")
    with pytest.raises(ValueError, match=r"sizes \[2, an int of about 25 digits\] would have "
                                         r"about 10\*\*24 parameters"):
        parameters([2, 10**24], "MLP")


def test_sizes_under_the_limit_still_build():
    assert len(nn.MLP(3, [4, 4, 1]).parameters()) == 41
    assert len(lecture.MLP(3, [4, 4, 1]).parameters()) == 41
    assert len(nn.Layer(300, 200).parameters()) == 60200
