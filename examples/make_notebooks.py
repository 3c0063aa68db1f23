"""Write the example notebooks from the cells below, run them, and save them with their outputs.

Run ``python examples/make_notebooks.py`` after editing: every notebook is executed in a fresh
Jupyter kernel (seeded, so the text outputs come out the same each time) and saved with its
outputs, so a preview on GitHub shows the graphs, plots and numbers. Execution times and
other volatile metadata are stripped, so regenerating an unchanged notebook changes nothing.

Cells tagged ``inexact`` print numbers that change from run to run or machine to machine
(timings, NumPy's vectorised maths); each has a comment below saying why. Their outputs are
kept from the committed notebook as long as the code up to them is unchanged (``--fresh``
measures them again), and tests/test_notebooks.py does not compare them.

``--check`` only checks that the .ipynb files hold these cells (no kernel is started).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
INEXACT = "inexact"  # the cell tag: outputs that are not the same on every run and machine
WIDGET = "application/vnd.jupyter.widget-view+json"


def md(text: str) -> tuple[str, str, tuple[str, ...]]:
    return ("md", text.strip("\n"), ())


def code(text: str, *tags: str) -> tuple[str, str, tuple[str, ...]]:
    return ("code", text.strip("\n"), tags)


LECTURE = [
    md("""
# The lecture, step by step, in zerograd

This notebook follows the micrograd lecture: build an expression out of `Value`s, look at its
graph, backpropagate, then do the same for one neuron and for a small MLP. Every graph below is
drawn by `zg.draw_dot`: one box per `Value` (its label, `data` and `grad`), one small oval per
operation.
"""),
    code("""
import os
import random
import tempfile

import IPython.display

import zerograd as zg
from zerograd.lecture import MLP, Value
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
`backward()` fills in dL/dx for every node. By the chain rule, dL/da = f * b and
dL/db = f * a: the drawing now shows them.
"""),
    code("""
L.backward()
print(f"dL/da = {a.grad}   (f * b = {f.data * b.data})")
print(f"dL/db = {b.grad}   (f * a = {f.data * a.data})")
print(f"dL/dc = {c.grad}   (f = {f.data})")
print(f"dL/df = {f.grad}    (d = a*b + c = {d.data})")
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

`MLP(3, [4, 4, 1])` from `zerograd.lecture` is the lecture's own network: tanh on every layer,
the output included, each neuron's bias drawn with `random.uniform(-1, 1)` right after its
weights, each neuron computed as `sum((wi*xi for wi, xi in zip(self.w, x)), self.b).tanh()`.
Squared error, plain gradient descent; the loss falls step by step.
"""),
    code("""
xs, ys = zg.data.lecture()

def train(model, steps=20, lr=0.1, zero_grad=True):
    losses = []
    for _ in range(steps):
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
model = MLP(3, [4, 4, 1])
losses, preds = train(model)
for k in (0, 5, 10, 15, 19):
    print(f"step {k:2d}  loss {losses[k]:.6f}")
print("predictions:", [round(p, 3) for p in preds], "targets:", ys)
print(f"the loss fell from {losses[0]:.4f} to {losses[-1]:.4f}, "
      f"{losses[0] / losses[-1]:.0f} times smaller")
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
buggy = MLP(3, [4, 4, 1])
with warnings.catch_warnings(record=True) as caught:  # keep what zerograd says, for below
    warnings.simplefilter("always")
    bug_losses, bug_preds = train(buggy, zero_grad=False)

print(" step   with zero_grad   forgot zero_grad")
for k in range(0, 20, 2):
    print(f"{k:5d}   {losses[k]:14.6f}   {bug_losses[k]:16.6f}")
print(f"first step: loss {losses[0]:.6f} with zero_grad, {bug_losses[0]:.6f} without "
      f"({'the same' if losses[0] == bug_losses[0] else 'different'}: nothing to forget yet)")
print(f"final loss: {losses[-1]:.6f} with zero_grad, {bug_losses[-1]:.6f} without, "
      f"{bug_losses[-1] / losses[-1]:.0f} times worse")
print("predictions without zero_grad:", [round(p, 3) for p in bug_preds], "targets:", ys)
"""),
    md("""
The pile of stale gradients grows with every step, so the updates grow too, until the tanh
units saturate: the network answers +1 for every example, two of the four are wrong (loss 8),
and saturated units pass back almost no gradient, so it never recovers. (With other seeds the
bug can get away with it and even look faster, as it did in the lecture, because this problem
is tiny; that is what makes it dangerous.) Note the log scale. The plot is written into a
temporary folder, shown here, and the folder deleted, so nothing is left next to the notebook:
"""),
    code("""
with tempfile.TemporaryDirectory() as folder:
    png = zg.viz.plot_loss({"with zero_grad": losses, "forgot zero_grad": bug_losses},
                           os.path.join(folder, "zero_grad.png"),
                           title="the forgotten zero_grad", log=True)
    picture = IPython.display.Image(png)  # reads the file now
picture
"""),
    md("""
zerograd notices the mistake where it is made: in a hand-written loop like the one above, the
second `backward()` finds gradients left over from before the last update and warns with a
`zg.TrainingWarning`. Here is what the buggy run above was told:
"""),
    code("""
for w in caught:
    if issubclass(w.category, zg.TrainingWarning):
        print(f"{w.category.__name__}: {w.message}")
"""),
    md("""
With an optimizer the same mistake warns too:
"""),
    code("""
random.seed(SEED)
model = MLP(3, [4, 4, 1])
opt = zg.optim.SGD(model.parameters(), lr=0.1)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for _ in range(2):
        loss = sum((model(x) - y) ** 2 for x, y in zip(xs, ys))
        loss.backward()          # no opt.zero_grad() before it
        opt.step()
told = [w for w in caught if issubclass(w.category, zg.TrainingWarning)]
print(f"{len(told)} TrainingWarning:", str(told[0].message)[:120], "...")
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
import io
import os
import random
import tempfile

import IPython.display
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
The points, coloured by class (the picture is kept in memory, no file is written):
"""),
    code("""
from matplotlib.figure import Figure

fig = Figure(figsize=(4, 4))
ax = fig.add_subplot()
ax.scatter(X[:, 0], X[:, 1], c=y, s=20, cmap="jet")
png = io.BytesIO()
fig.savefig(png, format="png")
IPython.display.Image(png.getvalue())
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
    reg_loss = 1e-4 * sum(p * p for p in model.parameters())
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

print()
for k, micrograds in ((0, 0.8958441028683222), (99, 0.010978370135492717)):
    same = "the same" if history[k] == micrograds else "different"
    print(f"step {k}: micrograd's loss {micrograds!r}, zerograd's {history[k]!r}: {same}")
"""),
    md("""
The decision boundary: every point of the plane coloured by the class the model gives it.
`zg.viz` writes PNG files; here they go to a temporary folder, are shown, and are deleted.
"""),
    code("""
def show(plot, *args, **kwargs):
    \"\"\"Draw a zg.viz plot into a temporary folder and show it here; no file is left.\"\"\"
    with tempfile.TemporaryDirectory() as folder:
        return IPython.display.Image(plot(*args, os.path.join(folder, "plot.png"), **kwargs))

show(zg.viz.plot_decision_boundary, model, X, y, title="moons, after 100 steps")
"""),
    code("""
show(zg.viz.plot_loss, history, title="moons: training loss")
"""),
    md("""
The same model trained by `zg.train.fit` with Adam, which runs zero_grad, backward and step in
the right order and shows a progress bar (a widget in Jupyter, a text bar on a terminal):
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
    # inexact: the numpy executor's vectorised exp/tanh differ from the C library's in the
    # last bit, by CPU (AVX-512 or not), and the times are this machine's, this run's
    code("""
for k in range(STEPS):
    print(f"step {k}: eager {eager_losses[k]!r:22}  compiled {compiled_losses[k]!r}")
worst = max(abs(c - e) / abs(e) for c, e in zip(compiled_losses, eager_losses))
print(f"largest relative difference: {worst:.1e} (rounding: the same to about 1e-12 or better)")

eager_step = float(np.median(eager_times))
replay_step = float(np.median(compiled_times[1:]))
print()
print(f"{'':24}{'seconds':>10}")
print(f"{'eager step (median)':24}{eager_step:10.4f}")
print(f"{'compiled: first call':24}{compiled_times[0]:10.4f}   (trace + compile + run)")
print(f"{'compiled: replay':24}{replay_step:10.4f}")
print(f"replay is {eager_step / replay_step:.1f}x faster than an eager step")
""", INEXACT),
    md("""
The scalar executor walks the recorded tape one node at a time in the eager engine's order,
so its numbers are the eager engine's exactly:
"""),
    code("""
scalar_losses, _, _ = train_compiled(executor="scalar")
for k in range(STEPS):
    print(f"step {k}: eager {eager_losses[k]!r:22}  scalar executor {scalar_losses[k]!r}")
print("identical, bit for bit" if scalar_losses == eager_losses else "they differ!")
"""),
]

NOTEBOOKS = {
    "01_lecture_walkthrough.ipynb": LECTURE,
    "02_moons_demo.ipynb": MOONS,
    "03_eager_vs_compiled.ipynb": TIMING,
}


def build(cells: list[tuple[str, str, tuple[str, ...]]]) -> nbformat.NotebookNode:
    """The notebook of ``cells``, without outputs."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, text, tags) in enumerate(cells):
        cell = new_markdown_cell(text) if kind == "md" else new_code_cell(text)
        cell["id"] = f"cell-{i:02d}"  # stable ids: regenerating gives the same file
        if tags:
            cell.metadata["tags"] = list(tags)
        nb.cells.append(cell)
    return nb


def execute(nb: nbformat.NotebookNode, folder: str | os.PathLike) -> nbformat.NotebookNode:
    """Run ``nb`` in a fresh "python3" kernel started in ``folder``, with this checkout's
    zerograd and a fixed hash seed; raises ``CellExecutionError`` on a failing cell."""
    from nbclient import NotebookClient

    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "PYTHONHASHSEED")}
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), saved["PYTHONPATH"]) if p)
    os.environ["PYTHONHASHSEED"] = "0"
    try:
        NotebookClient(nb, kernel_name="python3", timeout=600, record_timing=False,
                       resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip what changes from run to run: execution times, the kernel's version, widget
    state and widget outputs (random model ids; GitHub cannot show widgets anyway), and
    where printed text happened to be cut into pieces."""
    nb.metadata.pop("widgets", None)
    nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = joined([o for o in cell.outputs if WIDGET not in o.get("data", {})])
    return nb


def joined(outputs: list[Any]) -> list[Any]:
    """``outputs`` with each run of printed text to the same stream as one output: how the
    kernel cuts it into messages depends on timing."""
    out: list[Any] = []
    for o in outputs:
        if (o.output_type == "stream" and out and out[-1].output_type == "stream"
                and out[-1].name == o.name):
            out[-1].text += o.text
        else:
            out.append(o)
    return out


def inexact(cell: Any) -> bool:
    return INEXACT in cell.get("metadata", {}).get("tags", [])


def text_outputs(cell: Any) -> list[tuple[str, str]]:
    """A code cell's outputs as text, for comparing runs: printed text, and the text form of
    results and displays; pictures and progress widgets left out."""
    out = []
    for o in joined([nbformat.from_dict(o) for o in cell.get("outputs", [])]):
        if o.output_type == "stream":
            out.append((o.name, o.text))
        elif o.output_type in ("execute_result", "display_data"):
            if WIDGET not in o.data:
                out.append((o.output_type, o.data.get("text/plain", "")))
        else:
            out.append((o.output_type, f"{o.get('ename')}: {o.get('evalue')}"))
    return out


def without_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def keep_inexact(new: nbformat.NotebookNode, old: nbformat.NotebookNode) -> None:
    """Give each inexact cell of ``new`` the outputs it has in ``old`` where every code cell
    up to and including it is unchanged, so re-running does not churn timings."""
    def sources(nb: nbformat.NotebookNode) -> list[str]:
        return [c.source for c in nb.cells if c.cell_type == "code"]

    old_code = [c for c in old.cells if c.cell_type == "code"]
    new_sources, old_sources = sources(new), sources(old)
    k = 0
    for cell in new.cells:
        if cell.cell_type != "code":
            continue
        k += 1
        if inexact(cell) and new_sources[:k] == old_sources[:k]:
            cell.outputs = old_code[k - 1].outputs
            cell.execution_count = old_code[k - 1].execution_count


def render(name: str, fresh: bool = False) -> str:
    """The .ipynb text of notebook ``name``, executed, with its outputs."""
    nb = build(NOTEBOOKS[name])
    with tempfile.TemporaryDirectory() as folder:
        clean(execute(nb, folder))
        left = os.listdir(folder)
        if left:
            raise RuntimeError(f"{name} left files behind: {left}")
    path = HERE / name
    if not fresh and path.exists():
        keep_inexact(nb, nbformat.read(path, as_version=4))
    return nbformat.writes(nb) + "\n"


def main(argv: list[str]) -> int:
    unknown = [a for a in argv if a not in ("--check", "--fresh")]
    if unknown:
        print(f"unknown arguments {unknown}; usage: make_notebooks.py [--check | --fresh]")
        return 2
    if "--check" in argv:
        stale = []
        for name, cells in NOTEBOOKS.items():
            path = HERE / name
            want = nbformat.writes(build(cells))
            if not path.exists() or nbformat.writes(
                    without_outputs(nbformat.read(path, as_version=4))) != want:
                stale.append(name)
        if stale:
            print(f"out of date: {', '.join(stale)}; run python examples/make_notebooks.py")
            return 1
        return 0
    for name in NOTEBOOKS:
        text = render(name, fresh="--fresh" in argv)
        (HERE / name).write_text(text)
        print(f"wrote {HERE / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
