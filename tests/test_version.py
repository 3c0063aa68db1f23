"""zerograd.version: the version the faces show, from the installed distribution, else from
the source tree's pyproject.toml."""

from __future__ import annotations

import re
from importlib import metadata

import pytest

import zerograd
from zerograd import version as version_module
from zerograd.version import version


@pytest.fixture
def fresh():
    version.cache_clear()
    yield
    version.cache_clear()


def declared() -> str:
    text = version_module.PYPROJECT.read_text()
    return re.search(r'^version\s*=\s*"([^"]+)"', text, re.M).group(1)


def test_the_version_is_the_installed_distributions(fresh):
    try:
        installed = metadata.version("zerograd")
    except metadata.PackageNotFoundError:
        pytest.fail("zerograd is not installed: pip install -e . before the tests")
    assert version() == installed == zerograd.__version__


def test_from_a_source_tree_not_installed_it_is_pyprojects(fresh, monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert version() == declared() == zerograd.__version__


def test_with_neither_it_says_unknown(fresh, monkeypatch, tmp_path):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    monkeypatch.setattr(version_module, "PYPROJECT", tmp_path / "absent.toml")
    assert version() == "unknown"

