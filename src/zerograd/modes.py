"""Modes, per thread (as PyTorch's grad mode is): ``no_grad``, anomaly mode, ``zg.compile``'s
tracer, and whether the training watch checks for a forgotten zero_grad (standard library only).

``current`` holds the calling thread's modes; a thread that never entered a mode sees the
defaults (the class attributes of ``_Modes``). Each mode keeps a stack of the contexts open
in the thread, and its value is the innermost one's, so contexts may also close out of
order: each removes only its own entry. ``entered`` counts the contexts open in all
threads; while it is 0 every thread has the defaults, and the engine's hot paths read that
one module attribute instead of the thread-local state.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any


class TrainingWarning(UserWarning):
    """A training loop that runs but is probably not what was meant (e.g. no zero_grad)."""


class _Modes(threading.local):
    grad_enabled = True  # False inside no_grad()
    anomaly: Any = None  # inside detect_anomaly(): an anomaly.Sites (id(node) -> site)
    tracer: Any = None  # inside zg.compile's trace: told of numbers read and constants made
    check_zero_grad = True  # warn when backward() adds to gradients older than an update

    def __init__(self) -> None:
        self.open: dict[str, list[tuple[object, Any]]] = {}  # mode -> (token, value), inner last


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



def reading(v: Any, how: str) -> None:
    """``how`` (``float()``, ``bool()``, a comparison) reads the number of the Value ``v``:
    inside zg.compile's trace the calling thread's tracer refuses that."""
    if entered and current.tracer is not None:
        current.tracer.read(v, how)


def made_constant(v: Any) -> None:
    """The engine made the constant leaf ``v`` of a plain number (the 1 in ``1 + x``): the
    calling thread's tracer, if any, collects it."""
    if current.tracer is not None:
        current.tracer.constant(v)


class no_grad:
    """Context manager and decorator: ops inside build no graph (results are leaves). It
    holds for the calling thread only, as PyTorch's does."""

    def __init__(self) -> None:
        self._tokens: list = []

    def __enter__(self) -> None:
        self._tokens.append(enter("grad_enabled", False))

    def __exit__(self, *exc: Any) -> None:
        leave("grad_enabled", self._tokens.pop())

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper


def is_grad_enabled() -> bool:
    """True unless the calling thread is inside ``no_grad()``."""
    return current.grad_enabled


def check_zero_grad(enabled: bool) -> None:
    """Switch the forgotten-zero_grad warning of ``backward()`` on or off for the calling
    thread (on by default); off is for code that accumulates gradients across parameter
    updates on purpose."""
    current.check_zero_grad = bool(enabled)
