"""The SyntaxGym formula parser: precedence, grouping, type errors that point at the character."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interp.suites.formula import FormulaError, parse_formula

VALUES = {(1, "a"): 1.0, (1, "b"): 2.0, (2, "a"): 5.0, (2, "b"): 5.0005, (None, "a"): 6.0, (None, "b"): 7.0005}


def value(region, condition):
    return VALUES[region, condition]


@pytest.mark.parametrize("text, expected", [
    ("(1;%a%) < (1;%b%)", True),
    ("(1;%a%) > (1;%b%)", False),
    ("(2;%a%) = (2;%b%)", True),                        # |5 - 5.0005| <= 1e-3
    ("(1;%a%) = (1;%b%)", False),
    ("(1;%a%) + 1 = (1;%b%)", True),                    # + binds tighter than =
    ("(*;%a%) + 1 = (*;%b%)", True),                    # * is the sum over regions
    ("(1;%a%) - (1;%b%) < -0.5", True),
    ("(1;%a%) > (1;%b%) | (2;%a%) < (2;%b%)", True),
    ("(1;%a%) > (1;%b%) & (2;%a%) < (2;%b%)", False),
    ("(1;%a%) < (1;%b%) | (1;%a%) > (1;%b%) & (1;%a%) > (1;%b%)", True),   # & binds tighter than |
    ("[(1;%a%) < (1;%b%) | (1;%a%) > (1;%b%)] & (1;%a%) > (1;%b%)", False),
    ("((1;%a%) < (1;%b%))", True),
    ("[ ( 1 ; %a% ) < 1.5e0 ]", True),
])
def test_evaluation_and_precedence(text, expected):
    assert parse_formula(text).evaluate(value) is expected


@pytest.mark.parametrize("text, position, fragment", [
    ("(1;%a%) >> (1;%b%)", 9, "expected a number"),
    ("(1;%a%) > (1;%b%) & (1;%a%)", 20, "joins comparisons"),
    ("(1;%a%) + ((1;%a%) > 1)", 19, "adds numbers"),  # the comparison operator
    ("(1;%a%) < (1;%b%) < 3", 18, "do not chain"),
    ("[(1;%a%) < (1;%b%)", 18, "expected ']'"),
    ("(1;%a%) < (1;%b%) $", 18, "unexpected character '$'"),
    ("(1;%a%) +", 9, "ends too early"),
    ("(1;%a%)", 0, "must be a comparison"),
    ("(1;%%) < 2", 0, "condition name"),
    ("", 0, "empty"),
])
def test_errors_point_at_the_bad_character(text, position, fragment):
    with pytest.raises(FormulaError) as caught:
        parse_formula(text)
    assert caught.value.position == position, str(caught.value)
    assert fragment in str(caught.value)
    caret_line = str(caught.value).splitlines()[-1]
    assert caret_line.index("^") - 2 == position


def test_terms_and_conditions_are_listed():
    formula = parse_formula("[(4;%x y%) > (4;%b%)] & [(*;%x y%) < 3]")
    assert [(t.region, t.condition) for t in formula.terms()] == [(4, "x y"), (4, "b"), (None, "x y")]
    assert formula.conditions() == {"x y", "b"}


# ------------------------------------------------------------------------------ properties
CONDITIONS = ["a", "b"]
REGIONS = [1, 2, None]


def numbers():
    leaf = st.one_of(
        st.tuples(st.just("term"), st.sampled_from(REGIONS), st.sampled_from(CONDITIONS)),
        st.tuples(st.just("num"), st.integers(-50, 50).map(lambda i: i / 4)),
    )
    return st.recursive(leaf, lambda inner: st.tuples(st.sampled_from("+-"), inner, inner), max_leaves=4)


def booleans():
    comparison = st.tuples(st.sampled_from("<>="), numbers(), numbers())
    return st.recursive(comparison, lambda inner: st.tuples(st.sampled_from("&|"), inner, inner), max_leaves=4)


def render(node, brackets) -> str:
    """Fully bracketed text, so the expected value does not depend on precedence."""
    kind = node[0]
    if kind == "term":
        return f"({'*' if node[1] is None else node[1]};%{node[2]}%)"
    if kind == "num":
        return repr(node[1])
    open_, close = brackets.draw(st.sampled_from(["()", "[]"]))
    space = brackets.draw(st.sampled_from(["", " ", "  "]))
    return f"{open_}{render(node[1], brackets)}{space}{kind}{space}{render(node[2], brackets)}{close}"


def compute(node):
    kind = node[0]
    if kind == "term":
        return VALUES[node[1], node[2]]
    if kind == "num":
        return node[1]
    a, b = compute(node[1]), compute(node[2])
    return {"+": lambda: a + b, "-": lambda: a - b, "<": lambda: a < b, ">": lambda: a > b,
            "=": lambda: abs(a - b) <= 1e-3, "&": lambda: a and b, "|": lambda: a or b}[kind]()


@settings(max_examples=300, deadline=None)
@given(tree=booleans(), brackets=st.data())
def test_random_formulas_parse_and_evaluate_like_python(tree, brackets):
    text = render(tree, brackets)
    assert parse_formula(text).evaluate(value) == bool(compute(tree))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="()[]<>=&|+-*;%ab12. ", max_size=30))
def test_any_text_parses_or_raises_a_formula_error_inside_it(text):
    try:
        formula = parse_formula(text)
    except FormulaError as error:
        assert 0 <= error.position <= len(text)
    else:
        assert formula.text == text
