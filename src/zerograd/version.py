"""zerograd's version, for the faces to show (standard library only; imports nothing of
zerograd, so any layer may ask)."""

from __future__ import annotations

import functools
import re
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@functools.cache
def version() -> str:
    """The installed distribution's version (``importlib.metadata``); from a source tree
    that is not installed, the one its ``pyproject.toml`` declares; else ``"unknown"``."""
    try:
        return metadata.version("zerograd")
    except metadata.PackageNotFoundError:
        pass
    try:
        found = re.search(r'^version\s*=\s*"([^"]+)"', PYPROJECT.read_text(), re.M)
    except OSError:
        found = None
    return found.group(1) if found else "unknown"


__all__ = ["version"]
