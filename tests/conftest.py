"""Shared test setup: hypothesis settings and fixtures. Keep it small."""

from __future__ import annotations

import random

import pytest
from hypothesis import settings

# Modest and deterministic by default so the suite stays fast and never flakes in CI;
# run with --hypothesis-profile=thorough to search harder.
settings.register_profile("zerograd", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile("zerograd")


@pytest.fixture
def restore_random():
    """Give the test the global `random` module and put its state back afterwards."""
    state = random.getstate()
    yield random
    random.setstate(state)
