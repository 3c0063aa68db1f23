"""A griffe extension for the reference pages: zerograd's docstrings are written in the
reStructuredText habit (``double backticks``, :func:`roles`, ``::`` before an example), which
Markdown reads almost as it is. This turns the two things it would show wrongly into
Markdown, before mkdocstrings renders the docstrings:

- a role, :func:`name` or :meth:`~a.b.name`, becomes plain code: `name`;
- a paragraph ending in ``::`` followed by an indented block becomes the paragraph ending
  in ``:`` and a fenced Python block (highlighted like every other example on the site).

It changes only what the site shows; the source files are left as they are. mkdocs.yml
loads it (plugins, mkdocstrings, python handler, options, extensions).
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|meth|mod|class|data|attr|exc|obj|const|ref):`~?([^`]+)`")
_ESCAPED_SPACE = re.compile(r"\\ ")


def _role(m: re.Match) -> str:
    name = m[1]
    if m[0].split("`")[1].startswith("~"):
        name = name.rsplit(".", 1)[-1]
    return f"`{name}`"


def _literal_blocks(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        base = len(line) - len(line.lstrip())
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        block: list[str] = []
        if line.rstrip().endswith("::") and line.strip() != "::":
            while j < len(lines) and (not lines[j].strip()
                                      or len(lines[j]) - len(lines[j].lstrip()) > base):
                block.append(lines[j])
                j += 1
            while block and not block[-1].strip():
                block.pop()
        if block:  # "as in jax.jit)::" and its indented example
            out.append(line.rstrip()[:-1])
            i = j
            code = textwrap.dedent("\n".join(block))
            pad = " " * base
            out += ["", pad + "```python", *(pad + c if c else c for c in code.split("\n")),
                    pad + "```", ""]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def markdown(text: str) -> str:
    """The docstring ``text`` with RST roles and literal blocks written as Markdown."""
    text = _ROLE.sub(_role, text)
    text = _ESCAPED_SPACE.sub("", text)
    return _literal_blocks(text) if "::" in text else text


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring of the loaded package (see the module's docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        seen: set[int] = set()
        todo: list[griffe.Object] = [pkg]
        while todo:
            obj = todo.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if obj.docstring is not None:
                obj.docstring.value = markdown(obj.docstring.value)
            todo += [m for m in obj.members.values() if not m.is_alias]
