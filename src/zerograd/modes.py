"""Mode state, per thread (as PyTorch's grad mode is): grad mode, anomaly mode, the tracing
hooks of ``zg.compile``, and the training watch's own state (standard library only).

``current`` holds the calling thread's modes; a thread that never entered a mode sees the
defaults (the class attributes of ``_Modes``). Each mode keeps a stack of the contexts open
in the thread, and its value is the innermost one's, so contexts may also close out of
order: each removes only its own entry. ``entered`` counts the contexts open in all
threads; while it is 0 every thread has the defaults, and the engine's hot paths read that
one module attribute instead of the thread-local state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class _Modes(threading.local):
    grad_enabled = True
    anomaly: Any = None  # inside detect_anomaly(): an anomaly.Sites (id(node) -> site)
    on_concretize: Callable[[Any, str], None] | None = None  # float()/bool() while tracing
    on_constant: Callable[[Any], None] | None = None  # told of every number made a constant
    check_zero_grad = True  # warn when backward() adds to gradients older than an update
    watch_paused = 0  # > 0 while fit() watches its own run
    on_warning: Callable[[str], None] | None = None  # takes this thread's TrainingWarnings

    def __init__(self) -> None:
        self.open: dict[str, list[tuple[object, Any]]] = {}  # mode -> (token, value), inner last
        self.runs: dict = {}  # the training loops monitor.after_backward is watching
        self.spill: list = []  # compile's code writers; too-deep expressions go to the last


current = _Modes()
entered = 0
_lock = threading.Lock()


def enter(name: str, value: Any) -> object:
    """Open a context setting the calling thread's mode ``name`` to ``value``; returns the
    token that :func:`leave` takes."""
    global entered
    token = object()
    current.open.setdefault(name, []).append((token, value))
    with _lock:
        entered += 1
    setattr(current, name, value)
    return token


def leave(name: str, token: object) -> None:
    """Close the context ``token`` opened: the mode is the innermost open one's again, or the
    default. A token this thread does not hold open (closed twice) changes nothing."""
    global entered
    stack = current.open.get(name, [])
    for i in range(len(stack) - 1, -1, -1):
        if stack[i][0] is token:
            del stack[i]
            break
    else:
        return
    setattr(current, name, stack[-1][1] if stack else getattr(_Modes, name))
    with _lock:
        entered -= 1

