"""No module of zerograd reads another module's private names, and none imports from the
package root what the root itself imports (an import that runs back up the floors): checked
on the source, so a new one fails here with the line to fix."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "zerograd"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "static" not in p.parts)
GRAPH_FIELDS = {"_children", "_fn", "_arg", "_op", "_prev", "_backward", "_passes"}
DOCUMENTED = {"_getframe"}  # sys._getframe: documented CPython API despite its underscore


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in GRAPH_FIELDS


def _submodule(package: Path, name: str) -> bool:
    return (package / f"{name}.py").is_file() or (package / name / "__init__.py").is_file()


def reaches(path: Path) -> list[str]:
    """Each line of ``path`` that takes a private name from another zerograd module
    (``from .x import _y``, or ``x._y`` on a name imported from zerograd), or imports from
    the package root something that is not one of its modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    imported: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        base = path.parent
        for _ in range(node.level - 1):
            base = base.parent
        for alias in node.names:
            imported.add(alias.asname or alias.name)
            where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
            if _private(alias.name):
                found.append(f"{where}: from {'.' * node.level}{node.module or ''} import "
                             f"{alias.name}")
            elif node.module is None and base == PACKAGE and not _submodule(base, alias.name):
                found.append(f"{where}: imports {alias.name} from the package root")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in imported and _private(node.attr)):
            found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: "
                         f"{node.value.id}.{node.attr}")
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_reaches_into_another(path):
    assert reaches(path) == []


def test_the_check_finds_what_it_looks_for(tmp_path, monkeypatch):
    fake = tmp_path / "zerograd"
    (fake / "sub").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "viz.py").write_text("")
    (fake / "sub" / "__init__.py").write_text("")
    face = fake / "sub" / "face.py"
    face.write_text("from .. import viz, __version__\nfrom ..viz import _scores\n"
                    "from ..engine import Value\nviz._require('x')\nv = Value(1)\n"
                    "v._children, Value._op\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert reaches(face) == [
        "zerograd/sub/face.py:1: imports __version__ from the package root",
        "zerograd/sub/face.py:2: from ..viz import _scores",
        "zerograd/sub/face.py:4: viz._require",
    ]


def _owned(tree: ast.AST) -> set[str]:
    """The private names a module defines itself: its functions, classes, methods and class
    attributes, the slots it declares, and what it assigns on ``self``/``cls``/its objects."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for leaf in ast.walk(t):
                    if isinstance(leaf, ast.Attribute):
                        names.add(leaf.attr)
                    elif isinstance(leaf, ast.Name):
                        names.add(leaf.id)
                    elif (isinstance(leaf, ast.Constant) and isinstance(leaf.value, str)):
                        names.add(leaf.value)
            if any(isinstance(t, ast.Name) and t.id == "__slots__" for t in targets):
                names |= {c.value for c in ast.walk(node.value)
                          if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return names


def foreign_attributes(path: Path) -> list[str]:
    """Each line of ``path`` that reads a private attribute the module does not define
    itself (``obj._state`` where ``_state`` is another module's class's), other than
    Value's graph fields: another class's private attributes are its own business."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    owned = _owned(tree)
    return [f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: .{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and _private(node.attr)
            and node.attr not in owned | DOCUMENTED]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_reads_another_class_private_attributes(path):
    assert foreign_attributes(path) == []


def test_the_attribute_check_finds_what_it_looks_for(tmp_path):
    (tmp_path / "zerograd").mkdir()
    mod = tmp_path / "zerograd" / "m.py"
    mod.write_text("class A:\n    __slots__ = ('_kept',)\n    def __init__(self):\n"
                   "        self._mine = 1\n    def _helper(self):\n        return self._mine\n"
                   "def f(opt, v, a):\n    return opt._state, v._children, a._kept, a._helper\n")
    monkey = PACKAGE
    try:
        globals()["PACKAGE"] = tmp_path / "zerograd"
        assert foreign_attributes(mod) == ["zerograd/m.py:8: ._state"]
    finally:
        globals()["PACKAGE"] = monkey
