"""Training: ``fit`` runs the loop right by construction and stops a diverging run with a
clear error; ``Step`` is one step of a hand-written loop, compiled into arrays; ``lr_find``
sweeps the learning rate and suggests one (fastai's "valley").

``loss_fn`` is a function returning the loss ``Value`` for the model. It takes no arguments,
or, with ``batch=``, what ``batch()`` returns for each step (a tuple is unpacked into the
arguments, e.g. a random minibatch ``(X, y)``; anything else is passed as one argument).
Pass the data through ``batch`` when using ``compile=True``: a compiled function replays
the graph of its first call, so data sampled *inside* ``loss_fn`` would be frozen;
arguments are fed anew on every call.
"""

from __future__ import annotations

import copy
import math
import numbers
import os
import random
import sys
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import engine, modes, monitor
from .args import count
from .engine import TrainingWarning
from .optim import Optimizer

BETA = 0.98  # smoothing of the loss: a debiased exponential moving average
DIVERGE_FACTOR = 4.0  # smoothed loss above this times the best one: diverged
FLOOR = 0.01  # ... where losses below this fraction of the first one count as that fraction
PATIENCE = 5  # steps a run may stay stuck (monitor.Watch) after the warning before fit stops
VALLEY_AT = 2 / 3  # position in the longest valley (fastai's code: start + len/3 + len/6)


class TrainingDiverged(RuntimeError):
    """The loss became nan/inf, grew past ``DIVERGE_FACTOR`` x its best smoothed value, or
    stuck high with vanished gradients for ``PATIENCE`` steps (see ``zg.monitor.Watch``).

    Attributes: ``step``, ``loss``, ``lr``, ``best`` (best smoothed loss), ``history``.
    """

    def __init__(self, step: int, loss: float, lr: float, best: float, history: dict,
                 stuck: str = ""):
        self.step, self.loss, self.lr, self.best, self.history = step, loss, lr, best, history
        if stuck:
            what = f"it is stuck, with learning rate {lr:g}: {stuck}"
        else:
            what = (f"the loss is {loss}" if not math.isfinite(loss) else
                    f"the smoothed loss rose above {DIVERGE_FACTOR:g}x its best ({best:.6g}); "
                    f"this step's loss is {loss:.6g}")
            what += (f", with learning rate {lr:g}. Lower the learning rate (try {lr / 10:g}),"
                     f" or run zg.train.lr_find to choose one.")
        super().__init__(f"training diverged at step {step}: {what}")


class Smoother:
    """Debiased exponential moving average: ``avg = b*avg + (1-b)*x``, reported as
    ``avg / (1 - b**n)`` after ``n`` values; ``best`` is the lowest reported so far."""

    def __init__(self, beta: float = BETA):
        self.beta, self.avg, self.n, self.best = beta, 0.0, 0, math.inf

    def update(self, x: float) -> float:
        self.n += 1
        self.avg = self.beta * self.avg + (1 - self.beta) * x
        smooth = self.avg / (1 - self.beta**self.n)
        self.best = min(self.best, smooth)
        return smooth


# -- checks of the arguments ---------------------------------------------------------------
def _check_loss_and_optimizer(loss_fn: Any, optimizer: Any) -> None:
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a function returning the loss, got {loss_fn!r}")
    for name in ("zero_grad", "step"):
        if not callable(getattr(optimizer, name, None)):
            raise TypeError(f"optimizer must be a zerograd optimizer (SGD, Adam, AdamW), got "
                            f"{type(optimizer).__name__}")


def _check_setup(model: Any, loss_fn: Any, optimizer: Any, batch: Any) -> None:
    if not callable(getattr(model, "parameters", None)):
        raise TypeError(f"model must be a zerograd Module, got {type(model).__name__}")
    _check_loss_and_optimizer(loss_fn, optimizer)
    if batch is not None and not callable(batch):
        raise TypeError(f"batch must be a function returning loss_fn's arguments, got {batch!r}")
    mine = {id(p) for p in model.parameters()}
    if mine and not mine & {id(p) for p in _opt_params(optimizer)}:
        raise ValueError("the optimizer updates none of the model's parameters; build it from "
                         "this model: zg.optim.Adam(model.parameters(), lr=...)")


def _opt_params(optimizer: Any) -> list:
    return [p for g in optimizer.param_groups for p in g["params"]]


def _lr(optimizer: Any) -> float:
    return float(optimizer.param_groups[0]["lr"])


class _LossCall:
    """``loss_fn`` called on the next batch: ``call()`` is ``loss_fn(*arguments())``.
    ``compiled``: the ``CompiledFunction`` it runs (None: eager); ``fixed``: no batch
    function, the same arguments every step."""

    def __init__(self, loss_fn: Callable, batch: Callable | None, compiled: Any):
        self.loss_fn, self.batch, self.compiled = loss_fn, batch, compiled
        self.fixed = batch is None

    def arguments(self) -> tuple:
        """The next step's arguments of ``loss_fn``."""
        if self.batch is None:
            return ()
        args = self.batch()
        return args if isinstance(args, tuple) else (args,)

    def __call__(self) -> Any:
        return self.loss_fn(*self.arguments())


def _loss_caller(loss_fn: Callable, batch: Callable | None, compile: bool | str) -> _LossCall:
    """``loss_fn`` on the next batch, compiled if asked: True for executor "auto", or an
    executor's name; a loss already compiled with ``zg.compile`` is used as it is."""
    from .compile import CompiledFunction
    from .compile import compile as zg_compile

    compiled = loss_fn if isinstance(loss_fn, CompiledFunction) else None
    if compile is not False and compile is not None:
        if compile is not True and not isinstance(compile, str):
            raise TypeError(f"compile must be True, False or an executor's name (\"jax\"), "
                            f"got {type(compile).__name__}: {compile!r}")
        if compiled is None:
            compiled = loss_fn = zg_compile(loss_fn,
                                            executor="auto" if compile is True else compile)
        elif compile is not True and compile != compiled.executor_name:
            raise ValueError(f"loss_fn is already compiled with executor "
                             f"{compiled.executor_name!r}, not {compile!r}: pass compile=True "
                             f"(or compile the loss with zg.compile(..., executor={compile!r}))")
    return _LossCall(loss_fn, batch, compiled)


def _value(loss: Any) -> float:
    try:
        return float(loss.data)
    except AttributeError:
        raise TypeError(
            f"loss_fn must return a Value (the loss), got {type(loss).__name__}"
        ) from None


def _in_jupyter() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def progress_bar(total: int, desc: str, enabled: bool | None = None,
                 strict: bool = False) -> Any:
    """A tqdm bar counting to ``total``, or None for no bar. ``enabled=None`` means a bar on
    a terminal (stderr) or in Jupyter and none in a pipe or a file. Without tqdm there is no
    bar, and a warning if one was asked for (``strict``: an ImportError, before any work)."""
    if enabled is False:
        return None
    jupyter = _in_jupyter()
    if enabled is None and not (jupyter or getattr(sys.stderr, "isatty", lambda: False)()):
        return None
    try:
        from tqdm import std
    except ImportError:
        if enabled and strict:
            raise ImportError('the progress bar needs tqdm: pip install "zerograd[progress]" '
                              "(or pass --no-progress)") from None
        if enabled:
            warnings.warn('no progress bar: it needs tqdm (pip install "zerograd[progress]")',
                          stacklevel=3)
        return None
    if jupyter:
        try:  # a widget; plain text without ipywidgets (no "IProgress not found" warning)
            import ipywidgets  # noqa: F401
            from tqdm.notebook import tqdm as notebook_bar
        except ImportError:
            pass
        else:
            return notebook_bar(total=total, desc=desc, unit="step")
    return std.tqdm(total=total, desc=desc, unit="step", file=sys.stderr, mininterval=0.5,
                    bar_format="{l_bar}{bar:20}| {n_fmt}/{total_fmt} "
                               "[{elapsed}<{remaining}{postfix}]")


# -- fit -------------------------------------------------------------------------------------
def fit(
    model: Any,
    loss_fn: Callable[..., Any],
    optimizer: Any,
    steps: int,
    scheduler: Any = None,
    compile: bool | str = False,
    callbacks: Iterable[Callable[[int, float], Any]] = (),
    batch: Callable[[], Any] | None = None,
    progress: bool | None = None,
) -> dict[str, list[float]]:
    """Train for ``steps`` steps: ``loss = loss_fn(*batch())``, zero_grad, backward,
    ``optimizer.step()``, ``scheduler.step()``. Returns ``{"loss": [...], "lr": [...]}``,
    one entry per step (the lr used for that step).

    Raises :class:`TrainingDiverged` (before updating with it) when the loss is nan/inf or
    its smoothed value exceeds ``DIVERGE_FACTOR`` x the best smoothed value (losses under
    ``FLOOR`` x the first one count as that much, so a loss near 0 wobbling is no alarm).
    A run stuck at a high loss with vanished gradients (saturated units, see
    ``zg.monitor.Watch``) gets a :class:`TrainingWarning`, and the error if it is still
    stuck ``PATIENCE`` steps later.
    Each callback is called as ``cb(step, loss)`` after the step; returning True stops.
    ``compile=True`` runs ``loss_fn`` through ``zg.compile`` (an executor's name, such as
    ``compile="jax"``, picks that executor; a ``loss_fn`` made by ``zg.compile`` runs compiled
    either way, traced once for every fit it is given to); ``progress`` shows a tqdm bar
    (default: on a terminal or in Jupyter, see :func:`progress_bar`).
    """
    steps = count(steps, "steps")
    _check_setup(model, loss_fn, optimizer, batch)
    callbacks = list(callbacks)
    if not all(callable(cb) for cb in callbacks):
        raise TypeError("callbacks must be functions cb(step, loss)")
    if scheduler is not None and not callable(getattr(scheduler, "step", None)):
        raise TypeError(f"scheduler must have a step() method, got {type(scheduler).__name__}")
    run = _Steps(_loss_caller(loss_fn, batch, compile), optimizer, model.parameters(),
                 scheduler, bool(callbacks))
    bar = progress_bar(steps, "fit", progress)
    fast = run.fast
    try:
        with monitor.paused():  # the watch below is this run's; backward()'s need not watch
            for step in range(steps):
                value, lr = run()
                if bar is not None:
                    bar.set_postfix(loss=f"{value:.4g}", lr=f"{lr:.3g}", refresh=False)
                    bar.update()
                if callbacks:
                    if fast is not None:
                        fast.write_back()  # a callback sees (and may change) the Values
                    stop = any([cb(step, value) is True for cb in callbacks])
                    if fast is not None:
                        fast.read()
                    if stop:
                        break
    finally:
        if fast is not None:
            fast.write_back()
        if bar is not None:
            bar.close()
    return run.history


class _Steps:
    """fit's step, one call each: the loss (and its gradients), the divergence and stuck
    checks before the update, the optimizer's update and the scheduler's step, recorded in
    :attr:`history`. Compiled, the numbers stay in arrays (:attr:`fast`) until
    ``fast.write_back()``."""

    def __init__(self, compute: _LossCall, optimizer: Any, params: list, scheduler: Any,
                 callbacks: bool = False):
        self.compute, self.optimizer, self.params, self.scheduler = (
            compute, optimizer, params, scheduler)
        ahead = compute.fixed and scheduler is None and not callbacks  # next inputs known
        self.fast = _fast_path(compute, optimizer, ahead)  # None unless compiled
        self.history: dict[str, list[float]] = {"loss": [], "lr": []}
        self.smoother, self.first, self.watch = Smoother(), None, monitor.Watch()
        self.step = 0

    def __call__(self) -> tuple[float, float]:
        """One step: (its loss, the learning rate it used)."""
        fast, optimizer, step = self.fast, self.optimizer, self.step
        if fast is not None:
            value, size = fast.evaluate()
        else:
            loss = self.compute()
            value = _value(loss)
        lr = _lr(optimizer)
        smoother, history = self.smoother, self.history
        smooth = smoother.update(value) if math.isfinite(value) else math.inf
        self.first = first = value if self.first is None else self.first
        limit = DIVERGE_FACTOR * max(smoother.best, FLOOR * abs(first))
        if not math.isfinite(value) or smooth > limit:
            raise TrainingDiverged(step, value, lr, smoother.best, history)
        if fast is None:
            optimizer.zero_grad()
            loss.backward()
            size = monitor.size([p.grad for p in self.params])
        watch = self.watch
        if watch.see(value, size, None if fast else _units(loss)):
            if watch.since == step:
                monitor.warn(f"{watch.message(value)} (fit stops the run if it stays "
                            f"stuck for {PATIENCE} more steps.)")
            elif step - watch.since >= PATIENCE:
                raise TrainingDiverged(step, value, lr, smoother.best, history,
                                       watch.message(value))
        if fast is not None:
            fast.update()
        else:
            optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        history["loss"].append(value)
        history["lr"].append(lr)
        self.step += 1
        return value, lr


class Step:
    """A hand-written loop's training step: ``step(*args)`` is ``loss = loss_fn(*args)``,
    ``optimizer.zero_grad()``, ``loss.backward()``, ``optimizer.step()``, and returns the
    loss as a float.

    With ``compile`` (True, or an executor's name such as ``"jax"``; a ``loss_fn`` made by
    ``zg.compile`` is used as it is) and a zerograd optimizer, a call runs in arrays as
    ``fit(..., compile=...)`` does: it reads every parameter's ``.data``, computes the loss,
    its gradients and the optimizer's update, and writes ``.data`` and ``.grad`` back. So
    between calls the Values hold what the eager loop leaves (to 1e-12), a change made to
    them is used by the next call, and an error or Ctrl-C inside a call leaves them
    as the last whole step left them. A loss that blows up, or gets stuck with vanished
    gradients, warns as in the eager loop (``zg.TrainingWarning``); the step does not stop.
    Otherwise (an eager ``loss_fn`` with ``compile=False``, another optimizer or one with
    ``accumulate=True``, inside ``detect_anomaly()``) a call runs those four lines on the
    Values."""

    def __init__(self, loss_fn: Callable[..., Any], optimizer: Any,
                 compile: bool | str = True):
        _check_loss_and_optimizer(loss_fn, optimizer)
        self._args: tuple = ()
        self.compute = _loss_caller(loss_fn, lambda: self._args, compile)
        self.optimizer = optimizer
        self.fast: Any = None  # compile/'s array run, made on the first call
        self._started = False

    def __call__(self, *args: Any) -> float:
        self._args = args
        checked = modes.current.anomaly is not None  # detect_anomaly(): node by node
        if not self._started and not checked:  # traces the loss on these arguments
            # the update in NumPy (measured: faster than a device program whose numbers
            # go back to the Values on every call)
            self.fast = _fast_path(self.compute, self.optimizer, device=False)
            self._started = True
        fast = self.fast
        if fast is None or checked:  # the Values' loop
            loss = self.compute()
            value = _value(loss)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            return value
        fast.read()  # the Values' numbers now: a change since the last call counts
        value, _ = fast.evaluate(size=False)
        try:
            fast.update()
        finally:  # the step whole (or not taken) in the Values, whatever stopped it
            fast.write_back()
        # the watch sees the pass as backward() would
        alarm = monitor.after_compiled(fast.compiled, value, fast.reads, fast.pass_numbers())
        if alarm is not None:
            monitor.warn(alarm)
        return value

    def __repr__(self) -> str:
        how = ("not called yet" if not self._started else
               f"arrays, executor {self.fast.compiled.executor.name!r}" if self.fast
               else "the Values' loop")
        return f"<zg.train.Step of {self.optimizer!r}: {how}>"


def _fast_path(compute: _LossCall, optimizer: Any, ahead: bool = False,
               device: bool = True) -> Any:
    """compile/'s array run for a compiled loss (``zerograd.compile.training.start``), or
    None where only the Values' loop applies: an eager loss, another optimizer class or one
    that accumulates, or inside ``detect_anomaly()`` (which checks node by node)."""
    if (compute.compiled is None or not isinstance(optimizer, Optimizer)
            or optimizer.accumulate or modes.current.anomaly is not None):
        return None
    from .compile import training

    return training.start(compute.compiled, compute.arguments, optimizer, ahead, device)


def _units(loss: Any) -> Callable[[], tuple[int, int, str]] | None:
    """How to count the saturated units of ``loss``'s graph (None for a compiled result,
    which keeps no graph)."""
    if not isinstance(loss, engine.Value):
        return None
    return lambda: monitor.saturation(engine.topological_order(loss))


# -- lr_find ---------------------------------------------------------------------------------
@dataclass
class LRFinderResult:
    """The sweep: learning rates, smoothed and raw losses, and the suggested rate."""

    lrs: list[float]
    losses: list[float]
    raw_losses: list[float]
    suggestion: float
    index: int = field(repr=False)

    def __repr__(self) -> str:
        span = f"lr {self.lrs[0]:.3g}..{self.lrs[-1]:.3g}" if self.lrs else "no points"
        return (f"{type(self).__name__}({len(self.lrs)} points, {span}, "
                f"suggestion {self.suggestion:.3g})")

    def plot(self, path: str | os.PathLike, *, figsize: tuple[float, float] = (6, 4),
             dpi: float = 100) -> str:
        """Draw smoothed loss against learning rate (log scale) to a PNG, leaving out the
        last 5 points (where the loss shoots up, as fastai does); returns the path.
        ``figsize`` (inches) times ``dpi`` is its size in pixels, as in ``zg.viz.plot_loss``."""
        from .viz import figure_size

        size, dpi = figure_size(figsize, dpi)
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError:
            raise ImportError('plotting needs matplotlib: pip install "zerograd[viz]"') from None
        fig = Figure(figsize=size, dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        shown = max(self.index + 1, len(self.lrs) - 5)
        ax.plot(self.lrs[:shown], self.losses[:shown], label="smoothed loss")
        ax.plot([self.suggestion], [self.losses[self.index]], "o", color="tab:red",
                label=f"valley: lr {self.suggestion:.3g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.set_title("lr_find")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.fspath(path), format="png", dpi=dpi)
        return os.fspath(path)


def valley(losses: list[float]) -> int:
    """Index of the suggested point: along the longest descending run of ``losses`` (the
    longest strictly decreasing subsequence), ``VALLEY_AT`` of the way from its start."""
    n = len(losses)
    length, start = [1] * n, list(range(n))
    for i in range(n):
        for j in range(i):
            if losses[i] < losses[j] and length[j] + 1 > length[i]:
                length[i], start[i] = length[j] + 1, start[j]
    end = max(range(n), key=lambda i: (length[i], -i))  # the longest; the earliest on ties
    return start[end] + int(VALLEY_AT * (end - start[end]))


def _snapshot(model: Any, optimizer: Any) -> Callable[[], None]:
    """Everything lr_find changes, and a function that puts it all back exactly."""
    params = list({id(p): p for p in [*model.parameters(), *_opt_params(optimizer)]}.values())
    put_back = monitor.snapshot(params)
    opt_state = copy.deepcopy(optimizer.state_dict())
    counters = {k: v for k, v in vars(optimizer).items()
                if isinstance(v, (bool, int, float)) or v is None}
    rng = random.getstate()

    def restore() -> None:
        optimizer.load_state_dict(copy.deepcopy(opt_state))
        for k, v in counters.items():
            setattr(optimizer, k, v)
        put_back()
        random.setstate(rng)

    return restore


def lr_find(
    model: Any,
    loss_fn: Callable[..., Any],
    optimizer: Any,
    start_lr: float = 1e-7,
    end_lr: float = 10,
    num_it: int = 100,
    batch: Callable[[], Any] | None = None,
    compile: bool | str = False,
    progress: bool | None = None,
) -> LRFinderResult:
    """The learning-rate range test: train ``num_it`` steps with the lr growing
    exponentially from ``start_lr`` to ``end_lr``, recording the debiased moving average of
    the loss (beta 0.98), and stop once it exceeds 4x its best (or is nan/inf). Suggests a
    rate by the valley rule (see :func:`valley`; the first 10% and last 5 points are left
    out, as fastai does). The model, the optimizer and ``random``'s state are restored
    exactly afterwards, even on error. ``progress`` as in :func:`fit`."""
    num_it = count(num_it, "num_it", 2)
    for name, x in (("start_lr", start_lr), ("end_lr", end_lr)):
        if isinstance(x, bool) or not isinstance(x, numbers.Real) or not 0 < x < math.inf:
            raise ValueError(f"{name} must be a positive finite number, got {x!r}")
    if not start_lr < end_lr:
        raise ValueError(f"start_lr ({start_lr}) must be below end_lr ({end_lr})")
    _check_setup(model, loss_fn, optimizer, batch)
    compute = _loss_caller(loss_fn, batch, compile)
    lrs: list[float] = []
    losses: list[float] = []
    raws: list[float] = []
    smoother = Smoother()
    restore = _snapshot(model, optimizer)
    bar = progress_bar(num_it, "lr_find", progress)
    try:
        with warnings.catch_warnings():  # the sweep blows the loss up on purpose
            warnings.simplefilter("ignore", TrainingWarning)
            for i in range(num_it):
                lr = start_lr * (end_lr / start_lr) ** (i / (num_it - 1))
                for g in optimizer.param_groups:
                    g["lr"] = lr
                loss = compute()
                raw = _value(loss)
                if not math.isfinite(raw):
                    break
                smooth = smoother.update(raw)
                lrs.append(lr)
                losses.append(smooth)
                raws.append(raw)
                if smooth > DIVERGE_FACTOR * smoother.best:
                    break
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if bar is not None:
                    bar.set_postfix(lr=f"{lr:.3g}", loss=f"{smooth:.4g}", refresh=False)
                    bar.update()
    finally:
        if bar is not None:
            bar.close()
        restore()
    lo, hi = num_it // 10, len(losses) - 5
    if hi - lo < 3:
        lo, hi = 0, len(losses)
    if hi < 2:
        raise ValueError(f"lr_find: the loss blew up after {len(losses)} steps (at lr "
                         f"{lr:g}); start lower (start_lr) or check the model and loss")
    index = lo + valley(losses[lo:hi])
    return LRFinderResult(lrs, losses, raws, lrs[index], index)


def __getattr__(name: str) -> Any:
    if name == "STEPS_PER_CALL":  # steps per call of a device run (compile/, with NumPy)
        from .compile.training import STEPS_PER_CALL

        return STEPS_PER_CALL
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["fit", "lr_find", "progress_bar", "LRFinderResult", "TrainingDiverged", "Smoother",
           "valley"]
