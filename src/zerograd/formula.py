"""A safe formula language for ``zerograd graph``: arithmetic on named scalars, nothing else.

``build("tanh(x*w + b)", {"x": 2.0, "w": -3.0, "b": 6.9})`` returns the output Value, its
graph built by the eager engine. The text is parsed with :mod:`ast` and every node is checked
against a whitelist before anything is computed; it is never passed to ``eval``.
"""

from __future__ import annotations

import ast
import numbers

from .engine import Value

FUNCTIONS = ("tanh", "relu", "sigmoid", "exp", "log", "softplus", "abs", "sqrt")
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_MAX_CHARS = 2000
_MAX_NODES = 2000
_ALLOWED = (
    "numbers, variable names, + - * / **, unary - and +, parentheses and the functions "
    + ", ".join(FUNCTIONS)
)


class FormulaError(ValueError):
    """The formula is not in the allowed language, or its variables are not all set."""


def _where(node: ast.AST) -> str:
    if not hasattr(node, "col_offset"):
        return ""
    line = f"line {node.lineno}, " if node.lineno > 1 else ""
    return f" ({line}column {node.col_offset + 1})"


def _refuse(node: ast.AST, what: str) -> FormulaError:
    return FormulaError(f"{what}{_where(node)} is not allowed in a formula; use only {_ALLOWED}")


def parse(text: str) -> ast.expr:
    """Parse ``text`` and check it against the whitelist; returns the checked expression."""
    if not isinstance(text, str):
        raise TypeError(f"a formula must be a string, got {type(text).__name__}")
    if not text.strip():
        raise FormulaError("the formula is empty; give an expression such as 'tanh(x*w + b)'")
    if len(text) > _MAX_CHARS:
        raise FormulaError(f"the formula is {len(text)} characters long; the limit is {_MAX_CHARS}")
    lead = text[: len(text) - len(text.lstrip())]  # stripped to parse; positions count it
    shift = lead.count("\n"), len(lead) - lead.rfind("\n") - 1  # lines, then columns
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise _syntax_error(text, shift, e) from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise FormulaError(f"cannot read the formula: {e}") from None
    _shift(tree, shift)
    count = sum(1 for _ in ast.walk(tree))
    if count > _MAX_NODES:
        raise FormulaError(f"the formula has {count} parts; the limit is {_MAX_NODES}")
    for node in ast.walk(tree.body):
        _check(node)
    return tree.body


def _shift(tree: ast.AST, shift: tuple[int, int]) -> None:
    """Move the positions in ``tree`` (parsed from the stripped text) to the unstripped one."""
    lines, cols = shift
    for node in ast.walk(tree):
        if cols and getattr(node, "lineno", 0) == 1:
            node.col_offset += cols
            if node.end_lineno == 1:
                node.end_col_offset += cols
    if lines:
        ast.increment_lineno(tree, lines)


def _syntax_error(text: str, shift: tuple[int, int], e: SyntaxError) -> FormulaError:
    """The error for ``e`` (raised parsing the stripped ``text``), pointing at the character
    in ``text``, with a caret under it when the line is short and plain."""
    lineno = (e.lineno or 1) + shift[0]
    line = text.splitlines()[lineno - 1]
    end = len(line.rstrip()) + 1
    col, msg = e.offset or 0, e.msg
    if col < 1:  # the parser ran off the end
        col, msg = end, "it ends too early" if msg == "invalid syntax" else msg
    elif e.lineno in (None, 1):
        col += shift[1]
    col = min(col, end)
    where = f"line {lineno}, column {col}" if lineno > 1 else f"column {col}"
    caret = f"\n  {line}\n  {' ' * (col - 1)}^" if len(line) <= 80 and line.isprintable() else ""
    return FormulaError(f"not a formula: {msg} at {where}{caret}")


def _check(node: ast.AST) -> None:
    """Raise unless ``node`` is one of the allowed kinds (its children are checked by walk)."""
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            hint = "; write powers as x ** 2" if isinstance(node.op, ast.BitXor) else ""
            raise FormulaError(f"the operator {type(node.op).__name__}{_where(node)} is not "
                               f"allowed; use only {_ALLOWED}{hint}")
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise _refuse(node, f"the operator {type(node.op).__name__}")
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise _refuse(node, f"the constant {node.value!r}")
        try:
            float(node.value)
        except OverflowError:
            raise FormulaError(f"the number{_where(node)} is too large for a float") from None
    elif isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise _refuse(node, f"the name {node.id!r} (names starting with '_')")
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise _refuse(node, "calling anything but a function name")
        if node.func.id not in FUNCTIONS:
            raise FormulaError(f"unknown function {node.func.id!r}{_where(node)}; the "
                               f"functions are {', '.join(FUNCTIONS)}")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise FormulaError(f"{node.func.id}(){_where(node)} takes exactly one argument, "
                               f"e.g. {node.func.id}(x)")
    elif not isinstance(node, (ast.operator, ast.unaryop, ast.Load)):
        raise _refuse(node, _describe(node))


_KINDS = {
    ast.Attribute: "attribute access (a.b)", ast.Subscript: "indexing (a[i])",
    ast.Lambda: "a lambda", ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension", ast.GeneratorExp: "a generator expression",
    ast.Compare: "a comparison", ast.BoolOp: "and/or", ast.IfExp: "if/else",
    ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a dict", ast.Set: "a set",
    ast.JoinedStr: "a string", ast.NamedExpr: "assignment (:=)", ast.Await: "await",
    ast.Yield: "yield", ast.YieldFrom: "yield", ast.Starred: "unpacking (*)",
}


def _describe(node: ast.AST) -> str:
    return _KINDS.get(type(node), type(node).__name__)


def variables(text: str) -> list[str]:
    """The variable names in the formula, in order of first appearance."""
    body = parse(text)
    calls = {id(n.func) for n in ast.walk(body) if isinstance(n, ast.Call)}
    found = [n for n in ast.walk(body) if isinstance(n, ast.Name) and id(n) not in calls]
    found.sort(key=lambda n: (n.lineno, n.col_offset))
    return list(dict.fromkeys(n.id for n in found))


def build(text: str, values: dict[str, float]) -> Value:
    """The formula's output Value; each variable is one leaf Value labelled with its name,
    and each intermediate node is labelled with its piece of the formula."""
    body = parse(text)
    needed = variables(text)
    bad_fn = [n for n in needed if n in FUNCTIONS]
    if bad_fn:
        raise FormulaError(f"{bad_fn[0]!r} is a function; call it, as in {bad_fn[0]}(x)")
    missing = [n for n in needed if n not in values]
    if missing:
        raise FormulaError(f"no value for {', '.join(missing)}: set "
                           f"{'each' if len(missing) > 1 else 'it'} with --set NAME=NUMBER, "
                           f"e.g. --set {missing[0]}=1.0")
    extra = [n for n in values if n not in needed]
    if extra:
        raise FormulaError(f"{', '.join(extra)} set but not used in the formula {text!r} "
                           f"(its variables: {', '.join(needed) or 'none'})")
    leaves = {}
    for name in needed:
        x = values[name]
        if not isinstance(x, numbers.Real) or isinstance(x, bool):
            raise TypeError(f"the value of {name} must be a number, got {x!r}")
        leaves[name] = Value(float(x), label=name)
    out = _evaluate(body, leaves, text)
    if not isinstance(out, Value):  # a formula of constants only
        source = text.strip()
        out = Value(out, label=source if len(source) <= 24 else "")
    return out


def _evaluate(root: ast.expr, leaves: dict[str, Value], source: str) -> Value | float:
    """Post-order walk with an explicit stack (no recursion, however deep the nesting)."""
    done: dict[int, Value | float] = {}
    stack: list[tuple[ast.expr, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        kids = _operands(node)
        if not ready:
            stack.append((node, True))
            stack.extend((k, False) for k in reversed(kids))
            continue
        args = [done.pop(id(k)) for k in kids]
        done[id(node)] = _apply(node, args, leaves, source)
    return done[id(root)]


def _operands(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Call):
        return list(node.args)
    return []


def _apply(node: ast.expr, args: list, leaves: dict[str, Value], source: str) -> Value | float:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return leaves[node.id]
    if isinstance(node, ast.BinOp):
        a, b = args
        if not isinstance(a, Value) and not isinstance(b, Value):
            a = Value(a)  # keep the arithmetic in the engine's IEEE semantics
        op = type(node.op)
        out = (a + b if op is ast.Add else a - b if op is ast.Sub else a * b if op is ast.Mult
               else a / b if op is ast.Div else a ** b)
    elif isinstance(node, ast.UnaryOp):
        out = -args[0] if isinstance(node.op, ast.USub) else args[0]
    else:
        x = args[0] if isinstance(args[0], Value) else Value(args[0])
        out = getattr(x, node.func.id)()
    if isinstance(out, Value) and not out.label and out._children:
        piece = ast.get_source_segment(source, node) or ""
        out.label = piece if len(piece) <= 24 else ""
    return out


__all__ = ["FUNCTIONS", "FormulaError", "parse", "variables", "build"]
