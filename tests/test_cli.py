"""The `zerograd` command line as a newcomer meets it: --version, typos, usage errors, and the
`graph` command's folders and formulas."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import zerograd
from zerograd import cli

SRC = str(Path(zerograd.__file__).resolve().parents[1])


def usage_error(capsys, *argv: str) -> str:
    """The one stderr line of a usage error (exit status 2)."""
    with pytest.raises(SystemExit) as e:
        cli.main(list(argv))
    assert e.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_version_prints_the_package_version_and_exits_0():
    path = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    r = subprocess.run([sys.executable, "-m", "zerograd", "--version"], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"zerograd {zerograd.__version__}\n"


@pytest.mark.parametrize(
    "argv, suggestion",
    [
        (["trian"], "did you mean 'train'?"),
        (["demo", "moon"], "did you mean 'moons'?"),
        (["demo", "moons", "--executor", "nump"], "did you mean 'numpy'?"),
        (["graph", "x", "--set", "x=1", "--rankdir", "lr"], "did you mean 'LR'?"),
    ],
)
def test_a_mistyped_choice_suggests_the_closest_one(capsys, argv, suggestion):
    line = usage_error(capsys, *argv)
    assert suggestion in line and "invalid choice" in line


def test_no_suggestion_when_nothing_is_close(capsys):
    line = usage_error(capsys, "xyzzy")
    assert "invalid choice: 'xyzzy'" in line and "did you mean" not in line
    assert "'train'" in line  # the choices are still listed


@pytest.mark.parametrize(
    "argv, help_of",
    [
        (["demo", "moons", "--steps", "x"], "zerograd demo moons"),
        (["demo", "digits", "--bogus"], "zerograd demo digits"),
        (["train", "--lr", "abc"], "zerograd train"),
        (["train", "3"], "zerograd train"),
        (["graph"], "zerograd graph"),
        (["--bogus", "train"], "zerograd"),
    ],
)
def test_a_usage_error_points_at_the_help_of_the_command_used(capsys, argv, help_of):
    line = usage_error(capsys, *argv)
    assert line.startswith(f"{help_of}: error: ")
    assert line.endswith(f"(see '{help_of} --help')")


def test_graph_creates_the_missing_output_folder(tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "g.dot"
    assert cli.main(["graph", "x*y", "--set", "x=2", "--set", "y=3", "-o", str(out)]) == 0
    assert out.read_text().startswith("digraph")
    assert f"wrote {out}" in capsys.readouterr().out


def test_graph_leaves_no_folder_behind_for_a_bad_formula(tmp_path, capsys):
    out = tmp_path / "new" / "g.dot"
    assert cli.main(["graph", "x.y", "--set", "x=2", "-o", str(out)]) == 2
    assert "attribute access" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["graph", "-x*y", "--set", "x=2", "--set", "y=3"],
        ["graph", "--set", "x=2", "-x*y", "--set", "y=3"],
        ["graph", "--set=x=2", "--set", "y=3", "-x*y"],
        ["--debug", "graph", "--se", "x=2", "--set", "y=3", "-x*y"],
    ],
)
def test_graph_formula_may_start_with_a_minus(tmp_path, capsys, argv):
    out = tmp_path / "g.dot"
    assert cli.main([*argv, "-o", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[:3] == ["-x*y = -6.0", "  d/dx = -3.0", "  d/dy = -2.0"]
    assert out.read_text().startswith("digraph")


@pytest.mark.parametrize("argv", [["graph", "--x", "--set", "x=2"],
                                  ["graph", "--set", "x=2", "--x*x"]])
def test_graph_formula_may_start_with_two_minuses(tmp_path, capsys, argv):
    out = tmp_path / "g.dot"  # --x is -(-x): a formula, not an unknown option
    assert cli.main([*argv, "-o", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1] == ("  d/dx = 1.0" if argv[1] == "--x" else "  d/dx = 4.0")
    assert out.read_text().startswith("digraph")


def test_graph_an_unknown_long_option_is_still_an_option_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["graph", "x", "--sett", "x=2"])
    assert e.value.code == 2 and "unrecognized arguments: --sett" in capsys.readouterr().err


def test_graph_short_options_still_win_over_formulas(tmp_path, capsys):
    out = tmp_path / "g.dot"
    assert cli.main(["graph", "-x", "--set", "x=2", f"-o{out}"]) == 0  # -o with its value
    assert capsys.readouterr().out.startswith("-x = -2.0\n")
    assert out.is_file()


def test_graph_a_mistyped_formula_starting_with_minus_gets_the_formula_error(capsys):
    assert cli.main(["graph", "-x*(y", "--set", "x=2", "--set", "y=3"]) == 2
    err = capsys.readouterr().err
    assert "'(' was never closed at column 4" in err


def test_graph_help_no_longer_asks_for_a_space_before_a_minus(capsys):
    with pytest.raises(SystemExit):
        cli.main(["graph", "--help"])
    text = capsys.readouterr().out
    assert "needs a space" not in text and "'-x*y'" in text


def all_parsers(parser=None, prog="zerograd"):
    """(prog, parser) for the top parser and every subcommand under it, demos included."""
    import argparse

    parser = parser or cli.build_parser()
    yield prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from all_parsers(sub, f"{prog} {name}")


def test_every_help_text_is_plain_text_without_rst_markup():
    progs = []
    for prog, parser in all_parsers():
        progs.append(prog)
        text = parser.format_help()
        for markup in ("``", ":class:", ":func:", ":mod:", ":meth:", "`"):
            assert markup not in text, f"'{prog} --help' shows {markup!r}:\n{text}"
    for expected in ("zerograd train", "zerograd demo", "zerograd demo moons",
                     "zerograd demo spiral", "zerograd demo digits", "zerograd graph",
                     "zerograd lr-find", "zerograd playground"):
        assert expected in progs


def test_zerograd_help_as_a_learner_runs_it():
    path = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    r = subprocess.run([sys.executable, "-m", "zerograd", "--help"], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "``" not in r.stdout and "zerograd's command line" in r.stdout
    assert "Run 'zerograd COMMAND --help'" in r.stdout
