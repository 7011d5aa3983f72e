"""``exact_value`` may only *accept* an answer if math-verify would: every expression it
reads must have math-verify's value, and every pair it finds equal must be a pair that
math-verify's ``verify`` accepts. What it cannot decide exactly it must leave alone.

"math-verify's parse" here is its reading of the whole text (``vlmr1.plugins.math.latex``:
its normaliser and LaTeX parser, all of the text or nothing), the reading the reward itself
compares. ``math_verify.parse`` would also search a text it cannot read for some number in it
(``2`` of ``2√3``, ``2`` of ``2t``); such partial readings are excluded by construction rather
than taken as the truth."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from vlmr1.plugins.math.exact import exact_value, exactly_equal
from vlmr1.plugins.math.value import point
from vlmr1.plugins.math.latex import parsed as _parse
from vlmr1.plugins.math.verify import MATH_DEFAULTS, compare_answer, prepare_gold, quick_compare

from test_math_value import EXPRESSIONS, mv_value


def mv_accepts(gold: str, answer: str) -> bool:
    import math_verify

    return bool(math_verify.verify(list(_parse(gold)), list(_parse(answer)), float_rounding=6, timeout_seconds=None))


def as_float(exact) -> float:
    total = 0.0
    for (k, r, monomial), c in exact:
        term = float(c) * math.pi ** k * math.sqrt(r)
        for name, n in monomial:
            term *= point(name) ** n
        total += term
    return total


EQUAL = [
    ("2\\sqrt{3}", "\\sqrt{12}"),
    ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}"),
    ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"),
    ("\\frac{\\sqrt{2}}{2}", "\\sqrt{\\frac{1}{2}}"),
    ("3+2\\sqrt{2}", "(1+\\sqrt{2})^2"),
    ("\\frac{\\pi}{4}", "\\pi/4"),
    ("\\frac{\\pi}{4}", "\\frac{2\\pi}{8}"),
    ("4", "\\sqrt{8}\\sqrt{2}"),
    ("\\sqrt{3}", "\\frac{\\sqrt{6}}{\\sqrt{2}}"),
    ("2\\sqrt{2}", "(\\sqrt{2})^{3}"),
    ("\\frac{1}{2}", "2^{-1}"),
    ("\\frac{1}{\\pi}", "\\frac{2}{2\\pi}"),
    ("25\\pi", "\\pi \\cdot 5^2"),
    ("x^2 + 6x + 9", "(x+3)^2"),
    ("x^2 - y^2", "(x-y)\\cdot(x+y)"),
    ("2x", "x+x"),
    ("xy", "yx"),
    ("-x", "x-2x"),
    ("x^2+2\\sqrt{2}x+2", "(x+\\sqrt{2})^2"),
    ("\\pi r^2", "r^2\\pi"),
    ("0", "\\sqrt{0}"),
]


@pytest.mark.parametrize("gold, answer", EQUAL)
def test_equal_pairs_are_equal_here_and_to_math_verify(gold, answer):
    assert exactly_equal(gold, answer) and exactly_equal(answer, gold)
    assert mv_accepts(gold, answer) and mv_accepts(answer, gold)
    verdict = quick_compare(answer, prepare_gold(gold, MATH_DEFAULTS), MATH_DEFAULTS)
    assert verdict is not None and verdict.score == 1.0 and verdict.details["path"] in ("exact", "same_text")


@pytest.mark.parametrize("a, b", [
    ("1", "1+\\frac{1}{10^{12} \\cdot 10^{6}}"),  # equal as floats
    ("\\pi", "\\frac{355}{113}"),
    ("\\sqrt{2}", "\\frac{99}{70}"),
    ("2\\sqrt{3}", "3\\sqrt{2}"),
    ("(x+3)^2", "x^2+6x+8"),
    ("xy", "x^2"),
])
def test_close_but_different_values_are_not_equal(a, b):
    assert exact_value(a) is not None and exact_value(b) is not None
    assert not exactly_equal(a, b)


@pytest.mark.parametrize("text", [
    "x", "(x)", "{x}", "2x-x", "x+1-1",                     # bare variables: math-verify compares names
    "0.5", "1.25\\pi", "\\sqrt{2.5}",                          # decimals: math-verify rounds them
    "\\frac{1}{1+\\sqrt{2}}", "\\frac{x^2}{x}", "\\frac{1}{x}",  # division by a sum or a variable
    "\\sqrt{\\sqrt{2}}", "\\sqrt{\\pi}", "\\sqrt{x}", "\\sqrt{1+\\sqrt{2}}", "\\sqrt{-1}",
    "2^{\\frac{1}{2}}", "2^{13}", "0^{0}", "0^{-1}", "(1+\\sqrt{2})^{-1}", "x^{y}",
    "\\sqrt{1000000000007}",                                   # beyond the factoring bound
    "10^{12}^{2}", "1/2\\pi", "e", "\\alpha",                 # outside the subset altogether
    "(x+y+z+w)^{4}",                                           # too many terms
])
def test_leaves_everything_else_to_math_verify(text):
    assert exact_value(text) is None


def test_square_roots_of_large_integers_are_simplified_exactly():
    assert exactly_equal("\\sqrt{999966000289}", "999983")  # a prime above 10^4, squared
    assert exactly_equal("\\sqrt{20000499997 \\cdot 4}", "2\\sqrt{20000499997}")  # 100003 * 199999: square-free
    assert not exactly_equal("\\sqrt{999966000290}", "999983")


CONSTANT_OR_POLYNOMIAL = EXPRESSIONS.filter(lambda t: exact_value(t) is not None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(EXPRESSIONS)
def test_every_expression_read_has_math_verifys_value(text):
    ours = exact_value(text)
    if ours is None:
        return
    theirs = mv_value(text)
    assert theirs is not None and math.isclose(as_float(ours), theirs, rel_tol=1e-9, abs_tol=1e-9), (text, ours, theirs)


def _rewrites(e: str) -> list[str]:
    """Spellings of the same expression that are not the same text."""
    return [f"{e} + 1 - 1", f"2 \\cdot ({e}) - ({e})", f"\\frac{{2 \\cdot ({e})}}{{2}}", f"({e})\\cdot\\frac{{\\sqrt{{8}}}}{{2\\sqrt{{2}}}}",
            f"\\frac{{({e})\\pi}}{{\\pi}}", f"({e})^{{1}}", f"1 \\cdot ({e})"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(EXPRESSIONS, st.integers(0, 6))
def test_every_rewrite_found_equal_is_accepted_by_math_verify(gold, which):
    answer = _rewrites(gold)[which]
    assume(exactly_equal(gold, answer))
    assert mv_accepts(gold, answer), (gold, answer)
    prepared = prepare_gold(gold, MATH_DEFAULTS)
    if prepared.usable:  # not refused by the guard (power towers and the like)
        assert compare_answer(answer, prepared, MATH_DEFAULTS).score == 1.0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(EXPRESSIONS, EXPRESSIONS)
def test_every_random_pair_found_equal_is_accepted_by_math_verify(gold, answer):
    """Random pairs are rarely equal; those that are (``0`` and ``0 \\cdot x``, ``\\sqrt{4}``
    and ``2``) must be math-verify's equal pairs too, and no unequal pair is accepted."""
    verdict = compare_answer(answer, prepare_gold(gold, MATH_DEFAULTS), MATH_DEFAULTS)
    if verdict.details.get("path") != "exact":
        return
    assert mv_accepts(gold, answer), (gold, answer)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(EXPRESSIONS, st.sampled_from(["expand", "factor", "nsimplify"]))
def test_sympys_own_rewrites_are_read_as_equal_and_accepted(text, how):
    """sympy's expanded or factored form of an expression, written back as LaTeX, is the
    same expression: read here, it must be exactly equal, and math-verify must agree."""
    import sympy

    assume(exact_value(text) is not None)
    parsed = [x for x in _parse(text) if not isinstance(x, str)]
    assume(parsed)
    other = sympy.latex(getattr(sympy, how)(parsed[0]))
    assume(exact_value(other) is not None)
    assert exactly_equal(text, other), (text, other)
    assert mv_accepts(text, other), (text, other)
