"""Shared test setup: hypothesis settings, fixtures and `needs`. Keep it small; what the
browser tests share is in browser.py (its fixtures are made every test's here).

The core's tests need only NumPy, pytest and hypothesis (``pip install -e . pytest hypothesis``).
A test that needs anything else says so with `needs` (or `unavailable`, for a program such as
Chromium): it is skipped, with the reason, where the dependency is missing, and it fails
instead when the environment variable ZEROGRAD_CI is set (CI must never silently skip).
"""

from __future__ import annotations

import importlib
import os
import random
from types import ModuleType

import pytest
from hypothesis import settings

# Modest and deterministic by default so the suite stays fast and never flakes in CI;
# run with --hypothesis-profile=thorough to search harder.
settings.register_profile("zerograd", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile("zerograd")

INSTALL_HINT = "pip install -e \".[test]\""


def unavailable(reason: str) -> None:
    """Skip the test (or, called at a module's top, the whole module) with `reason`; under
    ZEROGRAD_CI fail instead, since CI must run every test."""
    if os.environ.get("ZEROGRAD_CI"):
        pytest.fail(f"ZEROGRAD_CI is set, so this cannot be skipped: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def needs(module: str, why: str = "") -> ModuleType:
    """Import and return `module`; if it cannot be imported, skip the test (the module, at a
    test module's top) naming what is missing and the install command: `pytest.importorskip`
    that fails under ZEROGRAD_CI. `why` says what the test uses it for."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        unavailable(f"needs {module}{f' ({why})' if why else ''}, which cannot be imported "
                    f"({e}): {INSTALL_HINT}")
        raise  # unreachable: unavailable() raises


def needs_graphviz() -> None:
    """Drawing a graph needs Graphviz: the system's dot program or pygraphviz's own."""
    from zerograd import drawing

    if not drawing.backend():
        unavailable("needs Graphviz to draw: apt-get install graphviz (the dot program), or "
                    f"{INSTALL_HINT} (pygraphviz's wheel bundles it)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "needs(module, why): needs(module, why) before the test, for a parameter "
        "such as pytest.param('jax', marks=pytest.mark.needs('jax'))")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs"):
        needs(*mark.args, **mark.kwargs)


@pytest.fixture
def restore_random():
    """Give the test the global `random` module and put its state back afterwards."""
    state = random.getstate()
    yield random
    random.setstate(state)


# the browser tests' fixtures (chromium, the static site served, the playground's server)
pytest.register_assert_rewrite("browser")
from browser import browser, server, site  # noqa: E402,F401
