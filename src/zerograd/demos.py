"""The demos behind ``zerograd demo``: train a small MLP on a toy set, print, plot.

``moons`` is micrograd's demo step for step (same data, seed, model, loss and learning-rate
decay), so it prints micrograd's numbers. ``spiral`` and ``digits`` are multi-class
(cross-entropy, Adam). Each returns a :class:`DemoResult`; ``compile=True`` runs the same
training through ``zg.compile``.
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

from . import data, losses, nn
from .engine import Value, vsum
from .train import progress_bar

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


def _outputs(s: Any) -> list:
    """A model's output as a list: its class scores, or its one score."""
    return s if isinstance(s, list) else [s]


def _data(scores: list) -> np.ndarray:
    return np.array([[v.data for v in s] if isinstance(s, list) else s.data for s in scores])


def _eager_step(objective: Callable, model: nn.Module) -> Callable:
    """One forward + backward on a batch: returns (loss, accuracy); grads land in params."""

    def step(X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        rows = [[Value(x) for x in row] for row in X.tolist()]  # each input one leaf
        loss, scores = objective(model, rows, y.tolist())
        model.zero_grad()
        loss.backward()
        return loss.data, _accuracy(_data(scores), y)

    return step


def _compiled_step(objective: Callable, model: nn.Module, classes: int | None,
                   executor: str) -> Callable:
    """The same step through ``zg.compile``: traced on the first batch, replayed after.

    The batch's inputs and labels are the compiled function's arguments (labels as numbers
    for the hinge loss, as one-hot rows for cross-entropy); the model is in its closure.
    """
    from .compile import compile as zg_compile

    def flat(X: list, Y: list) -> list:
        loss, scores = objective(model, X, Y)
        return [loss] + [v for s in scores for v in _outputs(s)]

    fn = zg_compile(flat, executor=executor)

    def step(X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        Y = np.asarray(y, dtype=float) if classes is None else np.eye(classes)[y]
        out = fn(X, Y)
        model.zero_grad()
        out[0].backward()
        scores = np.array([v.data for v in out[1:]])
        if classes is not None:
            scores = scores.reshape(len(X), classes)
        return out[0].data, _accuracy(scores, y)

    return step


def _executor(compile: bool | str) -> str:
    return "auto" if compile is True else str(compile)


def _make_step(objective: Callable, model: nn.Module, compile: bool | str,
               classes: int | None = None) -> Callable:
    """``compile``: False (eager), True (``zg.compile``'s automatic executor) or the name of
    an executor ("numpy", "scalar", "python")."""
    if not compile:
        return _eager_step(objective, model)
    return _compiled_step(objective, model, classes, _executor(compile))


CHUNK = 64  # rows per call of the compiled scorer: a small graph traces fast, replays cheaply


def scorer(model: nn.Module, compile: bool | str,
           chunk: int = CHUNK) -> Callable[[np.ndarray], np.ndarray]:
    """``scores(X)``: the model's outputs on the rows of ``X``, shape (n,) for one output or
    (n, k) for k, from the current parameters. Eager: row by row under ``no_grad``.
    Compiled: a ``zg.compile``d forward over ``chunk`` rows, called chunk by chunk (the last
    chunk padded with zeros)."""
    from . import viz

    if not compile:
        return lambda X: viz._scores(model, X, batched=False)
    from .compile import compile as zg_compile

    fn = zg_compile(lambda rows: [v for r in rows for v in _outputs(model(r))],
                    executor=_executor(compile))

    def scores(X: np.ndarray) -> np.ndarray:
        padded = np.zeros((-(-len(X) // chunk) * chunk, X.shape[1]))
        padded[:len(X)] = X
        s = np.array([[v.data for v in fn(padded[i:i + chunk])]
                      for i in range(0, len(padded), chunk)]).reshape(len(padded), -1)[:len(X)]
        return s[:, 0] if s.shape[1] == 1 else s

    return scores


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


def _describe(nin: int, nouts: list[int], model: nn.Module) -> str:
    return f"MLP({nin}, {nouts}) with {len(model.parameters())} parameters"


def _mode(compile: bool | str) -> str:
    if not compile:
        return ""
    return " (compiled)" if compile is True else f" (compiled, {compile} executor)"


def _finish(name: str, scores: Callable, X: np.ndarray, y: np.ndarray,
            history: dict[str, Any], out: str | None, log: Callable[[str], None]) -> list[str]:
    files = _write_plots(name, scores, X, y, history, out)
    for f in files:
        log(f"wrote {f}")
    return files


@contextlib.contextmanager
def _plots_if_interrupted(name: str, scores: Callable, X: np.ndarray, y: np.ndarray,
                          history: dict[str, Any], out: str | None,
                          log: Callable[[str], None]) -> Iterator[None]:
    """On Ctrl-C (KeyboardInterrupt) inside: write the plots of the steps done so far (none
    if no step was done), then re-raise."""
    try:
        yield
    except KeyboardInterrupt:
        done = len(history["loss"])
        log(f"interrupted after {done} step{'' if done == 1 else 's'}")
        _finish(name, scores, X, y, history, out, log)
        raise


def _check_out(out: str | None) -> None:
    """Fail now, before training, if the plots could not be written: matplotlib missing
    (ImportError naming the extra) or ``out`` not a folder that can be written to (OSError).
    Leaves no new folder behind: ``out`` is made when the plots are written."""
    if out is None:
        return
    from . import viz

    viz._require("matplotlib")
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


def _check_steps(steps: Any) -> int:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive whole number, got {steps!r}")
    return steps


def _train(name: str, steps: int, step: Callable[[int], tuple[float, float]],
           history: dict[str, Any], acc: str, progress: bool | None, print_every: int,
           log: Callable[[str], None], test: Callable[[], float] | None = None,
           exact: bool = False) -> float:
    """Run ``step(k)`` (one training step, returning its loss and accuracy) for ``k <
    steps``, appending them to ``history["loss"]`` and ``history[acc]``. Every
    ``print_every`` steps and at the last, print them and, with ``test``, the held-out
    accuracy after the step (kept in ``history["test accuracy"][k]``); ``exact`` prints
    full precision, as micrograd does. Returns the seconds taken."""
    t0 = time.perf_counter()
    bar = progress_bar(steps, name, progress, strict=True)
    try:
        for k in range(steps):
            loss, a = step(k)
            history["loss"].append(loss)
            history[acc].append(a)
            if bar is not None:
                bar.set_postfix(loss=f"{loss:.4f}", acc=f"{a:.0%}", refresh=False)
                bar.update()
            if k % print_every == 0 or k == steps - 1:
                line = (f"step {k} loss {loss}, {acc} {a * 100}%" if exact
                        else f"step {k} loss {loss:.6f}, {acc} {a * 100:.1f}%")
                if test is not None:
                    history["test accuracy"][k] = t = test()
                    line += f", test accuracy {t * 100:.1f}%"
                _say(bar, log, line)
    finally:
        if bar is not None:
            bar.close()
    return time.perf_counter() - t0


# -- the demos -------------------------------------------------------------------------------
def moons(steps: int = 100, seed: int = 1337, out: str | None = ".",
          compile: bool | str = False, progress: bool | None = None, print_every: int = 10,
          log: Callable[[str], None] = print) -> DemoResult:
    """micrograd's demo: 100 moons, ``MLP(2, [16, 16, 1])``, SVM hinge loss + 1e-4 L2,
    full-batch SGD with learning rate ``1.0 - 0.9*k/steps`` at step ``k``.

    With the defaults it prints micrograd's numbers: step 0 loss 0.8958441028683222, step 99
    loss 0.010978370135492717, accuracy 100%. Ctrl-C writes the plots so far, then raises.
    """
    steps = _check_steps(steps)
    _check_out(out)
    X, y = data.moons(100, 0.1, seed, signed=True)  # = micrograd's np.random.seed(seed) data
    random.seed(seed)  # micrograd seeds Python's generator before making the model
    model = nn.MLP(2, [16, 16, 1])
    log(f"moons: {len(X)} points, {_describe(2, [16, 16, 1], model)}, "
        f"{steps} steps{_mode(compile)}")
    step, scores = _make_step(_hinge_objective, model, compile), scorer(model, compile)

    def sgd_step(k: int) -> tuple[float, float]:
        loss, acc = step(X, y)
        learning_rate = 1.0 - 0.9 * k / steps  # micrograd's decay (its k/100 at 100 steps)
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        return loss, acc

    history: dict[str, Any] = {"loss": [], "accuracy": []}
    with _plots_if_interrupted("moons", scores, X, y, history, out, log):
        seconds = _train("moons", steps, sgd_step, history, "accuracy", progress, print_every,
                         log, exact=True)
    final_acc = _accuracy(scores(X), y)
    log(f"trained in {seconds:.1f} s; final accuracy {final_acc * 100:.1f}%")
    files = _finish("moons", scores, X, y, history, out, log)
    return DemoResult("moons", history, {"loss": history["loss"][-1], "accuracy": final_acc},
                      files, model, seconds)


def _adam_step(model: nn.Module, X: np.ndarray, y: np.ndarray, classes: int, steps: int,
               lr: float, batch_size: int | None, seed: int,
               compile: bool | str) -> Callable[[int], tuple[float, float]]:
    """A training step: Adam (learning rate cosine-decayed over ``steps``) on the next
    shuffled minibatch (the whole set when ``batch_size`` is None); returns the batch's loss
    and accuracy."""
    from . import optim

    n = len(X)
    bs = n if batch_size is None or batch_size >= n else batch_size
    rng = np.random.default_rng(seed)
    step = _make_step(_ce_objective, model, compile, classes)
    opt = optim.Adam(model.parameters(), lr=lr)
    schedule = optim.CosineAnnealingLR(opt, T_max=steps)  # lr glides from lr down to 0
    order, pos = rng.permutation(n), 0

    def adam_step(k: int) -> tuple[float, float]:
        nonlocal order, pos
        if bs == n:
            idx: Any = slice(None)
        else:
            if pos + bs > n:
                order, pos = rng.permutation(n), 0
            idx, pos = order[pos:pos + bs], pos + bs
        loss, acc = step(X[idx], y[idx])
        opt.step()
        schedule.step()
        return loss, acc

    return adam_step


def spiral(steps: int = 100, seed: int = 0, n_per_class: int = 50, lr: float = 0.02,
           out: str | None = ".", compile: bool | str = False, progress: bool | None = None,
           print_every: int = 20, log: Callable[[str], None] = print) -> DemoResult:
    """Three spiral arms: ``MLP(2, [16, 16, 3])``, cross-entropy + 1e-4 L2, full-batch Adam
    with a cosine learning-rate decay. Ctrl-C writes the plots so far, then raises."""
    steps = _check_steps(steps)
    _check_out(out)
    X, y = data.spiral(n_per_class, 3, seed)
    random.seed(seed)
    model = nn.MLP(2, [16, 16, 3])
    log(f"spiral: {len(X)} points in 3 classes, {_describe(2, [16, 16, 3], model)}, "
        f"{steps} steps of Adam (lr {lr}){_mode(compile)}")
    step = _adam_step(model, X, y, 3, steps, lr, None, seed, compile)
    scores = scorer(model, compile)
    history: dict[str, Any] = {"loss": [], "accuracy": []}
    with _plots_if_interrupted("spiral", scores, X, y, history, out, log):
        seconds = _train("spiral", steps, step, history, "accuracy", progress, print_every,
                         log)
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
    Ctrl-C writes the loss plot so far, then raises."""
    steps = _check_steps(steps)
    if samples is not None and (not isinstance(samples, int) or samples < 10):
        raise ValueError(f"samples must be a whole number >= 10, got {samples!r}")
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
    step = _adam_step(model, X_train, y_train, 10, steps, lr, batch_size, seed, compile)
    scores = scorer(model, compile)
    acc = "batch accuracy" if batch_size < len(X_train) else "accuracy"
    history: dict[str, Any] = {"loss": [], acc: [], "test accuracy": {}}
    with _plots_if_interrupted("digits", scores, X_train, y_train, history, out, log):
        seconds = _train("digits", steps, step, history, acc, progress, print_every, log,
                         test=lambda: _accuracy(scores(X_test), y_test))
    train_acc = _accuracy(scores(X_train), y_train)
    test_acc = history["test accuracy"][steps - 1]  # measured after the last step
    log(f"trained in {seconds:.1f} s; train accuracy {train_acc * 100:.1f}%, "
        f"test accuracy {test_acc * 100:.1f}%")
    files = _finish("digits", scores, X_train, y_train, history, out, log)
    return DemoResult("digits", history, {"loss": history["loss"][-1], "accuracy": train_acc,
                                          "test_accuracy": test_acc}, files, model, seconds)


DEMOS: dict[str, Callable[..., DemoResult]] = {"moons": moons, "spiral": spiral,
                                               "digits": digits}

__all__ = ["DemoResult", "DEMOS", "moons", "spiral", "digits", "scorer"]
