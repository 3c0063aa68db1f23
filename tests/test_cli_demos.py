"""`zerograd demo` and `zerograd graph` run as real subprocesses: exit status, printed
numbers, files written."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")
PNG = b"\x89PNG\r\n\x1a\n"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "zerograd", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


def step_lines(stdout: str) -> dict[int, tuple[float, str]]:
    """step -> (loss, accuracy text) from lines 'step K loss L, accuracy A%'."""
    found = re.findall(r"^step (\d+) loss (\S+), (?:batch )?accuracy (\S+)%$", stdout, re.M)
    return {int(k): (float(loss), acc) for k, loss, acc in found}


def assert_png(path: Path) -> None:
    assert path.is_file(), f"{path} was not written"
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 2000


# micrograd's published figures for its demo (README / demo.ipynb)
MICROGRAD_STEP0 = (0.8958441028683222, "50.0")
MICROGRAD_STEP99 = (0.010978370135492717, "100.0")


@pytest.fixture(scope="module")
def moons_eager(tmp_path_factory):
    out = tmp_path_factory.mktemp("moons")
    return run("demo", "moons", "--out", str(out), "--progress", "--print-every", "1"), out


@pytest.fixture(scope="module")
def eager_steps(moons_eager) -> dict[int, tuple[float, str]]:
    proc, _ = moons_eager
    assert proc.returncode == 0, proc.stderr
    return step_lines(proc.stdout)


def test_demo_moons_prints_micrograds_numbers_and_writes_pngs(moons_eager, eager_steps):
    proc, out = moons_eager
    assert set(eager_steps) == set(range(100))
    assert eager_steps[0] == MICROGRAD_STEP0
    assert eager_steps[99] == MICROGRAD_STEP99
    assert eager_steps[1][0] != eager_steps[0][0]  # it does train
    assert_png(out / "moons_boundary.png")
    assert_png(out / "moons_loss.png")
    assert "final accuracy 100.0%" in proc.stdout


def test_demo_moons_progress_bar_shows_loss_and_accuracy(moons_eager):
    proc, _ = moons_eager
    bar = proc.stderr.replace("\r", "\n")
    assert "100/100" in bar and "loss=" in bar and "acc=" in bar


def test_demo_moons_compiled_gives_the_same_numbers(tmp_path, eager_steps):
    proc = run("demo", "moons", "--compile", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "(compiled)" in proc.stdout
    steps = step_lines(proc.stdout)
    assert steps[0] == MICROGRAD_STEP0 and steps[99] == MICROGRAD_STEP99
    assert set(steps) == {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99}  # default: every 10th
    for k, (loss, acc) in steps.items():  # vectorised sums may round in another order
        assert loss == pytest.approx(eager_steps[k][0], rel=1e-12, abs=0)
        assert acc == eager_steps[k][1]
    assert_png(tmp_path / "moons_boundary.png")


def test_demo_moons_scalar_executor_is_bitwise_eager(eager_steps, tmp_path):
    proc = run("demo", "moons", "--executor", "scalar", "--print-every", "1",
               "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "scalar executor" in proc.stdout
    assert step_lines(proc.stdout) == eager_steps


def test_demo_spiral_eager_few_steps(tmp_path):
    proc = run("demo", "spiral", "--steps", "3", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    steps = step_lines(proc.stdout)
    assert set(steps) == {0, 2}
    assert 0 < steps[0][0] < 10
    assert_png(tmp_path / "spiral_boundary.png")
    assert_png(tmp_path / "spiral_loss.png")


def test_demo_spiral_compiled_learns_the_three_arms(tmp_path):
    proc = run("demo", "spiral", "--compile", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    steps = step_lines(proc.stdout)
    assert steps[99][0] < steps[0][0] / 5
    acc = float(re.search(r"final accuracy ([\d.]+)%", proc.stdout).group(1))
    assert acc >= 90.0
    assert_png(tmp_path / "spiral_boundary.png")


def test_demo_digits_compiled_reaches_95_percent_on_held_out_images(tmp_path):
    proc = run("demo", "digits", "--compile", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"(\d+) training and (\d+) test images", proc.stdout)
    assert (int(m.group(1)), int(m.group(2))) == (1438, 359)
    test_acc = float(re.search(r"test accuracy ([\d.]+)%", proc.stdout).group(1))
    assert test_acc >= 95.0
    assert_png(tmp_path / "digits_loss.png")
    assert not (tmp_path / "digits_boundary.png").exists()  # 64 inputs: no plane to draw


def test_demo_digits_eager_small_run(tmp_path):
    proc = run("demo", "digits", "--samples", "60", "--steps", "2", "--batch-size", "16",
               "--hidden", "8", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "48 training and 12 test images" in proc.stdout
    assert set(step_lines(proc.stdout)) == {0, 1}
    assert re.search(r"test accuracy [\d.]+%", proc.stdout)


def test_graph_draws_the_formula_with_values_and_gradients(tmp_path):
    svg = tmp_path / "graph.svg"
    proc = run("graph", "tanh(x*w + b)", "--set", "x=2.0", "--set", "w=-3.0",
               "--set", "b=6.8813735870195432", "-o", str(svg))
    assert proc.returncode == 0, proc.stderr
    import math

    t = math.tanh(2.0 * -3.0 + 6.8813735870195432)
    assert f"= {t!r}" in proc.stdout
    assert f"d/dw = {(1 - t * t) * 2.0!r}" in proc.stdout
    text = html.unescape(svg.read_text())
    assert "<svg" in text
    for label in ("x", "w", "b", "x*w", "x*w + b", "tanh(x*w + b)"):
        assert f">{label}<" in text
    assert f"data {t:.4f}" in text and "grad 1.0000" in text
    assert f"grad {(1 - t * t) * -3.0:.4f}" in text  # dL/dx


@pytest.mark.parametrize("ext, magic", [("png", PNG), ("pdf", b"%PDF"), ("dot", b"digraph")])
def test_graph_other_formats(tmp_path, ext, magic):
    path = tmp_path / f"g.{ext}"
    proc = run("graph", "relu(a) * a", "--set", "a=1.5", "-o", str(path))
    assert proc.returncode == 0, proc.stderr
    assert path.read_bytes().startswith(magic)


@pytest.mark.parametrize(
    "args, words",
    [
        (["graph", "__import__('os').system('echo hacked')"], "not allowed"),
        (["graph", "open('f')"], "unknown function 'open'"),
        (["graph", "x.__class__", "--set", "x=1"], "attribute access"),
        (["graph", "[x for x in y]"], "comprehension"),
        (["graph", "tanh(x*w + b)", "--set", "x=1"], "no value for w, b"),
        (["graph", "x*2", "--set", "x=1", "--set", "x=2"], "set twice"),
        (["graph", "x*2", "--set", "x=1", "-o", "g.gif"], "ending in"),
        (["graph", "x*2", "--set", "x=1", "-o", "/nonexistent-dir/g.svg"], "No such file"),
        (["demo", "moons", "--out", "/proc/zerograd-cannot-write-here"], "cannot write"),
        (["demo", "digits", "--samples", "5"], "samples"),
    ],
)
def test_errors_are_one_line_without_traceback(tmp_path, args, words):
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and words in lines[0], proc.stderr
    assert "hacked" not in proc.stdout


def test_debug_shows_the_traceback(tmp_path):
    proc = run("--debug", "graph", "x.y", "--set", "x=1", cwd=tmp_path)
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "FormulaError" in proc.stderr


def test_bad_set_syntax_is_a_usage_error(tmp_path):
    proc = run("graph", "x", "--set", "x", cwd=tmp_path)
    assert proc.returncode == 2 and "NAME=NUMBER" in proc.stderr


@pytest.mark.parametrize(
    "args",
    [[], ["demo"], ["demo", "moons"], ["demo", "spiral"], ["demo", "digits"], ["graph"]],
)
def test_help_on_every_command(args):
    proc = run(*args, "--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: zerograd")


def test_missing_tqdm_names_the_extra_only_when_a_bar_was_asked_for(monkeypatch):
    import builtins

    from zerograd import demos

    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "tqdm":
            raise ImportError("No module named 'tqdm'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert list(demos._progress(3, "x", None)) == [0, 1, 2]  # automatic: no bar, no fuss
    assert list(demos._progress(3, "x", False)) == [0, 1, 2]
    with pytest.raises(ImportError, match=r'pip install "zerograd\[progress\]"'):
        demos._progress(3, "x", True)
