"""Build zerograd's static site: the docs (mkdocs) and the playground running in the page.

    python tools/build_site.py [--out DIR]        (default: site/)

Needs `npm ci` first (Pyodide and Graphviz-in-WebAssembly come from node_modules, pinned by
package-lock.json). The output is plain files: serve it from any static host, for example
`python -m http.server -d site`. Nothing in it fetches from another host.

Layout of the playground (the same relative paths as `zerograd playground`'s server, which
serves index.html at / and the static folder at /static/):

    playground/index.html          the page (its engine meta set to "pyodide")
    playground/static/             app.js, style.css, worker.js (the package's own files)
    playground/static/pyodide/     Pyodide's core (no packages)
    playground/static/viz/viz.js   Graphviz compiled to WebAssembly (an ES module)
    playground/static/zerograd.zip zerograd's .py files, unpacked in the worker
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "zerograd"
STATIC = PACKAGE / "playground" / "static"
NODE = ROOT / "node_modules"

# What Pyodide's loader fetches for the core interpreter (checked in the browser tests:
# every request the page makes is to a file of the site).
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip",
                 "pyodide-lock.json")
VIZ_FILE = NODE / "@viz-js" / "viz" / "dist" / "viz.js"

# The one line of index.html that differs in the site: which engine runs the session.
ENGINE_SERVER = '<meta name="zerograd-engine" content="server">'
ENGINE_PAGE = '<meta name="zerograd-engine" content="pyodide">'


class BuildError(Exception):
    """The site cannot be built; the message says what to do."""


def check_node_modules() -> None:
    """Fail with what to run when npm's packages are not installed."""
    missing = [str(p.relative_to(ROOT)) for p in
               [NODE / "pyodide" / f for f in PYODIDE_FILES] + [VIZ_FILE] if not p.is_file()]
    if missing:
        raise BuildError(f"node_modules is missing {', '.join(missing)}: run npm ci in {ROOT} "
                         "(Node and npm needed), then build again")


def zerograd_archive(dest: Path) -> None:
    """zerograd's Python files as a zip, paths starting at ``zerograd/`` (deterministic)."""
    files = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for p in files:
            info = zipfile.ZipInfo(str(p.relative_to(PACKAGE.parent)), (2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, p.read_bytes())


def playground(out: Path) -> None:
    """The playground page with everything it loads, under ``out/playground``."""
    page = out / "playground"
    static = page / "static"
    static.mkdir(parents=True, exist_ok=True)
    index = (STATIC / "index.html").read_text(encoding="utf-8")
    if index.count(ENGINE_SERVER) != 1:
        raise BuildError(f"{STATIC / 'index.html'} must hold {ENGINE_SERVER} exactly once")
    (page / "index.html").write_text(index.replace(ENGINE_SERVER, ENGINE_PAGE), encoding="utf-8")
    for p in STATIC.iterdir():
        if p.is_file() and p.name != "index.html":
            shutil.copy2(p, static / p.name)
    (static / "pyodide").mkdir(exist_ok=True)
    for f in PYODIDE_FILES:
        shutil.copy2(NODE / "pyodide" / f, static / "pyodide" / f)
    (static / "viz").mkdir(exist_ok=True)
    shutil.copy2(VIZ_FILE, static / "viz" / "viz.js")
    zerograd_archive(static / "zerograd.zip")


def size(path: Path) -> int:
    """Bytes of every file under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build(out: Path) -> int:
    """Build the whole site into ``out`` (replaced); returns its size in bytes."""
    check_node_modules()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT / "src")] + [x for x in [os.environ.get("PYTHONPATH")] if x]))
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                          "-d", str(out)], cwd=ROOT, env=env)
    if run.returncode:
        raise BuildError(f"mkdocs build failed (exit {run.returncode}): see its output above")
    playground(out)
    return size(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Build zerograd's static site (docs + playground).")
    ap.add_argument("--out", default=str(ROOT / "site"), help="output folder (default: site/)")
    args = ap.parse_args(argv)
    out = Path(args.out).resolve()
    try:
        total = build(out)
    except BuildError as e:
        print(f"build_site: {e}", file=sys.stderr)
        return 1
    pyodide = size(out / "playground" / "static" / "pyodide")
    print(f"site built in {out}: {total} bytes ({pyodide} of them Pyodide's core)")
    print(f"serve it with: python -m http.server -d {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
