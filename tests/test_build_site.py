"""tools/build_site.py without a browser: it says what to run when npm's packages are missing,
and zerograd's archive for the page holds the package's .py files and nothing else."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def build_site() -> Any:
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_node_modules_it_says_run_npm_ci(build_site: Any, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    build_site.NODE = tmp_path / "node_modules"          # an empty checkout
    build_site.VIZ_FILE = build_site.NODE / "@viz-js" / "viz" / "dist" / "viz.js"
    out = tmp_path / "out"
    assert build_site.main(["--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "run npm ci" in err and "pyodide.asm.wasm" in err, err
    assert not out.exists(), "the build started before it knew it could not finish"


def test_the_archive_holds_zerograds_python_files(build_site: Any, tmp_path: Path) -> None:
    dest = tmp_path / "zerograd.zip"
    build_site.zerograd_archive(dest)
    names = zipfile.ZipFile(dest).namelist()
    package = ROOT / "src" / "zerograd"
    want = sorted(str(p.relative_to(package.parent)) for p in package.rglob("*.py")
                  if "__pycache__" not in p.parts)
    assert sorted(names) == want
    assert "zerograd/playground/inpage.py" in names and "zerograd/engine.py" in names
    again = tmp_path / "again.zip"
    build_site.zerograd_archive(again)
    assert again.read_bytes() == dest.read_bytes(), "the archive is not the same twice"


def test_the_page_names_its_engine_once(build_site: Any) -> None:
    index = (build_site.STATIC / "index.html").read_text()
    assert index.count(build_site.ENGINE_SERVER) == 1
    assert "/static/" not in index, "a link from the site's root: the page must work in a folder"
