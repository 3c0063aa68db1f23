"""`zerograd train` run as a user runs it: a subprocess, `python -m zerograd train`."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

import zerograd
from zerograd import lecture

STEP = re.compile(r"^step\s+(\d+)\s+loss\s+(\S+)$")
LECTURE_XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
LECTURE_YS = [1.0, -1.0, -1.0, 1.0]


def zerograd_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    src = str(Path(zerograd.__file__).resolve().parents[1])  # the package under test
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", "zerograd", "train", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def steps(stdout: str) -> list[tuple[int, float]]:
    return [(int(m[1]), float(m[2])) for m in map(STEP.match, stdout.splitlines()) if m]


def lecture_losses(n_steps: int, lr: float, seed: int) -> list[float]:
    """The lecture's loop, written here independently of the CLI."""
    random.seed(seed)
    model = lecture.MLP(3, [4, 4, 1])
    out = []
    for _ in range(n_steps):
        loss = sum((model(x) - y) ** 2 for x, y in zip(LECTURE_XS, LECTURE_YS, strict=True))
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        out.append(loss.data)
    return out


def test_train_defaults_converge_and_print_predictions():
    r = zerograd_cli()
    assert r.returncode == 0, r.stderr
    found = steps(r.stdout)
    assert [k for k, _ in found] == list(range(20))
    assert [loss for _, loss in found] == pytest.approx(lecture_losses(20, 0.05, 1337), abs=1e-6)
    assert found[19][1] < found[0][1] / 50
    lines = r.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "prediction" in line.lower())
    preds = [line.split() for line in lines[at + 1 :] if line.strip()]
    assert len(preds) == 4
    for (pred, target), y in zip(preds, LECTURE_YS, strict=True):
        assert float(target) == y
        assert abs(float(pred) - y) < 0.25


def test_train_header_names_the_network_briefly():
    r = zerograd_cli("--steps", "1")
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0]
    assert header.startswith("training the lecture's MLP(3, [4, 4, 1]), tanh, 41 parameters "
                             "on the lecture's")
    assert "Layer of" not in header and "Neuron" not in header


def test_train_honours_steps_lr_and_seed():
    r = zerograd_cli("--steps", "5", "--lr", "0.1", "--seed", "3")
    assert r.returncode == 0, r.stderr
    found = steps(r.stdout)
    assert [k for k, _ in found] == list(range(5))
    expected = lecture_losses(5, 0.1, 3)
    assert [loss for _, loss in found] == pytest.approx(expected, abs=1e-6)
    # and they differ from the defaults' first five losses
    assert expected != pytest.approx(lecture_losses(5, 0.05, 1337), abs=1e-6)


@pytest.mark.parametrize(
    "args, option",
    [
        (["--lr", "-1"], "--lr"),
        (["--lr", "abc"], "--lr"),
        (["--steps", "x"], "--steps"),
        (["--steps", "0"], "--steps"),
        (["--seed", "1.5"], "--seed"),
    ],
)
def test_bad_options_exit_2_with_a_one_line_error(args, option):
    r = zerograd_cli(*args)
    assert r.returncode == 2
    assert r.stdout == ""
    errors = [line for line in r.stderr.splitlines() if "error" in line]
    assert len(errors) == 1, r.stderr
    assert option in errors[0] and args[1] in errors[0]
    assert "Traceback" not in r.stderr


def test_train_with_a_learning_rate_of_10_names_it_at_the_end(capsys):
    from zerograd import cli

    assert cli.main(["train", "--lr", "10", "--seed", "2"]) == 0
    out, err = capsys.readouterr()
    last = out.strip().splitlines()[-1]
    assert last.startswith("TrainingWarning at step") and "learning rate" in last
    assert "warning at step" in err
    assert cli.main(["train"]) == 0
    assert "Warning" not in "".join(capsys.readouterr())


def test_train_piped_into_head_stops_quietly():
    """`zerograd train | head -2`: once the reader stops, no error and no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "zerograd", "train", "--steps", "3000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert first.startswith(b"training the lecture's MLP")
    assert "Broken pipe" not in err and "Traceback" not in err and "Exception" not in err
