"""zg.train: fit (the loop, the divergence check, the progress bar) and lr_find."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from conftest import needs

import zerograd as zg
from zerograd import losses, nn, optim, train
from zerograd.engine import Value

JAX = pytest.mark.needs("jax", "the jax executor")


def moons(n: int = 100, seed: int = 1337) -> tuple[list, list]:
    needs("sklearn", "the moons dataset")  # the tests using it are skipped without it
    X, y = zg.data.moons(n, noise=0.1, seed=seed, signed=True)
    return X.tolist(), y.tolist()


def hinge_loss(model):
    return lambda X, y: losses.hinge([model(x) for x in X], y)


def accuracy(model, X, y) -> float:
    return sum((model(x).data > 0) == (t > 0) for x, t in zip(X, y, strict=True)) / len(y)


def snapshot(params) -> list[str]:
    return [p.data.hex() for p in params]


def scripted(values, model):
    """A loss_fn whose loss is values[k] at call k (and still a graph over the model)."""
    it = iter(values)
    p = model.parameters()[0]
    return lambda: p * 0.0 + next(it)


# -- fit -------------------------------------------------------------------------------------
def test_fit_finishes_a_good_run():
    X, y = moons(40, seed=3)
    random.seed(0)
    model = nn.MLP(2, [8, 1])
    opt = optim.Adam(model.parameters(), lr=0.05)
    hist = train.fit(model, hinge_loss(model), opt, 60, batch=lambda: (X, y), progress=False)
    assert len(hist["loss"]) == len(hist["lr"]) == 60
    assert hist["lr"] == [0.05] * 60
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    assert accuracy(model, X, y) >= 0.85


def test_fit_stops_a_diverging_run_with_a_clear_error():
    X, y = moons(40, seed=3)
    random.seed(0)
    model = nn.MLP(2, [8, 1])
    opt = optim.SGD(model.parameters(), lr=100)
    with pytest.raises(train.TrainingDiverged) as info:
        train.fit(model, hinge_loss(model), opt, 100, batch=lambda: (X, y), progress=False)
    err = info.value
    assert isinstance(err, zg.TrainingDiverged)
    assert 0 < err.step < 100 and err.lr == 100
    assert len(err.history["loss"]) == err.step
    msg = str(err)
    assert f"step {err.step}" in msg and "learning rate 100" in msg
    assert "Lower the learning rate (try 10)" in msg and "lr_find" in msg


def test_fit_is_the_textbook_loop_bitwise():
    """zero_grad, backward, step, schedule: the same numbers as the loop written by hand."""
    X, y = moons(20, seed=4)

    def setup():
        random.seed(1)
        model = nn.MLP(2, [4, 1])
        opt = optim.Adam(model.parameters(), lr=0.1)
        return model, opt, optim.StepLR(opt, step_size=3, gamma=0.5)

    model, opt, sched = setup()
    hist = train.fit(model, hinge_loss(model), opt, 8, scheduler=sched, batch=lambda: (X, y),
                     progress=False)
    ref, ref_opt, ref_sched = setup()
    lrs = []
    for _ in range(8):
        loss = hinge_loss(ref)(X, y)
        lrs.append(ref_opt.lr)
        ref_opt.zero_grad()
        loss.backward()
        ref_opt.step()
        ref_sched.step()
    assert snapshot(model.parameters()) == snapshot(ref.parameters())
    assert hist["lr"] == lrs == [0.1] * 3 + [0.05] * 3 + [0.025] * 2


def test_nan_loss_stops_before_the_update():
    random.seed(2)
    model = nn.MLP(2, [3, 1])
    opt = optim.SGD(model.parameters(), lr=0.1)
    before = snapshot(model.parameters())
    with pytest.raises(train.TrainingDiverged, match="step 2: the loss is nan") as info:
        train.fit(model, scripted([1.0, 0.9, math.nan], model), opt, 5, progress=False)
    assert info.value.history["loss"] == [1.0, 0.9]
    assert snapshot(model.parameters()) == before  # the scripted loss has zero gradients


def test_divergence_rule_uses_the_smoothed_loss():
    random.seed(2)
    model = nn.MLP(2, [3, 1])
    opt = optim.SGD(model.parameters(), lr=0.1)
    noisy = [1.0] * 20 + [3.9, 1.0, 3.9] + [1.0] * 5  # spikes the smoothed loss absorbs
    assert len(train.fit(model, scripted(noisy, model), opt, len(noisy), progress=False)["loss"])
    to_zero = [1.0, 0.5] + [0.0] * 40 + [0.004, 0.002]  # wobbling near 0: no alarm
    train.fit(model, scripted(to_zero, model), opt, len(to_zero), progress=False)
    blowup = [1.0] * 10 + [2.0, 10.0, 300.0]
    with pytest.raises(train.TrainingDiverged, match=r"step 12: the smoothed loss rose above 4x"):
        train.fit(model, scripted(blowup, model), opt, len(blowup), progress=False)


def test_smoother_is_the_debiased_moving_average():
    s = train.Smoother(beta=0.98)
    xs = [3.0, 1.0, 2.0, 0.5]
    got = [s.update(x) for x in xs]
    for n in range(1, len(xs) + 1):
        weights = [0.98 ** (n - 1 - i) * 0.02 for i in range(n)]
        expect = sum(w * x for w, x in zip(weights, xs[:n], strict=True)) / sum(weights)
        assert got[n - 1] == pytest.approx(expect, rel=1e-12)
    assert s.best == min(got)


def test_callbacks_see_each_step_and_can_stop():
    random.seed(2)
    model = nn.MLP(2, [3, 1])
    opt = optim.SGD(model.parameters(), lr=0.01)
    seen = []
    hist = train.fit(model, scripted([1.0] * 10, model), opt, 10, progress=False,
                     callbacks=[lambda step, loss: seen.append((step, loss)),
                                lambda step, loss: step == 3])
    assert seen == [(k, 1.0) for k in range(4)] and len(hist["loss"]) == 4


def test_progress_bar_shows_the_loss_when_asked_for(capsys):
    needs("tqdm", "the progress bar")
    random.seed(2)
    model = nn.MLP(2, [3, 1])
    opt = optim.SGD(model.parameters(), lr=0.01)
    train.fit(model, scripted([0.75] * 3, model), opt, 3, progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "loss=0.75" in err


class _Terminal:
    """A stderr that says it is a terminal and keeps what is written."""

    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_progress_bar_by_default_on_a_terminal_and_not_in_a_pipe(capsys, monkeypatch):
    needs("tqdm", "the progress bar")
    random.seed(2)
    model = nn.MLP(2, [3, 1])
    opt = optim.SGD(model.parameters(), lr=0.01)
    train.fit(model, scripted([0.5] * 4, model), opt, 4)  # capsys: stderr is no terminal
    assert capsys.readouterr().err == ""
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    train.fit(model, scripted([0.5] * 4, model), opt, 4)
    assert "4/4" in term.text and "loss=0.5" in term.text
    train.lr_find(model, scripted([0.5] * 6, model), opt, num_it=6)
    assert "lr_find" in term.text and "6/6" in term.text


def test_missing_tqdm_never_raises(monkeypatch, recwarn):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setattr("sys.stderr", _Terminal())
    random.seed(2)
    model = nn.MLP(2, [3, 1])
    opt = optim.SGD(model.parameters(), lr=0.01)
    assert len(train.fit(model, scripted([0.5] * 3, model), opt, 3)["loss"]) == 3
    assert not recwarn.list  # a bar was not asked for: no bar, no fuss
    with pytest.warns(UserWarning, match=r'needs tqdm \(pip install "zerograd\[progress\]"\)'):
        assert len(train.fit(model, scripted([0.5] * 3, model), opt, 3, progress=True)["loss"])


def test_progress_bar_in_jupyter_is_a_widget_or_plain_text(monkeypatch):
    needs("IPython", "a Jupyter kernel's shell")
    needs("tqdm", "the progress bar")
    import importlib.util
    import sys
    import types
    import warnings

    class ZMQInteractiveShell:  # what a Jupyter kernel's get_ipython() returns
        pass

    import IPython  # installed with ipykernel, a test dependency
    monkeypatch.setattr(IPython, "get_ipython", lambda: ZMQInteractiveShell())
    monkeypatch.setattr("sys.stderr", types.SimpleNamespace(write=lambda s: None,
                                                            flush=lambda: None))
    widgets = importlib.util.find_spec("ipywidgets") is not None
    bar = train.progress_bar(3, "fit")  # stderr is no terminal, but this is Jupyter
    assert bar is not None
    assert type(bar).__module__ == ("tqdm.notebook" if widgets else "tqdm.std")
    bar.close()
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # importing it fails
    with warnings.catch_warnings():  # no TqdmWarning ("IProgress not found") without widgets
        warnings.simplefilter("error")
        bar = train.progress_bar(3, "fit")
        assert type(bar).__module__ == "tqdm.std"
        bar.close()


def test_fit_refuses_bad_setups_before_training():
    random.seed(2)
    model, other = nn.MLP(2, [3, 1]), nn.MLP(2, [3, 1])
    opt = optim.SGD(other.parameters(), lr=0.01)
    before = snapshot(model.parameters())
    with pytest.raises(ValueError, match="updates none of the model's parameters"):
        train.fit(model, scripted([1.0], model), opt, 1, progress=False)
    good = optim.SGD(model.parameters(), lr=0.01)
    with pytest.raises(ValueError, match="steps must be a whole number >= 1"):
        train.fit(model, scripted([1.0], model), good, 0, progress=False)
    with pytest.raises(TypeError, match="must return a Value"):
        train.fit(model, lambda: 1.0, good, 1, progress=False)
    with pytest.raises(TypeError, match="loss_fn must be a function"):
        train.fit(model, 3.0, good, 1, progress=False)
    assert snapshot(model.parameters()) == before


# -- lr_find ---------------------------------------------------------------------------------
def test_valley_picks_two_thirds_down_the_longest_descent():
    decoy = [3.0, 2.8, 2.6, 2.4]  # a short early descent
    rise = [3.5, 4.0, 4.5, 5.0]
    down = [4.9 - 0.1 * k for k in range(31)]
    up = [2.0 + k for k in range(8)]
    curve = decoy + rise + down + up
    peak, end = len(decoy) + len(rise) - 1, len(decoy) + len(rise) + len(down) - 1
    assert train.valley(curve) == peak + int(2 / 3 * (end - peak))
    assert train.valley([1.0, 2.0, 3.0]) == 0  # no descent at all: the first point


def test_lr_find_suggestion_trains_moons_to_100_percent():
    X, y = moons()
    random.seed(0)
    model = nn.MLP(2, [8, 8, 1])
    opt = optim.Adam(model.parameters())
    result = train.lr_find(model, hinge_loss(model), opt, batch=lambda: (X, y), compile=True)
    assert 1e-4 < result.suggestion < 1
    opt.lr = result.suggestion
    train.fit(model, hinge_loss(model), opt, 200, batch=lambda: (X, y), compile=True,
              progress=False)
    assert accuracy(model, X, y) == 1.0


def test_fit_compiled_matches_eager_with_random_minibatches():
    X, y = moons(40, seed=6)

    def run(compile):
        random.seed(7)
        model = nn.MLP(2, [6, 1])
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

        def sample():
            picks = random.sample(range(len(X)), 8)
            return [X[i] for i in picks], [y[i] for i in picks]

        hist = train.fit(model, hinge_loss(model), opt, 15, batch=sample, compile=compile,
                         progress=False)
        return hist["loss"], [p.data for p in model.parameters()]

    (eager_loss, eager), (comp_loss, comp) = run(False), run(True)
    assert len(set(eager_loss)) > 5  # the batches really change
    assert comp_loss == pytest.approx(eager_loss, rel=1e-10, abs=1e-12)
    assert comp == pytest.approx(eager, rel=1e-10, abs=1e-12)


def test_lr_find_leaves_model_optimizer_and_rng_exactly_as_they_were():
    X, y = moons(30, seed=5)

    def setup():
        random.seed(3)
        model = nn.MLP(2, [4, 1])
        opt = optim.Adam(model.parameters(), lr=0.02)
        train.fit(model, hinge_loss(model), opt, 3, batch=lambda: (X, y), progress=False)
        model.zero_grad()
        hinge_loss(model)(X, y).backward()  # leave some gradient in place too
        return model, opt

    model, opt = setup()
    ref, ref_opt = setup()
    grads = [p.grad for p in model.parameters()]
    opt_state = opt.state_dict()
    random.seed(42)
    result = train.lr_find(model, hinge_loss(model), opt, num_it=40, batch=lambda: (X, y))
    assert random.random() == (random.seed(42) or random.random())
    assert len(result.lrs) > 10
    assert snapshot(model.parameters()) == snapshot(ref.parameters())
    assert [p.grad for p in model.parameters()] == grads
    assert opt.state_dict() == opt_state
    for m, o in ((model, opt), (ref, ref_opt)):  # and training goes on identically
        o.zero_grad()
        train.fit(m, hinge_loss(m), o, 5, batch=lambda: (X, y), progress=False)
    assert snapshot(model.parameters()) == snapshot(ref.parameters())


def test_lr_find_curve_is_exponential_and_stops_at_4x_best(tmp_path):
    needs("matplotlib", "the plot")
    X, y = moons(30, seed=5)
    random.seed(3)
    model = nn.MLP(2, [4, 1])
    opt = optim.SGD(model.parameters())
    result = train.lr_find(model, hinge_loss(model), opt, start_lr=1e-4, end_lr=1e4, num_it=50,
                           batch=lambda: (X, y))
    n = len(result.lrs)
    assert n < 50  # lr 1e4 blows the loss up: the sweep stops early
    ratio = (1e4 / 1e-4) ** (1 / 49)
    assert all(b / a == pytest.approx(ratio, rel=1e-12)
               for a, b in zip(result.lrs[:-1], result.lrs[1:], strict=True))
    assert result.lrs[0] == 1e-4
    assert result.losses[-1] > 4 * min(result.losses[:-1])
    assert all(s <= 4 * min(result.losses[: k + 1]) for k, s in enumerate(result.losses[:-1]))
    smoother = train.Smoother()
    assert result.losses == [smoother.update(r) for r in result.raw_losses]
    assert result.suggestion == result.lrs[result.index]
    png = tmp_path / "lr.png"
    assert result.plot(png) == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lr_find_restores_even_when_the_loss_raises():
    random.seed(3)
    model = nn.MLP(2, [3, 1])
    opt = optim.SGD(model.parameters(), lr=0.5)
    before = snapshot(model.parameters())
    calls = []

    def loss_fn():
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return sum(p * p for p in model.parameters())

    with pytest.raises(KeyboardInterrupt):
        train.lr_find(model, loss_fn, opt, start_lr=0.01, end_lr=0.1, num_it=10)
    assert snapshot(model.parameters()) == before and opt.lr == 0.5


def test_lr_find_checks_its_arguments():
    model = nn.MLP(2, [3, 1])
    opt = optim.SGD(model.parameters())
    fn = lambda: Value(1.0)  # noqa: E731
    with pytest.raises(ValueError, match="start_lr .* must be below end_lr"):
        train.lr_find(model, fn, opt, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="start_lr must be a positive finite number"):
        train.lr_find(model, fn, opt, start_lr=0.0)
    with pytest.raises(ValueError, match="num_it must be a whole number >= 2"):
        train.lr_find(model, fn, opt, num_it=1)


def test_cli_lr_find_prints_a_suggestion_and_writes_the_plot(tmp_path, capsys):
    needs("sklearn", "the moons dataset")
    needs("matplotlib", "the plot")
    from zerograd import cli

    png = tmp_path / "curve.png"
    code = cli.main(["lr-find", "moons", "--samples", "30", "--num-it", "30", "--plot", str(png)])
    out = capsys.readouterr().out
    assert code == 0
    line = next(ln for ln in out.splitlines() if ln.startswith("suggested learning rate: "))
    assert 1e-7 <= float(line.split(": ")[1]) <= 10
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert cli.main(["lr-find", "moons", "--start-lr", "5", "--end-lr", "1"]) == 2
    assert "must be below end_lr" in capsys.readouterr().err


def test_lr_find_result_has_a_short_readable_repr(restore_random):
    model = nn.MLP(2, [4, 1])
    X, y = [[0.5, -1.0], [1.0, 2.0], [-1.5, 0.5]], [1.0, -1.0, 1.0]
    opt = optim.SGD(model.parameters())
    found = train.lr_find(model, lambda: losses.mse([model(x) for x in X], y), opt, num_it=20)
    text = repr(found)
    assert text == (f"LRFinderResult({len(found.lrs)} points, lr {found.lrs[0]:.3g}.."
                    f"{found.lrs[-1]:.3g}, suggestion {found.suggestion:.3g})")
    assert text.startswith("LRFinderResult(") and "1e-07.." in text and len(text) < 80


# -- fit's fast path: compile=True keeps parameters and optimizer state in arrays -------------
def _fast_setup(opt_name: str = "Adam"):
    X, y = moons(60, seed=9)
    random.seed(11)
    model = nn.MLP(2, [8, 8, 1])
    kwargs = {"lr": 0.02, "weight_decay": 1e-3} if opt_name != "SGD" else {
        "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}
    opt = getattr(optim, opt_name)(model.parameters(), **kwargs)
    sched = optim.StepLR(opt, step_size=4, gamma=0.5)
    rng = random.Random(3)

    def batch():
        picks = rng.sample(range(len(X)), 16)
        return [X[i] for i in picks], [y[i] for i in picks]

    return model, opt, sched, batch


@pytest.mark.parametrize("opt_name,executor", [("SGD", True), ("Adam", True), ("AdamW", True),
                                               pytest.param("SGD", "jax", marks=JAX),
                                               pytest.param("Adam", "jax", marks=JAX),
                                               pytest.param("AdamW", "jax", marks=JAX)])
def test_the_fast_path_gives_the_eager_numbers_and_writes_them_back(opt_name, executor):
    """compile=True (auto: arrays on the host) and compile="jax" (parameters, gradients and
    the optimizer's state on the device, the update in XLA's program)."""
    seen = []

    def run(compile):
        model, opt, sched, batch = _fast_setup(opt_name)
        def watching():  # the Values as they are during the run
            seen.append((compile, model.parameters()[0].data))
            return batch()

        hist = train.fit(model, hinge_loss(model), opt, 12, scheduler=sched, batch=watching,
                         compile=compile, progress=False)
        return hist, [p.data for p in model.parameters()], [p.grad for p in model.parameters()], \
            opt.state_dict()

    (h0, d0, g0, s0), (h1, d1, g1, s1) = run(False), run(executor)
    assert h1["loss"] == pytest.approx(h0["loss"], rel=1e-12, abs=1e-14) and h1["lr"] == h0["lr"]
    assert d1 == pytest.approx(d0, rel=1e-12, abs=1e-14)
    assert g1 == pytest.approx(g0, rel=1e-12, abs=1e-14)  # the last step's gradients too
    for i, entry in s0["state"].items():
        assert s1["state"][i] == pytest.approx(entry, rel=1e-12, abs=1e-14)
    during = [x for compiled, x in seen if compiled]
    assert len(set(during)) == 1  # the Values were left alone while the arrays trained


def test_fit_says_what_compile_takes_before_it_trains():
    model, opt, _, batch = _fast_setup()
    before = [p.data for p in model.parameters()]
    with pytest.raises(TypeError, match="compile must be True, False or an executor's name"):
        train.fit(model, hinge_loss(model), opt, 3, batch=batch, compile=1, progress=False)
    with pytest.raises(ValueError, match="unknown executor 'numba'"):
        train.fit(model, hinge_loss(model), opt, 3, batch=batch, compile="numba", progress=False)
    assert [p.data for p in model.parameters()] == before and not opt.state_dict()["state"]


@pytest.mark.parametrize("executor", [True, pytest.param("jax", marks=JAX)])
def test_a_checkpoint_taken_in_a_callback_is_exact(executor):
    def run(compile):
        model, opt, sched, batch = _fast_setup()
        saved = {}

        def cb(step, loss):
            if step == 6:
                saved["ckpt"] = zg.io.checkpoint(model, opt, sched, step=step)

        train.fit(model, hinge_loss(model), opt, 10, scheduler=sched, batch=batch,
                  compile=compile, callbacks=[cb], progress=False)
        return saved["ckpt"]

    def numbers(x):
        if isinstance(x, dict):
            return [n for k in sorted(x, key=str) for n in numbers(x[k])]
        if isinstance(x, (list, tuple)):
            return [n for e in x for n in numbers(e)]
        return [x] if isinstance(x, float) else []

    eager, fast = run(False), run(executor)
    assert eager["step"] == fast["step"] == 6
    assert len(numbers(fast)) > 3 * 105  # the model's 105 numbers and Adam's two per number
    assert numbers(fast) == pytest.approx(numbers(eager), rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("executor", [True, pytest.param("jax", marks=JAX)])
def test_a_callback_that_changes_the_parameters_is_honoured(executor):
    def run(compile):
        model, opt, _, batch = _fast_setup()

        def halve(step, loss):
            if step == 3:
                for p in model.parameters():
                    p.data *= 0.5

        train.fit(model, hinge_loss(model), opt, 8, batch=batch, compile=compile,
                  callbacks=[halve], progress=False)
        return [p.data for p in model.parameters()]

    assert run(executor) == pytest.approx(run(False), rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("error,executor", [(KeyboardInterrupt, True), (RuntimeError, True),
                                            pytest.param(KeyboardInterrupt, "jax", marks=JAX)])
def test_an_interrupted_fast_run_loses_nothing(error, executor):
    """Ctrl-C (or any error) in step 5: the Values hold the 5 steps taken, exactly as the
    eager loop leaves them, and training on from there gives the uninterrupted numbers."""
    def run(compile, stop_at):
        model, opt, sched, batch = _fast_setup()
        calls = [0]

        def maybe_stop():
            calls[0] += 1
            if calls[0] == stop_at:
                raise error("stopped")
            return batch()

        with pytest.raises(error):
            train.fit(model, hinge_loss(model), opt, 20, scheduler=sched, batch=maybe_stop,
                      compile=compile, progress=False)
        return model, opt, sched, batch

    model_e, *_ = run(False, 6)
    model_f, opt_f, sched_f, batch_f = run(executor, 6)
    assert [p.data for p in model_f.parameters()] == pytest.approx(
        [p.data for p in model_e.parameters()], rel=1e-12, abs=1e-14)
    assert opt_f._t == 5
    train.fit(model_f, hinge_loss(model_f), opt_f, 5, scheduler=sched_f, batch=batch_f,
              compile=executor, progress=False)
    model_s, opt_s, sched_s, batch_s = _fast_setup()
    train.fit(model_s, hinge_loss(model_s), opt_s, 10, scheduler=sched_s, batch=batch_s,
              compile=True, progress=False)
    assert [p.data for p in model_f.parameters()] == pytest.approx(
        [p.data for p in model_s.parameters()], rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("executor", ["numpy", pytest.param("jax", marks=JAX)])
def test_a_loss_compiled_by_the_user_takes_the_fast_path(executor):
    """fit(model, zg.compile(loss), ...): the compiled loss is used as it is (traced once for
    every fit), with the fast path's numbers; another executor's name is refused first."""
    model, opt, sched, batch = _fast_setup("SGD")
    compiled = zg.compile(hinge_loss(model), executor=executor)
    first = train.fit(model, compiled, opt, 4, scheduler=sched, batch=batch, progress=False)
    tape = compiled.executor
    second = train.fit(model, compiled, opt, 4, scheduler=sched, batch=batch, compile=True,
                       progress=False)
    assert compiled.executor is tape  # not traced again
    model_e, opt_e, sched_e, batch_e = _fast_setup("SGD")
    eager = train.fit(model_e, hinge_loss(model_e), opt_e, 8, scheduler=sched_e,
                      batch=batch_e, progress=False)
    assert first["loss"] + second["loss"] == pytest.approx(eager["loss"], rel=1e-12, abs=1e-14)
    assert [p.data for p in model.parameters()] == pytest.approx(
        [p.data for p in model_e.parameters()], rel=1e-12, abs=1e-14)
    other = "numpy" if executor == "jax" else "jax"
    before = [p.data for p in model.parameters()]
    with pytest.raises(ValueError, match=f"already compiled with executor '{executor}'"):
        train.fit(model, compiled, opt, 2, batch=batch, compile=other, progress=False)
    assert [p.data for p in model.parameters()] == before


@pytest.mark.parametrize("executor", [True, pytest.param("jax", marks=JAX)])
def test_a_diverging_fast_run_stops_before_the_update(executor):
    """The step whose loss blew up is not applied: the Values hold the numbers it was taken
    at, as in the eager loop."""
    def run(compile):
        model, opt, _, batch = _fast_setup("SGD")
        opt.lr = 40.0  # blows the hinge loss up within a few steps
        with pytest.raises(train.TrainingDiverged) as info:
            train.fit(model, hinge_loss(model), opt, 50, batch=batch, compile=compile,
                      progress=False)
        return info.value, [p.data for p in model.parameters()]

    (e0, d0), (e1, d1) = run(False), run(executor)
    assert e1.step == e0.step and e1.history["loss"] == pytest.approx(e0.history["loss"],
                                                                       rel=1e-12)
    assert d1 == pytest.approx(d0, rel=1e-12, abs=1e-14)


def _closure_setup(opt_name: str, lr: float):
    """The fast-path net with its data in the loss (no batch function), as micrograd's demo
    writes it."""
    X, y = moons(40, seed=5)
    random.seed(12)
    model = nn.MLP(2, [8, 8, 1])
    kwargs = {"lr": lr, "momentum": 0.9, "dampening": 0.1} if opt_name == "SGD" else {"lr": lr}
    opt = getattr(optim, opt_name)(model.parameters(), **kwargs)
    loss = hinge_loss(model)
    return model, opt, lambda: loss(X, y)


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_a_jax_run_with_known_inputs_sends_each_step_ahead(opt_name):
    """No batch function, scheduler or callback: each program call runs STEPS_PER_CALL
    steps and is sent to the device before the one before it has been checked, and used
    (10 steps: 3 calls of 4, plus the one sent ahead); the numbers are the eager loop's.
    With a scheduler nothing is sent ahead: one call a step."""
    needs("jax", "the jax executor")
    def run(compile, scheduler=False):
        model, opt, loss = _closure_setup(opt_name, 0.05)
        sched = optim.StepLR(opt, step_size=3, gamma=0.5) if scheduler else None
        calls = [0]
        if compile:
            loss = zg.compile(loss, executor="jax")
            loss.prepare()
            make = loss.executor.training_step

            def counted(*args):
                program = make(*args)

                def call(*inputs):
                    calls[0] += 1
                    return program(*inputs)
                return call

            loss.executor.training_step = counted
        hist = train.fit(model, loss, opt, 10, scheduler=sched, progress=False)
        ps = model.parameters()
        return hist["loss"], [p.data for p in ps] + [p.grad for p in ps] + [opt._t], (
            opt.state_dict()), calls[0]

    (h0, d0, s0, _), (h1, d1, s1, calls) = run(False), run(True)
    assert train.STEPS_PER_CALL == 4 and calls == 3 + 1
    assert h1 == pytest.approx(h0, rel=1e-12, abs=1e-14)
    # the run ends 2 steps into its third call: numbers, grads and state as eager leaves them
    assert d1 == pytest.approx(d0, rel=1e-12, abs=1e-14)
    for i, entry in s0["state"].items():
        assert s1["state"][i] == pytest.approx(entry, rel=1e-12, abs=1e-14)
    (h2, d2, _, _), (h3, d3, _, calls) = run(False, True), run(True, True)
    assert calls == 10 and h3 == pytest.approx(h2, rel=1e-12, abs=1e-14)
    assert d3 == pytest.approx(d2, rel=1e-12, abs=1e-14)


def test_a_step_sent_ahead_of_a_diverging_one_is_dropped():
    needs("jax", "the jax executor")
    def run(compile):
        model, opt, loss = _closure_setup("SGD", 60.0)
        with pytest.raises(train.TrainingDiverged) as info:
            train.fit(model, loss, opt, 50, compile=compile, progress=False)
        return info.value, [p.data for p in model.parameters()], opt.state_dict()

    (e0, d0, s0), (e1, d1, s1) = run(False), run("jax")
    assert e1.step == e0.step > 0
    assert e1.history["loss"] == pytest.approx(e0.history["loss"], rel=1e-12)
    assert d1 == pytest.approx(d0, rel=1e-12, abs=1e-14)
    assert [e["momentum_buffer"] for e in s1["state"].values()] == pytest.approx(
        [e["momentum_buffer"] for e in s0["state"].values()], rel=1e-12, abs=1e-14)


def test_a_step_sent_ahead_is_used_only_on_the_numbers_it_assumed():
    """A step evaluated again without its update (fit raised, and the run goes on) gets
    the numbers it is at, not the step sent ahead on the update it did not keep."""
    needs("jax", "the jax executor")
    model, opt, loss = _closure_setup("Adam", 0.05)
    from zerograd.compile import training

    run = training.start(zg.compile(loss, executor="jax"), lambda: (), opt, ahead=True)
    first = run.evaluate()
    assert run.sent is not None  # the next step is on its way
    assert run.evaluate() == pytest.approx(first, rel=1e-12)  # not the step sent ahead
    run.update()
    lr = opt.lr
    opt.lr = lr / 2  # the step sent ahead assumed the old rate: it is run again
    second = run.evaluate()
    run.write_back()
    model_e, opt_e, loss_e = _closure_setup("Adam", 0.05)
    eager = train.fit(model_e, loss_e, opt_e, 1, progress=False)["loss"]
    opt_e.lr = lr / 2
    assert [first[0], second[0]] == pytest.approx(
        eager + train.fit(model_e, loss_e, opt_e, 1, progress=False)["loss"], rel=1e-12)


@pytest.mark.parametrize("executor", [True, pytest.param("jax", marks=JAX)])
def test_the_fast_path_trains_what_the_optimizer_holds(executor):
    """The optimizer holds the last layer and a Value the loss never reads; the loss reads
    the first layers too (their numbers are taken, not trained). As in the eager loop: the
    unread Value only decays, the untrained layers stay as they are."""
    def run(compile):
        X, y = moons(30, seed=4)
        random.seed(8)
        model = nn.MLP(2, [6, 6, 1])
        spare = Value(0.75)
        opt = optim.SGD([*model.layers[-1].parameters(), spare], lr=0.1, momentum=0.5,
                        weight_decay=0.1)
        loss = hinge_loss(model)
        hist = train.fit(model, lambda: loss(X, y), opt, 6, compile=compile, progress=False)
        return hist["loss"], [p.data for p in model.parameters()] + [spare.data], \
            [p.grad for p in opt.params]

    (h0, d0, g0), (h1, d1, g1) = run(False), run(executor)
    assert h1 == pytest.approx(h0, rel=1e-12, abs=1e-14)
    assert d1 == pytest.approx(d0, rel=1e-12, abs=1e-14)
    assert g1 == pytest.approx(g0, rel=1e-12, abs=1e-14)
    assert d1[-1] != 0.75 and g1[-1] == 0.0


# -- Step: a hand-written loop's compiled step ------------------------------------------------
def _step_setup(opt_name: str = "Adam"):
    X, y = moons(40, seed=5)
    random.seed(7)  # (seed 11 leaves a bias whose gradient cancels to ~1e-6: Adam, which
    # steps by about lr whatever its size, then carries its 1e-11 rounding into the numbers)
    model = nn.MLP(2, [8, 8, 1])
    kwargs = {"lr": 0.02, "weight_decay": 1e-3} if opt_name != "SGD" else {
        "lr": 0.1, "momentum": 0.9}
    opt = getattr(optim, opt_name)(model.parameters(), **kwargs)
    loss = lambda X, y: losses.hinge([model(x) for x in X], y) + 1e-4 * sum(  # noqa: E731
        p * p for p in model.parameters())
    return model, opt, loss, X, y


def _eager_step(loss_fn, opt, *args):
    """The four lines a Step stands for; returns the loss."""
    loss = loss_fn(*args)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


def _numbers(model, opt) -> list[float]:
    state = opt.state_dict()["state"]
    return ([p.data for p in model.parameters()] + [p.grad for p in model.parameters()]
            + [x for i in sorted(state) for k in sorted(state[i]) for x in [state[i][k]]])


@pytest.mark.parametrize("opt_name,compile", [("SGD", True), ("Adam", True),
                                              pytest.param("SGD", "jax", marks=JAX),
                                              pytest.param("Adam", "jax", marks=JAX)])
def test_a_compiled_step_leaves_the_values_as_the_hand_written_loop_does(opt_name, compile):
    """After every call the parameters' data and grads and the optimizer's state are the
    eager loop's (zero_grad, backward, step), and the step ran in arrays."""
    model_e, opt_e, loss_e, X, y = _step_setup(opt_name)
    model_s, opt_s, loss_s, _, _ = _step_setup(opt_name)
    step = train.Step(loss_s, opt_s, compile=compile)
    for _ in range(8):
        loss = _eager_step(loss_e, opt_e, X, y)
        assert step(X, y) == pytest.approx(loss.data, rel=1e-12)
        assert _numbers(model_s, opt_s) == pytest.approx(_numbers(model_e, opt_e), rel=1e-12,
                                                         abs=1e-14)
    executor = "numpy" if compile is True else compile
    assert step.fast is not None and step.fast.compiled.executor.name == executor
    assert f"arrays, executor {executor!r}" in repr(step)


@pytest.mark.parametrize("compile", [True, pytest.param("jax", marks=JAX)])
def test_a_compiled_step_uses_what_the_loop_changed_between_calls(compile):
    """The loop halves the weights after step 3 and lowers the rate after step 5; the next
    calls train on from there, as the eager loop does."""
    def run(step_fn):
        model, opt, loss, X, y = _step_setup()
        step = step_fn(loss, opt)
        for k in range(8):
            step(X, y)
            if k == 3:
                for p in model.parameters():
                    p.data *= 0.5
            if k == 5:
                opt.lr = 0.005
        return _numbers(model, opt)

    assert run(lambda loss, opt: train.Step(loss, opt, compile=compile)) == pytest.approx(
        run(lambda loss, opt: lambda X, y: _eager_step(loss, opt, X, y)), rel=1e-12,
        abs=1e-14)


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_an_interrupted_step_leaves_the_last_whole_step(error, monkeypatch):
    """Ctrl-C (or an error) inside call 4: the Values and Adam's state are those of the 3
    steps taken, and stepping on gives the uninterrupted run's numbers."""
    model, opt, loss, X, y = _step_setup()
    step = train.Step(loss, opt)
    for _ in range(3):
        step(X, y)
    after3 = _numbers(model, opt)
    compiled = step.fast.compiled
    real = compiled.value_and_grad

    def stop(*args):
        raise error("stopped")

    monkeypatch.setattr(compiled, "value_and_grad", stop)
    with pytest.raises(error):
        step(X, y)
    assert _numbers(model, opt) == after3 and opt._t == 3
    monkeypatch.setattr(compiled, "value_and_grad", real)
    for _ in range(3):
        step(X, y)
    model_u, opt_u, loss_u, _, _ = _step_setup()
    uninterrupted = train.Step(loss_u, opt_u)
    for _ in range(6):
        uninterrupted(X, y)
    assert _numbers(model, opt) == _numbers(model_u, opt_u)


@pytest.mark.parametrize("lr, warned", [(10.0, True), (0.05, False)])
def test_a_compiled_step_warns_of_a_learning_rate_that_leaves_the_net_stuck(lr, warned):
    """The lecture's network at lr 10 gets stuck with vanished gradients: the step warns,
    pointing at the loop's line, as the hand-written loop does; at 0.05 it is silent."""
    import warnings

    X = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    Y = [1.0, -1.0, -1.0, 1.0]
    random.seed(2)
    n = nn.MLP.lecture(3, [4, 4, 1])
    step = train.Step(lambda X: sum((n(x) - t) ** 2 for x, t in zip(X, Y)),
                      optim.SGD(n.parameters(), lr=lr))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = [step(X) for _ in range(50)]
    texts = [str(w.message) for w in caught]
    if warned:
        assert len(texts) == 1 and "gradients vanished" in texts[0]
        assert "learning rate" in texts[0] and caught[0].filename == __file__
    else:
        assert texts == [] and values[-1] < 0.05


def _passed_100x(losses: list[float]) -> int | None:
    """The first step whose loss is over 100x the best before it (or nan/inf)."""
    return next((k for k in range(1, len(losses)) if not losses[k] <= 100 * min(losses[:k])),
                None)


def _watched(step, args: tuple = (), steps: int = 100) -> tuple[list[float], list]:
    """``step(*args)`` ``steps`` times: the losses and (step, warning) of each warning."""
    import warnings

    values, said = [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(steps):
            values.append(step(*args))
            said += [(k, w) for w in caught[len(said):]]
    return values, said


@pytest.mark.parametrize("compile", [False, True])
@pytest.mark.parametrize("lr", [0.5, 1e10])
def test_a_step_warns_when_the_update_blows_the_loss_up(compile, lr):
    """SGD at lr 0.5 on a squared loss grows it by orders of magnitude a step (it overflows at
    step 90): the step names the growth within a step or two; at lr 1e10 the second update
    overflows it before the growth rule has seen two steps: "the loss became inf". Compiled
    as in the Values' loop, naming the loop's line."""
    X, y = moons(40, seed=5)
    random.seed(7)
    model = nn.MLP(2, [8, 8, 1])
    step = train.Step(lambda X, y: sum((model(x) - t) ** 2 for x, t in zip(X, y)),
                      optim.SGD(model.parameters(), lr=lr), compile=compile)
    values, said = _watched(step, (X, y))
    said = [(k, w) for k, w in said if w.category is zg.TrainingWarning]
    assert math.isinf(max(values)) and len(said) == 1
    (k, w), text, passed = said[0], str(said[0][1].message), _passed_100x(values)
    assert w.filename == __file__
    if lr == 0.5:
        assert passed <= k <= passed + 5 and math.isfinite(values[k])
        assert text.startswith(f"the loss grew from {min(values[:k + 1]):.3g} to ")
        assert "learning rate is the likely cause" in text and "lr_find" in text
    else:
        assert values[k] == math.inf and values[k - 1] > 100 * values[0]  # grown, then inf
        assert "the loss became inf" in text and "the update blew it up" in text


def _micrograd_mlp(seed: int, lr: float) -> tuple[nn.MLP, Any, Any]:
    """micrograd's MLP(3, [4, 4, 1]) (ReLU, linear output), SGD at ``lr``, and the lecture's
    summed squared error on its 4 examples."""
    xs, ys = zg.data.lecture()
    random.seed(seed)
    n = nn.MLP(3, [4, 4, 1])
    return n, optim.SGD(n.parameters(), lr=lr), lambda: sum(
        (n(x) - t) ** 2 for x, t in zip(xs, ys))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_compiled_step_names_a_loss_grown_by_orders_of_magnitude(seed):
    """micrograd's MLP at lr 10: the loss grows ~1e4x a step (inf near step 80); the compiled
    step warns within 5 steps of it passing 100x its best, naming the learning rate."""
    _, opt, loss_fn = _micrograd_mlp(seed, 10.0)
    values, said = _watched(train.Step(loss_fn, opt, compile=True))
    passed = _passed_100x(values)
    assert passed is not None and len(said) == 1
    (k, w), text = said[0], str(said[0][1].message)
    assert w.category is zg.TrainingWarning and w.filename == __file__
    assert passed <= k <= passed + 5 and math.isfinite(values[k])
    assert text.startswith(f"the loss grew from {min(values[:k + 1]):.3g} to ")
    assert "after updates" in text and "learning rate is the likely cause" in text


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_stops_a_loss_grown_by_orders_of_magnitude_within_5_steps(seed):
    """The same run through fit: its smoothed-loss rule stops it within 5 steps of the loss
    passing 100x its best (the hand-written loop's losses, which fit's are bit for bit)."""
    n, opt, loss_fn = _micrograd_mlp(seed, 10.0)
    hand = []
    with pytest.warns(zg.TrainingWarning, match="the loss grew from"):  # the same watch
        for _ in range(10):
            loss = loss_fn()
            n.zero_grad()
            loss.backward()
            opt.step()
            hand.append(loss.data)
    passed = _passed_100x(hand)
    n, opt, loss_fn = _micrograd_mlp(seed, 10.0)
    with pytest.raises(train.TrainingDiverged) as info:
        train.fit(n, loss_fn, opt, 100, progress=False)
    err = info.value
    assert passed is not None and err.step <= passed + 5
    assert err.history["loss"] + [err.loss] == hand[:err.step + 1]
    assert "learning rate 10" in str(err) and "lr_find" in str(err)


def test_a_step_refuses_bad_arguments_before_it_changes_anything():
    model, opt, loss, X, y = _step_setup()
    before = _numbers(model, opt)
    with pytest.raises(TypeError, match="loss_fn must be a function"):
        train.Step(3.0, opt)
    with pytest.raises(TypeError, match="optimizer must be a zerograd optimizer"):
        train.Step(loss, object())
    with pytest.raises(TypeError, match="compile must be True, False or an executor's name"):
        train.Step(loss, opt, compile=1)
    with pytest.raises(ValueError, match="unknown executor 'numba'"):
        train.Step(loss, opt, compile="numba")
    step = train.Step(loss, opt)
    step(X, y)
    after = _numbers(model, opt)
    with pytest.raises(ValueError, match="arguments of another structure or shape"):
        step(X[:10], y[:10])
    assert _numbers(model, opt) == after != before


def test_a_step_without_arrays_is_the_four_lines_bit_for_bit():
    """compile=False, and a compiled loss inside detect_anomaly(): the Values' loop, the
    eager numbers to the last bit."""
    model_e, opt_e, loss_e, X, y = _step_setup()
    model_s, opt_s, loss_s, _, _ = _step_setup()
    plain = train.Step(loss_s, opt_s, compile=False)
    for _ in range(3):
        assert plain(X, y) == _eager_step(loss_e, opt_e, X, y).data
    assert _numbers(model_s, opt_s) == _numbers(model_e, opt_e)
    assert plain.fast is None and "the Values' loop" in repr(plain)
    model_c, opt_c, loss_c, _, _ = _step_setup()
    checked = train.Step(loss_c, opt_c, compile="python")
    with zg.detect_anomaly():
        for _ in range(3):
            checked(X, y)
    assert _numbers(model_c, opt_c) == _numbers(model_e, opt_e)
