"""The page's messages, checked the same way wherever the session runs (the server's socket,
the page's own Python): size, nesting and type, before anything reaches the session."""

from __future__ import annotations

import json
from typing import Any

from .session import KINDS

MAX_MESSAGE = 64 * 1024  # bytes a page message may have (1000 custom points fit); longer: error
MAX_NESTING = 8  # lists and objects inside each other in a page message (the page needs 3)


def _nesting(x: Any) -> int:
    """How deep lists and objects are nested in ``x`` (0 for a number or string)."""
    deepest, stack = 0, [(x, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def parse(text: Any) -> dict[str, Any]:
    """A page message as a dict with a string ``type``; ValueError saying what was wrong."""
    if not isinstance(text, str):
        raise ValueError("send messages as JSON text, not binary")
    if len(text.encode()) > MAX_MESSAGE:
        raise ValueError(f"a message of {len(text.encode())} bytes is too large: at most "
                         f"{MAX_MESSAGE} bytes")
    deep = (f"a message must be JSON nested at most {MAX_NESTING} deep (lists and objects "
            f"inside each other); this one is nested too deeply")
    try:
        msg = json.loads(text)
    except RecursionError:  # thousands of brackets: json's parser recurses once per level
        raise ValueError(deep) from None
    except ValueError as e:
        raise ValueError(f"a message must be JSON: {e}") from None
    if _nesting(msg) > MAX_NESTING:  # nor may it reach the worker (pickle recurses too)
        raise ValueError(deep)
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ValueError('a message must be a JSON object with a "type", e.g. {"type": "play"}')
    if msg["type"] not in KINDS:
        raise ValueError(f"unknown message type {msg['type'][:40]!r}; send one of "
                         f"{', '.join(KINDS)}")
    return msg
