"""Graphviz drawings: DOT source laid out as SVG, PNG or PDF.

The layout runs in Graphviz's ``dot``: the system program when it is on PATH, otherwise the
Graphviz that the ``pygraphviz`` wheel bundles, in-process (``pip install "zerograd[viz]"``;
no system package needed on Linux, Windows and macOS on Apple silicon).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
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


def backend() -> str:
    """Which Graphviz lays drawings out: ``"dot"`` (the system program), ``"pygraphviz"``
    (bundled in its wheel) or ``""`` (none available)."""
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


class Graph:
    """A drawing in DOT: ``.source``, ``.pipe(format)`` for its bytes, ``.render(path)`` to
    write a file; shown inline in Jupyter (SVG)."""

    def __init__(self, source: str, format: str = "svg") -> None:
        self.source = source
        self.format = _check_format(format)

    def pipe(self, format: str | None = None) -> bytes:
        """The drawing as bytes in ``format`` (default: the graph's own)."""
        return layout(self.source, format or self.format)

    def render(self, path: str | os.PathLike) -> str:
        """Write the drawing to ``path``; its suffix (``.svg``, ``.png``, ``.pdf``, ``.dot``)
        picks the format, and a name without one gets the graph's format. Returns the path."""
        path = os.fspath(path)
        fmt = os.path.splitext(path)[1].lstrip(".").lower()
        if not fmt:
            fmt, path = self.format, f"{path}.{self.format}"
        if fmt not in FORMATS:
            raise ValueError(f"cannot tell the format of {path!r}: use a name ending in "
                             f"{', '.join('.' + f for f in FORMATS)}")
        data = layout(self.source, fmt)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        fmt = self.format if self.format in _MIME else "svg"
        data = self.pipe(fmt)
        return {_MIME[fmt]: data.decode() if fmt == "svg" else data}

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return ("<zerograd Graph: shown as a picture in Jupyter; .render('g.svg') writes a "
                "file, .source is its DOT text>")
