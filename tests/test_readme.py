"""The README cannot rot: every ```python block runs, in order, in one namespace (a block may
use what an earlier one defined), in a fresh folder. Its shell commands are run by
../shared/tools/fresh-machine on a clean clone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^( *)```python\n(.*?)^\1```", README.read_text(), flags=re.M | re.S)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 4


def test_every_python_block_of_the_readme_runs(tmp_path, monkeypatch, restore_random):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    for n, (indent, body) in enumerate(BLOCKS, 1):
        code = "\n".join(line[len(indent):] for line in body.splitlines())
        try:
            exec(compile(code, f"README.md python block {n}", "exec"), namespace)
        except Exception as e:  # name the block that failed
            pytest.fail(f"README python block {n} raised {type(e).__name__}: {e}\n{code}")
