"""The demos behind ``zerograd demo``: train a small MLP on a toy set, print, plot.

``moons`` is micrograd's demo step for step (same data, seed, model, loss and learning-rate
decay), so it prints micrograd's numbers. ``spiral`` and ``digits`` are multi-class
(cross-entropy, Adam). Each returns a :class:`DemoResult`; ``compile=True`` runs the same
training through ``zg.compile``. Every demo trains with ``zg.train.fit`` (its optimizer and
schedule, one callback that records, prints and tests); ``scorer`` (from
:mod:`zerograd.scoring`) scores the model for the accuracies and the plots.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import data, losses, nn, optim
from .args import count
from .engine import Value, vsum
from .scoring import CHUNK, outputs, scorer
from .train import TrainingDiverged, fit, progress_bar

ALPHA = 1e-4  # L2 weight on the sum of squared parameters, as in micrograd's demo


@dataclass
class DemoResult:
    """What a demo did: per-step history, final numbers, files written, the trained model."""

    name: str
    history: dict[str, Any]  # name -> one value per step, or {step: value} (test accuracy)
    final: dict[str, float]
    files: list[str] = field(default_factory=list)
    model: Any = None
    seconds: float = 0.0


# -- the pieces every demo shares -----------------------------------------------------------
def _say(bar: Any, log: Callable[[str], None], text: str) -> None:
    """Print a line without tearing the progress bar."""
    if hasattr(bar, "write") and log is print:
        bar.write(text)
    else:
        log(text)


def _hinge_objective(model: nn.Module, rows: list, y: list) -> tuple[Value, list]:
    """micrograd's demo loss: mean of ``relu(1 - y*score)`` plus ``1e-4 * sum(p*p)``."""
    scores = [model(r) for r in rows]
    data_loss = losses.hinge(scores, y)
    reg_loss = ALPHA * vsum(p * p for p in model.parameters())
    return data_loss + reg_loss, scores


def _ce_objective(model: nn.Module, rows: list, y: list) -> tuple[Value, list]:
    """Mean cross-entropy of the class scores plus ``1e-4 * sum(p*p)``.

    ``y`` holds class indices, or one-hot rows (how a compiled function receives labels that
    change between calls).
    """
    scores = [model(r) for r in rows]
    data_loss = losses.cross_entropy(scores, y)
    reg_loss = ALPHA * vsum(p * p for p in model.parameters())
    return data_loss + reg_loss, scores


def _accuracy(scores: np.ndarray, y: np.ndarray) -> float:
    """Share of right answers: sign of one score per row, or argmax of class scores."""
    if scores.ndim == 1:
        return float(np.mean((y > 0) == (scores > 0)))
    return float(np.mean(scores.argmax(axis=1) == y))


def _data(scores: list) -> np.ndarray:
    return np.array([[v.data for v in s] if isinstance(s, list) else s.data for s in scores])


def _eager_forward(objective: Callable, model: nn.Module) -> Callable:
    """``forward(X, y)``: (the batch's loss as a Value, its scores as an array)."""

    def forward(X: np.ndarray, y: np.ndarray) -> tuple[Value, np.ndarray]:
        rows = [[Value(x) for x in row] for row in X.tolist()]  # each input one leaf
        loss, scores = objective(model, rows, y.tolist())
        return loss, _data(scores)

    return forward


def _compiled_forward(objective: Callable, model: nn.Module, classes: int | None,
                      executor: str) -> Callable:
    """The same forward through ``zg.compile``: traced on the first batch, replayed after.

    The batch's inputs and labels are the compiled function's arguments (labels as numbers
    for the hinge loss, as one-hot rows for cross-entropy); the model is in its closure.
    """
    from .compile import compile as zg_compile

    def flat(X: list, Y: list) -> list:
        loss, scores = objective(model, X, Y)
        return [loss] + [v for s in scores for v in outputs(s)]

    fn = zg_compile(flat, executor=executor)

    def forward(X: np.ndarray, y: np.ndarray) -> tuple[Any, np.ndarray]:
        Y = np.asarray(y, dtype=float) if classes is None else np.eye(classes)[y]
        out = fn(X, Y)
        scores = np.array([v.data for v in out[1:]])
        if classes is not None:
            scores = scores.reshape(len(X), classes)
        return out[0], scores

    return forward


def _executor(compile: bool | str) -> str:
    return "auto" if compile is True else str(compile)


class _Loss:
    """The loss ``fit`` trains on, ``loss(X, y)``, remembering the accuracy of the scores
    it was computed with (the batch's accuracy before the step's update, as micrograd's
    demo prints it). ``compile``: False (eager), True (``zg.compile``'s automatic
    executor) or the name of an executor ("numpy", "scalar", "python")."""

    def __init__(self, objective: Callable, model: nn.Module, compile: bool | str,
                 classes: int | None = None):
        self.forward = (_compiled_forward(objective, model, classes, _executor(compile))
                        if compile else _eager_forward(objective, model))
        self.accuracy = float("nan")

    def __call__(self, X: np.ndarray, y: np.ndarray) -> Any:
        loss, scores = self.forward(X, y)
        self.accuracy = _accuracy(scores, y)
        return loss


def _batches(X: np.ndarray, y: np.ndarray, batch_size: int | None,
             seed: int) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    """``batch()``: the next shuffled minibatch of ``batch_size`` rows (a new shuffle when
    the rest of the last one is too short), or the whole set when ``batch_size`` is None
    or covers it."""
    n = len(X)
    if batch_size is None or batch_size >= n:
        return lambda: (X, y)
    bs, rng = batch_size, np.random.default_rng(seed)
    order, pos = rng.permutation(n), 0

    def batch() -> tuple[np.ndarray, np.ndarray]:
        nonlocal order, pos
        if pos + bs > n:
            order, pos = rng.permutation(n), 0
        idx, pos = order[pos:pos + bs], pos + bs
        return X[idx], y[idx]

    return batch


def _describe(nin: int, nouts: list[int], model: nn.Module) -> str:
    return f"MLP({nin}, {nouts}) with {len(model.parameters())} parameters"


def _mode(compile: bool | str) -> str:
    if not compile:
        return ""
    return " (compiled)" if compile is True else f" (compiled, {compile} executor)"


def _write_plots(name: str, scores: Callable, X: np.ndarray, y: np.ndarray,
                 history: dict[str, Any], out: str | None) -> list[str]:
    """The loss plot and, for 2-D data, the boundary plot, in ``out`` (made if need be);
    nothing (and no folder) when ``out`` is None or no step was done."""
    if out is None or not history["loss"]:
        return []
    from . import viz

    os.makedirs(out, exist_ok=True)
    files = [viz.plot_loss(history, os.path.join(out, f"{name}_loss.png"),
                           title=f"{name}: training loss and accuracy")]
    if X.shape[1] == 2:
        files.append(viz.plot_decision_boundary(
            scores, X, y, os.path.join(out, f"{name}_boundary.png"), batched=True, title=name))
    return files


def _finish(name: str, scores: Callable, X: np.ndarray, y: np.ndarray,
            history: dict[str, Any], out: str | None, log: Callable[[str], None]) -> list[str]:
    files = _write_plots(name, scores, X, y, history, out)
    for f in files:
        log(f"wrote {f}")
    return files


@contextlib.contextmanager
def _plots_if_stopped(name: str, scores: Callable, X: np.ndarray, y: np.ndarray,
                      history: dict[str, Any], out: str | None,
                      log: Callable[[str], None]) -> Iterator[None]:
    """On Ctrl-C (KeyboardInterrupt) or ``fit``'s TrainingDiverged inside: write the plots
    of the steps done so far (none if no step was done), then re-raise."""
    try:
        yield
    except (KeyboardInterrupt, TrainingDiverged) as e:
        done = len(history["loss"])
        how = "interrupted" if isinstance(e, KeyboardInterrupt) else "stopped"
        log(f"{how} after {done} step{'' if done == 1 else 's'}")
        _finish(name, scores, X, y, history, out, log)
        raise


def _check_out(out: str | None) -> None:
    """Fail now, before training, if the plots could not be written: matplotlib missing
    (ImportError naming the extra) or ``out`` not a folder that can be written to (OSError).
    Leaves no new folder behind: ``out`` is made when the plots are written."""
    if out is None:
        return
    from . import viz

    viz.require("matplotlib")
    new = []  # the folders makedirs would create, deepest first
    folder = os.path.abspath(out)
    while not os.path.exists(folder):
        new.append(folder)
        folder = os.path.dirname(folder)
    try:
        os.makedirs(out, exist_ok=True)  # the one sure test (permissions alone fool root)
        writable = os.access(out, os.W_OK)
    except OSError as e:
        raise OSError(f"cannot write the plots to {out!r}: {e.strerror or e}") from None
    finally:
        for d in new:
            with contextlib.suppress(OSError):
                os.rmdir(d)
    if not writable:
        raise OSError(f"cannot write the plots to {out!r}: permission denied")


def _train(name: str, steps: int, model: nn.Module, loss: _Loss, optimizer: Any,
           scheduler: Any, batch: Callable[[], tuple], history: dict[str, Any], acc: str,
           progress: bool | None, print_every: int, log: Callable[[str], None],
           test: Callable[[], float] | None = None, exact: bool = False) -> float:
    """``zg.train.fit`` for ``steps`` steps, with a callback that appends each step's loss
    and accuracy (that of the scores the loss was computed with) to ``history["loss"]`` and
    ``history[acc]``. Every ``print_every`` steps and at the last, it prints them and, with
    ``test``, the held-out accuracy after the step (kept in ``history["test
    accuracy"][k]``); ``exact`` prints full precision, as micrograd does. Returns the
    seconds taken."""
    t0 = time.perf_counter()
    bar = progress_bar(steps, name, progress, strict=True)

    def record(k: int, value: float) -> None:
        a = loss.accuracy
        history["loss"].append(value)
        history[acc].append(a)
        if bar is not None:
            bar.set_postfix(loss=f"{value:.4f}", acc=f"{a:.0%}", refresh=False)
            bar.update()
        if k % print_every == 0 or k == steps - 1:
            line = (f"step {k} loss {value}, {acc} {a * 100}%" if exact
                    else f"step {k} loss {value:.6f}, {acc} {a * 100:.1f}%")
            if test is not None:
                history["test accuracy"][k] = t = test()
                line += f", test accuracy {t * 100:.1f}%"
            _say(bar, log, line)

    try:
        fit(model, loss, optimizer, steps, scheduler=scheduler, callbacks=[record],
            batch=batch, progress=False)
    finally:
        if bar is not None:
            bar.close()
    return time.perf_counter() - t0


# -- the demos -------------------------------------------------------------------------------
def _check(steps: Any, print_every: Any) -> int:
    count(print_every, "print_every")
    return count(steps, "steps")


def moons(steps: int = 100, seed: int = 1337, out: str | None = ".",
          compile: bool | str = False, progress: bool | None = None, print_every: int = 10,
          log: Callable[[str], None] = print) -> DemoResult:
    """micrograd's demo: 100 moons, ``MLP(2, [16, 16, 1])``, SVM hinge loss + 1e-4 L2,
    full-batch SGD with learning rate ``1.0 - 0.9*k/steps`` at step ``k``.

    With the defaults it prints micrograd's numbers: step 0 loss 0.8958441028683222, step 99
    loss 0.010978370135492717, accuracy 100%. Ctrl-C (or ``fit`` stopping a diverging run)
    writes the plots so far, then raises.
    """
    steps = _check(steps, print_every)
    _check_out(out)
    X, y = data.moons(100, 0.1, seed, signed=True)  # = micrograd's np.random.seed(seed) data
    random.seed(seed)  # micrograd seeds Python's generator before making the model
    model = nn.MLP(2, [16, 16, 1])
    log(f"moons: {len(X)} points, {_describe(2, [16, 16, 1], model)}, "
        f"{steps} steps{_mode(compile)}")
    loss, scores = _Loss(_hinge_objective, model, compile), scorer(model, compile)
    opt = optim.SGD(model.parameters(), lr=1.0)  # p.data -= lr * p.grad, as micrograd's
    decay = optim.LambdaLR(opt, lambda k: 1.0 - 0.9 * k / steps)  # micrograd's k/100 at 100
    history: dict[str, Any] = {"loss": [], "accuracy": []}
    with _plots_if_stopped("moons", scores, X, y, history, out, log):
        seconds = _train("moons", steps, model, loss, opt, decay, _batches(X, y, None, seed),
                         history, "accuracy", progress, print_every, log, exact=True)
    final_acc = _accuracy(scores(X), y)
    log(f"trained in {seconds:.1f} s; final accuracy {final_acc * 100:.1f}%")
    files = _finish("moons", scores, X, y, history, out, log)
    return DemoResult("moons", history, {"loss": history["loss"][-1], "accuracy": final_acc},
                      files, model, seconds)


def _adam(model: nn.Module, lr: float, steps: int) -> tuple[optim.Adam, optim.LRScheduler]:
    """Adam, its learning rate cosine-decayed from ``lr`` down to 0 over ``steps``."""
    opt = optim.Adam(model.parameters(), lr=lr)
    return opt, optim.CosineAnnealingLR(opt, T_max=steps)


def spiral(steps: int = 100, seed: int = 0, n_per_class: int = 50, lr: float = 0.02,
           out: str | None = ".", compile: bool | str = False, progress: bool | None = None,
           print_every: int = 20, log: Callable[[str], None] = print) -> DemoResult:
    """Three spiral arms: ``MLP(2, [16, 16, 3])``, cross-entropy + 1e-4 L2, full-batch Adam
    with a cosine learning-rate decay. Ctrl-C (or ``fit`` stopping a diverging run) writes
    the plots so far, then raises."""
    steps = _check(steps, print_every)
    _check_out(out)
    X, y = data.spiral(n_per_class, 3, seed)
    random.seed(seed)
    model = nn.MLP(2, [16, 16, 3])
    log(f"spiral: {len(X)} points in 3 classes, {_describe(2, [16, 16, 3], model)}, "
        f"{steps} steps of Adam (lr {lr}){_mode(compile)}")
    loss, scores = _Loss(_ce_objective, model, compile, 3), scorer(model, compile)
    opt, decay = _adam(model, lr, steps)
    history: dict[str, Any] = {"loss": [], "accuracy": []}
    with _plots_if_stopped("spiral", scores, X, y, history, out, log):
        seconds = _train("spiral", steps, model, loss, opt, decay, _batches(X, y, None, seed),
                         history, "accuracy", progress, print_every, log)
    final_acc = _accuracy(scores(X), y)
    log(f"trained in {seconds:.1f} s; final accuracy {final_acc * 100:.1f}%")
    files = _finish("spiral", scores, X, y, history, out, log)
    return DemoResult("spiral", history, {"loss": history["loss"][-1], "accuracy": final_acc},
                      files, model, seconds)


def digits(steps: int = 600, seed: int = 0, hidden: int = 64, batch_size: int = 64,
           lr: float = 0.01, samples: int | None = None, out: str | None = ".",
           compile: bool | str = False, progress: bool | None = None, print_every: int = 50,
           log: Callable[[str], None] = print) -> DemoResult:
    """8x8 digits: ``MLP(64, [hidden, 10])``, cross-entropy + 1e-4 L2, minibatch Adam with a
    cosine learning-rate decay. 20% of the images are held out: their accuracy is printed
    at every print point and kept in ``history["test accuracy"]`` (``{step: accuracy}``).
    ``samples`` keeps only the first that many images (after shuffling), for quick runs.
    Ctrl-C (or ``fit`` stopping a diverging run) writes the loss plot so far, then raises."""
    steps = _check(steps, print_every)
    hidden, batch_size = count(hidden, "hidden"), count(batch_size, "batch_size")
    if samples is not None:
        samples = count(samples, "samples", 10)
    _check_out(out)
    X, y = data.digits()
    if samples is not None:
        keep = np.random.default_rng(seed).permutation(len(X))[:samples]
        X, y = X[keep], y[keep]
    X_train, X_test, y_train, y_test = data.train_test_split(X, y, 0.2, seed)
    random.seed(seed)
    model = nn.MLP(64, [hidden, 10])
    log(f"digits: {len(X_train)} training and {len(X_test)} test images, "
        f"{_describe(64, [hidden, 10], model)}, {steps} steps of Adam (lr {lr}, batch "
        f"{batch_size}){_mode(compile)}")
    if not compile and steps * batch_size > 5000:
        log("(the eager engine takes a while here: add --compile to train through zg.compile)")
    loss, scores = _Loss(_ce_objective, model, compile, 10), scorer(model, compile)
    opt, decay = _adam(model, lr, steps)
    acc = "batch accuracy" if batch_size < len(X_train) else "accuracy"
    history: dict[str, Any] = {"loss": [], acc: [], "test accuracy": {}}
    with _plots_if_stopped("digits", scores, X_train, y_train, history, out, log):
        seconds = _train("digits", steps, model, loss, opt, decay,
                         _batches(X_train, y_train, batch_size, seed), history, acc, progress,
                         print_every, log, test=lambda: _accuracy(scores(X_test), y_test))
    train_acc = _accuracy(scores(X_train), y_train)
    test_acc = history["test accuracy"][steps - 1]  # measured after the last step
    log(f"trained in {seconds:.1f} s; train accuracy {train_acc * 100:.1f}%, "
        f"test accuracy {test_acc * 100:.1f}%")
    files = _finish("digits", scores, X_train, y_train, history, out, log)
    return DemoResult("digits", history, {"loss": history["loss"][-1], "accuracy": train_acc,
                                          "test_accuracy": test_acc}, files, model, seconds)


DEMOS: dict[str, Callable[..., DemoResult]] = {"moons": moons, "spiral": spiral,
                                               "digits": digits}

__all__ = ["DemoResult", "DEMOS", "moons", "spiral", "digits", "scorer", "CHUNK"]
