"""``latex_value`` may only reject an answer if its value is math-verify's: every value it
reads must be the value of math-verify's own parse of the same text, and what it cannot
read unambiguously it must leave alone (None).

"math-verify's parse" here is its reading of the whole text (``vlmr1.plugins.math.latex``:
its normaliser and LaTeX parser, all of the text or nothing), the reading the reward itself
compares. ``math_verify.parse`` would also search a text it cannot read for some number in it
(``2`` of ``2√3``, ``2`` of ``2t``); such partial readings are excluded by construction rather
than taken as the truth."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlmr1.plugins.math.value import latex_value, point, same_spelling
from vlmr1.plugins.math.latex import parsed as _parse
from vlmr1.plugins.math.verify import MATH_DEFAULTS, compare_answer, prepare_gold


def mv_value(text: str) -> float | None:
    """The value of math-verify's parse (the first expression it extracts, its variables
    at latex_value's point), or None."""
    for x in _parse(text):
        if isinstance(x, str):
            continue
        try:
            x = x.subs({v: point(v.name) for v in x.free_symbols if len(v.name) == 1})
            z = complex(x.evalf(30, chop=True))
        except (TypeError, ValueError, AttributeError):
            return None
        return z.real if z.imag == 0 else None
    return None


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("text, value", [
    ("2\\sqrt{3}", 2 * math.sqrt(3)),
    ("\\frac{\\pi}{6}", math.pi / 6),
    ("\\dfrac{3}{4}", 0.75),
    ("3\\pi/4", 3 * math.pi / 4),
    ("-2^2", -4.0),
    ("2^{10}", 1024.0),
    ("(1+\\sqrt{5})/2", (1 + math.sqrt(5)) / 2),
    ("\\sqrt{2}\\cdot\\sqrt{8}", 4.0),
    ("6 \\times 7", 42.0),
    ("x^2 + 74x + 1369", (point("x") + 37) ** 2),
    ("2xy", 2 * point("x") * point("y")),
    ("\\pi r^2", math.pi * point("r") ** 2),
    ("1.5", 1.5),
])
def test_reads_the_subset_as_math_verify_does(text, value):
    assert close(latex_value(text), value)
    assert close(mv_value(text), value)


@pytest.mark.parametrize("text", [
    "x2", "f(x)", "e", "2i", "X", "2A", "xe", "\\alpha", "\\sqrt[3]{2}", "1/2\\pi", "2^10", "2^3^2", "1,000", ".5", "\\pir", "2 3", "1(1)", "(1)(2)", "2(3+1)", "e", "\\frac12",
    "\\frac{1}{0}", "\\sqrt{-1}", "10^{400}", "(1", "1)", "{", "", "30^\\circ", "50\\%", "\\infty", "\\sin(1)",
    "1 = 1", "[1, 2]", "(" * 40 + "1" + ")" * 40,
])
def test_leaves_anything_else_to_math_verify(text):
    assert latex_value(text) is None


@pytest.mark.parametrize("text", [
    "(x+10^{6})^2-x^2-2\\cdot 10^{6}x-10^{12}+1", "(x+1000.1)^2-x^2-2000.2x-1000200", "1-1", "x-x", "100-99.9",
    "\\frac{1}{(x+1000.1)^2-x^2-2000.2x-1000200}", "\\sqrt{(x+1000.1)^2-x^2-2000.2x-1000200}",
    "(1000000((x+1000.1)^2-x^2-2000.2x-1000200))^3", "2^{(x+1000.1)^2-x^2-2000.2x-1000200}",
])
def test_leaves_values_whose_terms_cancel_to_math_verify(text):
    """Exactly 0.01 (or 1) to sympy, which computes with rationals or cancels symbolically;
    float noise of the large terms to a float reader, enough to pass the rounding margin."""
    assert latex_value(text) is None


@pytest.mark.parametrize("gold, answer", [
    ("2", "2t"), ("x", "x - a y"), ("2t", "2s"), ("2t", "2"),  # math-verify reads "2t" as "2" (a unit)
    ("(x+10^{6})^2-x^2-2\\cdot 10^{6}x-10^{12}+1", "1"),
    ("(x+1000000.1)^2-x^2-2000000.2x-1000000200000", "0.01"),
    ("0.01", "(x+1000000.1)^2-x^2-2000000.2x-1000000200000"),
    ("1", "(1000((x+1000.1)^2-x^2-2000.2x-1000200))^{1}-9"),
])
def test_cancelling_terms_score_math_verifys_verdict(gold, answer):
    """The verdict of math-verify's parser and ``verify`` on the complete texts (its
    ``parse`` would cut ``t`` off ``2t`` as a unit and compare ``2``: a partial reading,
    which is what the reward must not pay for)."""
    import math_verify

    expected = 1.0 if math_verify.verify(list(_parse(gold)), list(_parse(answer)), float_rounding=6, timeout_seconds=None) else 0.0
    verdict = compare_answer(f"${answer}$", prepare_gold(gold, MATH_DEFAULTS), MATH_DEFAULTS)
    assert verdict.score == expected, verdict.reason


@pytest.mark.parametrize("text", ["2t", "x+2t", "\\frac{1}{2}t", "x^2 t", "- a x", "x - b y", "2 ab", "3m", "1 - a x"])
def test_texts_math_verify_cuts_as_units_are_read_whole(text):
    """math-verify's ``parse`` cuts these ends off as units (``2t`` is ``2`` to it); the
    reward reads them whole, and the value reader's reading is the whole text's."""
    from math_verify import parse

    whole = mv_value(text)
    assert whole is not None and close(latex_value(text), whole)
    cut = [x for x in parse(f"${text}$", parsing_timeout=None) if not isinstance(x, str)]
    assert not cut or str(cut[0]) != str(_parse(text)[0])  # the partial (or failed) reading this guards against


_INT = st.integers(0, 40).map(str)
_VAR = st.sampled_from(["x", "y", "a", "n", "r", "t", "s", "m", "c", "d", "h", "g", "o", "b"])  # some are units to math-verify
_DEC = st.tuples(st.integers(0, 9), st.integers(0, 99)).map(lambda t: f"{t[0]}.{t[1]:02d}")


def _atoms():
    return st.one_of(
        _INT, _DEC, st.just("\\pi"), _VAR, st.tuples(st.integers(2, 9), _VAR).map(lambda t: f"{t[0]}{t[1]}"),
        st.tuples(_INT, st.integers(1, 12)).map(lambda t: f"\\frac{{{t[0]}}}{{{t[1]}}}"),
        st.integers(0, 50).map(lambda n: f"\\sqrt{{{n}}}"),
    )


def _extend(inner):
    return st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "\\cdot", "\\times", "*"]), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(inner, inner).map(lambda t: f"\\frac{{{t[0]}}}{{{t[1]}}}"),
        inner.map(lambda e: f"\\sqrt{{{e}}}"),
        inner.map(lambda e: f"({e})"),
        st.tuples(inner, st.integers(0, 3)).map(lambda t: f"({t[0]})^{t[1]}"),
        st.tuples(inner, st.integers(1, 3)).map(lambda t: f"({t[0]})^{{{t[1]}}}"),
        st.tuples(st.integers(2, 9), inner).map(lambda t: f"{t[0]}\\sqrt{{{t[1]}}}"),
        st.tuples(st.integers(1, 9), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.integers(1, 9), inner).map(lambda t: f"{t[0]}\\pi/({t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]})/({t[1]})\\pi"),
        st.tuples(inner, _VAR).map(lambda t: f"({t[0]}){t[1]}"),
        st.tuples(inner, _VAR, _VAR).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(_VAR, inner).map(lambda t: f"{t[0]}^{{{t[1]}}}"),
        inner.map(lambda e: f"-{e}"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]})/({t[1]})"),
    )


EXPRESSIONS = st.recursive(_atoms(), _extend, max_leaves=6)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS)
def test_every_value_read_is_math_verifys_value(text):
    ours = latex_value(text)
    if ours is None:
        return
    theirs = mv_value(text)
    assert theirs is not None and close(ours, theirs), f"{text!r}: ours {ours}, math-verify {theirs}"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS, EXPRESSIONS)
def test_a_value_rejection_is_math_verifys_verdict(gold, answer):
    """compare_answer's value path agrees with math-verify's verify on random pairs."""
    import math_verify

    v = compare_answer(answer, prepare_gold(gold, MATH_DEFAULTS), MATH_DEFAULTS)
    if v.details.get("path") != "value":
        return
    g, a = _parse(gold), _parse(answer)
    assert v.score == 0.0
    assert not math_verify.verify(list(g), list(a), float_rounding=6, timeout_seconds=None), (gold, answer)


def test_most_generated_constants_are_read():
    """The subset must be worth having: the usual shapes are read, not passed on."""
    shapes = ["2\\sqrt{3}", "\\frac{\\sqrt{3}}{2}", "\\frac{\\pi}{6}", "4\\pi", "3\\sqrt{2}+1", "\\frac{1}{2}", "(2+\\sqrt{3})^2",
              "\\sqrt{13}", "\\frac{25\\pi}{4}", "12\\sqrt{5}"]
    assert all(latex_value(s) is not None for s in shapes)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS, st.randoms(use_true_random=False))
def test_spaces_around_operators_do_not_change_math_verifys_reading(text, rng):
    spaced = "".join(f" {ch} " if ch in "+-*/" and rng.random() < 0.5 else ch for ch in text).strip()
    if not same_spelling(spaced, text):
        return
    import math_verify

    assert math_verify.verify(list(_parse(text)), list(_parse(spaced)), float_rounding=6, timeout_seconds=None), (text, spaced)
    assert close(mv_value(spaced), mv_value(text)), (text, spaced)


def test_same_spelling_keeps_spaces_between_words_and_numbers():
    assert same_spelling("x^2 + 74x + 1369", "x^2+74x+1369")
    assert not same_spelling("x ^ {2}", "x^{2}")  # math-verify cannot read the first
    assert not same_spelling("2 3", "23") and not same_spelling("5 m", "5m") and not same_spelling("x y", "xy")
    assert not same_spelling("\\alpha + 1", "\\alpha+1")  # outside the subset: math-verify decides
