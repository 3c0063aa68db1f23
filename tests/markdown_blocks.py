"""The ```python fenced blocks of a Markdown file, for the tests that run a page's code
(tests/test_docs.py, tests/test_readme.py)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

# An opening fence: up to any indentation (a block inside a list item or an admonition), three
# or more backticks or tildes, then the info string, whose first word is the language.
_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*\{?\.?(?P<lang>[\w+-]*)")
PYTHON = {"python", "py", "python3"}


def _strip_indent(line: str, indent: int) -> str:
    """Remove at most ``indent`` leading spaces (CommonMark: a fenced block's lines lose as
    much indentation as its opening fence has)."""
    n = 0
    while n < indent and n < len(line) and line[n] == " ":
        n += 1
    return line[n:]


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced block of ``text`` as ``(language, code)``, in order; ``code`` is dedented
    and ends with a newline. Blocks nested in a longer fence are part of that fence's code."""
    blocks: list[tuple[str, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        if not m or (m["fence"][0] == "`" and "`" in lines[i][m.end("fence"):]):
            i += 1
            continue
        indent = len(m["indent"].expandtabs(4))
        fence = m["fence"]
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        i += 1
        while i < len(lines) and not close.match(lines[i]):
            body.append(_strip_indent(lines[i].expandtabs(4), indent))
            i += 1
        i += 1  # the closing fence (or the end of the file, which closes an open block)
        code = textwrap.dedent("\n".join(body))
        blocks.append((m["lang"].lower(), code + "\n" if code else ""))
    return blocks


def python_blocks(path: str | Path) -> list[str]:
    """The ```python fenced blocks of the Markdown file at ``path``, in order, dedented
    (blocks indented inside list items or admonitions included)."""
    text = Path(path).read_text(encoding="utf-8")
    return [code for lang, code in fenced_blocks(text) if lang in PYTHON]
