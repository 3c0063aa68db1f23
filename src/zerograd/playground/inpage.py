"""The playground's session in the page's own Python (Pyodide, in a Web Worker): the same
:class:`~zerograd.playground.session.Core` the server runs, with no threads and no NumPy.

The worker calls :meth:`Tab.handle` with each message from the page, :meth:`Tab.advance`
between messages while :attr:`Tab.running`, and posts what :meth:`Tab.take` returns.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from .. import monitor
from .messages import parse
from .session import Core, Outbox


class Tab:
    """One page's session: opened at once (its hello, setup, data and first frame wait in
    :meth:`take`)."""

    def __init__(self) -> None:
        self.out = Outbox(lambda: None)
        self.core = Core(self.out)
        with self._listening():
            self.core.open()

    @property
    def running(self) -> bool:
        """Whether the session is training (the worker should call :meth:`advance`)."""
        return self.core.running

    def handle(self, text: str) -> None:
        """One message from the page, as JSON text (``protocol.md``); a bad one is answered
        with an ``error`` and changes nothing."""
        try:
            msg = parse(text)
        except ValueError as e:
            self.out.put({"type": "error", "text": str(e)})
            return
        with self._listening():
            self.core.handle(msg)

    def advance(self, seconds: float) -> None:
        """Train for up to ``seconds`` (less when a frame falls due first), if running."""
        if self.core.running:
            with self._listening():
                self.core.train(seconds)

    def wait(self) -> float:
        """Seconds before :meth:`advance` has anything to do (at a slow speed, the next
        frame's steps are done until it is due); 0 when it can train now."""
        return self.core.wait()

    def prepare(self) -> None:
        """Compile the training step now, if it is not yet (call it while the page is idle:
        training then starts on compiled code)."""
        with self._listening():
            self.core.prepare()

    def take(self) -> str:
        """The messages for the page since the last call, oldest first, as a JSON list."""
        return json.dumps(self.out.take())

    @contextlib.contextmanager
    def _listening(self) -> Iterator[None]:
        """zerograd's TrainingWarnings go to the page while the session works, and are
        issued as usual in between (the page's code cells run on the same thread)."""
        monitor.send_warnings_to(self.core.warned)
        try:
            yield
        finally:
            monitor.send_warnings_to(None)
