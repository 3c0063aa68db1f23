"""Write the example notebooks (without outputs) from the cells below.

Run ``python examples/make_notebooks.py`` after editing; tests/test_notebooks.py checks that
the .ipynb files match this script and runs every one of them in a Jupyter kernel.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


def md(text: str) -> tuple[str, str]:
    return ("md", text.strip("\n"))


def code(text: str) -> tuple[str, str]:
    return ("code", text.strip("\n"))


LECTURE = [
    md("""
# The lecture, step by step, in zerograd

This notebook follows the micrograd lecture: build an expression out of `Value`s, look at its
graph, backpropagate, then do the same for one neuron and for a small MLP. Every graph below is
drawn by `zg.draw_dot`: one box per `Value` (its label, `data` and `grad`), one small oval per
operation.
"""),
    code("""
import math
import random

import zerograd as zg
from zerograd import Value
"""),
    md("""
## 1. An expression and its graph

`L = (a*b + c) * f`. Before `backward()` every `grad` is 0.
"""),
    code("""
a = Value(2.0, label="a")
b = Value(-3.0, label="b")
c = Value(10.0, label="c")
e = a * b; e.label = "e"
d = e + c; d.label = "d"
f = Value(-2.0, label="f")
L = d * f; L.label = "L"
zg.draw_dot(L)
"""),
    md("""
`backward()` fills in dL/dx for every node. By the chain rule, dL/da = f * b = 6 and
dL/db = f * a = -4: the drawing now shows them.
"""),
    code("""
L.backward()
assert (a.grad, b.grad, c.grad, f.grad) == (6.0, -4.0, -2.0, 4.0)
zg.draw_dot(L)
"""),
    md("""
A numerical check of one gradient: nudge `a` by a small `h` and watch `L` move.
"""),
    code("""
def L_of(a_data):
    return ((Value(a_data) * b + c) * f).data

h = 1e-6
print("finite difference:", (L_of(2.0 + h) - L_of(2.0)) / h, " backward():", a.grad)
"""),
    md("""
## 2. One neuron

Two inputs, two weights and a bias; `tanh` squashes the sum. The bias is the lecture's
6.8813735870195432, which makes the output about 0.7071 and its local slope 1 - 0.7071² = 0.5.
"""),
    code("""
x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
b = Value(6.8813735870195432, label="b")
x1w1 = x1 * w1; x1w1.label = "x1*w1"
x2w2 = x2 * w2; x2w2.label = "x2*w2"
n = x1w1 + x2w2 + b; n.label = "n"
o = n.tanh(); o.label = "o"
o.backward()
print(f"o = {o.data:.4f}, do/dn = {n.grad:.4f}, do/dw1 = {w1.grad:.4f}")
zg.draw_dot(o)
"""),
    md("""
`zg.nn.Neuron` builds the same thing, with the weighted sum as one node (`Σwx+b`). The drawing
names its weights `w0`, `w1`, its bias `b` and its inputs `x0`, `x1`.
"""),
    code("""
random.seed(0)
neuron = zg.nn.Neuron(2, activation="tanh")
out = neuron([2.0, 0.0])
out.backward()
zg.draw_dot(out)
"""),
    md("""
## 3. A small MLP learns the lecture's four examples

`zg.nn.MLP.lecture(3, [4, 4, 1])` is the lecture's network: tanh on every layer, the output
included, and each neuron's bias drawn with `random.uniform(-1, 1)` right after its weights, so
after the same `random.seed` it has exactly the weights of the lecture's own classes. Squared
error, plain gradient descent; the loss falls step by step.
"""),
    code("""
xs, ys = zg.data.lecture()

def train(model, steps=20, lr=0.1, zero_grad=True):
    losses = []
    for k in range(steps):
        ypred = [model(x) for x in xs]
        loss = sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred))
        if zero_grad:
            model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data += -lr * p.grad
        losses.append(loss.data)
    return losses, [y.data for y in ypred]

SEED = 9
random.seed(SEED)
model = zg.nn.MLP.lecture(3, [4, 4, 1])
losses, preds = train(model)
for k in (0, 5, 10, 15, 19):
    print(f"step {k:2d}  loss {losses[k]:.6f}")
print("predictions:", [round(p, 3) for p in preds], "targets:", ys)
assert losses[-1] < losses[0] / 10
"""),
    md("""
## 4. The forgotten `zero_grad()`

Gradients *accumulate*: each `backward()` adds into `.grad`. Forget to reset them and every
update follows the sum of all the gradients so far, old directions included. Same seed, same
model, same data, with and without `model.zero_grad()`:
"""),
    code("""
import warnings

random.seed(SEED)
buggy = zg.nn.MLP.lecture(3, [4, 4, 1])
with warnings.catch_warnings(record=True) as caught:  # keep what zerograd says, for below
    warnings.simplefilter("always")
    bug_losses, bug_preds = train(buggy, zero_grad=False)

print(" step   with zero_grad   forgot zero_grad")
for k in range(0, 20, 2):
    print(f"{k:5d}   {losses[k]:14.6f}   {bug_losses[k]:16.6f}")
print(f"final loss: {losses[-1]:.6f} with zero_grad, {bug_losses[-1]:.6f} without")
print("predictions without zero_grad:", [round(p, 3) for p in bug_preds], "targets:", ys)
assert losses[0] == bug_losses[0]          # the first step is the same either way
assert bug_losses[-1] > 3 * losses[-1]     # forgetting zero_grad ends far worse
"""),
    md("""
The pile of stale gradients grows with every step, so the updates grow too, until the tanh
units saturate: the network answers +1 for every example, two of the four are wrong (loss 8),
and saturated units pass back almost no gradient, so it never recovers. (With other seeds the
bug can get away with it and even look faster, as it did in the lecture, because this problem
is tiny; that is what makes it dangerous.) Note the log scale:
"""),
    code("""
import IPython.display

zg.viz.plot_loss({"with zero_grad": losses, "forgot zero_grad": bug_losses}, "zero_grad.png",
                 title="the forgotten zero_grad", log=True)
IPython.display.Image("zero_grad.png")
"""),
    md("""
zerograd notices the mistake where it is made: in a hand-written loop like the one above, the
second `backward()` finds gradients left over from before the last update and warns with a
`zg.TrainingWarning`. Here is what the buggy run above was told:
"""),
    code("""
for w in caught:
    print(f"{w.category.__name__}: {w.message}")
assert any(issubclass(w.category, zg.TrainingWarning) and "zero" in str(w.message).lower()
           for w in caught)
"""),
    md("""
With an optimizer the same mistake warns too:
"""),
    code("""
random.seed(SEED)
model = zg.nn.MLP.lecture(3, [4, 4, 1])
opt = zg.optim.SGD(model.parameters(), lr=0.1)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for k in range(2):
        loss = sum((model(x) - y) ** 2 for x, y in zip(xs, ys))
        loss.backward()          # no opt.zero_grad() before it
        opt.step()
print(caught[0].category.__name__, ":", str(caught[0].message)[:120], "...")
assert issubclass(caught[0].category, zg.TrainingWarning)
"""),
]

MOONS = [
    md("""
# micrograd's moons demo, in zerograd

Same data, same seed, same model, same loss, same learning-rate schedule as micrograd's
`demo.ipynb`, so the same numbers: step 0 loss 0.8958441028683222, step 99 loss
0.010978370135492717, accuracy 100%. Only the imports differ.
"""),
    code("""
import random

import numpy as np

import zerograd as zg
from zerograd.engine import Value
from zerograd.nn import MLP

np.random.seed(1337)
random.seed(1337)
X, y = zg.data.moons(n=100, noise=0.1, seed=1337, signed=True)  # labels -1 / +1
print(X.shape, sorted(set(y.tolist())))
"""),
    md("""
The points, coloured by class:
"""),
    code("""
import IPython.display
from matplotlib.figure import Figure

fig = Figure(figsize=(4, 4))
ax = fig.add_subplot()
ax.scatter(X[:, 0], X[:, 1], c=y, s=20, cmap="jet")
fig.savefig("moons_data.png")
IPython.display.Image("moons_data.png")
"""),
    md("""
A 2-layer network with 16 ReLU units per layer; a single linear output is the score, and its
sign is the class.
"""),
    code("""
model = MLP(2, [16, 16, 1])
print(model)
print("number of parameters", len(model.parameters()))
"""),
    md("""
The loss is micrograd's: the SVM "max-margin" loss `relu(1 - y*score)` averaged over the
points, plus L2 regularisation `1e-4 * sum(p*p)`.
"""),
    code("""
def loss():
    inputs = [list(map(Value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum((p * p for p in model.parameters()))
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
    return total_loss, sum(accuracy) / len(accuracy)

total_loss, acc = loss()
print(total_loss, acc)
"""),
    md("""
100 steps of full-batch gradient descent, the learning rate falling from 1.0 to 0.1:
"""),
    code("""
history = []
for k in range(100):
    total_loss, acc = loss()
    model.zero_grad()
    total_loss.backward()
    learning_rate = 1.0 - 0.9 * k / 100
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    history.append(total_loss.data)
    if k % 10 == 0 or k == 99:
        print(f"step {k} loss {total_loss.data}, accuracy {acc*100}%")

assert history[0] == 0.8958441028683222
assert history[99] == 0.010978370135492717
"""),
    md("""
The decision boundary: every point of the plane coloured by the class the model gives it.
"""),
    code("""
zg.viz.plot_decision_boundary(model, X, y, "moons_boundary.png", title="moons, after 100 steps")
IPython.display.Image("moons_boundary.png")
"""),
    code("""
zg.viz.plot_loss(history, "moons_loss.png", title="moons: training loss")
IPython.display.Image("moons_loss.png")
"""),
    md("""
The same model trained by `zg.train.fit` with Adam, which runs zero_grad, backward and step in
the right order and shows a progress bar (a widget here, a text bar on a terminal):
"""),
    code("""
random.seed(1337)
model2 = MLP(2, [16, 16, 1])
opt = zg.optim.Adam(model2.parameters(), lr=0.01)
rows, labels = X.tolist(), y.tolist()
fit_history = zg.train.fit(model2, lambda: zg.losses.hinge([model2(r) for r in rows], labels),
                           opt, 30)
print(f"loss {fit_history['loss'][0]:.4f} -> {fit_history['loss'][-1]:.4f}")
"""),
    md("""
From a terminal, `zerograd demo moons` runs all of this (with a progress bar) and writes both
pictures; `zerograd demo moons --compile` trains through `zg.compile`.
"""),
]

TIMING = [
    md("""
# Eager versus compiled

The eager engine builds a fresh graph of Python objects on every step and walks it. `zg.compile`
runs the function once to record its graph, then replays that graph on new numbers, a whole
depth level of nodes at a time. Here: a few steps of the moons model both ways, checking they
agree and timing them. (Only a few steps, to keep this notebook quick; see `benchmarks/` for
careful measurements.)
"""),
    code("""
import random
import time

import numpy as np

import zerograd as zg
from zerograd import Value

X, y = zg.data.moons(100, 0.1, seed=1337, signed=True)

def make_model():
    random.seed(1337)
    return zg.nn.MLP(2, [16, 16, 1])

def objective(model, rows, labels):
    scores = [model(r) for r in rows]
    data_loss = zg.losses.hinge(scores, labels)
    return data_loss + 1e-4 * zg.vsum(p * p for p in model.parameters())
"""),
    md("""
The eager loop: make `Value`s from the numbers, build the graph, backpropagate, update.
"""),
    code("""
STEPS = 5

def train_eager(steps=STEPS):
    model, losses, times = make_model(), [], []
    for k in range(steps):
        t = time.perf_counter()
        rows = [[Value(v) for v in row] for row in X.tolist()]
        loss = objective(model, rows, y.tolist())
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= (1.0 - 0.9 * k / 100) * p.grad
        times.append(time.perf_counter() - t)
        losses.append(loss.data)
    return losses, times

eager_losses, eager_times = train_eager()
"""),
    md("""
The compiled loop: the same objective, wrapped by `zg.compile`. The inputs and labels are its
arguments (new numbers each call); the model's parameters are read from the closure, so the
updates are seen. The first call traces; later calls replay.
"""),
    code("""
def train_compiled(steps=STEPS, executor="auto"):
    model, losses, times = make_model(), [], []
    step_fn = zg.compile(lambda rows, labels: objective(model, rows, labels), executor=executor)
    for k in range(steps):
        t = time.perf_counter()
        loss = step_fn(X, y.astype(float))
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= (1.0 - 0.9 * k / 100) * p.grad
        times.append(time.perf_counter() - t)
        losses.append(loss.data)
    return losses, times, step_fn

compiled_losses, compiled_times, step_fn = train_compiled()
print(step_fn)
"""),
    md("""
Same losses (to the last bit or within rounding of a differently ordered sum), then the times:
"""),
    code("""
for k in range(STEPS):
    print(f"step {k}: eager {eager_losses[k]!r:22}  compiled {compiled_losses[k]!r}")
np.testing.assert_allclose(compiled_losses, eager_losses, rtol=1e-12, atol=0)

eager_step = float(np.median(eager_times))
replay_step = float(np.median(compiled_times[1:]))
print()
print(f"{'':24}{'seconds':>10}")
print(f"{'eager step (median)':24}{eager_step:10.4f}")
print(f"{'compiled: first call':24}{compiled_times[0]:10.4f}   (trace + compile + run)")
print(f"{'compiled: replay':24}{replay_step:10.4f}")
print(f"replay is {eager_step / replay_step:.1f}x faster than an eager step")
"""),
    md("""
The scalar executor walks the recorded tape one node at a time in the eager engine's order,
so its numbers are the eager engine's exactly:
"""),
    code("""
scalar_losses, _, _ = train_compiled(executor="scalar")
assert scalar_losses == eager_losses
print("scalar executor: identical to eager")
"""),
]

NOTEBOOKS = {
    "01_lecture_walkthrough.ipynb": LECTURE,
    "02_moons_demo.ipynb": MOONS,
    "03_eager_vs_compiled.ipynb": TIMING,
}


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, text) in enumerate(cells):
        cell = new_markdown_cell(text) if kind == "md" else new_code_cell(text)
        cell["id"] = f"cell-{i:02d}"  # stable ids: regenerating gives the same file
        nb.cells.append(cell)
    return nb


def render(name: str) -> str:
    return nbformat.writes(build(NOTEBOOKS[name])) + "\n"


def main(check: bool = False) -> int:
    stale = []
    for name in NOTEBOOKS:
        path = HERE / name
        text = render(name)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python examples/make_notebooks.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(check="--check" in sys.argv))
