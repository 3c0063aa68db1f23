"""Code cells run as a notebook runs them: the docs' Run buttons, in the page's Python.

The static site's worker (Pyodide) calls :func:`run` with each block's code; one namespace
lives for the page (:func:`reset` clears it), so a later block uses an earlier one's names.
Standard library only: this runs in a browser's Python.

``run`` returns a dict, the cell's output:

- ``stdout``: what the cell printed (stdout and stderr, in order), cut at
  :data:`MAX_OUTPUT` characters with a note saying so;
- ``out``: the repr of the last line's value when it is an expression, as a notebook's
  ``Out``; ``""`` when there is none, when it is ``None``, or when the value is a picture;
- ``images``: pictures, each ``{"name": ..., "svg": ...}``: the last line's value if it has
  an SVG form (``zg.draw_dot(L)``), and every ``.svg`` file the cell wrote to the current
  folder (``zg.draw_dot(L).render("graph.svg")``), by its file name;
- ``warnings``: every warning raised while running, as ``"Category: message"`` (a warning
  raised again and again is listed once, with how many times);
- ``error``: the exception's traceback without this runner's own frames, or ``""``.
"""

from __future__ import annotations

import ast
import io
import linecache
import os
import sys
import traceback
import warnings
from typing import Any

MAX_OUTPUT = 100_000  # characters of stdout (and of each other text) kept per cell
MAX_IMAGES = 20  # pictures kept per cell
MAX_SVG = 5_000_000  # characters of one picture; a larger one is named, not shown
MAX_TRACEBACK_LINES = 40  # the traceback's last lines kept

_namespace: dict[str, Any] = {}
_count = [0]  # cells run since the last reset: names each cell's code "<cell N>"


def reset() -> None:
    """Forget every name the page's cells made: the next cell starts a fresh namespace."""
    _namespace.clear()
    _namespace.update({"__name__": "__main__", "__builtins__": __builtins__})
    _count[0] = 0


reset()


class _Capped(io.TextIOBase):
    """A text stream keeping the first ``limit`` characters written and counting the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(text[:room])
            self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def text(self) -> str:
        body = "".join(self.parts)
        if self.dropped:
            body += (f"\n[output cut: the cell printed {self.kept + self.dropped:,} characters;"
                     f" the first {self.kept:,} are shown]\n")
        return body


def _cut(text: str, limit: int = MAX_OUTPUT) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[cut: {len(text):,} characters; the first {limit:,} are shown]"


def pycon_source(text: str) -> str:
    """The code of an interactive session (``>>>`` and ``...`` lines), its output left out."""
    lines = []
    for line in text.splitlines():
        if line.startswith((">>> ", "... ")):
            lines.append(line[4:])
        elif line.rstrip() in (">>>", "..."):
            lines.append("")
    return "\n".join(lines) + "\n"


def _svg_of(value: Any) -> str | None:
    """``value``'s SVG form, as a notebook would show it, or None if it has none."""
    if isinstance(value, type):
        return None
    # IPython's display protocol (public names, though they start with "_")
    bundle_of = getattr(value, "_repr_mimebundle_", None)
    svg: Any = None
    if callable(bundle_of):
        bundle = bundle_of()
        svg = bundle.get("image/svg+xml") if isinstance(bundle, dict) else None
    svg_of = getattr(value, "_repr_svg_", None)
    if svg is None and callable(svg_of):
        svg = svg_of()
    if isinstance(svg, bytes):
        svg = svg.decode()
    return svg if isinstance(svg, str) else None


def _svg_files() -> dict[str, tuple[int, int]]:
    """The ``.svg`` files of the current folder, each with its modification time and size."""
    found = {}
    try:
        with os.scandir(".") as entries:
            for entry in entries:
                if entry.name.lower().endswith(".svg") and entry.is_file():
                    st = entry.stat()
                    found[entry.name] = (st.st_mtime_ns, st.st_size)
    except OSError:
        pass
    return found


def _error_text(error: BaseException) -> str:
    """The traceback of ``error`` from the cell's own code down, without the runner's frames;
    its last :data:`MAX_TRACEBACK_LINES` lines."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    lines = "".join(traceback.format_exception(type(error), error, tb)).splitlines()
    if len(lines) > MAX_TRACEBACK_LINES:
        lines = ["Traceback (its last lines):"] + lines[-MAX_TRACEBACK_LINES:]
    return _cut("\n".join(lines))


def _warning_texts(caught: list[warnings.WarningMessage]) -> list[str]:
    counts: dict[str, int] = {}
    for w in caught:
        text = f"{w.category.__name__}: {w.message}"
        counts[text] = counts.get(text, 0) + 1
    return [_cut(text if n == 1 else f"{text}\n(raised {n} times in this cell)")
            for text, n in list(counts.items())[:MAX_IMAGES * 5]]


def _show(result: dict[str, Any], name: str, svg: str, stream: _Capped) -> None:
    if len(svg) > MAX_SVG:
        stream.write(f"[a picture{' ' + name if name else ''} of {len(svg):,} characters is "
                     f"too large to show here (at most {MAX_SVG:,})]\n")
    elif len(result["images"]) < MAX_IMAGES:
        result["images"].append({"name": name, "svg": svg})


def run(code: str) -> dict[str, Any]:
    """Run one cell's ``code`` in the page's namespace and return what it showed (see the
    module's docstring). A session's text (``>>>`` prompts) runs its code lines."""
    if not isinstance(code, str):
        raise TypeError(f"run: code must be the cell's text (str), got {type(code).__name__}")
    if code.lstrip().startswith(">>>"):
        code = pycon_source(code)
    _count[0] += 1
    name = f"<cell {_count[0]}>"
    # the cell's lines in tracebacks, as a notebook shows them
    linecache.cache[name] = (len(code), None, code.splitlines(True), name)
    result: dict[str, Any] = {"stdout": "", "out": "", "images": [], "warnings": [],
                              "error": ""}
    stream = _Capped(MAX_OUTPUT)
    before = _svg_files()
    saved = sys.stdout, sys.stderr
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sys.stdout = sys.stderr = stream
        try:
            tree = ast.parse(code, filename=name)
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            exec(compile(tree, name, "exec"), _namespace)
            if last is not None:
                value = eval(compile(last, name, "eval"), _namespace)
                _namespace["_"] = value
                svg = _svg_of(value)
                if svg is not None:
                    _show(result, "", svg, stream)
                elif value is not None:
                    result["out"] = _cut(repr(value))
        except BaseException as error:  # the cell's error is its output, as in a notebook
            result["error"] = _error_text(error)
        finally:
            sys.stdout, sys.stderr = saved
    for file, stamp in _svg_files().items():
        if before.get(file) != stamp:
            with open(file, encoding="utf-8", errors="replace") as f:
                _show(result, file, f.read(), stream)
    result["stdout"] = stream.text()
    result["warnings"] = _warning_texts(caught)
    return result
