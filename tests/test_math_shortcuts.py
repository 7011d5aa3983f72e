"""Differential tests of :mod:`vlmr1.plugins.math.shortcuts` against math-verify.

The shortcuts exist to skip math-verify's slow ``simplify`` step; they must never change
a verdict. Whenever ``decide(gold, pred, r)`` answers (anything but None, which means "ask
math-verify"), the answer has to be exactly
``math_verify.verify(gold, pred, float_rounding=r, timeout_seconds=None)``. Checked here on
a hand-picked table of awkward pairs (both ways round: verify is not symmetric), on random
expressions from a small LaTeX grammar (independent pairs, equal rewrites, near misses), for
``same_text_accepts``, and end to end through ``compare_answer``.

"math-verify's parse" here is its reading of the whole text (``vlmr1.plugins.math.latex``:
its normaliser and LaTeX parser, all of the text or nothing), the reading the reward itself
compares. ``math_verify.parse`` would also search a text it cannot read for some number in it
(``2`` of ``2√3``, ``2`` of ``2t``); such partial readings are excluded by construction rather
than taken as the truth.
"""

from __future__ import annotations

import logging

import math_verify
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlmr1.plugins.math.shortcuts import certainly_equal, certainly_unequal, decide, same_text_accepts
from vlmr1.plugins.math.latex import parsed as _parse
from vlmr1.plugins.math.verify import MATH_DEFAULTS, compare_answer, plain_number, prepare_gold

logging.getLogger("math_verify").setLevel(logging.ERROR)  # the one-time "timeouts are off" warning

ROUNDING = 6


def verdict(gold_parsed, pred_parsed):
    """math-verify's own verdict, as compare_answer would ask for it."""
    return math_verify.verify(list(gold_parsed), list(pred_parsed), float_rounding=ROUNDING, timeout_seconds=None)


def check(gold, answer):
    """decide's answer on one pair (None or math-verify's verdict; anything else fails)."""
    g, a = _parse(gold), _parse(answer)
    decided = decide(g, a, ROUNDING)
    if decided is not None:
        expected = verdict(g, a)
        assert decided == expected, (
            f"decide says {decided}, math-verify says {expected}: gold {gold!r} -> {g}, answer {answer!r} -> {a}")
    return decided


# -- 1. a table of pairs ---------------------------------------------------------------
PAIRS = {
    "constants": [
        ("37\\sqrt{2}", "37\\sqrt{3}"), ("\\sqrt{8}", "2\\sqrt{2}"), ("\\pi", "\\frac{\\pi}{37}"), ("\\pi", "3.14159"),
        ("\\pi", "3.141593"), ("\\frac{2}{4}", "\\frac{1}{2}"), ("\\frac{1}{3}", "\\frac{1}{4}"), ("e", "\\exp(1)"),
        ("e^{2}", "7.389056"), ("e^{2}", "e^{3}"), ("2^{10}", "1024"), ("2^{10}", "1023"), ("\\sin(\\pi/6)", "\\frac{1}{2}"),
        ("\\cos(\\frac{\\pi}{3})", "\\frac{\\sqrt{3}}{2}"), ("\\tan(\\frac{\\pi}{4})", "1"), ("\\log(8)", "3\\log(2)"),
        ("\\log_2 8", "3"), ("\\ln 2", "\\log 3"), ("\\ln 8", "3\\ln 2"), ("(-8)^{\\frac{1}{3}}", "-2"),
        ("\\sqrt[3]{-8}", "-2"), ("\\sqrt{-4}", "2i"), ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt{3}}{3}"),
        ("(\\sqrt{2}+\\sqrt{3})^2", "5+2\\sqrt{6}"), ("\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt{2}}{2}"),
    ],
    "polynomials": [
        ("(x+3)^2", "x^2+6x+9"), ("(x+3)^2", "x^2+9"), ("x^2+1369", "x^2+74x+1369"), ("(x+37)^2", "x^2+74x+1369"),
        ("(x-1)(x+1)", "x^2-1"), ("(x-1)(x+1)", "x^2+1"), ("x^3-y^3", "(x-y)(x^2+xy+y^2)"), ("(a+b)^2", "a^2+b^2"),
        ("x^{2}y+xy^{2}", "xy(x+y)"), ("\\frac{x}{2}+\\frac{x}{3}", "\\frac{5x}{6}"), ("\\sqrt{2}(x+\\sqrt{2})", "\\sqrt{2}x+2"),
        ("(x+\\sqrt{2})(x-\\sqrt{2})", "x^2-2"), ("(x+1)^{12}", "x^{12}+12x^{11}+66x^{10}+220x^9+495x^8+792x^7+924x^6"
                                                               "+792x^5+495x^4+220x^3+66x^2+12x+1"),
        ("(x+1)^{13}", "(x+1)^{12}(x+1)"), ("2x", "x+x"), ("x-x", "0"), ("0\\cdot x", "0"), ("x^{0}", "1"),
        ("2^{x+1}", "2\\cdot 2^{x}"), ("2^{x}\\cdot 2^{y}", "2^{x+y}"), ("2^{2x}", "4^x"), ("(-1)^{x+1}", "-(-1)^x"),
        ("\\pi x", "x\\pi"), ("x+y+z+w+v", "v+w+x+y+z"), ("\\frac{x^2-1}{x-1}", "x+1"), ("\\frac{1}{x}", "x^{-1}"),
    ],
    "functions of symbols": [
        ("\\sin^2 x+\\cos^2 x", "1"), ("\\sin(2x)", "2\\sin x\\cos x"), ("\\log(x^2)", "2\\log(x)"),
        ("\\sqrt{x^2}", "|x|"), ("|x|", "x"), ("e^{x}e^{y}", "e^{x+y}"), ("x^{1/2}", "\\sqrt{x}"), ("0^{x}", "0"),
    ],
    "floats near the rounding": [
        ("\\frac{1}{3}", "0.333333"), ("\\frac{1}{3}", "0.3333333"), ("\\frac{1}{3}", "0.3334"), ("\\frac{1}{3}", "0.33"),
        ("\\frac{2}{3}", "0.666667"), ("\\frac{2}{3}", "0.666666"), ("\\sqrt{2}", "1.414214"), ("\\sqrt{2}", "1.4142"),
        ("0.1x", "\\frac{x}{10}"), ("0.5x+0.5y", "\\frac{x+y}{2}"), ("0.1x+0.2x", "0.3x"), ("\\frac{x}{3}", "0.333333x"),
        ("\\sqrt{2}x", "1.414214x"), ("(x+1000.1)^2-x^2-2000.2x", "1000200.01"),
    ],
    "tiny float coefficients": [
        ("0.000001x", "0"), ("0.000001x", "0.000002x"), ("0.0000001", "0"), ("10^{-7}", "0"), ("x+0.0000001", "x"),
        ("x^2+0.0000001x", "x^2"), ("10^{-12}x", "0"),
    ],
    # Floats whose large terms cancel: simplify works in 53-bit floats and reaches 0 here,
    # so a numeric difference at one point is no certificate of "unequal".
    "float cancellation": [
        ("(x+1000.1)^2-x^2-2000.2x-1000200", "0.01"), ("(x+1000000.1)^2-x^2-2000000.2x-1000000200000", "0.01"),
        ("(x+100.1)^2-x^2-200.2x-10020", "0.01"), ("1000000.1x-1000000x", "0.1x"),
        ("(x+1000.1)^2-x^2-2000.2x-1000200", "0.02"), ("(1000000((x+1000.1)^2-x^2-2000.2x-1000200))^3", "10^{12}"),
        ("\\frac{1}{(x+1000.1)^2-x^2-2000.2x-1000200}", "100"), ("\\sqrt{(x+1000.1)^2-x^2-2000.2x-1000200}", "0.1"),
        ("(x+10^{6})^2-x^2-2\\cdot 10^{6}x-10^{12}", "0"), ("(x+10^{6})^2-x^2-2\\cdot 10^{6}x-10^{12}+1", "1"),
    ],
    "percentages and degrees": [
        ("50\\%", "0.5"), ("50\\%", "50"), ("9\\%", "9"), ("9\\%", "0.09"), ("9\\%", "10\\%"), ("30^\\circ", "30"),
        ("30^{\\circ}", "\\frac{\\pi}{6}"), ("45^\\circ", "46^\\circ"),
    ],
    "symbols alone": [
        ("x", "y"), ("x", "x"), ("e", "x"), ("e", "2.718282"), ("\\text{A}", "\\text{B}"), ("\\text{A}", "A"),
        ("ab", "ba"), ("x", "2x"),
    ],
    "sets, intervals, tuples, relations": [
        ("\\{1,2\\}", "\\{2,1\\}"), ("\\{1,2\\}", "\\{1,3\\}"), ("[1,2)", "[1,2]"), ("(1,2)", "(2,1)"), ("(1,2)", "(1,2)"),
        ("x=3", "3"), ("x=3", "4"), ("y=2x+1", "2x+1"), ("x^2=4", "x=2"), ("x \\leq 2", "x < 2"),
        ("(\\sqrt{2}, \\pi)", "(\\sqrt{2}, 3.14)"),
    ],
    "matrices, integrals, unknown functions": [
        ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&5\\end{pmatrix}"),
        ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}"),
        ("\\int_0^1 x\\,dx", "\\frac{1}{2}"), ("\\int_0^1 x\\,dx", "\\frac{1}{3}"), ("f(x)", "f(y)"), ("f(x)+1", "f(x)+2"),
        ("f(2)", "f(2)+0"),
    ],
    "nan, zoo, infinities": [
        ("\\frac{1}{0}", "1"), ("\\frac{1}{0}", "\\frac{1}{0}"), ("\\frac{0}{0}", "1"), ("\\frac{0}{0}", "\\frac{0}{0}"),
        ("\\infty", "\\infty"), ("\\infty", "-\\infty"), ("\\infty", "\\infty + 1"), ("-\\infty", "x"), ("\\infty", "10^{100}"),
    ],
    "big numbers": [
        ("10^{20}+1", "10^{20}"), ("10^{20}x+x", "10^{20}x"), ("2^{100}", "2^{100}+1"), ("2^{100}", "2^{99}"),
        ("10^{20}\\sqrt{2}", "10^{20}\\sqrt{3}"), ("\\pi", "\\pi+10^{-20}"),
    ],
}
TABLE = [pair for group in PAIRS.values() for pair in group]


@pytest.mark.parametrize("gold, answer", TABLE)
def test_decide_is_math_verifys_verdict_on_the_table(gold, answer):
    """Both ways round: verify is not symmetric (gold assignments and equations unwrap differently)."""
    check(gold, answer)
    check(answer, gold)


# The point of the module: wrong constants and wrong polynomials, which simplify spends
# 10-170 ms on, are settled without it (and polynomial identities are too).
MUST_DECIDE = [
    ("37\\sqrt{2}", "37\\sqrt{3}", False), ("\\pi", "\\frac{\\pi}{37}", False), ("x^2+1369", "x^2+74x+1369", False),
    ("(x-1)(x+1)", "x^2+1", False), ("(a+b)^2", "a^2+b^2", False), ("\\ln 2", "\\log 3", False),
    ("\\cos(\\frac{\\pi}{3})", "\\frac{\\sqrt{3}}{2}", False), ("\\frac{\\pi}{6}", "30^{\\circ}", False),
    ("0.000001x", "0", False), ("\\sqrt{2}x", "1.414214x", False), ("x^3-y^3", "(x-y)(x^2+xy-y^2)", False),
    ("(x+3)^2", "x^2+6x+9", True), ("(x+37)^2", "x^2+74x+1369", True), ("x^3-y^3", "(x-y)(x^2+xy+y^2)", True),
    ("(x+\\sqrt{2})(x-\\sqrt{2})", "x^2-2", True), ("\\frac{1}{3}", "0.333333", True),
]


@pytest.mark.parametrize("gold, answer, expected", MUST_DECIDE)
def test_plain_wrong_constants_and_polynomials_are_decided(gold, answer, expected):
    assert check(gold, answer) is expected, f"{gold!r} vs {answer!r} went to math-verify"
    assert check(answer, gold) is expected, f"{answer!r} vs {gold!r} went to math-verify"


# -- 2. random expressions -------------------------------------------------------------
# A tree is a tuple: ("int", n), ("frac", a, b), ("sqrt", n), ("dec", "0.5"), ("pi",),
# ("sym", "x"), ("add"|"sub"|"mul"|"div", l, r), ("pow", base, k).
_LEAVES = st.one_of(
    st.builds(lambda n: ("int", n), st.integers(-9, 40)),
    st.builds(lambda a, b: ("frac", a, b), st.integers(-9, 12), st.integers(1, 12)),
    st.builds(lambda n: ("sqrt", n), st.integers(2, 12)),
    st.builds(lambda s: ("dec", s), st.sampled_from(["0.5", "1.25", "0.333333", "2.000001", "0.000001"])),
    st.just(("pi",)),
    st.builds(lambda s: ("sym", s), st.sampled_from("xxy")),
)


def _extend(children):
    return st.one_of(
        st.builds(lambda l, r: ("add", l, r), children, children),
        st.builds(lambda l, r: ("sub", l, r), children, children),
        st.builds(lambda l, r: ("mul", l, r), children, children),
        st.builds(lambda l, r: ("div", l, r), children, children),
        st.builds(lambda b, k: ("pow", b, k), children, st.integers(0, 3)),
    )


TREES = st.recursive(_LEAVES, _extend, max_leaves=6)


def latex(t):
    kind = t[0]
    if kind == "int":
        return str(t[1]) if t[1] >= 0 else f"({t[1]})"
    if kind == "frac":
        return f"\\frac{{{t[1]}}}{{{t[2]}}}" if t[1] >= 0 else f"(-\\frac{{{-t[1]}}}{{{t[2]}}})"
    if kind == "sqrt":
        return f"\\sqrt{{{t[1]}}}"
    if kind in ("dec", "sym"):
        return t[1]
    if kind == "pi":
        return "\\pi"
    if kind == "pow":
        return f"({latex(t[1])})^{{{t[2]}}}"
    if kind == "div":
        return f"\\frac{{{latex(t[1])}}}{{{latex(t[2])}}}"
    left, right = latex(t[1]), latex(t[2])
    if kind == "add":
        return f"({left}+{right})"
    if kind == "sub":
        return f"({left}-{right})"
    if t[1][0] == "int" and t[1][1] >= 0 and t[2][0] in ("sym", "pi", "sqrt"):
        return f"{left}{right}"  # 3x, 2\pi, 5\sqrt{2}: implicit product, as people write it
    return f"({left}\\cdot {right})"


def to_sympy(t):
    """The tree's value, built directly (no parser), to check the certificates themselves."""
    kind = t[0]
    if kind == "int":
        return sp.Integer(t[1])
    if kind == "frac":
        return sp.Rational(t[1], t[2])
    if kind == "sqrt":
        return sp.sqrt(t[1])
    if kind == "dec":
        return sp.Float(t[1])
    if kind == "pi":
        return sp.pi
    if kind == "sym":
        return sp.Symbol(t[1])
    if kind == "pow":
        return to_sympy(t[1]) ** t[2]
    left, right = to_sympy(t[1]), to_sympy(t[2])
    return {"add": left + right, "sub": left - right, "mul": left * right, "div": left / right}[kind]


@st.composite
def rewritten(draw, t):
    """An algebraically equal spelling of ``t``: reordered, distributed, padded with zeros
    and ones, powers multiplied out, a term added and taken away."""
    kind = t[0]
    if kind in ("add", "sub", "mul", "div"):
        t = (kind, draw(rewritten(t[1])), draw(rewritten(t[2])))
    elif kind == "pow":
        t = ("pow", draw(rewritten(t[1])), t[2])
    move = draw(st.integers(0, 9))
    if move == 0 and kind in ("add", "mul"):
        return (kind, t[2], t[1])
    if move == 1 and kind == "sub":
        return ("add", t[1], ("mul", ("int", -1), t[2]))
    if move == 2 and kind == "mul" and t[2][0] in ("add", "sub"):
        inner = t[2]
        return (inner[0], ("mul", t[1], inner[1]), ("mul", t[1], inner[2]))
    if move == 3 and kind == "pow" and t[2] >= 2:
        return ("mul", ("pow", t[1], t[2] - 1), t[1])
    if move == 4:
        return ("add", t, ("int", 0))
    if move == 5:
        return ("mul", ("int", 1), t)
    if move == 6:
        other = draw(_LEAVES)
        return ("sub", ("add", t, other), other)
    return t


def expanded(t):
    """sympy's expanded form of the tree, written back as LaTeX."""
    return sp.latex(sp.expand(to_sympy(t)))


@st.composite
def near_miss(draw, t):
    """``t`` with one leaf or one operation changed: usually a wrong answer close to the gold."""
    kind = t[0]
    if kind in ("add", "sub", "mul", "div"):
        side = draw(st.integers(0, 2))
        if side == 0:
            return ({"add": "sub", "sub": "add", "mul": "add", "div": "mul"}[kind], t[1], t[2])
        if side == 1:
            return (kind, draw(near_miss(t[1])), t[2])
        return (kind, t[1], draw(near_miss(t[2])))
    if kind == "pow":
        return ("pow", t[1], t[2] + 1) if draw(st.booleans()) else ("pow", draw(near_miss(t[1])), t[2])
    if kind == "int":
        return ("int", t[1] + draw(st.sampled_from([-1, 1, 2])))
    if kind == "frac":
        return ("frac", t[1] + 1, t[2])
    if kind == "sqrt":
        return ("sqrt", t[1] + 1)
    if kind == "sym":
        return ("sym", "y" if t[1] == "x" else "x")
    return ("int", 3)  # pi, decimals


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(TREES, TREES)
def test_decide_agrees_with_math_verify_on_independent_pairs(a, b):
    check(latex(a), latex(b))


@FAST
@given(st.data(), TREES)
def test_decide_agrees_with_math_verify_on_equal_rewrites(data, t):
    other = data.draw(rewritten(t), label="rewrite")
    gold, answer = latex(t), latex(other)
    check(gold, answer)
    check(gold, expanded(t))
    # The certificates themselves, on values built without the parser: an equal pair is
    # never certified unequal, and a pair certified equal is one simplify takes to zero.
    g, p = to_sympy(t), to_sympy(other)
    if isinstance(g, sp.Expr) and isinstance(p, sp.Expr):
        assert not certainly_unequal(g, p), f"{gold!r} and its rewrite {answer!r} certified unequal"
        if certainly_equal(g, p):
            assert sp.simplify(g - p).is_zero, f"{gold!r} and {answer!r} certified equal, simplify disagrees"


@FAST
@given(st.data(), TREES)
def test_decide_agrees_with_math_verify_on_near_misses(data, t):
    wrong = data.draw(near_miss(t), label="near miss")
    check(latex(t), latex(wrong))
    check(latex(wrong), latex(t))


# -- 3. an answer spelled exactly like the gold ----------------------------------------
SAME_TEXT = [
    "3", "\\frac{1}{3}", "0.333333", "x", "e", "\\pi", "x^2+1", "\\frac{1}{0}", "\\frac{0}{0}", "\\infty", "-\\infty",
    "50\\%", "30^\\circ", "\\{1,2\\}", "[1,2)", "(1,2)", "x=3", "x \\leq 2", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
    "\\int_0^1 x\\,dx", "f(x)", "\\text{A}", "\\text{yes}", "\\sqrt{-1}", "\\log(0)", "10^{100}", "\\emptyset", "hello",
]


@pytest.mark.parametrize("text", SAME_TEXT)
def test_same_text_accepts_only_what_math_verify_accepts(text):
    parsed = _parse(text)
    if same_text_accepts(parsed):
        assert verdict(parsed, _parse(text)), f"{text!r} -> {parsed}: accepted unparsed, math-verify rejects it"


def test_same_text_accepts_nothing_from_an_empty_parse():
    assert not same_text_accepts([])
    assert not same_text_accepts([sp.nan, "  "])


# -- 4. end to end: compare_answer scores what math-verify says -----------------------
NOT_PLAIN = [(g, a) for g, a in TABLE if plain_number(g) is None and plain_number(a) is None]


@pytest.mark.parametrize("gold, answer", NOT_PLAIN)
def test_compare_answer_scores_math_verifys_verdict(gold, answer):
    """Plain numbers on either side take compare_answer's exact-fraction path by design;
    everything else must score 1.0 exactly when math-verify accepts."""
    for g, a in ((gold, answer), (answer, gold)):
        result = compare_answer(a, prepare_gold(g, MATH_DEFAULTS), MATH_DEFAULTS)
        expected = verdict(_parse(g), _parse(a))
        assert result.score == (1.0 if expected else 0.0), (
            f"gold {g!r}, answer {a!r}: compare_answer {result.score} ({result.reason}, {result.details}),"
            f" math-verify {expected}")
