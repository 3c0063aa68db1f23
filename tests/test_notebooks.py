"""The notebooks in examples/ as a learner meets them: committed with their outputs (what a
GitHub preview shows), run top to bottom in a real Jupyter kernel ("python3" from ipykernel in
this environment) giving the same text outputs, leaving no file behind, and explaining with
prints rather than asserts."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import needs, needs_graphviz

nbformat = needs("nbformat", "reading the notebooks")  # else: skip the module

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))

_spec = importlib.util.spec_from_file_location("make_notebooks", EXAMPLES / "make_notebooks.py")
make = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_there_are_at_least_three_notebooks():
    names = [p.name for p in NOTEBOOKS]
    assert len(names) >= 3, names
    assert set(make.NOTEBOOKS) == set(names)


def test_notebooks_match_their_generator():
    proc = subprocess.run([sys.executable, str(EXAMPLES / "make_notebooks.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebooks_are_committed_with_outputs_and_no_volatile_metadata(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert "widgets" not in nb.metadata
    assert nb.metadata["language_info"] == {"name": "python"}  # not this kernel's version
    for cell in code_cells(nb):
        assert "execution" not in cell.metadata, f"{cell.id} keeps its execution times"
        assert cell.execution_count is not None, f"{cell.id} was not run"
        assert not [o for o in cell.outputs if make.WIDGET in o.get("data", {})]
    assert all(cell.outputs for cell in code_cells(nb)[-2:]), "the last cells show nothing"
    kinds = {k for c in code_cells(nb) for o in c.outputs for k in o.get("data", {})}
    if "lecture" in path.stem:
        assert {"image/svg+xml", "image/png"} <= kinds  # the graphs and the loss plot
    if "moons" in path.stem:
        assert "image/png" in kinds


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebooks_explain_with_prints_not_asserts(path):
    nb = nbformat.read(path, as_version=4)
    for cell in code_cells(nb):
        tests = [line for line in cell.source.splitlines()
                 if re.match(r"\s*(assert\b|np\.testing\.assert|pytest\.)", line)]
        assert not tests, f"{path.name} {cell.id} reads as a test: {tests}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_fresh_with_the_committed_outputs_and_leaves_no_files(path, tmp_path):
    for module in ("nbclient", "ipykernel", "ipywidgets", "matplotlib", "sklearn", "tqdm"):
        needs(module, "running the notebooks")
    needs_graphviz()  # the lecture notebook draws its graphs
    folder = tmp_path / "examples"
    folder.mkdir()
    shutil.copy(path, folder / path.name)  # run where a learner runs it: beside the file
    before = sorted(p.name for p in folder.iterdir())
    committed = nbformat.read(path, as_version=4)
    nb = make.execute(make.without_outputs(committed), folder)  # raises on a failing cell
    assert sorted(p.name for p in folder.iterdir()) == before, "the notebook left files"

    outputs = [o for c in code_cells(nb) for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert "Warning" not in stderr  # no TqdmWarning, no Fontconfig warning
    kinds = {k for o in outputs for k in o.get("data", {})}
    if "lecture" in path.stem:
        assert "image/svg+xml" in kinds  # the graphs are drawn inline
    if "moons" in path.stem:
        assert "image/png" in kinds
        assert make.WIDGET in kinds  # fit's progress widget

    for old, new in zip(code_cells(committed), code_cells(nb)):
        if make.inexact(old):  # timings, NumPy's vectorised maths: see make_notebooks.py
            continue
        assert make.text_outputs(new) == make.text_outputs(old), (
            f"{path.name} {old.id} now prints something else than the committed notebook "
            f"shows; run python examples/make_notebooks.py")
