"""What a learner's install gives: `pip install ".[all]"` alone (no test extras) serves the
playground with a live socket, and a server that could not serve one refuses to start."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import needs

from zerograd import cli
from zerograd.playground import server

ROOT = Path(__file__).resolve().parents[1]


def test_the_playground_refuses_to_start_without_a_websocket_library(monkeypatch, capsys):
    for module in ("starlette", "uvicorn"):  # what it has, so the socket is what it misses
        needs(module, "the playground's web server")
    monkeypatch.setitem(sys.modules, "websockets", None)  # import websockets now fails
    monkeypatch.setitem(sys.modules, "wsproto", None)
    with pytest.raises(ImportError, match="pip install websockets"):
        server.start()
    assert cli.main(["playground", "--no-browser", "--port", "0"]) != 0
    err = capsys.readouterr().err
    assert "no WebSocket library" in err and "pip install websockets" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_all_extra_alone_serves_the_playground_with_a_live_socket(tmp_path):
    """A new venv with exactly the README's install (pip install ".[all]"), then
    `zerograd playground --no-browser` and a tab's first messages over /ws."""
    connect = needs("websockets.sync.client", "the tab's socket").connect
    src = tmp_path / "zerograd"
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns(
        "__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_ = venv / "bin"
    pip = subprocess.run([str(bin_ / "python"), "-m", "pip", "install", "-q", f"{src}[all]"],
                         capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stdout[-2000:] + pip.stderr[-2000:]
    have = subprocess.run([str(bin_ / "python"), "-c", "import torch"], capture_output=True)
    assert have.returncode != 0, "the [all] extra must not pull in the test dependencies"

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.Popen([str(bin_ / "zerograd"), "playground", "--no-browser", "--port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ws = connect(f"ws://127.0.0.1:{port}/ws", open_timeout=5)
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "nothing listened on the port for 60 s"
                time.sleep(0.3)
        with ws:
            kinds = []
            while "frame" not in kinds:  # hello, config, data, then the first frame
                kinds.append(json.loads(ws.recv(timeout=60))["type"])
        assert kinds[0] == "hello"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
