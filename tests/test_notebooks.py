"""Every notebook in examples/ runs top to bottom in a real Jupyter kernel ("python3" from
ipykernel in this environment), and matches the script that writes it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_there_are_at_least_three_notebooks():
    names = [p.name for p in NOTEBOOKS]
    assert len(names) >= 3, names


def test_notebooks_match_their_generator_and_carry_no_outputs():
    proc = subprocess.run([sys.executable, str(EXAMPLES / "make_notebooks.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_a_jupyter_kernel(path, tmp_path, monkeypatch):
    # the kernel inherits this environment: make sure it imports this checkout's zerograd
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "src") + os.pathsep + os.environ.get(
        "PYTHONPATH", ""))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on failure
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert "Warning" not in stderr  # no TqdmWarning, no Fontconfig warning
    kinds = {k for o in outputs for k in o.get("data", {})}
    if "lecture" in path.stem:
        assert "image/svg+xml" in kinds  # the graphs are drawn inline
    if "moons" in path.stem:
        assert "image/png" in kinds
        assert "application/vnd.jupyter.widget-view+json" in kinds  # fit's progress widget
        assert (tmp_path / "moons_boundary.png").stat().st_size > 2000
