"""The README cannot rot: every ```python block runs on its own, in a fresh interpreter and a
fresh folder, as a reader who copies just that block would run it. What the README shows
zerograd printing is what it prints. Its shell commands are run by
../shared/tools/fresh-machine on a clean clone."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import needs_graphviz
from markdown_blocks import python_blocks

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = python_blocks(README)


def test_the_readme_is_a_first_screen_with_the_lecture_near_the_top():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200
    top = "\n".join(lines[:60])
    assert 'pip install ".[all]"' in top and "from zerograd.lecture import" in top
    assert "MLP(3, [4, 4, 1])" in top and "p.grad = 0.0" in top


@pytest.mark.parametrize("n", range(len(BLOCKS)), ids=lambda n: f"block{n + 1}")
def test_each_python_block_of_the_readme_runs_on_its_own(n, tmp_path):
    if re.search(r"\.(render|pipe)\(", BLOCKS[n]):  # a drawing
        needs_graphviz()
    done = subprocess.run([sys.executable, "-c", BLOCKS[n]], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"README python block {n + 1} failed:\n{done.stderr}"


def test_the_warning_the_readme_shows_is_the_one_zerograd_gives(restore_random):
    """The lecture's loop without ``p.grad = 0.0`` warns with the README's text (the
    warning's start, as ``TrainingWarning: <first sentence> ...``)."""
    shown = re.search(r"```text\n(.*?)```", README.read_text(), flags=re.S).group(1)
    shown = " ".join(shown.split())
    assert shown.startswith("TrainingWarning: ") and shown.endswith(" ...")
    shown = shown.removeprefix("TrainingWarning: ").removesuffix(" ...")
    code = BLOCKS[0].split("random.seed(1337)")[1].replace("p.grad = 0.0", "pass")
    import random

    import zerograd as zg
    from zerograd.lecture import MLP

    random.seed(1337)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(code.replace("print(k, loss.data)", "pass"), "README", "exec"),
             {"MLP": MLP, "zg": zg})
    said = [str(w.message) for w in caught if issubclass(w.category, zg.TrainingWarning)]
    assert said, "the README's loop without zero_grad did not warn"
    assert " ".join(said[0].split()).startswith(shown)
