"""Training processes for the playground's sessions.

The server's event loop only relays: every session lives in one of a few worker processes
(one per CPU, at most ``MAX_WORKERS``), where its thread trains and its outbox is sent back
as JSON text. Training never competes with the event loop for Python's GIL, and the CPUs
share the sessions.

Server -> worker, pickled over a pipe: ``("open", sid, setup or None)``, ``("msg", sid,
dict)``, ``("close", sid)``, ``None`` (stop). Worker -> server: a list of ``(sid, text)``
messages, ``text`` None when session ``sid`` has ended. A worker that dies is replaced (see
:class:`Pool`).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
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
    if hasattr(signal, "pthread_sigmask"):  # blocked by the pool while this process started
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    from . import config
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
            try:  # a session moved here from a lost worker keeps its setup
                cfg = config.check(order[2], config.DEFAULTS) if len(order) > 2 else None
            except ValueError:
                cfg = None
            out = Outbox(ready.set)
            with lock:
                sessions[sid] = (Session(out, cfg, on_end=ready.set), out)
        elif found is not None and kind == "msg":
            found[0].submit(order[2])
        elif found is not None and kind == "close":
            found[0].close()
    for s, _ in list(sessions.values()):
        s.close()


class Worker:
    """One worker process, its pipe, and how many sessions it holds."""

    def __init__(self, ctx: Any, slot: int):
        mine, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=worker_main, args=(theirs,), daemon=True,
                                name="zerograd-playground-worker")
        with _no_ctrl_c():
            self.proc.start()
        theirs.close()
        self.conn, self.slot, self.load, self.alive = mine, slot, 0, True


@contextlib.contextmanager
def _no_ctrl_c() -> Iterator[None]:
    """SIGINT blocked in this thread while a worker is spawned: the new process inherits the
    mask, so a Ctrl-C while it boots (before ``worker_main`` ignores SIGINT) cannot print its
    KeyboardInterrupt traceback; this process gets a pending Ctrl-C as soon as it is done."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks
        yield
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # started first: its own start unblocks SIGINT here
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


STOPPED = ("the training process of this tab stopped unexpectedly, so it was restarted: the "
           "same setup, from step 0")
GONE = ("the training processes keep stopping, so this tab has none left: reload the page "
        "(and see the server's output)")


class Pool:
    """The worker processes, seen from the server: sessions are placed on the least busy
    live one; ``deliver(sid, text)`` is called (from a reader thread) for each message back.

    A worker that dies (its pipe closes, or a send to it fails) is replaced by a new one, and
    its sessions are opened again on live workers with the setup they had (the tab is told,
    then gets a new hello). A slot whose workers die ``RESTARTS`` times within a minute is
    given up; with no live worker left, a tab is told to reload and its socket closes."""

    RESTARTS = 3

    def __init__(self, deliver: Callable[[int, str | None], None], workers: int | None = None):
        n = workers or min(MAX_WORKERS, max(1, os.cpu_count() or 1))
        self._ctx = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self.deliver = deliver
        self.workers: list[Worker] = []
        self.home: dict[int, Worker] = {}  # session -> its worker
        self.setups: dict[int, dict | None] = {}  # session -> its setup (as last sent back)
        self._greeted: set[int] = set()  # sessions that have sent something to their tab
        self._deaths: dict[int, list[float]] = {}  # slot -> when its workers died
        self._stopping = False
        self._send_lock = threading.Lock()
        self._lock = threading.RLock()  # all the above; taken before _send_lock, never after
        try:
            for slot in range(n):
                self.workers.append(self._start(slot))
        except BaseException:  # Ctrl-C while starting: no worker is left behind
            self.stop()
            raise

    @property
    def procs(self) -> list[Any]:
        """The worker processes now (a lost one's replacement in its place)."""
        return [w.proc for w in self.workers]

    def _start(self, slot: int) -> Worker:
        w = Worker(self._ctx, slot)
        threading.Thread(target=self._read, args=(w,), daemon=True,
                         name="zerograd-playground-reader").start()
        return w

    def _read(self, w: Worker) -> None:
        while True:
            try:
                batch = w.conn.recv()
            except (EOFError, OSError):
                break
            for sid, text in batch:
                with self._lock:
                    if self.home.get(sid) is not w:
                        continue  # moved away, or closed
                    if text is None:
                        w.load -= 1
                        del self.home[sid]
                        self.setups.pop(sid, None)
                        self._greeted.discard(sid)
                    else:
                        self._greeted.add(sid)
                        if text.startswith('{"type": "config"'):
                            self.setups[sid] = json.loads(text)["config"]
                self.deliver(sid, text)
        self._lost(w)
        w.conn.close()

    def _lost(self, w: Worker) -> None:
        """``w`` has died: start another in its place and move its sessions to live ones."""
        with self._lock:
            if not w.alive:
                return
            w.alive = False
            if self._stopping:
                return
            with contextlib.suppress(Exception):
                w.proc.kill()  # it is dead, or as good as dead: its pipe is broken
            deaths = self._deaths.setdefault(w.slot, [])
            now = time.monotonic()
            deaths[:] = [t for t in deaths if now - t < 60] + [now]
            if len(deaths) <= self.RESTARTS:
                try:
                    self.workers[self.workers.index(w)] = self._start(w.slot)
                except Exception:
                    traceback.print_exc()
            moved = [sid for sid, h in self.home.items() if h is w]
            w.load = 0
            for sid in moved:
                del self.home[sid]
                if sid in self._greeted:
                    self.deliver(sid, json.dumps({"type": "status", "text": STOPPED}))
                    self._greeted.discard(sid)
                self._place(sid)

    def _place(self, sid: int) -> None:
        """Open session ``sid`` on the least busy live worker (with its setup, if it had
        one); with none left, tell its tab and end it."""
        with self._lock:
            live = [w for w in self.workers if w.alive]
            if not live:
                self.setups.pop(sid, None)
                self.deliver(sid, json.dumps({"type": "error", "text": GONE}))
                self.deliver(sid, None)
                return
            w = min(live, key=lambda w: w.load)
            self.home[sid] = w
            w.load += 1
            if not self._send(w, ("open", sid, self.setups.get(sid))):
                self._lost(w)  # which places this session again

    def _send(self, w: Worker, order: Any) -> bool:
        """Send ``order`` to ``w``; False if its pipe is broken (it has died)."""
        try:
            with self._send_lock:
                w.conn.send(order)
        except (OSError, ValueError):
            return False
        return True

    def open(self, sid: int) -> None:
        with self._lock:
            self.setups[sid] = None
            self._place(sid)

    def send(self, sid: int, msg: dict[str, Any]) -> None:
        w = self.home.get(sid)
        if w is not None and not self._send(w, ("msg", sid, msg)):
            self._lost(w)

    def close(self, sid: int) -> None:
        with self._lock:
            w = self.home.get(sid)
            if w is None or self._send(w, ("close", sid)):
                return
            del self.home[sid]  # its worker has died: nothing left to stop
            w.load -= 1
            self.setups.pop(sid, None)
            self._greeted.discard(sid)
            self._lost(w)
        self.deliver(sid, None)

    def sessions(self) -> int:
        """Sessions open (a closed one counts until its worker says it has ended)."""
        return len(self.home)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            workers = list(self.workers)
        for w in workers:
            self._send(w, None)
        for w in workers:
            w.proc.join(timeout=5)
            if w.proc.is_alive():
                w.proc.terminate()
