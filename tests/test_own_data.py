"""Your own data in the playground (issue 28, item 4): the setup's ``data`` key, read from CSV
text or a list of points and checked in Python before anything changes; the session trains on
it with the usual test split; the exported script writes the points and prints the session's
losses."""

from __future__ import annotations

import contextlib
import io
import json
import random
import runpy
import warnings
from typing import Any

import pytest

import zerograd as zg
from zerograd.playground import config, inpage, messages, script, session

SQUARE = [[0.0, 0.0, 0], [1.0, 1.0, 1], [0.0, 1.0, 1], [1.0, 0.0, 0], [0.5, 0.25, 0],
          [0.25, 0.75, 1]]


def _csv(points: list[list[float]], labels: tuple[str, str] = ("0", "1"),
         header: bool = False, sep: str = "\n") -> str:
    rows = [f"{x!r},{y!r},{labels[c]}" for x, y, c in points]
    return sep.join((["x,y,label"] if header else []) + rows)


@pytest.mark.parametrize("text", [
    _csv(SQUARE),
    _csv(SQUARE, header=True),
    _csv(SQUARE, labels=("-1", "+1")),
    _csv(SQUARE, labels=("-1", "1"), header=True),
    _csv(SQUARE, labels=("blue", "red")),
    _csv(SQUARE, sep=";"),                                   # as a link carries it
    _csv(SQUARE, header=True, sep="\r\n") + "\r\n\r\n",      # Windows line ends, blank lines
    _csv(SQUARE).replace(",", "\t"),                         # tabs
])
def test_a_good_csv_gives_the_points_with_classes_0_and_1(text):
    cfg = config.check({"dataset": "custom", "data": text}, config.DEFAULTS)
    assert cfg["data"] == SQUARE and cfg["dataset"] == "custom"
    assert all(type(c) is int for _, _, c in cfg["data"])


def test_names_are_classes_in_sorted_order_and_numbers_are_rounded():
    text = "x,y,label\n0.12345,-2,dog\n1,1.0006,cat\n2,2,dog\n3,3,cat"
    assert config.points(text) == [[0.123, -2.0, 1], [1.0, 1.001, 0], [2.0, 2.0, 1],
                                   [3.0, 3.0, 0]]
    assert config.points([[0.5, 1, -1], [1, 2, 1], [2, 3, 1], [3, 4, -1]]) == [
        [0.5, 1.0, 0], [1.0, 2.0, 1], [2.0, 3.0, 1], [3.0, 4.0, 0]]


MANY = "\n".join(f"{i % 37},{i % 11},{i % 2}" for i in range(1001))


@pytest.mark.parametrize("text, words", [
    ("0,0,0\n1,1,1\n0,one,1\n1,0,0", "data: row 3: y must be a number; got 'one'"),
    ("x,y,label\n0,0,0\n1,1\n0,1,1\n1,0,0", "data: row 3 must have 3 columns (x, y, label); "
                                             "it has 2"),
    ("0,0,1\n1,1,1\n0,1,1\n1,0,1", "two classes are needed, both present: the labels are 1 "
                                   "(add points of the other class)"),
    ("0,0,a\n1,1,b\n0,1,c\n1,0,a", "two classes are needed, no more"),
    ("0,0,0\n1,1,2\n0,1,1\n1,0,0", "data: row 2: the label must be 0 or 1, -1 or +1, or a name"),
    ("0,0,0\n1,1,1\n0,1,1", "at least 4 points are needed (both classes); got 3"),
    (MANY, "data: too many points: at most 1000; got 1001"),
    ("0,0,0\n1,1e400,1\n0,1,1\n1,0,0", "data: row 2: y must be a finite number of at most "
                                        "1e+06 in size"),
    ("0,0,0\n1,2e6,1\n0,1,1\n1,0,0", "data: row 2: y must be a finite number"),
    ("0,0,0\nnan,1,1\n0,1,1\n1,0,0", "data: row 2: x must be a finite number"),
    ("", "data: no points: give rows of x,y,label"),
    ("x,y,label\n", "data: no points"),
    ("0,0,0\n1,1,cat\n0,1,1\n1,0,0", "labels mix numbers and names"),
    ("__import__('os').system('true'),0,0\n1,1,1\n0,1,1\n1,0,0",
     "data: row 1: x must be a number"),
])
def test_a_bad_csv_gets_an_error_naming_the_row_and_the_setup_stays(text, words):
    current = config.check({"dataset": "custom", "data": _csv(SQUARE)}, config.DEFAULTS)
    kept = json.dumps(current)
    with pytest.raises(ValueError) as e:
        config.check({"dataset": "custom", "data": text, "lr": 0.5}, current)
    assert words in str(e.value), str(e.value)
    assert len(str(e.value)) < 300
    assert json.dumps(current) == kept


@pytest.mark.parametrize("data, words", [
    ([[0, 0, 0]] * 3 + [[1, True, 1]], "data: point 4: y must be a number; got True"),
    ([[0, 0, 0]] * 3 + [[1, 10**400, 1]], "data: point 4: y must be a finite number"),
    ([[0, 0, 0]] * 3 + [[1, 1]], "data: point 4 must be a list [x, y, label]"),
    ([[0, 0, 0], [1, 1, 1]] * 501, "data: too many points: at most 1000; got 1002"),
    (5, "data must be CSV text (x,y,label rows) or a list of [x, y, label] points; got int"),
    ({"x": [1]}, "data must be CSV text"),
])
def test_bad_points_get_an_error(data, words):
    with pytest.raises(ValueError) as e:
        config.check({"data": data}, config.DEFAULTS)
    assert words in str(e.value), str(e.value)


def test_the_custom_dataset_needs_its_points():
    with pytest.raises(ValueError, match="dataset custom needs its points: paste or upload"):
        config.check({"dataset": "custom"}, config.DEFAULTS)
    cfg = config.check({"dataset": "custom", "data": SQUARE}, config.DEFAULTS)
    assert config.check({"dataset": "moons"}, cfg)["data"] == SQUARE  # kept for coming back
    assert config.DEFAULTS["data"] is None
    assert config.limits()["data"] == {"kind": "points", "min": 4, "max": 1000,
                                       "max_coordinate": 1e6, "decimals": 3, "link_max": 200}


def _session(*msgs: dict) -> list[dict]:
    tab = inpage.Tab()
    for m in msgs:
        tab.handle(json.dumps(m))
    return json.loads(tab.take())


def test_the_session_trains_on_the_points_with_the_test_split():
    pts = [[round(random.Random(i).uniform(-2, 2), 3), round(random.Random(-i).uniform(-2, 2),
            3), i % 2] for i in range(50)]
    got = _session({"type": "config", "config": {"dataset": "custom", "data": pts,
                                                 "test_fraction": 0.2}}, {"type": "step"})
    cfgs = [m for m in got if m["type"] == "config"]
    assert cfgs[-1]["config"]["data"] == pts
    data = [m for m in got if m["type"] == "data"][-1]
    assert len(data["train"]["X"]) == 40 and len(data["test"]["X"]) == 10
    both = sorted([*x, c] for s in (data["train"], data["test"]) for x, c in zip(s["X"], s["y"]))
    assert both == sorted(pts)
    frame = [m for m in got if m["type"] == "frame"][-1]
    assert frame["step"] == 1 and frame["boundary"] is not None
    assert frame["accuracy"]["test"] is not None


def test_a_refused_csv_changes_nothing_in_the_session():
    good = {"type": "config", "config": {"dataset": "custom", "data": _csv(SQUARE)}}
    bad = {"type": "config", "config": {"dataset": "custom", "data": "0,0,0\n1,x,1\n2,2,1\n3,3,0"}}
    got = _session(good, {"type": "step"}, bad, {"type": "step"})
    kinds = [m["type"] for m in got]
    assert kinds.count("config") == 2  # hello's setup and the good one: none after the error
    err = [m for m in got if m["type"] == "error"]
    assert len(err) == 1 and "data: row 2: y must be a number; got 'x'" in err[0]["text"]
    frames = [m for m in got if m["type"] == "frame"]
    assert frames[-1]["step"] == 2  # training went on from step 1: nothing was restarted
    tab = inpage.Tab()  # a refused setup does not even pause a running session
    for m in (good, {"type": "play"}, bad):
        tab.handle(json.dumps(m))
    assert tab.running


def test_a_thousand_points_fit_in_one_message():
    pts = [[-123.456 + i / 1000, -654.321 - i / 1000, i % 2] for i in range(1000)]
    text = json.dumps({"type": "config", "config": {"dataset": "custom", "data": pts}})
    assert len(text.encode()) <= messages.MAX_MESSAGE
    csv = "x,y,label\n" + "\n".join(f"{x},{y},{'-1' if c == 0 else '+1'}" for x, y, c in pts)
    assert len(json.dumps({"type": "config", "config": {"data": csv}})) <= messages.MAX_MESSAGE
    assert messages.parse(text)["config"]["data"] == pts


def exported_run(cfg: dict, steps: int, tmp_path: Any) -> tuple:
    """``cfg`` trained ``steps`` steps by the session's Trainer and by its exported script
    (written to ``tmp_path``, run here): (the trainer, its losses, the script's text, the
    lines it printed, its namespace)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", zg.TrainingWarning)
        trainer = session.Trainer(cfg)
        losses = [trainer.step() for _ in range(steps)]
        text = script.script(cfg, steps)
        path = tmp_path / "train.py"
        path.write_text(text)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            ns = runpy.run_path(str(path), run_name="__main__")
    return trainer, losses, text, out.getvalue().splitlines(), ns


@pytest.mark.parametrize("update", [
    {"loss": "mse"},
    {"loss": "cross_entropy", "optimizer": "adam", "lr": 0.05, "batch": 7},
    {"loss": "hinge", "test_fraction": 0.0, "hidden": [4]},
])
def test_the_exported_script_with_your_data_prints_the_sessions_losses(update, tmp_path):
    pts = [[round(random.Random(i).gauss(0, 1), 3), round(random.Random(i + 99).gauss(0, 1), 3),
            int(i % 3 == 0)] for i in range(37)]
    cfg = config.check(dict(update, dataset="custom", data=_csv(pts)), config.DEFAULTS)
    trainer, losses, text, lines, ns = exported_run(cfg, 9, tmp_path)
    assert "POINTS = [" in text and "your data (37 points)" in text
    printed = [ln.split("loss ")[1] for ln in lines if ln.startswith("step ")]
    assert printed == [f"{x:.6g}" for x in losses]
    assert [p.data for p in ns["params"]] == [p.data for p in trainer.params]  # bit for bit
    assert [[*x, c] for x, c in zip(ns["X"], ns["y"])] == cfg["data"]
