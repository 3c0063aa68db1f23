"""One browser tab's session. :class:`Core` is the session itself, with no threads: it takes
the page's messages one at a time and trains a slice at a time, putting what it computed
(frames, warnings, graphs) into an :class:`Outbox`. :class:`Session` runs a Core on a worker
thread (the server); ``inpage.Tab`` runs one in the page's Python, between messages.

Training, drawing and backprop never run on the server's event loop, and never at the same
time. Standard library only: the page's Python (Pyodide) has no NumPy.
"""

from __future__ import annotations

import collections
import importlib.util
import math
import queue
import random
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from .. import lecture, monitor, optim
from ..compile import compile as zg_compile
from ..compile.executors import EXECUTORS
from ..scoring import scorer
from ..version import version
from . import config, graphview, script

FRAME_EVERY = 1 / 15  # seconds between frames while training: 15 a second
CHUNK_TIME = 0.02  # seconds of training between looks at the inbox
SCORE_ROWS = 64  # rows per call of the compiled scorer: traced and compiled in 0.1 s
PYTHON_USES = 60_000  # without NumPy: the largest graph (rows x parameters) made Python code
NUMPY = importlib.util.find_spec("numpy") is not None
GRID = 32  # the decision boundary is the model's output on GRID x GRID points
MAX_LOSSES = 500  # loss points per frame at most (thinned evenly) ...
KEEP_FIRST = 200  # ... besides those of steps 0 to KEEP_FIRST, all kept (the early curve)
KINDS = ("config", "play", "pause", "step", "reset", "reseed", "graph", "backprop", "code",
         "speed")
THUMB = 12  # each neuron's output is mapped on THUMB x THUMB points of the boundary's extent
THUMB_EVERY = 0.25  # seconds between neuron maps while training (fresh in every paused frame)


def thin(rows: list, first: int = KEEP_FIRST, most: int = MAX_LOSSES) -> list:
    """``rows`` (``[step, ...]`` lists, steps rising) with those of steps up to ``first``
    all kept and the rest thinned evenly to at most ``most`` (the last one kept)."""
    early = [r for r in rows if r[0] <= first]
    late = rows[len(early):]
    if len(late) > most:
        last = len(late) - 1
        late = [late[round(i * last / (most - 1))] for i in range(most)]
    return early + late


def executor(size: int) -> str:
    """The executor for a compiled pass over ``size`` parameter uses (rows x parameters):
    "auto" where NumPy is installed (the server: NumPy's arrays for wide graphs); without
    it (the page), generated Python up to ``PYTHON_USES``, compiled once and replayed every
    step, and the scalar tape loop above, whose first call costs nothing."""
    if NUMPY:
        return "auto"
    return "python" if size <= PYTHON_USES else "scalar"


class Trainer:
    """A setup made real: data, model, compiled loss, optimizer; :meth:`step` is the lecture's
    loop (forward, then ``zg.lecture.step``: zero the gradients unless told to forget,
    backward, update)."""

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        self.data = config.make_data(cfg)
        self.model = config.make_model(cfg, len(self.data.X[0]))
        self.params = self.model.parameters()
        rows = len(self.data.X) if cfg["batch"] == 0 else min(cfg["batch"], len(self.data.X))
        self._rows = rows

        def objective(X: Any, t: Any) -> Any:
            return config.objective(self.model, self.params, X, t, cfg)

        how = executor(rows * len(self.params))
        self.loss_fn = zg_compile(objective, executor=how)
        # Generated Python takes a second or more to write and compile in the page: until
        # prepare() has done it, steps run on the scalar tape loop, whose first call costs
        # little. Both give eager's numbers bit for bit, so the switch changes no number.
        self.quick_fn = zg_compile(objective, executor="scalar") if how == "python" else None
        self.test_fn = zg_compile(
            lambda X, t: config.data_loss(self.model, X, t, cfg["loss"]),
            executor=executor(len(self.data.X_test or ()) * len(self.params)))
        self.scores = scorer(self.model, executor(SCORE_ROWS * len(self.params)),
                             chunk=SCORE_ROWS)
        how = executor(SCORE_ROWS * len(self.params))
        self.neuron_scores = scorer(lambda x: every_neuron(self.model, x), how,
                                    chunk=SCORE_ROWS)
        # in the page, until prepare(): the scalar loop (no compile before the first frame)
        self.quick_neurons = (scorer(lambda x: every_neuron(self.model, x), "scalar",
                                     chunk=SCORE_ROWS) if how == "python" else None)
        self.opt: optim.Optimizer | None = None
        if cfg["optimizer"] == "momentum":
            self.opt = optim.SGD(self.params, lr=cfg["lr"], momentum=config.MOMENTUM)
        elif cfg["optimizer"] == "adam":
            self.opt = optim.Adam(self.params, lr=cfg["lr"])
        self.rng = random.Random(cfg["seed"])
        self.steps = 0
        self.loss = math.nan
        self.box = self._extent()
        d = self.data
        self.rows = d.X + (d.X_test or [])  # scored every frame, with the boundary's grid
        if self.box is not None:
            self.rows = self.rows + grid(self.box, GRID)
        self.thumb_rows = [] if self.box is None else grid(self.box, THUMB)

    @property
    def prepared(self) -> bool:
        """Whether steps run on the compiled loss (not on the scalar loop before it)."""
        return self.quick_fn is None or self.loss_fn.traces > 0

    def prepare(self) -> None:
        """Compile the training step and the neurons' scorer now (a forward pass on the
        first rows), if not yet."""
        if not self.prepared:
            self.loss_fn(self.data.X[:self._rows], self.data.t[:self._rows])
            self.neuron_scores(self.data.X[:1])

    def step(self) -> float:
        """One update; returns the loss it was computed from."""
        d, cfg = self.data, self.cfg
        rows = config.batch_rows(self.rng, len(d.X), cfg["batch"])
        X, t = (d.X, d.t) if rows is None else ([d.X[i] for i in rows], [d.t[i] for i in rows])
        fn = self.loss_fn if self.prepared else self.quick_fn
        loss = lecture.step(fn(X, t), self.params,
                            cfg["lr"] if self.opt is None else self.opt,
                            zero_grad=not cfg["forget_zero_grad"])
        self.steps += 1
        self.loss = loss
        return loss

    def initial_loss(self) -> float:
        """The loss before any update (step 0): a forward pass on every training row, with
        no backward, so no gradient, watch or random draw of the run changes."""
        d = self.data
        if self._rows < len(d.X):  # the compiled step is for a batch's rows: eager here
            return config.objective(self.model, self.params, d.X, d.t, self.cfg).data
        fn = self.loss_fn if self.prepared else self.quick_fn
        return fn(d.X, d.t).data

    def test_loss(self) -> float | None:
        d = self.data
        return None if d.X_test is None else self.test_fn(d.X_test, d.t_test).data

    def _extent(self) -> list[float] | None:
        """[xmin, xmax, ymin, ymax] of the boundary view: the data plus a margin (2-D only)."""
        if len(self.data.X[0]) != 2:
            return None
        X = self.data.X + (self.data.X_test or [])
        box = []
        for c in (0, 1):
            lo, hi = min(r[c] for r in X), max(r[c] for r in X)
            pad = 0.15 * (hi - lo) + 1e-9
            box += [lo - pad, hi + pad]
        return box

    def data_message(self) -> dict[str, Any]:
        d = self.data
        test = None if d.X_test is None else {"X": d.X_test, "y": d.y_test}
        return {"type": "data", "features": len(d.X[0]), "train": {"X": d.X, "y": d.y},
                "test": test, "extent": self.box}

    def view(self) -> dict[str, Any]:
        """What the page draws of the model now: boundary or predictions, accuracy, the
        network's weights and each layer's largest gradient (the model scored once, on the
        training and test rows and the boundary's grid together)."""
        d, box = self.data, self.box
        s = self.scores(self.rows)
        train, s = s[:len(d.X)], s[len(d.X):]
        acc = {"train": _accuracy(train, d.y), "test": None}
        if d.X_test is not None:
            test, s = s[:len(d.X_test)], s[len(d.X_test):]
            acc["test"] = _accuracy(test, d.y_test)
        boundary = predictions = None
        if box is None:
            predictions = [[v, t] for v, t in zip(train, d.t)]
        else:
            boundary = {"nx": GRID, "ny": GRID,
                        "scores": [round(v, 3) if math.isfinite(v) else 0.0 for v in s]}
        layers = self.model.layers
        return {
            "accuracy": acc, "boundary": boundary, "predictions": predictions,
            "network": {
                "sizes": [len(layers[0].neurons[0].w)] + [len(ly.neurons) for ly in layers],
                "weights": [[[w.data for w in n.w] for n in ly.neurons] for ly in layers],
                "biases": [[n.b.data for n in ly.neurons] for ly in layers],
                "weight_grads": [[[w.grad for w in n.w] for n in ly.neurons] for ly in layers],
                "bias_grads": [[n.b.grad for n in ly.neurons] for ly in layers],
            },
            "grad_norms": [max(abs(p.grad) for p in ly.parameters()) for ly in layers],
        }

    def neurons(self) -> dict[str, Any]:
        """Every hidden and output neuron's output, from the current weights: on the
        THUMB x THUMB grid over the boundary's extent (``maps``, null without a plane) and
        summed up over the training examples (``train``: mean, min, max)."""
        d, cut = self.data, len(self.thumb_rows)
        fn = self.neuron_scores if self.quick_neurons is None or self.prepared else (
            self.quick_neurons)
        flat = fn(self.thumb_rows + d.X)
        rows = [r if isinstance(r, list) else [r] for r in flat]  # one neuron: bare scores
        sizes = [len(ly.neurons) for ly in self.model.layers]

        def per_neuron(block: list[list[float]]) -> list[list[list[float]]]:
            cols, k = list(zip(*block)), 0
            out = []
            for n in sizes:
                out.append([list(c) for c in cols[k:k + n]])
                k += n
            return out

        maps = None
        if self.box is not None:
            maps = {"nx": THUMB, "ny": THUMB,
                    "outputs": [[[round(v, 3) if math.isfinite(v) else 0.0 for v in c]
                                 for c in ly] for ly in per_neuron(rows[:cut])]}
        train = [[{"mean": math.fsum(c) / len(c), "min": min(c), "max": max(c)} for c in ly]
                 for ly in per_neuron(rows[cut:])]
        return {"step": self.steps, "maps": maps, "train": train}


def every_neuron(model: Any, x: Any) -> list[Any]:
    """Every hidden and output neuron's output on the input row ``x``, layer by layer (the
    same operations as ``model(x)``)."""
    out: list[Any] = []
    h = x
    for ly in model.layers:
        h = [n(h) for n in ly.neurons]
        out += h
    return out


def grid(box: list[float], k: int) -> list[list[float]]:
    """``k`` x ``k`` points spanning ``box`` ([xmin, xmax, ymin, ymax]), row 0 at ymin."""
    x0, x1, y0, y1 = box
    xs = [x0 + (x1 - x0) * i / (k - 1) for i in range(k)]
    return [[x, y0 + (y1 - y0) * j / (k - 1)] for j in range(k) for x in xs]


class Turns:
    """The sessions of one process take turns to train, in the order they asked, so each gets
    its frames out however many share the CPU (Python runs one thread at a time anyway)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: collections.deque[threading.Event] = collections.deque()
        self._busy = False

    def waiting(self) -> int:
        return len(self._waiting)

    def __enter__(self) -> None:
        with self._lock:
            if not self._busy:
                self._busy = True
                return
            turn = threading.Event()
            self._waiting.append(turn)
        turn.wait()

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # handed straight to the next in line
            else:
                self._busy = False


TURNS = Turns()


class Outbox:
    """Messages for the page, thread-safe. Frames waiting to be sent merge into one (their
    loss points joined), so a slow page gets the latest state, not a backlog."""

    def __init__(self, wake: Callable[[], None]):
        self._lock = threading.Lock()
        self._items: list[dict[str, Any]] = []
        self._wake = wake

    def put(self, msg: dict[str, Any]) -> None:
        msg = _finite(msg)
        with self._lock:
            last = self._items[-1] if self._items else None
            if msg["type"] == "frame" and last is not None and last["type"] == "frame":
                msg["losses"] = last["losses"] + msg["losses"]
                if msg.get("twin_losses") is not None and last.get("twin_losses") is not None:
                    msg["twin_losses"] = last["twin_losses"] + msg["twin_losses"]
                self._items[-1] = msg
            else:
                self._items.append(msg)
        self._wake()

    def take(self) -> list[dict[str, Any]]:
        """Everything waiting, oldest first (frames with the loss points of steps up to
        KEEP_FIRST and at most MAX_LOSSES later ones: see :func:`thin`)."""
        with self._lock:
            items, self._items = self._items, []
        for m in items:
            if m["type"] == "frame":
                m["losses"] = thin(m["losses"])
                if m.get("twin_losses") is not None:
                    m["twin_losses"] = thin(m["twin_losses"])
        return items


class Session:
    """A :class:`Core` run by a worker thread (the server's way); ``submit`` queues a checked
    message from the page, ``close`` stops it."""

    def __init__(self, outbox: Outbox, cfg: dict[str, Any] | None = None,
                 on_end: Callable[[], None] | None = None):
        if NUMPY:  # imported here, before the thread: threads of one process importing NumPy
            EXECUTORS["numpy"]  # at the same moment can get it half made ("partially initialized")
        self.core = Core(outbox, cfg)
        self.on_end = on_end
        self.inbox: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="zerograd-playground",
                                       daemon=True)
        self.thread.start()

    def submit(self, msg: dict[str, Any]) -> None:
        """Queue ``msg`` (a dict whose type is one of ``KINDS``) for the worker thread."""
        self.inbox.put(msg)

    def close(self) -> None:
        self.inbox.put(None)

    def _run(self) -> None:
        core = self.core
        monitor.send_warnings_to(core.warned)  # zerograd's warnings, word for word
        try:
            core.open()
            while True:
                try:
                    if not core.running:
                        msg = self.inbox.get()
                    else:  # at a slow speed, the frame's steps done: wait for it, not spin
                        wait = core.wait()
                        msg = self.inbox.get(timeout=wait) if wait > 0 else self.inbox.get_nowait()
                except queue.Empty:  # training: one turn, the sessions of this process in line
                    with TURNS:
                        core.train(CHUNK_TIME / (1 + TURNS.waiting()))
                    continue
                if msg is None:
                    return
                core.handle(msg)
        finally:
            if self.on_end is not None:
                self.on_end()


class Core:
    """One page's setup and training, with no threads of its own: :meth:`handle` does what a
    message asks, :meth:`train` trains for a slice of time; both put what the page should see
    into the outbox."""

    def __init__(self, outbox: Outbox, cfg: dict[str, Any] | None = None):
        self.out = outbox
        self.cfg = dict(config.DEFAULTS if cfg is None else cfg)
        self.trainer: Trainer | None = None
        self.walk: graphview.Walk | None = None
        self.running = False
        self._recent: collections.deque = collections.deque(maxlen=64)  # (time, steps)
        self._losses: list = []
        self._last_frame = self._frame_made = 0.0
        self._shown = 0  # the step of the last frame made
        self._neurons: dict[str, Any] | None = None  # the last neuron maps, and when made
        self._neurons_made = self._neurons_cost = 0.0
        self.steps_per_frame: int | None = None  # the speed: None, as fast as it goes
        # forget_zero_grad's correct twin: the same setup with zero_grad, stepped alongside
        self.twin: Trainer | None = None
        self._twin_losses: list = []
        # what the gradient bars are judged by (the training watch's rules): the first
        # step's loss and largest gradient, and the best loss so far
        self._first = self._g0 = math.nan
        self._best = math.inf

    def open(self) -> None:
        """The session's first messages: hello, then its setup, data and frame at step 0."""
        self.handle({"type": "hello"})

    def handle(self, msg: dict[str, Any]) -> None:
        """Do what ``msg`` (a checked page message) asks; a ValueError goes to the page as an
        ``error`` and the session goes on."""
        self._guarded(getattr(self, "_on_" + msg["type"]), msg)

    def train(self, seconds: float) -> None:
        """While running: train until the next frame is due or ``seconds`` are up, then send
        the frame if it is due (or training stopped)."""
        self._guarded(self._train, seconds)

    def _due(self) -> float:
        # 15 frames a second, but at least half a frame's time of training after each frame
        # is made (in the page's Python a frame can take longer than 1/15 s)
        return max(self._last_frame + FRAME_EVERY, self._frame_made + FRAME_EVERY / 2)

    def _room(self) -> bool:
        """Whether the next frame may carry another step (the speed)."""
        n = self.steps_per_frame
        return n is None or self.trainer.steps - self._shown < n

    def wait(self) -> float:
        """Seconds until training has something to do: 0, or, when the next frame has all
        the steps the speed allows, the time until it is due."""
        if not self.running or self.trainer is None or self._room():
            return 0.0
        return max(0.0, self._due() - time.perf_counter())

    def _train(self, seconds: float) -> None:
        due = self._due()
        end = min(time.perf_counter() + seconds, due)
        while self.running and time.perf_counter() < end and self._room():
            self._one_step()
        if not self.running or time.perf_counter() >= due:
            self._frame()

    def warned(self, text: str) -> None:
        """Send one of zerograd's TrainingWarnings to the page, word for word."""
        step = self.trainer.steps + 1 if self.trainer is not None else 0
        self.out.put({"type": "warning", "step": step, "category": "TrainingWarning",
                      "text": text})

    def _guarded(self, fn: Callable[[Any], None], arg: Any) -> None:
        try:
            fn(arg)
        except ValueError as e:
            self.out.put({"type": "error", "text": str(e)})
        except Exception as e:  # a bug: say so on the page, keep the session
            traceback.print_exc()
            self.out.put({"type": "error", "text": f"internal error: {type(e).__name__}: {e}"})

    def _restart(self, cfg: dict[str, Any]) -> None:
        """Training from step 0 with ``cfg`` (made in full before anything is replaced);
        its first frame has the loss at step 0."""
        trainer = Trainer(cfg)
        twin = Trainer(dict(cfg, forget_zero_grad=False)) if cfg["forget_zero_grad"] else None
        loss0 = trainer.initial_loss()
        trainer.loss = loss0
        self.cfg, self.trainer, self.walk, self.twin = cfg, trainer, None, twin
        self._neurons = None
        self._losses, self._recent = [[0, loss0, None]], collections.deque(maxlen=64)
        self._twin_losses = [] if twin is None else [[0, loss0]]  # the same weights at 0
        self._first = self._g0 = math.nan
        self._best = math.inf
        self.out.put({"type": "config", "config": cfg})
        self.out.put(trainer.data_message())
        self._frame()

    def _on_hello(self, msg: dict[str, Any]) -> None:
        self.out.put({"type": "hello", "config": self.cfg, "limits": config.limits(),
                      "version": version(), "steps_per_frame": self.steps_per_frame})
        self._restart(self.cfg)

    def _on_config(self, msg: dict[str, Any]) -> None:
        cfg = config.check(msg.get("config"), self.cfg)  # a refused setup changes nothing
        self.running = False
        self._restart(cfg)

    def _on_reset(self, msg: dict[str, Any]) -> None:
        self.running = False
        self._restart(self.cfg)

    def _on_reseed(self, msg: dict[str, Any]) -> None:
        self.running = False
        self._restart(dict(self.cfg, seed=random.SystemRandom().randrange(2**31)))

    def _on_play(self, msg: dict[str, Any]) -> None:
        self.running = True
        self._last_frame = time.perf_counter()

    def _on_pause(self, msg: dict[str, Any]) -> None:
        self.running = False
        self._frame()

    def _on_speed(self, msg: dict[str, Any]) -> None:
        self.steps_per_frame = config.check_speed(msg.get("steps_per_frame"))
        self.out.put({"type": "speed", "steps_per_frame": self.steps_per_frame})

    def _on_step(self, msg: dict[str, Any]) -> None:
        self.running = False
        self._one_step()
        self._frame()

    def prepare(self) -> None:
        """Compile the training step now, if it is not yet (the page's worker asks while the
        session is idle; training asks once its first steps have been shown)."""
        self._guarded(self._prepare, None)

    def _prepare(self, _: Any) -> None:
        todo = [t for t in (self.trainer, self.twin) if t is not None and not t.prepared]
        if todo:
            self.out.put({"type": "status", "text": "compiling the training step: zg.compile "
                          "writes the loss as Python once, then replays it"})
            for t in todo:  # the run's, and its twin's (the same setup with zero_grad)
                t.prepare()
            self.out.put({"type": "status", "text": ""})

    def _one_step(self) -> None:
        tr = self.trainer
        twin_waits = self.twin is not None and not self.twin.prepared
        if (not tr.prepared or twin_waits) and self._shown > 0:  # first steps shown: compile
            self._prepare(None)
        elif tr.steps == 0 and tr.prepared:
            self.out.put({"type": "status", "text": "compiling the training step: zg.compile "
                          "traces the loss once, then replays it"})
        loss = tr.step()
        if tr.steps == 1:
            self.out.put({"type": "status", "text": ""})
            self._first = loss
            self._g0 = max(_grad_norms(tr.model), default=0.0)
        self._best = min(self._best, loss)
        self._losses.append([tr.steps, loss, None])
        if self.twin is not None:
            with monitor.paused():  # the twin's own troubles are not the run's warnings
                self._twin_losses.append([self.twin.steps + 1, self.twin.step()])
        self._recent.append((time.perf_counter(), tr.steps))
        if not math.isfinite(loss):
            self.running = False
            self.out.put({"type": "status", "text": f"paused: the loss is {loss} at step "
                          f"{tr.steps}; lower the learning rate and press reset"})

    def _frame(self) -> None:
        tr = self.trainer
        now = time.perf_counter()
        # a steady 15 a second while training: the next frame is due a frame's time after
        # this one was due, not after it was made (each frame's last step runs a little
        # past the time, and that would add up); a frame late by a whole period starts over
        due = self._last_frame + FRAME_EVERY
        self._last_frame = due if self.running and 0.0 <= now - due < FRAME_EVERY else now
        test = tr.test_loss() if tr.steps else None
        if self._losses and test is not None:
            self._losses[-1][2] = test
        sps = 0.0
        if self.running and len(self._recent) > 1:
            (t0, s0), (t1, s1) = self._recent[0], self._recent[-1]
            sps = (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0
        frame = {"type": "frame", "step": tr.steps, "running": self.running,
                 "steps_per_second": sps, "lr": self.cfg["lr"], "losses": self._losses,
                 "loss": tr.loss, "test_loss": test,
                 "twin_losses": None if self.twin is None else self._twin_losses}
        frame.update(tr.view())
        frame["neurons"] = self._neuron_view(now)
        frame["grad_state"] = self._grad_state(frame["grad_norms"])
        self._losses = []
        self._twin_losses = []
        self.out.put(frame)
        self._frame_made = time.perf_counter()
        self._shown = tr.steps

    def _neuron_view(self, now: float) -> dict[str, Any]:
        """The neurons' maps and summaries: made afresh when paused; while training at most
        every THUMB_EVERY seconds, and taking at most a fifth of the time (the last ones
        again in between, with the step they are of)."""
        tr, last = self.trainer, self._neurons
        wait = max(THUMB_EVERY, 4 * self._neurons_cost)  # and at most a fifth of the time
        if (self.running and last is not None and last["step"] <= tr.steps
                and now - self._neurons_made < wait):
            return last
        start = time.perf_counter()
        self._neurons = tr.neurons()
        self._neurons_made, self._neurons_cost = now, time.perf_counter() - start
        return self._neurons

    def _grad_state(self, norms: list[float]) -> list[str]:
        """Each layer's gradient by the training watch's rules: "vanished" (below its share
        of the first step's largest gradient while the loss is still high), "converged"
        (as small, with the loss low), else "ok"."""
        tr = self.trainer
        if not tr.steps or not math.isfinite(self._first):
            return ["ok"] * len(norms)
        high = monitor.loss_high(tr.loss, self._first, self._best)
        return ["ok" if not monitor.grads_vanished(g, self._g0)
                else "vanished" if high else "converged" for g in norms]

    def _on_graph(self, msg: dict[str, Any]) -> None:
        which, index = msg.get("which"), msg.get("index", 0)
        if which == "neuron":
            self.walk = graphview.Walk(graphview.lecture_neuron(), "the lecture's neuron")
        elif which == "example":
            d = self.trainer.data
            if not isinstance(index, int) or isinstance(index, bool) or not (
                    0 <= index < len(d.X)):
                raise ValueError(f"index must be a training example's number, 0 to "
                                 f"{len(d.X) - 1}; got {index!r}"[:200])
            root = graphview.one_example(self.trainer.model, d.X[index], d.t[index],
                                         self.cfg["loss"])
            self.walk = graphview.Walk(root, f"example {index} through the network, with "
                                             f"its loss")
        elif which == "neuron_in_network":
            root, title = self._neuron_graph(msg)
            self.walk = graphview.Walk(root, title)
        else:
            raise ValueError(f"graph: which must be 'neuron', 'example' or "
                             f"'neuron_in_network'; got {which!r}"[:200])
        self.out.put(dict(self.walk.drawing(), type="graph", which=which))

    def _neuron_graph(self, msg: dict[str, Any]) -> tuple[Any, str]:
        """The graph of ``graph`` ``which: "neuron_in_network"``: neuron ``neuron`` of layer
        ``layer`` (0-based, the output layer last) on train example ``index`` (default 0)."""
        model, X = self.trainer.model, self.trainer.data.X
        sizes = [len(ly.neurons) for ly in model.layers]
        layer, neuron, index = msg.get("layer"), msg.get("neuron"), msg.get("index", 0)

        def whole(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        if not whole(layer) or not 0 <= layer < len(sizes):
            raise ValueError(f"graph: layer must be a layer's number, 0 to {len(sizes) - 1} "
                             f"(the output layer is {len(sizes) - 1}); got {layer!r}"[:200])
        if not whole(neuron) or not 0 <= neuron < sizes[layer]:
            raise ValueError(f"graph: neuron must be a neuron's number in layer {layer}, 0 "
                             f"to {sizes[layer] - 1}; got {neuron!r}"[:200])
        if not whole(index) or not 0 <= index < len(X):
            raise ValueError(f"index must be a training example's number, 0 to "
                             f"{len(X) - 1}; got {index!r}"[:200])
        root = graphview.neuron_in_network(model, X[index], layer, neuron)
        return root, (f"neuron L{layer}.N{neuron} on example {index}: its inputs, weights, "
                      f"bias, sum and activation")

    def _on_backprop(self, msg: dict[str, Any]) -> None:
        action = msg.get("action")
        if self.walk is None:
            raise ValueError("backprop: draw a graph first (send graph)")
        if action == "step":
            self.out.put(dict(self.walk.step(), type="backprop"))
        elif action == "all":
            self.out.put({"type": "backprop", "steps": self.walk.rest()})
        elif action == "reset":
            self.walk.reset()
            self.out.put(dict(self.walk.drawing(), type="graph", which="again"))
        else:
            raise ValueError(f"backprop: action must be 'step', 'all' or 'reset'; "
                             f"got {action!r}"[:200])

    def _on_code(self, msg: dict[str, Any]) -> None:
        steps = max(1, self.trainer.steps)
        self.out.put({"type": "code", "steps": steps, "text": script.script(self.cfg, steps)})


def _grad_norms(model: Any) -> list[float]:
    """Each layer's largest |grad|."""
    return [max(abs(p.grad) for p in ly.parameters()) for ly in model.layers]


def _finite(x: Any) -> Any:
    """``x`` with nan and inf made None (JSON has no such numbers)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, list):
        return [_finite(v) for v in x]
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    return x


def _accuracy(scores: list[float], y: list[int]) -> float:
    """The share of rows whose score is on their class's side of 0 (class 1: above)."""
    return sum((s > 0) == (c == 1) for s, c in zip(scores, y)) / len(y)
