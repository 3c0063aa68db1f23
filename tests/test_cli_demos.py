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
from conftest import needs, needs_graphviz

SRC = str(Path(__file__).resolve().parents[1] / "src")
PNG = b"\x89PNG\r\n\x1a\n"
PLOTS = pytest.mark.needs("matplotlib", "the demo's plots")


def needs_demo(name: str) -> None:
    """A demo's run needs matplotlib for its plots, and scikit-learn for moons and digits."""
    needs("matplotlib", "the demo's plots")
    if name in ("moons", "digits"):
        needs("sklearn", f"the {name} dataset")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "zerograd", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


def step_lines(stdout: str) -> dict[int, tuple[float, str]]:
    """step -> (loss, accuracy text) from lines 'step K loss L, accuracy A%' (or 'batch
    accuracy A%, test accuracy T%')."""
    found = re.findall(r"^step (\d+) loss (\S+), (?:batch )?accuracy (\S+)%"
                       r"(?:, test accuracy [\d.]+%)?$", stdout, re.M)
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
    needs_demo("moons")
    needs("tqdm", "the demo's --progress bar")
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
    needs_demo("moons")
    proc = run("demo", "moons", "--compile", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "(compiled)" in proc.stdout
    steps = step_lines(proc.stdout)
    assert set(steps) == {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99}  # default: every 10th
    # NumPy's vectorised exp/tanh and the sums' order may differ in the last bit (by CPU)
    for (k, want) in ((0, MICROGRAD_STEP0), (99, MICROGRAD_STEP99)):
        assert steps[k][0] == pytest.approx(want[0], rel=1e-12, abs=0)
        assert steps[k][1] == want[1]
    for k, (loss, acc) in steps.items():
        assert loss == pytest.approx(eager_steps[k][0], rel=1e-12, abs=0)
        assert acc == eager_steps[k][1]
    assert_png(tmp_path / "moons_boundary.png")


def test_demo_moons_scalar_executor_is_bitwise_eager(eager_steps, tmp_path):
    needs_demo("moons")
    proc = run("demo", "moons", "--executor", "scalar", "--print-every", "1",
               "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "scalar executor" in proc.stdout
    assert step_lines(proc.stdout) == eager_steps


def test_demo_spiral_eager_few_steps(tmp_path):
    needs_demo("spiral")
    proc = run("demo", "spiral", "--steps", "3", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    steps = step_lines(proc.stdout)
    assert set(steps) == {0, 2}
    assert 0 < steps[0][0] < 10
    assert_png(tmp_path / "spiral_boundary.png")
    assert_png(tmp_path / "spiral_loss.png")


def test_demo_spiral_compiled_learns_the_three_arms(tmp_path):
    needs_demo("spiral")
    proc = run("demo", "spiral", "--compile", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    steps = step_lines(proc.stdout)
    assert steps[99][0] < steps[0][0] / 5
    acc = float(re.search(r"final accuracy ([\d.]+)%", proc.stdout).group(1))
    assert acc >= 90.0
    assert_png(tmp_path / "spiral_boundary.png")


def test_demo_digits_compiled_reaches_95_percent_on_held_out_images(tmp_path):
    needs_demo("digits")
    proc = run("demo", "digits", "--compile", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"(\d+) training and (\d+) test images", proc.stdout)
    assert (int(m.group(1)), int(m.group(2))) == (1438, 359)
    test_acc = float(re.search(r"train accuracy [\d.]+%, test accuracy ([\d.]+)%$",
                               proc.stdout, re.M).group(1))
    assert test_acc >= 95.0
    assert_png(tmp_path / "digits_loss.png")
    assert not (tmp_path / "digits_boundary.png").exists()  # 64 inputs: no plane to draw


def test_demo_digits_eager_small_run(tmp_path):
    needs_demo("digits")
    proc = run("demo", "digits", "--samples", "60", "--steps", "2", "--batch-size", "16",
               "--hidden", "8", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "48 training and 12 test images" in proc.stdout
    assert set(step_lines(proc.stdout)) == {0, 1}
    assert re.search(r"test accuracy [\d.]+%", proc.stdout)


def test_graph_draws_the_formula_with_values_and_gradients(tmp_path):
    needs_graphviz()
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
    if ext != "dot":  # the DOT source needs no layout
        needs_graphviz()
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
        (["graph", "x*2", "--set", "x=1", "-o", "/proc/zerograd-cannot-write-here/g.svg"],
         "No such file"),
        pytest.param(["demo", "moons", "--out", "/proc/zerograd-cannot-write-here"],
                     "cannot write", marks=[PLOTS, pytest.mark.needs("sklearn", "moons")]),
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

    from zerograd.train import progress_bar

    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "tqdm":
            raise ImportError("No module named 'tqdm'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert progress_bar(3, "x", None, strict=True) is None  # automatic: no bar, no fuss
    assert progress_bar(3, "x", False, strict=True) is None
    with pytest.raises(ImportError, match=r'pip install "zerograd\[progress\]"'):
        progress_bar(3, "x", True, strict=True)  # what the demos' --progress asks for


# -- in-process runs: what a demo records, the extras it checks first, Ctrl-C ------------------
def quick(name: str) -> dict:
    """Arguments for a short run of a demo."""
    return {"digits": {"samples": 60, "steps": 4, "batch_size": 16, "hidden": 8}}.get(
        name, {"steps": 4})


def test_demo_digits_records_batch_and_test_accuracy(tmp_path):
    needs_demo("digits")
    from zerograd import demos

    lines: list[str] = []
    result = demos.digits(**quick("digits"), print_every=2, out=str(tmp_path), progress=False,
                          log=lines.append)
    history = result.history
    assert set(history) == {"loss", "batch accuracy", "test accuracy"}
    assert len(history["loss"]) == len(history["batch accuracy"]) == 4
    assert list(history["test accuracy"]) == [0, 2, 3]  # the print points
    assert all(0 <= a <= 1 for a in history["test accuracy"].values())
    assert result.final["test_accuracy"] == history["test accuracy"][3]
    printed = [ln for ln in lines if ln.startswith("step ")]
    assert len(printed) == 3 and all(", batch accuracy " in ln and ", test accuracy " in ln
                                     for ln in printed)
    assert_png(tmp_path / "digits_loss.png")


@pytest.mark.parametrize("outputs", [1, 3])
def test_compiled_scores_match_eager_scores_on_any_number_of_rows(outputs):
    import random

    import numpy as np

    from zerograd import demos, nn

    random.seed(0)
    model = nn.MLP(2, [8, outputs])
    X = np.random.default_rng(0).normal(size=(2 * demos.CHUNK + 5, 2))  # 3 chunks, 1 padded
    eager = demos.scorer(model, False)(X)
    compiled = demos.scorer(model, True)(X)
    assert compiled.shape == eager.shape == ((len(X),) if outputs == 1 else (len(X), outputs))
    np.testing.assert_allclose(compiled, eager, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "demo, module, extra",
    [("moons", "matplotlib", "viz"), ("spiral", "matplotlib", "viz"),
     ("digits", "matplotlib", "viz"),
     # matplotlib is there, so scikit-learn is what is missing
     pytest.param("moons", "sklearn", "data", marks=PLOTS),
     pytest.param("digits", "sklearn", "data", marks=PLOTS)],
)
def test_a_missing_extra_is_named_before_any_training(tmp_path, monkeypatch, demo, module,
                                                      extra):
    from zerograd import demos

    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.setitem(sys.modules, name, None)  # `import module` now fails
    monkeypatch.setitem(sys.modules, module, None)
    lines: list[str] = []
    out = tmp_path / "plots"
    with pytest.raises(ImportError, match=rf'pip install "zerograd\[{extra}\]"'):
        demos.DEMOS[demo](**quick(demo), out=str(out), progress=False, print_every=1,
                          log=lines.append)
    assert not [ln for ln in lines if ln.startswith("step ")], "it trained first"
    assert not out.exists()


def test_ctrl_c_during_training_writes_the_plots_of_the_steps_done(tmp_path):
    needs_demo("spiral")
    from zerograd import demos

    lines: list[str] = []

    def log(text: str) -> None:
        lines.append(text)
        if text.startswith("step 5 "):
            raise KeyboardInterrupt  # as if Ctrl-C came during step 5

    out = tmp_path / "new" / "plots"
    with pytest.raises(KeyboardInterrupt):
        demos.spiral(steps=50, compile=True, out=str(out), progress=False, print_every=1,
                     log=log)
    assert "interrupted after 6 steps" in lines
    assert not [ln for ln in lines if ln.startswith("step 6 ")]
    assert_png(out / "spiral_loss.png")
    assert_png(out / "spiral_boundary.png")


def test_ctrl_c_before_the_first_step_leaves_no_new_folder(tmp_path, monkeypatch):
    needs_demo("moons")
    from zerograd import demos

    def interrupted(*args: object, **kwargs: object):
        raise KeyboardInterrupt  # Ctrl-C as the bar for step 0 is being set up

    monkeypatch.setattr(demos, "progress_bar", interrupted)
    lines: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        demos.moons(out=str(tmp_path / "new" / "plots"), progress=False, log=lines.append)
    assert "interrupted after 0 steps" in lines
    assert list(tmp_path.iterdir()) == []


def test_the_out_folder_is_made_when_the_plots_are_written(tmp_path):
    needs_demo("spiral")
    out = tmp_path / "a" / "b"
    proc = run("demo", "spiral", "--steps", "3", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert_png(out / "spiral_loss.png")
    assert_png(out / "spiral_boundary.png")
