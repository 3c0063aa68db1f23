"""The playground's web server: Starlette on uvicorn, the page at ``/``, its files at
``/static/``, and one WebSocket per tab at ``/ws`` (the protocol: ``protocol.md``).

Loopback only unless told otherwise; on any other address every request needs the access
token printed at start, in its query (``?token=...``): the page, its files (the page is served
with the token on its ``/static/`` links) and the socket (the page opens it with its own
query). A wrong token, one that is not ASCII included, is answered with 403. The WebSocket
refuses pages from other sites (its Origin header must name this server) and, on loopback,
hosts other than this machine's names (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import importlib
import ipaddress
import json
import os
import re
import secrets
import socket
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from .messages import parse
from .workers import Pool

STATIC = os.path.join(os.path.dirname(__file__), "static")
MAX_FRAME = 1024 * 1024  # the WebSocket itself closes on anything longer
LOCAL_NAMES = {"127.0.0.1", "localhost", "::1"}
NEEDS = 'the playground needs its web server: pip install "zerograd[playground]"'


NEEDS_SOCKET = ("the playground's page talks to training over a WebSocket, and uvicorn found "
                "no WebSocket library to serve it: pip install websockets (it comes with "
                '"zerograd[playground]")')


def _imports() -> Any:
    """Refuse to start, saying what to install, unless the server and its socket can run
    (uvicorn serves WebSockets through ``websockets`` or ``wsproto``; without either it
    answers the page's socket with HTTP 404 and the page never connects)."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ImportError(NEEDS) from None
    for name in ("websockets", "wsproto"):
        try:
            importlib.import_module(name)
            return
        except ImportError:
            pass
    raise ImportError(NEEDS_SOCKET)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Relay:
    """Each open tab's queue of texts from the worker processes; ``deliver`` is called from
    the pool's reader threads and hands the text to the tab's event loop."""

    def __init__(self) -> None:
        self.tabs: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = {}
        self._ids = iter(range(1, 2**62))
        self.pool: Pool | None = None

    def deliver(self, sid: int, text: str | None) -> None:
        tab = self.tabs.get(sid)
        if tab is None:
            return
        if text is None:
            self.tabs.pop(sid, None)
        try:
            tab[0].call_soon_threadsafe(tab[1].put_nowait, text)
        except RuntimeError:  # that loop has stopped
            pass

    async def converse(self, ws: Any) -> None:
        """One tab: page messages to its session's worker, the worker's texts to the page."""
        sid, queue = next(self._ids), asyncio.Queue()
        self.tabs[sid] = (asyncio.get_running_loop(), queue)
        self.pool.open(sid)

        async def send() -> None:
            while (text := await queue.get()) is not None:
                await ws.send_text(text)
            # the session has ended while the tab is open: no worker is left to train it
            with contextlib.suppress(Exception):  # unless the tab has just gone too
                await ws.close(code=1011, reason="the training processes stopped: reload the "
                                                 "page")

        sender = asyncio.create_task(send())
        try:
            while True:
                got = await ws.receive()
                if got["type"] == "websocket.disconnect":
                    break
                try:
                    self.pool.send(sid, parse(got.get("text")))
                except ValueError as e:
                    queue.put_nowait(json.dumps({"type": "error", "text": str(e)}))
        finally:
            self.pool.close(sid)  # a closed tab stops its training
            sender.cancel()


def _same(given: str, token: str) -> bool:
    """Whether ``given`` is ``token``, in constant time (as UTF-8 bytes: compare_digest
    refuses a str that is not ASCII)."""
    return secrets.compare_digest(given.encode("utf-8", "surrogatepass"),
                                  token.encode("utf-8", "surrogatepass"))


def _with_token(page: str, token: str) -> str:
    """The page with ``?token=...`` on each of its ``static/`` links, so they come in too."""
    query = html.escape("?token=" + quote(token, safe=""))
    return re.sub(r'((?:src|href)="/?static/[^"?#]+)"', lambda m: m[1] + query + '"', page)


def app(relay: Relay, token: str | None = None, loopback: bool = True) -> Any:
    """The Starlette application; ``token``: required on every request when not None (the
    page, its static files, the socket), in the query: ``?token=...``."""
    _imports()
    from starlette.applications import Starlette
    from starlette.requests import HTTPConnection
    from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocket

    def refused(headers: Any, query: Any) -> str:
        """Why a request may not come in ('' if it may)."""
        host = urlsplit("//" + headers.get("host", "")).hostname or ""
        if loopback and host not in LOCAL_NAMES:
            return f"this playground answers to 127.0.0.1 or localhost, not {host[:60]!r}"
        if token is not None and not _same(query.get("token", ""), token):
            return ("this playground needs its access token: open the address that "
                    "`zerograd playground` printed (it ends in ?token=...)")
        return ""

    async def page(request: Any) -> Any:
        why = refused(request.headers, request.query_params)
        if why:
            return PlainTextResponse(why, status_code=403)
        index = os.path.join(STATIC, "index.html")
        if token is None:
            return FileResponse(index, headers={"Cache-Control": "no-store"})
        with open(index, encoding="utf-8") as f:
            text = _with_token(f.read(), token)
        return HTMLResponse(text, headers={"Cache-Control": "no-store"})

    files = StaticFiles(directory=STATIC)

    async def static(scope: Any, receive: Any, send: Any) -> None:
        """The page's files, to requests that may come in."""
        conn = HTTPConnection(scope)
        why = refused(conn.headers, conn.query_params)
        if why:
            await PlainTextResponse(why, status_code=403)(scope, receive, send)
            return
        await files(scope, receive, send)

    async def live(ws: WebSocket) -> None:
        origin = ws.headers.get("origin")
        why = refused(ws.headers, ws.query_params)
        if not why and origin is not None and urlsplit(origin).netloc != ws.headers.get("host"):
            why = "pages from other sites may not use this playground"
        if why:
            await ws.close(code=1008, reason=why[:120])
            return
        await ws.accept()
        await relay.converse(ws)

    return Starlette(routes=[
        Route("/", page),
        WebSocketRoute("/ws", live),
        Mount("/static", app=static),
    ])


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {e.strerror}; pick another --port "
                      f"(0 takes a free one)") from None
    sock.listen(128)
    return sock


@dataclass
class Running:
    """A playground server in a background thread: ``url`` to open, ``stop()`` to end it."""

    url: str
    host: str
    port: int
    token: str | None
    relay: Relay
    _server: Any
    _thread: threading.Thread

    def sessions(self) -> int:
        """Sessions open now (a closed tab's counts until its training has stopped)."""
        return self.relay.pool.sessions()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.relay.pool.stop()


def _server(host: str, port: int,
            token: str | None) -> tuple[Any, socket.socket, str, Relay, str | None]:
    """A uvicorn server for the app, its listening socket, the page's address, the relay to
    the worker processes (started here) and the token (made here off loopback)."""
    _imports()
    import uvicorn

    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ValueError(f"port must be a whole number from 0 to 65535 (0: a free one), "
                         f"got {port!r}")
    loopback = is_loopback(host)
    if not loopback and token is None:
        token = secrets.token_urlsafe(24)
    sock = _bind(host, port)
    port = sock.getsockname()[1]
    relay = Relay()
    cfg = uvicorn.Config(app(relay, token, loopback), log_level="warning", lifespan="off",
                         ws_max_size=MAX_FRAME, timeout_graceful_shutdown=2)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={quote(token, safe='')}" if token else "")
    relay.pool = Pool(relay.deliver)
    return uvicorn.Server(cfg), sock, url, relay, token


def start(host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> Running:
    """Serve the playground from a background thread (port 0: a free one); returns once it
    accepts connections. Its worker processes are started with ``spawn``, so a script that
    calls this at import time needs ``if __name__ == "__main__":`` around the call."""
    server, sock, url, relay, token = _server(host, port, token)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="zerograd-playground-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the playground server did not start")
        time.sleep(0.01)
    port = sock.getsockname()[1]
    return Running(url, host, port, token, relay, server, thread)


def serve(host: str = "127.0.0.1", port: int = 0, open_browser: bool = True) -> None:
    """Serve the playground in this thread until Ctrl-C, printing its address (and opening
    it in the browser). Ctrl-C at any moment, even while the workers start, stops it
    quietly."""
    relay = None
    with warnings.catch_warnings():  # Ctrl-C as it starts: uvicorn's coroutine never ran
        warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
        try:
            server, sock, url, relay, _ = _server(host, port, None)
            print(f"zerograd playground: {url}\n(Ctrl-C stops it)", flush=True)
            if open_browser:
                import webbrowser

                threading.Timer(0.5, webbrowser.open, args=(url,)).start()
            server.run(sockets=[sock])
        except KeyboardInterrupt:
            pass
        finally:
            if relay is not None:
                relay.pool.stop()
    print("zerograd playground stopped", flush=True)
