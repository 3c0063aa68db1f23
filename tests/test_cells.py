"""zerograd.playground.cells: the docs' Run buttons run code cells as a notebook does (one
namespace per page, printed text, the last line's value, pictures, warnings, errors). Native
Python here; the same module runs in the page's Pyodide (tests/test_docs_run.py)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import needs_graphviz
from markdown_blocks import fenced_blocks

from zerograd.playground import cells

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(autouse=True)
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with an empty namespace, in an empty folder."""
    monkeypatch.chdir(tmp_path)
    cells.reset()
    yield
    cells.reset()


def test_printed_text_is_the_output_and_nothing_else_is_shown() -> None:
    done = cells.run("print('hello')\nprint(1 + 2)\nx = 5\n")
    assert done == {"stdout": "hello\n3\n", "out": "", "images": [], "warnings": [],
                    "error": ""}


def test_stderr_is_captured_in_order_with_stdout() -> None:
    done = cells.run("import sys\nprint('a')\nprint('b', file=sys.stderr)\nprint('c')\n")
    assert done["stdout"] == "a\nb\nc\n"


def test_the_last_expression_is_shown_as_out() -> None:
    assert cells.run("x = 20\nx + 1")["out"] == "21"
    assert cells.run("'text'")["out"] == "'text'"
    assert cells.run("[1.5, None]")["out"] == "[1.5, None]"
    assert cells.run("None")["out"] == ""  # as a notebook: nothing for None
    assert cells.run("print('p')")["out"] == ""  # print(...) returns None
    # a statement on the last line shows nothing, even after an expression
    assert cells.run("1 + 1\ny = 3")["out"] == ""


def test_a_value_shows_its_repr() -> None:
    done = cells.run("import zerograd as zg\nzg.Value(2.0) * 3")
    assert done["out"] == "Value(data=6.0, grad=0.0)"


def test_names_persist_from_cell_to_cell_until_reset() -> None:
    cells.run("import zerograd as zg\na = zg.Value(2.0)\nb = a * a")
    cells.run("b.backward()")
    assert cells.run("a.grad")["out"] == "4.0"
    assert cells.run("_")["out"] == "4.0"  # the last value, as in the interpreter
    cells.reset()
    done = cells.run("a.grad")
    assert done["error"].endswith("NameError: name 'a' is not defined")


def test_the_cells_run_as_main() -> None:
    assert cells.run("__name__")["out"] == "'__main__'"


def test_draw_dot_on_the_last_line_is_an_svg_image_with_the_labels() -> None:
    needs_graphviz()
    cells.run('import zerograd as zg\na = zg.Value(2.0, label="a")\n'
              'b = zg.Value(-3.0, label="b")\nL = a * b; L.label = "L"\nL.backward()')
    done = cells.run("zg.draw_dot(L)")
    assert done["error"] == "" and done["out"] == "" and done["stdout"] == ""
    [image] = done["images"]
    assert image["name"] == ""
    svg = image["svg"]
    assert svg.lstrip().startswith("<?xml") or svg.lstrip().startswith("<svg")
    assert "</svg>" in svg
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    for shown in ("a", "b", "L", "data 2.0000", "grad -3.0000", "data -6.0000"):
        assert any(shown in t for t in texts), (shown, texts)


def test_an_svg_file_the_cell_writes_is_shown_by_its_name() -> None:
    needs_graphviz()
    cells.run('import zerograd as zg\nL = zg.Value(2.0, label="two") * 4')
    done = cells.run('zg.draw_dot(L).render("graph.svg")')
    assert done["out"] == "'graph.svg'"
    [image] = done["images"]
    assert image["name"] == "graph.svg"
    assert image["svg"] == Path("graph.svg").read_text()
    assert "two" in image["svg"]
    # a cell that writes nothing shows no picture, though graph.svg is still there
    assert cells.run("1")["images"] == []


def _page_warning(page: str, start: str) -> str:
    """The TrainingWarning line of the ```text block that the page shows under its python
    block beginning ``start``."""
    blocks = fenced_blocks((DOCS / page).read_text(encoding="utf-8"))
    for (lang, code), (next_lang, shown) in zip(blocks, blocks[1:]):
        if lang == "python" and start in code and next_lang == "text":
            [line] = [ln for ln in shown.splitlines() if ln.startswith("TrainingWarning: ")]
            return line
    raise AssertionError(f"no python block with {start!r} and a text block after it in {page}")


LECTURE_SETUP = """
import random
import zerograd as zg
from zerograd.lecture import MLP

xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
ys = [1.0, -1.0, -1.0, 1.0]
random.seed(1337)
n = MLP(3, [4, 4, 1])
"""

LOOP = """
for k in range(20):
    ypred = [n(x) for x in xs]
    loss = sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred))
{zero}    loss.backward()
    for p in n.parameters():
        p.data += -{lr} * p.grad
print(round(loss.data, 6))
"""
ZERO = "    for p in n.parameters():\n        p.grad = 0.0\n"


def test_the_forgotten_zero_grad_warning_is_shown_word_for_word() -> None:
    expected = _page_warning("tutorials/training-loop.md", "# no p.grad = 0.0 before it")
    assert cells.run(LECTURE_SETUP)["error"] == ""
    done = cells.run(LOOP.format(zero="", lr=0.05))
    assert done["error"] == ""
    assert done["warnings"] == [expected]
    assert done["stdout"] == "3.975195\n"  # the page's loss at step 19


def test_the_too_large_learning_rate_warning_is_shown_word_for_word() -> None:
    expected = _page_warning("tutorials/training-loop.md", "p.data += -10 * p.grad")
    cells.run(LECTURE_SETUP)
    done = cells.run(LOOP.format(zero=ZERO, lr=10))
    assert done["warnings"] == [expected]


def test_the_correct_loop_warns_nothing() -> None:
    cells.run(LECTURE_SETUP)
    done = cells.run(LOOP.format(zero=ZERO, lr=0.05))
    assert done["warnings"] == [] and done["error"] == ""


def test_every_warning_is_caught_and_a_repeated_one_is_listed_once_with_its_count() -> None:
    done = cells.run("import warnings\nfor _ in range(3):\n    warnings.warn('careful')\n"
                     "warnings.warn('old', DeprecationWarning)\n")
    assert done["warnings"] == ["UserWarning: careful\n(raised 3 times in this cell)",
                                "DeprecationWarning: old"]


def test_an_error_shows_the_cells_frames_and_not_the_runners() -> None:
    cells.run("def inverse(x):\n    return 1 / x\n")
    done = cells.run("y = 2\ninverse(0)\n")
    error = done["error"]
    assert error.startswith("Traceback (most recent call last):")
    assert error.endswith("ZeroDivisionError: division by zero")
    assert "cells.py" not in error
    assert '"<cell 1>", line 2, in inverse' in error
    assert '"<cell 2>", line 2, in <module>' in error
    assert "return 1 / x" in error and "inverse(0)" in error  # the cells' own lines
    assert done["out"] == ""
    # the names made before the error stay, as in a notebook
    assert cells.run("y")["out"] == "2"


def test_output_printed_before_an_error_is_kept() -> None:
    done = cells.run("print('before')\nraise ValueError('bad value')\nprint('after')")
    assert done["stdout"] == "before\n"
    assert done["error"].endswith("ValueError: bad value")


def test_a_syntax_error_names_the_line() -> None:
    done = cells.run("x = 1\ny = (2 +\n")
    assert "SyntaxError" in done["error"]
    assert "<cell 1>" in done["error"] and "cells.py" not in done["error"]


def test_a_long_traceback_keeps_its_last_lines() -> None:
    # two functions calling each other: no "Previous line repeated" to shorten it
    cells.run("def down(n):\n    return up(n - 1) if n else 1 / 0\n"
              "def up(n):\n    return down(n - 1)\n")
    error = cells.run("down(100)")["error"]
    assert len(error.splitlines()) <= cells.MAX_TRACEBACK_LINES + 1
    assert error.startswith("Traceback (its last lines):")
    assert error.endswith("ZeroDivisionError: division by zero")


def test_stdout_and_stderr_are_given_back_after_the_cell() -> None:
    import sys

    out, err = sys.stdout, sys.stderr
    cells.run("print('x')")
    cells.run("raise SystemExit(3)")
    assert sys.stdout is out and sys.stderr is err


def test_a_huge_output_is_cut_and_says_so() -> None:
    done = cells.run("for i in range(30000):\n    print('0123456789')\n")
    text = done["stdout"]
    assert text.startswith("0123456789\n")
    assert text.endswith("[output cut: the cell printed 330,000 characters; the first "
                         "100,000 are shown]\n")
    assert len(text) < cells.MAX_OUTPUT + 200
    assert len(cells.run("'x' * 200_000")["out"]) < cells.MAX_OUTPUT + 200


def test_an_interactive_session_runs_its_code_lines() -> None:
    done = cells.run(">>> a = 2\n>>> for i in range(2):\n...     a += i\n...\n>>> a\n3\n")
    assert done["out"] == "3" and done["error"] == ""
    assert cells.pycon_source(">>> x = 1\n1\n>>> x\n") == "x = 1\nx\n"


def test_code_that_is_not_text_is_refused() -> None:
    with pytest.raises(TypeError, match="code must be the cell's text"):
        cells.run(b"print(1)")  # type: ignore[arg-type]


def test_any_object_with_an_svg_form_is_a_picture() -> None:
    cells.run("class Box:\n    def _repr_svg_(self):\n"
              "        return '<svg><text>box</text></svg>'\n")
    assert cells.run("Box()")["images"] == [{"name": "", "svg": "<svg><text>box</text></svg>"}]
    assert cells.run("Box")["out"] == "<class '__main__.Box'>"  # the class itself is no picture
