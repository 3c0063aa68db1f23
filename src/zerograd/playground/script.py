""""Show the code": the setup as a standalone script that trains it with zerograd alone.

The script makes the same calls as :class:`~zerograd.playground.session.Trainer`, in the same
order (data, ``random.seed``, the MLP, batches from ``random.Random(seed)``, the lecture's
loop), so it prints the losses the page showed.
"""

from __future__ import annotations

from typing import Any

MAKERS = {
    "moons": "zg.data.moons({n}, noise={noise!r}, seed=SEED, portable=True)",
    "circles": "zg.data.circles({n}, noise={noise!r}, seed=SEED, portable=True)",
    "spiral": "zg.data.spiral({half}, classes=2, seed=SEED, noise={noise!r}, portable=True)",
    "blobs": "zg.data.blobs({n}, centers=2, std={std!r}, seed=SEED, portable=True)",
    "xor": "zg.data.xor({n}, noise={noise!r}, seed=SEED, portable=True)",
}
LOSS_CALLS = {"mse": "zg.losses.mse", "hinge": "zg.losses.hinge",
              "cross_entropy": "zg.losses.binary_cross_entropy"}
LOSS_NAMES = {"mse": "the squared error (targets -1 and +1)",
              "hinge": "the hinge loss (labels -1 and +1)",
              "cross_entropy": "binary cross-entropy on the logit (targets 0 and 1)"}
OPTIMIZER_NAMES = {"gd": "plain gradient descent, as in the lecture",
                   "momentum": "SGD with momentum 0.9", "adam": "Adam"}


def summary(cfg: dict[str, Any]) -> str:
    """The setup in one line, e.g. ``moons (200 points), MLP(2, [8, 8, 1]) tanh, ...``."""
    nin = 3 if cfg["dataset"] == "lecture" else 2
    what = ("the lecture's 4 examples" if cfg["dataset"] == "lecture"
            else f"your data ({len(cfg['data'])} points)" if cfg["dataset"] == "custom"
            else f"{cfg['dataset']} ({cfg['points']} points)")
    return (f"{what}, MLP({nin}, {cfg['hidden'] + [1]}) {cfg['activation']}, "
            f"{cfg['loss']}, {cfg['optimizer']} at lr {cfg['lr']:g}")


def _data_lines(cfg: dict[str, Any]) -> list[str]:
    signed = cfg["loss"] != "cross_entropy"
    to_t = ("[2.0 * c - 1.0 for c in {y}]" if signed else "[float(c) for c in {y}]")
    note = "  # targets -1 and +1" if signed else "  # targets 0 and 1"
    if cfg["dataset"] == "lecture":
        return ["# the data: the lecture's four examples, three inputs each",
                "xs, ys = zg.data.lecture()",
                "X_train = xs",
                "y_train = [int(v > 0) for v in ys]  # classes 0 and 1",
                "t_train = " + to_t.format(y="y_train") + note]
    n, noise = cfg["points"], cfg["noise"]
    if cfg["dataset"] == "custom":
        lines = [f"# the data: your {len(cfg['data'])} points, (x, y, class 0 or 1) each",
                 "POINTS = ["]
        row = ""
        for p in cfg["data"]:
            item = f"({p[0]!r}, {p[1]!r}, {p[2]}), "
            if len(row) + len(item) > 88:
                lines.append("    " + row.rstrip())
                row = ""
            row += item
        lines += ["    " + row.rstrip(), "]",
                  "X = [[a, b] for a, b, c in POINTS]", "y = [c for a, b, c in POINTS]"]
    else:
        make = MAKERS[cfg["dataset"]].format(n=n, half=n // 2, noise=noise,
                                             std=1.0 + 4.0 * noise)
        lines = [f"# the data: {cfg['dataset']}, {n} points, noise {noise:g}",
                 f"X, y = {make}"]
    if cfg["test_fraction"] == 0:
        return lines + ["X_train, y_train = X, y", "t_train = " + to_t.format(y="y_train") + note]
    return lines + [
        f"X_train, X_test, y_train, y_test = zg.data.train_test_split(X, y, "
        f"{cfg['test_fraction']!r}, seed=SEED, portable=True)",
        "t_train = " + to_t.format(y="y_train") + note,
        "t_test = " + to_t.format(y="y_test"),
    ]


def script(cfg: dict[str, Any], steps: int) -> str:
    """A Python script that trains ``cfg`` for ``steps`` steps and prints each loss."""
    gd = cfg["optimizer"] == "gd"
    has_test = cfg["dataset"] != "lecture" and cfg["test_fraction"] > 0
    nin = 3 if cfg["dataset"] == "lecture" else 2
    out = '"tanh"' if cfg["loss"] == "mse" else "None"
    lines = [
        '"""Trains the zerograd playground\'s setup: ' + summary(cfg) + ".",
        "",
        f"Exported at step {steps}. Run it as is (python this_file.py): it prints the losses",
        "the page showed, step by step. It needs zerograd only (pip install zerograd).",
        '"""',
        "import random",
        "",
        "import zerograd as zg",
        "from zerograd.nn import MLP",
        "",
        f"SEED = {cfg['seed']}",
        f"STEPS = {steps}",
        f"LR = {cfg['lr']!r}",
        "",
        *_data_lines(cfg),
        "",
        "# the network: the lecture's MLP, weights and biases drawn after random.seed(SEED)",
        "random.seed(SEED)",
        f"model = MLP({nin}, {cfg['hidden'] + [1]}, activation=\"{cfg['activation']}\", "
        f"output_activation={out}, bias=\"uniform\")",
        "params = model.parameters()",
        "",
        "",
        "def data_loss(X, t):",
        f'    """{LOSS_NAMES[cfg["loss"]]}, averaged over the rows of X"""',
        "    scores = [model(x) for x in X]",
        f"    return {LOSS_CALLS[cfg['loss']]}(scores, t)",
        "",
        "",
        "def loss_fn(X, t):",
        "    loss = data_loss(X, t)",
    ]
    if cfg["l2"] > 0:
        lines.append(f"    loss = loss + {cfg['l2']!r} * sum(p * p for p in params)  # L2")
    lines += [
        "    return loss",
        "",
        "",
        "loss_fn = zg.compile(loss_fn)  # traced once, replayed as array code: same numbers",
    ]
    if cfg["optimizer"] == "momentum":
        lines.append("optimizer = zg.optim.SGD(params, lr=LR, momentum=0.9)")
    elif cfg["optimizer"] == "adam":
        lines.append("optimizer = zg.optim.Adam(params, lr=LR)")
    batch = cfg["batch"]
    if batch:
        lines.append("batches = random.Random(SEED)  # which examples each step trains on")
    lines += ["", f"# the lecture's loop: {OPTIMIZER_NAMES[cfg['optimizer']]}",
              "for step in range(STEPS):", *_batch_lines(batch)]
    zero = (["    for p in params:", "        p.grad = 0.0"] if gd
            else ["    optimizer.zero_grad()"])
    if cfg["forget_zero_grad"]:
        zero = ["    # (the gradients are not zeroed: the lecture's mistake, on purpose)"] + [
            "    # " + z[4:] for z in zero]  # delete "# " to put the fix back
    lines += zero + ["    loss.backward()"]
    lines += (["    for p in params:", "        p.data += -LR * p.grad"] if gd
              else ["    optimizer.step()"])
    lines.append('    print(f"step {step + 1}: loss {loss.data:.6g}")')
    if has_test:
        lines += ["", "test_loss = zg.compile(data_loss)(X_test, t_test).data",
                  'print(f"test loss {test_loss:.6g}")']
    return "\n".join(lines) + "\n"


def _batch_lines(batch: int) -> list[str]:
    """The step's forward pass: on a random batch, or on every training example."""
    whole = "    loss = loss_fn(X_train, t_train)"
    if batch == 0:
        return [whole]
    return [f"    if {batch} < len(X_train):",
            f"        rows = batches.sample(range(len(X_train)), {batch})",
            "        loss = loss_fn([X_train[i] for i in rows], [t_train[i] for i in rows])",
            "    else:",
            "    " + whole]
