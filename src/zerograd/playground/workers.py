"""Training processes for the playground's sessions.

The server's event loop only relays: every session lives in one of a few worker processes
(one per CPU, at most ``MAX_WORKERS``), where its thread trains and its outbox is sent back
as JSON text. Training never competes with the event loop for Python's GIL, and the CPUs
share the sessions.

Server -> worker, pickled over a pipe: ``("open", sid)``, ``("msg", sid, dict)``,
``("close", sid)``, ``None`` (stop). Worker -> server: a list of ``(sid, text)`` messages,
``text`` None when session ``sid`` has ended.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

MAX_WORKERS = 4


def _pump(conn: Any, sessions: dict, lock: threading.Lock, ready: threading.Event) -> None:
    """Send every session's waiting messages back, in one batch per wake-up."""
    while True:
        ready.wait()
        ready.clear()
        with lock:
            items = list(sessions.items())
        batch = [(sid, json.dumps(m)) for sid, (_, out) in items for m in out.take()]
        batch += [(sid, None) for sid, (s, _) in items if not s.thread.is_alive()]
        with lock:
            for sid, text in batch:
                if text is None:
                    sessions.pop(sid, None)
        if batch:
            try:
                conn.send(batch)
            except OSError:  # the server has gone
                return


def worker_main(conn: Any) -> None:
    """A worker process: open, feed and close sessions as the server says, until told to stop
    (Ctrl-C is the server's to handle: it stops the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .session import Outbox, Session

    sessions: dict[int, tuple[Session, Outbox]] = {}
    lock, ready = threading.Lock(), threading.Event()
    threading.Thread(target=_pump, args=(conn, sessions, lock, ready), daemon=True).start()
    while True:
        try:
            order = conn.recv()
        except (EOFError, OSError):
            order = None
        if order is None:
            break
        kind, sid = order[0], order[1]
        with lock:
            found = sessions.get(sid)
        if kind == "open":
            out = Outbox(ready.set)
            with lock:
                sessions[sid] = (Session(out, on_end=ready.set), out)
        elif found is not None and kind == "msg":
            found[0].submit(order[2])
        elif found is not None and kind == "close":
            found[0].close()
    for s, _ in list(sessions.values()):
        s.close()


class Pool:
    """The worker processes, seen from the server: sessions are placed on the least busy one;
    ``deliver(sid, text)`` is called (from a reader thread) for each message back."""

    def __init__(self, deliver: Callable[[int, str | None], None], workers: int | None = None):
        n = workers or min(MAX_WORKERS, max(1, os.cpu_count() or 1))
        ctx = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self.deliver = deliver
        self.conns, self.procs, self.load = [], [], []
        self.home: dict[int, int] = {}  # session -> worker
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()  # home and load: the event loop and the readers change them
        for _ in range(n):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(theirs,), daemon=True,
                               name="zerograd-playground-worker")
            proc.start()
            theirs.close()
            self.conns.append(mine)
            self.procs.append(proc)
            self.load.append(0)
            threading.Thread(target=self._read, args=(len(self.conns) - 1,), daemon=True,
                             name="zerograd-playground-reader").start()

    def _read(self, w: int) -> None:
        conn = self.conns[w]
        while True:
            try:
                batch = conn.recv()
            except (EOFError, OSError):
                with self._lock:
                    lost = [s for s, h in self.home.items() if h == w]
                for sid in lost:
                    self.deliver(sid, None)
                return
            for sid, text in batch:
                if text is None:
                    with self._lock:
                        self.load[w] -= 1
                        self.home.pop(sid, None)
                self.deliver(sid, text)

    def _send(self, w: int, order: Any) -> None:
        with self._send_lock:
            self.conns[w].send(order)

    def open(self, sid: int) -> None:
        with self._lock:
            w = min(range(len(self.load)), key=self.load.__getitem__)
            self.home[sid] = w
            self.load[w] += 1
        self._send(w, ("open", sid))

    def send(self, sid: int, msg: dict[str, Any]) -> None:
        if sid in self.home:
            self._send(self.home[sid], ("msg", sid, msg))

    def close(self, sid: int) -> None:
        if sid in self.home:
            self._send(self.home[sid], ("close", sid))

    def sessions(self) -> int:
        """Sessions open (a closed one counts until its worker says it has ended)."""
        return len(self.home)

    def stop(self) -> None:
        for conn in self.conns:
            try:
                conn.send(None)
            except OSError:
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
