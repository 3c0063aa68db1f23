"""The playground: the lecture's training live in the browser, driven by zerograd.

``zerograd playground`` (the command line) serves it until Ctrl-C; :func:`playground` shows
it inside a notebook; :func:`~zerograd.playground.server.start` runs it in the background.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .server import Running, serve, start

_running: list[Running] = []  # the notebook's server, started on first use


def playground(width: str = "100%", height: int = 860) -> Any:
    """The playground inline in a notebook (its server starts in the background on first
    use, on 127.0.0.1); outside IPython, the running server (open its ``url``)."""
    if not _running:
        _running.append(start())
    running = _running[0]
    try:
        from IPython.display import IFrame
    except ImportError:
        print(f"zerograd playground: {running.url}")
        return running
    return IFrame(running.url, width=width, height=height)


class _CallableModule(types.ModuleType):
    """``zg.playground()`` calls :func:`playground`; ``zg.playground.start`` is this module's."""

    def __call__(self, width: str = "100%", height: int = 860) -> Any:
        return playground(width, height)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["playground", "start", "serve", "Running"]
