"""Graphviz drawings: DOT source laid out as SVG, PNG or PDF.

The layout runs in Graphviz's ``dot``: the system program when it is on PATH, otherwise the
Graphviz that the ``pygraphviz`` wheel bundles, in-process (``pip install "zerograd[viz]"``;
no system package needed on Linux, Windows and macOS on Apple silicon), or a layout function
given to :func:`set_layout` (the browser page gives Graphviz compiled to WebAssembly).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

FORMATS = ("svg", "png", "pdf", "dot")
_MIME = {"svg": "image/svg+xml", "png": "image/png"}
NO_GRAPHVIZ = (
    'drawing needs Graphviz: pip install "zerograd[viz]" (its pygraphviz wheel bundles '
    "Graphviz), or install the dot program (apt-get install graphviz; brew install graphviz)"
)


def quote(text: str) -> str:
    """``text`` as a DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return fmt


@contextlib.contextmanager
def _quiet_fontconfig() -> Iterator[None]:
    """Drop the ``Fontconfig warning`` lines that the bundled (older) fontconfig prints on
    reading a newer system's configuration; anything else written to stderr is kept."""
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            kept = [ln for ln in sink.read().splitlines(keepends=True)
                    if not ln.startswith(b"Fontconfig warning")]
            if kept:
                os.write(2, b"".join(kept))


_given: list[Callable[[str, str], str | bytes]] = []  # set_layout's function, if any


def set_layout(fn: Callable[[str, str], str | bytes] | None) -> None:
    """Lay drawings out with ``fn(source, fmt)`` (DOT text in; the ``svg`` or ``plain``
    output as text or bytes), before the system's dot and pygraphviz; None forgets it. The
    browser page passes Graphviz compiled to WebAssembly, where no dot program can run."""
    if fn is not None and not callable(fn):
        raise TypeError(f"set_layout needs a function fn(source, fmt) or None, "
                        f"got {type(fn).__name__}")
    _given[:] = [] if fn is None else [fn]


def backend() -> str:
    """Which Graphviz lays drawings out: ``"given"`` (:func:`set_layout`'s function),
    ``"dot"`` (the system program), ``"pygraphviz"`` (bundled in its wheel) or ``""`` (none
    available)."""
    if _given:
        return "given"
    if shutil.which("dot"):
        return "dot"
    try:
        import pygraphviz  # noqa: F401
    except ImportError:
        return ""
    return "pygraphviz"


def layout(source: str, fmt: str) -> bytes:
    """Lay ``source`` (DOT) out with Graphviz's dot and return the file's bytes in ``fmt``."""
    if _check_format(fmt) == "dot":
        return source.encode()
    return _dot(source, fmt)


def plain(source: str) -> str:
    """Graphviz's ``plain`` output for ``source``: each node's centre and size and each
    edge's spline, in inches, for drawing the layout with something else."""
    return _dot(source, "plain").decode()


def _dot(source: str, fmt: str) -> bytes:
    which = backend()
    if which == "given":
        out = _given[0](source, fmt)
        return out.encode() if isinstance(out, str) else bytes(out)
    if which == "dot":
        done = subprocess.run(["dot", f"-T{fmt}"], input=source.encode(), capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"Graphviz's dot failed: {done.stderr.decode().strip()}")
        return done.stdout
    if which == "pygraphviz":
        import pygraphviz

        with _quiet_fontconfig():
            try:
                return pygraphviz.AGraph(string=source).draw(format=fmt, prog="dot")
            except Exception as e:  # a format this build lacks, or a layout error
                raise RuntimeError(
                    f"pygraphviz's bundled Graphviz could not write {fmt} ({e}); install the "
                    f"system Graphviz (apt-get install graphviz; brew install graphviz)"
                ) from None
    raise FileNotFoundError(NO_GRAPHVIZ)


# picture suffixes Graphviz knows but zerograd does not write: an error, not 'g.jpg.png'
_OTHER_PICTURES = {"jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp", "eps", "ps", "svgz"}
_OPENER_HINT = "xdg-open on Linux, open on macOS"


def _opener() -> Callable[[str], None] | None:
    """A function that opens a file in the system's viewer without waiting, or None."""
    if sys.platform == "win32":
        return os.startfile  # type: ignore[attr-defined]  # only on Windows
    program = shutil.which("open" if sys.platform == "darwin" else "xdg-open")
    if program is None:
        return None
    return lambda path: subprocess.Popen([program, path], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)


class Graph:
    """A drawing in DOT: ``.source``, ``.pipe(format)`` for its bytes, ``.render('g.svg')``
    or graphviz's ``.render('g', format='png')`` to write a file; shown inline in Jupyter
    (SVG)."""

    def __init__(self, source: str, format: str = "svg") -> None:
        self.source = source
        self.format = _check_format(format)

    def pipe(self, format: str | None = None) -> bytes:
        """The drawing as bytes in ``format`` (default: the graph's own)."""
        return layout(self.source, format or self.format)

    def render(self, filename: str | os.PathLike | None = None,
               directory: str | os.PathLike | None = None, view: bool = False,
               cleanup: bool = False, format: str | None = None, *,
               outfile: str | os.PathLike | None = None) -> str:
        """Write the picture to a file and return its path; graphviz's ``Digraph.render``
        signature, so lecture code such as ``render('graph', format='png')`` works.

        - ``render('graph.svg')``: the name's suffix (``.svg``, ``.png``, ``.pdf``, ``.dot``)
          picks the format.
        - ``render('graph', format='png')`` writes ``graph.png``: ``format`` is added to a
          name without one of those suffixes (``'g.gv'`` gives ``'g.gv.png'``, as in
          graphviz). With neither, the graph's own format (``draw_dot(format=...)``, ``svg``).
        - ``directory`` is put in front of the name; missing folders are created.
        - ``outfile='out/graph.png'``: the exact path to write, instead of ``filename``
          and ``directory``.
        - ``view=True`` opens the picture with the system's viewer (``xdg-open``, ``open``,
          ``os.startfile``); without one it raises before writing anything.

        Unlike graphviz, only the picture is written, never a separate DOT source file (as
        if ``cleanup=True``, which is accepted and changes nothing); ``.source`` holds the
        DOT text, and ``render('graph.dot')`` writes it. Bad arguments raise before any file
        or folder is made.
        """
        path, fmt = self._output(filename, directory, format, outfile)
        opener = _opener() if view else None
        if view and opener is None:
            raise RuntimeError(
                f"view=True needs a program that opens files ({_OPENER_HINT}) and none was "
                f"found; render with view=False and open {path!r} yourself (in Jupyter, "
                f"just show the graph: it is drawn inline)")
        data = layout(self.source, fmt)
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        if opener is not None:
            opener(path)
        return path

    def _output(self, filename: Any, directory: Any, format: Any,
                outfile: Any) -> tuple[str, str]:
        """The path to write and its format, from render's arguments; raises on bad ones."""
        for what, value in (("filename", filename), ("directory", directory),
                            ("outfile", outfile)):
            if value is not None and not isinstance(value, (str, os.PathLike)):
                raise TypeError(f"render: {what} must be a file name (str or path), got "
                                f"{type(value).__name__}: {value!r}")
        if format is not None:
            if not isinstance(format, str) or format.lower().lstrip(".") not in FORMATS:
                raise ValueError(f"render: format must be one of {', '.join(FORMATS)}, "
                                 f"got {format!r}")
            format = format.lower().lstrip(".")
        if outfile is not None:
            if filename is not None or directory is not None:
                raise ValueError(
                    "render: pass outfile alone (the exact path to write), or filename and "
                    "directory, not both: zerograd writes only the picture, no DOT source")
            name = os.fspath(outfile)
        else:
            name = os.fspath(filename) if filename is not None else "graph"
            if not name:
                raise ValueError("render: filename is empty; give a name such as 'graph'")
            if directory is not None:
                name = os.path.join(os.fspath(directory), name)
        suffix = os.path.splitext(name)[1].lstrip(".").lower()
        if suffix in FORMATS:
            if format is not None and format != suffix:
                stem = os.path.splitext(os.path.basename(name))[0]
                raise ValueError(
                    f"render: {name!r} ends in .{suffix} but format is {format!r}; write "
                    f"render({stem!r}, format={format!r}) or render({stem + '.' + format!r})")
            return name, suffix
        if suffix in _OTHER_PICTURES:
            raise ValueError(f"render: zerograd cannot write .{suffix} files ({name!r}): use "
                             f"a name ending in {', '.join('.' + f for f in FORMATS)}, or a "
                             f"name without a suffix and format=")
        if format is None and (suffix or outfile is not None):
            raise ValueError(f"render: cannot tell the format of {name!r}: use a name ending "
                             f"in {', '.join('.' + f for f in FORMATS)}, or pass format=")
        if outfile is not None:  # the exact path, as in graphviz
            return name, format
        fmt = format or self.format
        return f"{name}.{fmt}", fmt

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        fmt = self.format if self.format in _MIME else "svg"
        data = self.pipe(fmt)
        return {_MIME[fmt]: data.decode() if fmt == "svg" else data}

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return ("<zerograd Graph: shown as a picture in Jupyter; .render('g.svg') writes a "
                "file, .source is its DOT text>")
