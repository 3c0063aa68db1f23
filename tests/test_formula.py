"""The formula language of `zerograd graph`: what it computes, and everything it refuses."""

import math

import pytest

from zerograd import formula
from zerograd.engine import topological_order


def test_neuron_formula_matches_hand_computed_value_and_gradients():
    out = formula.build("tanh(x*w + b)", {"x": 2.0, "w": -3.0, "b": 6.9})
    out.backward()
    leaves = {v.label: v for v in topological_order(out) if not v._children}
    t = math.tanh(2.0 * -3.0 + 6.9)
    assert out.data == pytest.approx(t, rel=1e-15)
    assert leaves["x"].grad == pytest.approx((1 - t * t) * -3.0, rel=1e-12)
    assert leaves["w"].grad == pytest.approx((1 - t * t) * 2.0, rel=1e-12)
    assert leaves["b"].grad == pytest.approx(1 - t * t, rel=1e-12)


def test_a_variable_used_twice_is_one_leaf_and_its_gradient_accumulates():
    out = formula.build("x*x + 3*x", {"x": 1.5})
    out.backward()
    xs = [v for v in topological_order(out) if v.label == "x"]
    assert len(xs) == 1 and xs[0].grad == pytest.approx(2 * 1.5 + 3)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2 * x - y / 4", 2 * 3.0 - (-2.0) / 4),
        ("-x ** 2", -(3.0**2)),
        ("x ** y", 3.0**-2.0),
        ("relu(y) + abs(y) + sqrt(x) + exp(y) + log(x)",
         0 + 2 + math.sqrt(3) + math.exp(-2) + math.log(3)),
        ("sigmoid(y) + softplus(x)", 1 / (1 + math.exp(2)) + math.log1p(math.exp(3))),
        ("+x - (-y)", 1.0),
        ("1e3 * x", 3000.0),
    ],
)
def test_allowed_formulas_compute_like_python(text, expected):
    values = {k: v for k, v in {"x": 3.0, "y": -2.0}.items() if k in formula.variables(text)}
    assert formula.build(text, values).data == pytest.approx(expected, rel=1e-14)


def test_a_constant_formula_and_ieee_results():
    assert formula.build("2 * 3", {}).data == 6.0
    assert formula.build("x / 0", {"x": 1.0}).data == math.inf
    assert math.isnan(formula.build("log(x)", {"x": -1.0}).data)


def test_intermediate_nodes_are_labelled_with_their_piece_of_the_formula():
    out = formula.build("tanh(x*w + b)", {"x": 2.0, "w": -3.0, "b": 6.9})
    labels = {v.label for v in topological_order(out)}
    assert {"x", "w", "b", "x*w", "x*w + b", "tanh(x*w + b)"} <= labels


def test_variables_in_order_of_appearance():
    assert formula.variables("tanh(x*w + b) * x + exp(z)") == ["x", "w", "b", "z"]


HOSTILE = [
    ("__import__('os')", "__import__"),
    ("__import__('os').system('true')", "not allowed"),
    ("x.__class__", "attribute"),
    ("x.__class__.__bases__[0].__subclasses__()", "not allowed"),
    ("[x for x in y]", "comprehension"),
    ("{x: 1 for x in y}", "comprehension"),
    ("(x for x in y)", "generator"),
    ("open('f')", "unknown function 'open'"),
    ("eval('1')", "unknown function 'eval'"),
    ("exec('1')", "unknown function 'exec'"),
    ("getattr(x, 'a')", "unknown function"),
    ("lambda: 1", "lambda"),
    ("x[0]", "indexing"),
    ("'a'", "constant 'a'"),
    ("b'a'", "constant"),
    ("f'{x}'", "string"),
    ("import os", "not a formula"),
    ("x = 1", "not a formula"),
    ("(x := 1)", "assignment"),
    ("x; y", "not a formula"),
    ("x if y else z", "if/else"),
    ("x < y", "comparison"),
    ("x and y", "and/or"),
    ("not x", "Not"),
    ("~x", "Invert"),
    ("x ^ 2", "x \\*\\* 2"),
    ("x // 2", "FloorDiv"),
    ("x % 2", "Mod"),
    ("x @ y", "MatMult"),
    ("[x, y]", "list"),
    ("(x, y)", "tuple"),
    ("{x}", "set"),
    ("{'a': x}", "dict"),
    ("None", "constant None"),
    ("True + x", "constant True"),
    ("1j * x", "constant 1j"),
    ("...", "constant Ellipsis"),
    ("tanh(x, y)", "exactly one argument"),
    ("tanh(x=1)", "exactly one argument"),
    ("tanh(*x)", "exactly one argument"),
    ("(tanh)(x)(y)", "calling anything but a function name"),
    ("_secret * 2", "starting with '_'"),
    ("await x", "not"),
    ("", "empty"),
    ("9" * 400, "too large"),
    ("x + " * 700 + "x", "limit"),
]


@pytest.mark.parametrize("text, words", HOSTILE)
def test_hostile_formulas_are_refused_before_anything_runs(text, words):
    with pytest.raises(formula.FormulaError, match=words):
        formula.build(text, {"x": 1.0, "y": 2.0, "z": 3.0, "b": 4.0, "_secret": 5.0})


def test_refusal_names_what_is_allowed():
    with pytest.raises(formula.FormulaError) as e:
        formula.parse("x.y")
    assert "tanh" in str(e.value) and "**" in str(e.value)


def test_unset_variables_are_named():
    with pytest.raises(formula.FormulaError, match=r"no value for w, b"):
        formula.build("tanh(x*w + b)", {"x": 2.0})


def test_a_value_set_for_a_name_not_in_the_formula_is_an_error():
    with pytest.raises(formula.FormulaError, match="q set but not used"):
        formula.build("x * 2", {"x": 2.0, "q": 1.0})


def test_a_function_name_used_as_a_variable_is_explained():
    with pytest.raises(formula.FormulaError, match="is a function"):
        formula.build("tanh + 1", {"tanh": 1.0})


def test_formula_must_be_a_string():
    with pytest.raises(TypeError):
        formula.parse(42)


@pytest.mark.parametrize(
    "text, column, char",
    [
        ("x y", 3, "y"),
        ("x +* y", 4, "*"),
        ("tanh(x", 5, "("),
        ("2 * (x + 1))", 12, ")"),
        ("   x y", 6, "y"),  # leading spaces are stripped to parse, but counted here
        ("\tx +* y", 5, "*"),
    ],
)
def test_a_syntax_error_names_the_column_of_the_offending_character(text, column, char):
    with pytest.raises(formula.FormulaError, match=rf"not a formula: .* at column {column}\b"):
        formula.parse(text)
    assert text[column - 1] == char


def test_a_syntax_error_draws_a_caret_under_the_character():
    with pytest.raises(formula.FormulaError) as e:
        formula.parse("  x +* y")
    first, line, caret = str(e.value).splitlines()
    assert first == "not a formula: invalid syntax at column 6"
    assert line == "    x +* y" and caret.index("^") == line.index("*")


def test_a_formula_that_ends_too_early_points_just_past_its_end():
    with pytest.raises(formula.FormulaError) as e:
        formula.parse(" x + ")
    first, line, caret = str(e.value).splitlines()
    assert first == "not a formula: it ends too early at column 5"  # not 'column 0'
    assert caret.index("^") == line.index("+") + 1


def test_a_syntax_error_on_a_later_line_names_line_and_column():
    with pytest.raises(formula.FormulaError, match="at line 2, column 1"):
        formula.parse("(x +\n* 3)")
    with pytest.raises(formula.FormulaError, match="at line 2, column 5"):
        formula.parse("\n  x y")


def test_refusals_count_columns_in_the_formula_as_given():
    with pytest.raises(formula.FormulaError, match=r"attribute access \(a\.b\) \(column 3\)"):
        formula.parse("  x.y")
    with pytest.raises(formula.FormulaError, match=r"unknown function 'foo' \(column 8\)"):
        formula.parse("   x + foo(y)")


def test_labels_are_the_pieces_of_a_formula_with_leading_spaces():
    out = formula.build("  tanh(x*w)", {"x": 2.0, "w": 3.0})
    assert {"x*w", "tanh(x*w)"} <= {v.label for v in topological_order(out)}
