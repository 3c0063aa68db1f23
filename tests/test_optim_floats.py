"""The optimizers' one formula: ``step()`` on Python floats and on NumPy arrays gives the same
bits, and ``step()`` and ``fit`` without compile run with NumPy absent."""

from __future__ import annotations

import json
import os
import random
import struct
import subprocess
import sys

import pytest

import zerograd as zg
from zerograd import optim
from zerograd.engine import Value

SRC = os.path.dirname(os.path.dirname(os.path.abspath(zg.__file__)))

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.2}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "eps": 0.0}),
    ("AdamW", {"lr": 0.01, "amsgrad": True, "eps": 0.0, "betas": (0.5, 0.0)}),
]
SPECIAL = [0.0, -0.0, float("inf"), -float("inf"), float("nan"), 1e308, -5e-324, 1e-300]


def bits(x: float) -> object:
    """A float's bits, every nan alike (NumPy's 0/0 and Python's nan differ in sign only)."""
    return "nan" if x != x else struct.pack("<d", x)


def run(name: str, kw: dict, arrays: bool, monkeypatch: pytest.MonkeyPatch) -> list:
    """6 steps (a StepLR halving the rate every 2) on 30 parameters whose gradients include
    zeros, infinities, nan and extremes: the numbers and the state after each step."""
    monkeypatch.setattr(optim, "ARRAYS_FROM", 0 if arrays else 10**9)
    rng = random.Random(5)
    params = [Value(rng.uniform(-2, 2)) for _ in range(30)]
    opt = getattr(optim, name)(params, **kw)
    sched = optim.StepLR(opt, step_size=2, gamma=0.5)
    seen = []
    for step in range(6):
        for i, p in enumerate(params):
            p.grad = SPECIAL[(i + step) % len(SPECIAL)] if i % 5 == 0 else rng.gauss(0, 1)
        opt.step()
        sched.step()
        state = opt.state_dict()["state"]
        seen.append([bits(p.data) for p in params]
                    + [bits(v) for i in sorted(state) for k in sorted(state[i])
                       for v in [float(state[i][k])]])
        assert all(type(p.data) is float for p in params)
    return seen


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's, on the arrays' nan and inf
@pytest.mark.parametrize("name,kw", CONFIGS)
def test_step_on_floats_and_on_arrays_gives_the_same_bits(name, kw, monkeypatch):
    floats = run(name, kw, False, monkeypatch)
    arrays = run(name, kw, True, monkeypatch)
    assert floats == arrays
    assert any(b == "nan" for b in floats[-1])  # the special gradients reached the numbers


def test_step_switches_between_floats_and_arrays_without_losing_state(monkeypatch):
    """An optimizer stepped on floats, then on arrays (compiled training's ``apply``), then on
    floats again, gives the numbers of one stepped on floats throughout."""
    def make():
        ps = [Value(x / 7) for x in range(-5, 6)]
        return ps, optim.Adam(ps, lr=0.05, amsgrad=True)

    def grads(ps, k):
        for i, p in enumerate(ps):
            p.grad = (i - 4.5) * 0.3 + k

    ps_a, opt_a = make()
    ps_b, opt_b = make()
    for k in range(6):
        grads(ps_a, k)
        grads(ps_b, k)
        opt_a.step()
        monkeypatch.setattr(optim, "ARRAYS_FROM", 0 if k in (2, 3) else 10**9)
        opt_b.step()
    assert [p.data for p in ps_b] == [p.data for p in ps_a]
    assert opt_b.state_dict() == opt_a.state_dict()


LECTURE = r"""
import json, random, sys
if sys.argv[1] == "blocked":
    sys.modules["numpy"] = None  # import numpy raises ImportError
else:
    import numpy  # noqa: F401  (loaded: step() runs on arrays)
from zerograd import losses, nn, optim, train

xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
ys = [1.0, -1.0, -1.0, 1.0]
out = {}
for name, kw in (("SGD", {"lr": 0.05, "momentum": 0.9}),
                 ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.01})):
    random.seed(1)
    model = nn.MLP(3, [4, 4, 1])
    opt = getattr(optim, name)(model.parameters(), **kw)
    hist = train.fit(model, lambda: losses.mse([model(x) for x in xs], ys), opt, 25,
                     scheduler=optim.StepLR(opt, 10, 0.5), progress=False)
    out[name] = [hist["loss"], [p.data for p in model.parameters()], opt.state_dict()]
out["numpy"] = sys.modules.get("numpy") is not None
print(json.dumps(out))
"""


def test_fit_without_compile_trains_the_lecture_net_with_numpy_absent():
    """With NumPy absent, fit's eager loop (the optimizers' step on floats) gives the numbers
    it gives with NumPy loaded (the step on arrays)."""
    def lecture(how: str) -> dict:
        done = subprocess.run([sys.executable, "-c", LECTURE, how], capture_output=True,
                              text=True, env={**os.environ, "PYTHONPATH": SRC})
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    without, with_numpy = lecture("blocked"), lecture("loaded")
    assert not without.pop("numpy") and with_numpy.pop("numpy")
    for name in ("SGD", "Adam"):
        assert without[name] == with_numpy[name]  # every loss, number and state entry
        assert without[name][0][-1] < without[name][0][0] / 4  # and it trained
