"""The playground's server side, through a real server and WebSocket: setups are checked,
training streams frames, zerograd's own warnings reach the page, backprop's walk gives the
engine's gradients, the exported script reproduces the losses, bad input is refused and
other sites are kept out. (The page itself: test_playground_browser.py.)"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from conftest import needs, needs_graphviz
from test_own_data import exported_run

import zerograd as zg
from zerograd.engine import topological_order
from zerograd.playground import config, graphview, script, session, start

try:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect
except ImportError:  # the tests that use it start with serving(): skipped without it
    ConnectionClosed = connect = None


def serving() -> None:
    """The tests that serve the playground need its extra (the setups and the session's
    pieces do not): pip install -e ".[playground]" gives the server, the socket and moons."""
    for module in ("starlette", "uvicorn", "websockets", "sklearn"):
        needs(module, "the playground's server, socket and default dataset")


@pytest.fixture(scope="module")
def server():
    serving()
    running = start()
    yield running
    running.stop()


class Page:
    """A WebSocket client speaking the playground's protocol, as the page does."""

    def __init__(self, ws):
        self.ws = ws
        self.seen: list[dict] = []

    def send(self, **msg) -> None:
        self.ws.send(json.dumps(msg))

    def wait(self, kind: str, timeout: float = 30.0, where=lambda m: True) -> dict:
        end = time.monotonic() + timeout
        while True:
            m = json.loads(self.ws.recv(timeout=max(0.01, end - time.monotonic())))
            self.seen.append(m)
            if m["type"] == kind and where(m):
                return m


@contextlib.contextmanager
def page(server, **headers):
    with connect(server.url.replace("http://", "ws://") + "ws",
                 additional_headers=headers or None) as ws:
        p = Page(ws)
        p.wait("frame")  # hello, config, data, then the first frame
        yield p


# -- setups ----------------------------------------------------------------------------------
@pytest.mark.parametrize("update, words", [
    ({"hidden": [99]}, "hidden must be a list of 0 to 6 layer widths"),
    ({"hidden": [4] * 7}, "hidden must be"),
    ({"hidden": "8,8"}, "hidden must be"),
    ({"lr": 100.0}, "lr must be a number from 0.0001 to 10"),
    ({"lr": float("nan")}, "lr must be a number"),
    ({"lr": True}, "lr must be a number"),
    ({"points": 10.5}, "points must be a whole number from 10 to 1000"),
    ({"dataset": "mnist"}, "dataset must be one of lecture, moons"),
    ({"forget_zero_grad": 1}, "forget_zero_grad must be true or false"),
    ({"activations": "tanh"}, "unknown setup key 'activations'"),
    ([1, 2], "config must be an object"),
])
def test_a_bad_setup_says_what_is_allowed_and_changes_nothing(update, words):
    current = dict(config.DEFAULTS)
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        config.check(update, current)
    assert current == config.DEFAULTS


def test_a_good_setup_replaces_only_its_keys():
    new = config.check({"hidden": [3, 16], "lr": 1, "dataset": "xor"}, config.DEFAULTS)
    assert new == dict(config.DEFAULTS, hidden=[3, 16], lr=1.0, dataset="xor")
    assert isinstance(new["lr"], float)


SETUPS = [
    {},
    {"dataset": "lecture", "hidden": [4, 4]},
    {"batch": 16, "optimizer": "adam", "l2": 0.001, "lr": 0.01},
    {"dataset": "xor", "loss": "hinge", "activation": "relu", "optimizer": "momentum",
     "test_fraction": 0.0},
    {"dataset": "spiral", "loss": "cross_entropy", "activation": "sigmoid", "hidden": []},
    {"dataset": "blobs", "forget_zero_grad": True, "batch": 500},
    {"dataset": "circles", "lr": 10.0, "points": 60},
]


@pytest.mark.parametrize("update", SETUPS)
def test_the_exported_script_prints_the_sessions_losses(update, tmp_path):
    cfg = config.check(update, config.DEFAULTS)
    trainer, losses, _, lines, ns = exported_run(cfg, 12, tmp_path)
    printed = [ln.split("loss ")[1] for ln in lines if ln.startswith("step ")]
    assert printed == [f"{x:.6g}" for x in losses]
    assert [p.data for p in ns["params"]] == [p.data for p in trainer.params]  # bit for bit
    if trainer.data.X_test is not None:
        assert lines[-1] == f"test loss {trainer.test_loss():.6g}"


def test_the_exported_script_needs_only_zerograd(tmp_path):
    text = script.script(config.DEFAULTS, 3)
    imports = {ln.split()[1] for ln in text.splitlines() if ln.startswith(("import ", "from "))}
    assert imports == {"random", "zerograd", "zerograd.nn"}
    path = tmp_path / "train.py"
    path.write_text(text)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("step 1: loss ") and "step 3: loss" in done.stdout


def test_the_forgotten_zero_grad_in_the_script_is_one_deletion_from_the_fix(tmp_path):
    cfg = config.check({"dataset": "lecture", "forget_zero_grad": True}, config.DEFAULTS)
    text = script.script(cfg, 3)
    fixed = text.replace("    # for p in params:", "    for p in params:").replace(
        "    #     p.grad = 0.0", "        p.grad = 0.0")
    assert fixed != text and "p.grad = 0.0" in fixed
    compile(fixed, "fixed.py", "exec")  # uncommented, the fix is valid Python
    twin = script.script(dict(cfg, forget_zero_grad=False), 3)
    assert [ln for ln in fixed.splitlines() if not ln.lstrip().startswith(("#", '"'))][-12:] \
        == [ln for ln in twin.splitlines() if not ln.lstrip().startswith(("#", '"'))][-12:]


# -- backprop, node by node ------------------------------------------------------------------
def _engine_grads(root):
    root.backward()
    return [v.grad for v in topological_order(root)]


def test_backprop_walk_of_the_lecture_neuron_gives_the_engines_grads():
    needs_graphviz()
    walk = graphview.Walk(graphview.lecture_neuron(), "neuron")
    steps = walk.rest()
    assert [s["node"] for s in steps] == walk.drawing()["order"]
    assert steps[-1]["done"] and not steps[0]["terms"]
    shown = {n["label"]: n["grad"] for n in walk.drawing()["nodes"] if n["kind"] == "value"}
    expected = dict(zip([v.label for v in topological_order(graphview.lecture_neuron())],
                        _engine_grads(graphview.lecture_neuron())))
    assert shown == expected  # exactly: the same products, added in the same order
    assert shown["w1"] == pytest.approx(1.0) and shown["x1"] == pytest.approx(-1.5)
    n_step = next(s for s in steps if s["node"] == walk.name[id(walk.root._children[0])])
    assert n_step["terms"][0]["local"] == pytest.approx(0.5)  # 1 - tanh(n)**2 = 1 - 0.7071**2
    assert n_step["text"].startswith("n.grad = 0.5000 × 1.0000 = 0.5000, the chain rule: ∂o/∂n")
    with pytest.raises(ValueError, match="backprop is done"):
        walk.step()


@pytest.mark.parametrize("loss", ["mse", "hinge", "cross_entropy"])
def test_backprop_walk_through_the_network_gives_the_engines_grads(loss):
    needs_graphviz()
    cfg = dict(config.DEFAULTS, loss=loss, hidden=[3, 2])
    model = config.make_model(cfg, 2)
    before = [p.grad for p in model.parameters()]
    walk = graphview.Walk(graphview.one_example(model, [0.3, -1.2], 1.0, loss), "example")
    walk.rest()
    twin = graphview.one_example(model, [0.3, -1.2], 1.0, loss)
    assert [walk.grads[id(v)] for v in walk.topo] == _engine_grads(twin)
    assert [p.grad for p in model.parameters()] == before  # training's grads are untouched


def test_a_graph_too_large_to_follow_is_refused_with_the_reason():
    model = config.make_model(dict(config.DEFAULTS, hidden=[16] * 3), 2)
    with pytest.raises(ValueError, match="too many to follow node by node"):
        graphview.Walk(graphview.one_example(model, [0.0, 0.0], 1.0, "mse"), "big")


# -- the live channel ------------------------------------------------------------------------
def test_hello_gives_setup_limits_and_data(server):
    with connect(server.url.replace("http://", "ws://") + "ws") as ws:
        p = Page(ws)
        hello = p.wait("hello")
        assert hello["config"] == config.DEFAULTS and hello["version"] == zg.__version__
        assert hello["limits"]["lr"] == {"kind": "number", "min": 1e-4, "max": 10.0}
        data = p.wait("data")
        assert data["features"] == 2 and len(data["train"]["X"]) == 160
        assert len(data["test"]["y"]) == 40
        frame = p.wait("frame")
        assert frame["step"] == 0 and len(frame["boundary"]["scores"]) == 32 * 32
        assert frame["network"]["sizes"] == [2, 8, 8, 1]


def test_play_streams_at_least_ten_frames_a_second_and_the_loss_falls(server):
    with page(server) as p:
        p.send(type="play")
        first = p.wait("frame", where=lambda m: m["step"] > 0)
        start_, frames = time.monotonic(), 0
        while time.monotonic() - start_ < 2.0:
            last = p.wait("frame")
            frames += 1
        p.send(type="pause")
        paused = p.wait("frame", where=lambda m: not m["running"])
        assert frames / 2.0 >= 10
        assert last["loss"] < first["loss"] and last["steps_per_second"] > 0
        losses = [pt for m in p.seen if m["type"] == "frame" for pt in m["losses"]]
        assert [s for s, _, _ in losses] == sorted(s for s, _, _ in losses)
        assert any(t is not None for _, _, t in losses)  # test losses come along
        p.send(type="step")
        assert p.wait("frame")["step"] == paused["step"] + 1


def test_forgetting_zero_grad_shows_zerogreds_own_warning(server):
    with page(server) as p:
        p.send(type="config", config={"forget_zero_grad": True})
        p.wait("frame")
        p.send(type="play")
        w = p.wait("warning")
        assert w["text"].startswith("backward() added new gradients to old ones")
        assert w["category"] == "TrainingWarning" and w["step"] == 2


def test_a_learning_rate_of_10_on_the_lecture_shows_the_stuck_warning(server):
    with page(server) as p:
        p.send(type="config", config={"dataset": "lecture", "hidden": [4, 4], "lr": 10.0})
        assert p.wait("data")["extent"] is None
        p.send(type="play")
        w = p.wait("warning")
        assert "gradients vanished" in w["text"] and "learning rate" in w["text"]
        frame = p.wait("frame")
        assert frame["boundary"] is None and len(frame["predictions"]) == 4


def test_two_sessions_at_the_same_line_both_get_their_warning(server):
    for _ in range(2):
        with page(server) as p:
            p.send(type="config", config={"forget_zero_grad": True})
            p.send(type="step")
            p.send(type="step")
            assert "added new gradients" in p.wait("warning", timeout=30)["text"]


def test_bad_messages_get_an_error_and_the_session_goes_on(server):
    with page(server) as p:
        for bad, words in [("{not json", "must be JSON"),
                           ("x" * 70000, "too large"),
                           (json.dumps([1]), "a JSON object"),
                           (json.dumps({"type": "exec", "code": "1/0"}), "unknown message type"),
                           (json.dumps({"type": "config", "config": {"hidden": [99]}}),
                            "hidden must be"),
                           (json.dumps({"type": "graph", "which": "example", "index": 10**6}),
                            "index must be"),
                           (json.dumps({"type": "backprop", "action": "step"}),
                            "draw a graph first"),
                           (b"\x00\x01", "JSON text, not binary")]:
            p.ws.send(bad)
            assert words in p.wait("error")["text"]
        p.send(type="step")
        assert p.wait("frame")["step"] == 1


def test_graph_and_backprop_over_the_socket(server):
    with page(server) as p:
        p.send(type="graph", which="neuron")
        g = p.wait("graph")
        assert g["steps"] == 10 and {n["label"] for n in g["nodes"]} >= {"x1", "w1", "o", "n"}
        assert all(n["x"] > 0 and n["y"] > 0 for n in g["nodes"])
        assert all(len(e["points"]) % 3 == 1 for e in g["edges"])
        p.send(type="backprop", action="step")
        first = p.wait("backprop")
        assert first["index"] == 0 and first["grad"] == 1.0
        p.send(type="backprop", action="all")
        rest = p.wait("backprop", where=lambda m: "steps" in m)["steps"]
        assert len(rest) == 9 and rest[-1]["done"]
        p.send(type="code")
        assert "zg.compile(loss_fn)" in p.wait("code")["text"]


def _settled(server, n: int, timeout: float = 10.0) -> int:
    """The server's session count once it is ``n`` (or after ``timeout``): a closed tab's
    session counts until its worker says its training has stopped."""
    end = time.monotonic() + timeout
    while server.sessions() != n and time.monotonic() < end:
        time.sleep(0.05)
    return server.sessions()


def test_a_closed_tab_stops_its_training(server):
    assert _settled(server, 0) == 0  # the tabs of earlier tests have gone
    with page(server) as p:
        p.send(type="play")
        p.wait("frame", where=lambda m: m["step"] > 0)
        assert server.sessions() == 1
    assert _settled(server, 0) == 0


# -- who may come in -------------------------------------------------------------------------
def test_other_sites_pages_are_refused(server):
    host = server.url.split("/")[2]
    with page(server, Origin=f"http://{host}"):
        pass  # the playground's own page is let in
    with pytest.raises(Exception, match="403"):
        with connect(server.url.replace("http://", "ws://") + "ws",
                     additional_headers={"Origin": "http://evil.example"}) as ws:
            ws.recv(timeout=5)


def test_another_host_name_is_refused_on_loopback(server):
    req = urllib.request.Request(server.url, headers={"Host": "attacker.example"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 403 and b"127.0.0.1 or localhost" in e.value.read()


def test_a_token_is_required_when_one_is_set():
    serving()
    running = start(token="s3cret")
    try:
        assert running.url.endswith("/?token=s3cret")
        bare = running.url.split("?")[0]
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(bare, timeout=10)
        assert e.value.code == 403 and b"access token" in e.value.read()
        assert urllib.request.urlopen(running.url, timeout=10).status == 200
        with pytest.raises(Exception, match="403"):
            with connect(bare.replace("http://", "ws://") + "ws") as ws:
                ws.recv(timeout=5)
        ws_url = running.url.replace("http://", "ws://").replace("/?", "/ws?")
        with connect(ws_url) as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "hello"
    finally:
        running.stop()


def test_the_command_prints_its_address_serves_the_page_and_stops_on_ctrl_c():
    serving()
    proc = subprocess.Popen([sys.executable, "-m", "zerograd", "playground", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        line = proc.stdout.readline()
        assert line.startswith("zerograd playground: http://127.0.0.1:")
        url = line.split(": ", 1)[1].strip()
        body = urllib.request.urlopen(url, timeout=20).read().decode()
        assert "<html" in body.lower()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_a_taken_port_is_a_clear_error(server):
    done = subprocess.run([sys.executable, "-m", "zerograd", "playground", "--no-browser",
                           "--port", str(server.port)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{server.port}" in done.stderr and "--port" in done.stderr


def test_zg_playground_shows_the_page_inline_in_a_notebook():
    needs("IPython", "the notebook's display")
    serving()
    from IPython.display import IFrame

    import zerograd.playground as pg

    shown = zg.playground()
    try:
        assert isinstance(shown, IFrame) and shown.src.startswith("http://127.0.0.1:")
        assert urllib.request.urlopen(shown.src, timeout=20).status == 200
        assert zg.playground().src == shown.src  # one server for the notebook
    finally:
        pg._running.pop().stop()


def test_sessions_take_turns_to_train_in_the_order_they_asked():
    turns, order = session.Turns(), []

    def train(k):
        with turns:
            order.append(k)

    with turns:
        threads = []
        for k in range(4):
            threads.append(threading.Thread(target=train, args=(k,)))
            threads[-1].start()
            end = time.monotonic() + 5
            while turns.waiting() < k + 1 and time.monotonic() < end:
                time.sleep(0.001)
        assert order == []  # nobody trains while the turn is held
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3] and turns.waiting() == 0


# -- edges an attack found -------------------------------------------------------------------
def _ws_url(running, host="127.0.0.1") -> str:
    """The socket's address on 127.0.0.1 (a server on 0.0.0.0 is reached through loopback)."""
    base = f"ws://{host}:{running.port}/ws"
    return base + (f"?token={running.token}" if running.token else "")


def test_a_killed_worker_is_replaced_and_every_tab_still_trains(capfd):
    serving()
    running = start()
    try:
        pool = running.relay.pool
        n = len(pool.procs)
        with page(running) as old:  # a tab whose session may be on the killed worker
            victim = pool.procs[0]
            os.kill(victim.pid, signal.SIGKILL)
            victim.join(10)
            with contextlib.ExitStack() as tabs:
                for ws in [tabs.enter_context(connect(_ws_url(running))) for _ in range(n + 2)]:
                    p = Page(ws)
                    assert p.wait("hello", timeout=60)["config"] == config.DEFAULTS
                    p.wait("frame", timeout=60)
                    p.send(type="step")
                    assert p.wait("frame", timeout=60)["step"] == 1
            old.send(type="step")  # the older tab trains too, wherever its session went
            old.wait("frame", timeout=60, where=lambda m: m["step"] >= 1)
        procs = pool.procs
        assert len(procs) == n and all(p.is_alive() for p in procs)
        assert victim not in procs
    finally:
        running.stop()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_a_tab_on_a_killed_worker_gets_its_setup_back_and_is_told(capfd):
    serving()
    running = start()
    try:
        pool = running.relay.pool
        with page(running) as p:
            p.send(type="config", config={"dataset": "xor", "lr": 0.5})
            p.wait("config", where=lambda m: m["config"]["dataset"] == "xor")
            p.wait("frame")
            sid = next(iter(pool.home))
            os.kill(pool.home[sid].proc.pid, signal.SIGKILL)
            told = p.wait("status", timeout=30, where=lambda m: "stopped" in m["text"])
            assert "step 0" in told["text"]
            hello = p.wait("hello", timeout=60)
            assert hello["config"]["dataset"] == "xor" and hello["config"]["lr"] == 0.5
            p.wait("frame", timeout=60)
            p.send(type="step")
            assert p.wait("frame", timeout=60)["step"] == 1
    finally:
        running.stop()
    assert "Traceback" not in capfd.readouterr().err


def test_workers_that_keep_dying_are_given_up_and_tabs_told_to_reload(capfd):
    serving()
    running = start()
    try:
        pool = running.relay.pool
        pool.RESTARTS = 0  # this pool replaces no worker
        with page(running) as p:
            for proc in pool.procs:
                os.kill(proc.pid, signal.SIGKILL)
            assert "reload the page" in p.wait("error", timeout=30)["text"]
            with pytest.raises(ConnectionClosed) as e:
                p.wait("frame", timeout=30)
            assert e.value.rcvd.code == 1011
        with connect(_ws_url(running)) as ws:  # a new tab is told the same, not left waiting
            assert "reload the page" in Page(ws).wait("error", timeout=30)["text"]
        assert _settled(running, 0) == 0
    finally:
        running.stop()
    assert "Traceback" not in capfd.readouterr().err


def test_a_message_nested_too_deeply_is_refused_and_the_tab_goes_on(server):
    with page(server) as p:
        for depth in (8000, 500):
            text = '{"type":"config","config":' + "[" * depth + "]" * depth + "}"
            assert len(text.encode()) <= 16 * 1024
            p.ws.send(text)
            error = p.wait("error")["text"]
            assert "a message must be JSON" in error and "nested too deeply" in error
        p.send(type="step")
        assert p.wait("frame")["step"] == 1


HUGE = [10**400, -(10**400), 10**4000, float("inf")]


@pytest.mark.parametrize("key, words", [
    ("lr", "lr must be a number from 0.0001 to 10"),
    ("noise", "noise must be a number from 0 to 1"),
    ("test_fraction", "test_fraction must be a number from 0 to 0.5"),
    ("l2", "l2 must be a number from 0 to 1"),
    ("points", "points must be a whole number from 10 to 1000"),
    ("seed", "seed must be a whole number from 0 to 2147483647"),
    ("batch", "batch must be a whole number from 0 to 1000"),
])
def test_a_huge_number_gets_the_setups_own_error(key, words):
    for x in HUGE:
        with pytest.raises(ValueError, match=re.escape(words)) as e:
            config.check({key: x}, config.DEFAULTS)
        assert len(str(e.value)) < 300
    with pytest.raises(ValueError, match="hidden must be"):
        config.check({"hidden": [8, 10**400]}, config.DEFAULTS)


def test_a_huge_integer_over_the_socket_keeps_the_setup(server):
    with page(server) as p:
        p.send(type="config", config={"lr": 0.5})
        p.wait("config", where=lambda m: m["config"]["lr"] == 0.5)
        for key in ("lr", "noise", "points", "seed", "l2"):
            p.ws.send('{"type": "config", "config": {"' + key + '": 1' + "0" * 400 + "}}")
            error = p.wait("error")["text"]
            assert error.startswith(f"{key} must be") and "internal error" not in error
        p.ws.send('{"type": "graph", "which": "example", "index": 1' + "0" * 400 + "}")
        assert "index must be" in p.wait("error")["text"]
        p.send(type="step")
        frame = p.wait("frame", where=lambda m: m["step"] == 1)
        assert frame["lr"] == 0.5


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=20) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture(scope="module")
def open_server():
    """A server off loopback (on every address, so it needs its token), reached through
    127.0.0.1 only."""
    serving()
    running = start(host="0.0.0.0")
    yield running
    running.stop()


def test_a_non_ascii_token_is_refused_with_403(open_server):
    base = f"http://127.0.0.1:{open_server.port}"
    for bad in ("%C3%A9", "%E2%82%AC" * 3, "%FF", open_server.token + "%C3%A9"):
        status, body = _get(f"{base}/?token={bad}")
        assert status == 403 and b"access token" in body
        with pytest.raises(Exception, match="403"):
            with connect(f"ws://127.0.0.1:{open_server.port}/ws?token={bad}") as ws:
                ws.recv(timeout=5)
    assert _get(f"{base}/?token={open_server.token}")[0] == 200


def test_static_files_need_the_token_too(open_server):
    base = f"http://127.0.0.1:{open_server.port}"
    token = open_server.token
    for name in ("app.js", "style.css"):
        status, body = _get(f"{base}/static/{name}")
        assert status == 403 and b"access token" in body
        assert _get(f"{base}/static/{name}?token=wrong")[0] == 403
        assert _get(f"{base}/static/{name}?token={token}")[0] == 200
    status, html = _get(f"{base}/?token={token}")
    # the page's links are relative (static/...), so it also works under any folder of a site
    refs = re.findall(r'(?:src|href)="(static/[^"]+)"', html.decode())
    assert len(refs) == 2
    for ref in refs:  # the page's own links carry the token
        assert _get(base + "/" + ref.replace("&amp;", "&"))[0] == 200
    status, _ = _get(f"{base}/static/../server.py?token={token}")
    assert status == 404


def test_a_token_with_url_and_html_characters_works():
    serving()
    running = start(token='a&b "<c>é')
    try:
        base = f"http://127.0.0.1:{running.port}"
        quoted = urllib.parse.quote(running.token, safe="")
        status, html = _get(f"{base}/?token={quoted}")
        assert status == 200
        refs = re.findall(r'(?:src|href)="(static/[^"]+)"', html.decode())
        assert len(refs) == 2 and all(_get(base + "/" + html_unescape(r))[0] == 200
                                      for r in refs)
    finally:
        running.stop()


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)


def test_an_early_ctrl_c_is_quiet():
    """Ctrl-C in the terminal (SIGINT to the whole process group) while the workers are still
    starting: no KeyboardInterrupt tracebacks from them, and a clean exit."""
    serving()
    for delay in (0.0, 0.1, 0.3):
        proc = subprocess.Popen([sys.executable, "-m", "zerograd", "playground", "--no-browser",
                                 "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
        try:
            line = proc.stdout.readline()  # printed once the workers are spawned
            assert line.startswith("zerograd playground: http://127.0.0.1:")
            time.sleep(delay)
            os.killpg(proc.pid, signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
        assert not any(w in err for w in ("Traceback", "KeyboardInterrupt", "Warning")), err
        assert proc.returncode == 0 and "stopped" in out, (proc.returncode, out, err)
