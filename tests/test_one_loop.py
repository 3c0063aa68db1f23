"""The faces train through one loop: the demos through ``zg.train.fit``; ``zerograd train``
and the playground's trainer, which show the lecture's own hand-written loop, through
``zg.lecture.step``."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import needs

import zerograd as zg
from zerograd import cli, demos, lecture, optim
from zerograd.playground import config, session

SRC = str(Path(__file__).resolve().parents[1] / "src")
XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]


def lecture_loss(model):
    return sum((model(x) - y) ** 2 for x, y in zip(XS, YS, strict=True))


# -- zg.lecture.step -----------------------------------------------------------------------
def test_step_is_the_lectures_loop_bit_for_bit(restore_random):
    random.seed(1337)
    mine = lecture.MLP(3, [4, 4, 1])
    random.seed(1337)
    theirs = lecture.MLP(3, [4, 4, 1])
    params = mine.parameters()
    for _ in range(20):
        loss = lecture_loss(theirs)  # the lecture's notebook, written out
        for p in theirs.parameters():
            p.grad = 0.0
        loss.backward()
        for p in theirs.parameters():
            p.data += -0.05 * p.grad
        assert lecture.step(lecture_loss(mine), params, 0.05) == loss.data
    assert [(p.data, p.grad) for p in params] == [(p.data, p.grad) for p in theirs.parameters()]


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps, lr=0.05)])
def test_step_with_an_optimizer_is_zero_grad_backward_step(make, restore_random):
    random.seed(3)
    mine = zg.nn.MLP(3, [4, 1])
    random.seed(3)
    theirs = zg.nn.MLP(3, [4, 1])
    opt_mine, opt_theirs = make(mine.parameters()), make(theirs.parameters())
    for _ in range(5):
        loss = lecture_loss(theirs)
        opt_theirs.zero_grad()
        loss.backward()
        opt_theirs.step()
        assert lecture.step(lecture_loss(mine), mine.parameters(), opt_mine) == loss.data
    assert [p.data for p in mine.parameters()] == [p.data for p in theirs.parameters()]


def test_step_forgetting_zero_grad_is_the_lectures_mistake_and_is_named(restore_random):
    random.seed(1337)
    model = lecture.MLP(3, [4, 4, 1])
    params = model.parameters()
    lecture.step(lecture_loss(model), params, 0.05, zero_grad=False)
    first = [p.grad for p in params]
    twin = lecture.MLP(3, [4, 4, 1])  # the next pass's own gradients, on a copy
    twin.load_state_dict(model.state_dict())
    lecture_loss(twin).backward()
    with pytest.warns(zg.TrainingWarning, match="added new gradients to old ones"):
        lecture.step(lecture_loss(model), params, 0.05, zero_grad=False)
    summed = [a + b.grad for a, b in zip(first, twin.parameters(), strict=True)]
    assert [p.grad for p in params] == pytest.approx(summed, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("loss, update, words", [
    ("loss", "0.1", "update must be a learning rate"),
    ("loss", True, "update must be a learning rate"),
    ("loss", None, "update must be a learning rate"),
    (1.5, 0.1, "step needs the loss"),
])
def test_step_refuses_bad_arguments_before_touching_anything(loss, update, words,
                                                              restore_random):
    random.seed(0)
    model = lecture.MLP(3, [2, 1])
    params = model.parameters()
    real = lecture_loss(model)
    real.backward()
    before = [(p.data, p.grad) for p in params]
    with pytest.raises(TypeError, match=words):
        lecture.step(real if loss == "loss" else loss, params, update)
    assert [(p.data, p.grad) for p in params] == before


def counting(monkeypatch, module, name):
    """Replace ``module.name`` with a wrapper that records each call's arguments."""
    real, calls = getattr(module, name), []

    def wrapper(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def test_zerograd_train_runs_the_shared_step(monkeypatch, capsys):
    calls = counting(monkeypatch, lecture, "step")
    assert cli.main(["train", "--steps", "3", "--lr", "0.1"]) == 0
    assert len(calls) == 3 and all(args[2] == 0.1 for args, _ in calls)
    printed = [float(ln.split()[-1]) for ln in capsys.readouterr().out.splitlines()
               if ln.startswith("step")]
    assert len(printed) == 3 and printed[2] < printed[0]


@pytest.mark.parametrize("optimizer, forget", [("gd", True), ("gd", False), ("adam", False)])
def test_the_playgrounds_trainer_runs_the_shared_step(monkeypatch, optimizer, forget):
    calls = counting(monkeypatch, lecture, "step")
    cfg = config.check({"dataset": "lecture", "hidden": [4], "optimizer": optimizer,
                        "forget_zero_grad": forget}, config.DEFAULTS)
    trainer = session.Trainer(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", zg.TrainingWarning)
        losses = [trainer.step() for _ in range(2)]
    assert len(calls) == 2 and trainer.steps == 2 and trainer.loss == losses[-1]
    (loss, params, update), kwargs = calls[0]
    assert params is trainer.params and kwargs == {"zero_grad": not forget}
    assert update is (trainer.opt if optimizer == "adam" else cfg["lr"])


# -- the demos train with zg.train.fit ---------------------------------------------------------
@pytest.mark.parametrize("name, opt, schedule", [
    pytest.param("moons", optim.SGD, optim.LambdaLR,
                 marks=pytest.mark.needs("sklearn", "the moons dataset")),
    ("spiral", optim.Adam, optim.CosineAnnealingLR),
])
def test_the_demos_train_with_fit(monkeypatch, name, opt, schedule):
    if name == "moons":
        needs("sklearn", "the moons dataset")
    calls = counting(monkeypatch, demos, "fit")
    lines: list[str] = []
    result = demos.DEMOS[name](steps=3, out=None, progress=False, print_every=1,
                               log=lines.append)
    assert len(calls) == 1
    (model, _, optimizer, steps), kwargs = calls[0]
    assert model is result.model and steps == 3
    assert type(optimizer) is opt and type(kwargs["scheduler"]) is schedule
    assert len(kwargs["callbacks"]) == 1 and kwargs["batch"] is not None
    assert len(result.history["loss"]) == 3
    assert len([ln for ln in lines if ln.startswith("step ")]) == 3


def test_a_demo_fit_stops_writes_its_plots_and_says_why(tmp_path):
    needs("matplotlib", "the demo's plots")
    lines: list[str] = []
    with pytest.raises(zg.TrainingDiverged, match="training diverged at step 1"):
        demos.spiral(lr=10.0, compile=True, out=str(tmp_path), progress=False,
                     print_every=1, log=lines.append)
    assert "stopped after 1 step" in lines
    assert (tmp_path / "spiral_loss.png").is_file()
    assert (tmp_path / "spiral_boundary.png").is_file()


def test_zerograd_demo_that_diverges_is_a_one_line_error(tmp_path):
    needs("matplotlib", "the demo's plots")
    done = subprocess.run([sys.executable, "-m", "zerograd", "demo", "spiral", "--lr", "10",
                           "--compile", "--out", str(tmp_path), "--no-progress"],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=SRC))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    errors = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1 and errors[0].startswith(
        "zerograd demo: error: training diverged at step 1: ")
    assert "Lower the learning rate" in errors[0]
    assert "stopped after 1 step" in done.stdout
    assert (tmp_path / "spiral_loss.png").is_file()
