"""Intervals of plain numbers are compared inline (``details.path: interval``); the verdict
must be math-verify's ``verify`` on its own complete readings of the same two texts, for
every bracket, endpoint spelling (integers, decimals, fractions, infinities) and pair."""

from __future__ import annotations

import math_verify
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlmr1.plugins.math.latex import parsed
from vlmr1.plugins.math.verify import MATH_DEFAULTS, compare_answer, prepare_gold

FINITE = st.one_of(
    st.integers(-20, 20).map(str),
    st.tuples(st.integers(-20, 20), st.integers(0, 99)).map(lambda t: f"{t[0]}.{t[1]:02d}"),
    st.tuples(st.integers(-9, 9), st.integers(1, 9)).map(lambda t: f"\\frac{{{t[0]}}}{{{t[1]}}}" if t[0] >= 0 else f"-\\frac{{{-t[0]}}}{{{t[1]}}}"),
)
LEFT = st.one_of(FINITE, st.just("-\\infty"))
RIGHT = st.one_of(FINITE, st.sampled_from(["\\infty", "+\\infty"]))
INTERVAL = st.builds(lambda lb, a, b, rb, sp: f"{lb}{a},{sp}{b}{rb}", st.sampled_from("(["), LEFT, RIGHT, st.sampled_from(")]"),
                     st.sampled_from(["", " "]))


def near(text: str, data: st.DataObject) -> str:
    """The same interval with one bracket or endpoint changed, or respelled."""
    how = data.draw(st.integers(0, 4))
    if how == 0:
        return ("[" if text[0] == "(" else "(") + text[1:]
    if how == 1:
        return text[:-1] + ("]" if text[-1] == ")" else ")")
    if how == 2:
        return text.replace(",", ", ").replace(",  ", ", ")
    return data.draw(INTERVAL)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(INTERVAL, st.data())
def test_an_interval_verdict_is_math_verifys(gold, data):
    answer = near(gold, data) if data.draw(st.booleans()) else data.draw(INTERVAL)
    v = compare_answer(answer, prepare_gold(gold, MATH_DEFAULTS), MATH_DEFAULTS)
    if v.details.get("path") != "interval":
        return
    expected = math_verify.verify(list(parsed(gold)), list(parsed(answer)), float_rounding=6, timeout_seconds=None)
    assert (v.score == 1.0) == expected, (gold, answer, v)


def test_intervals_are_settled_inline():
    for gold, answer, score in (("(-6, 12)", "[-6, 12]", 0.0), ("(-6, 12)", "(-6,12)", 1.0), ("(-\\infty, 2]", "[-\\infty, 2]", 1.0),
                                ("[0.5, 3)", "[\\frac{1}{2}, 3)", 1.0), ("(1, 2)", "(1, 3)", 0.0)):
        v = compare_answer(answer, prepare_gold(gold, MATH_DEFAULTS), MATH_DEFAULTS)
        assert (v.score, v.details["path"]) == (score, "interval"), (gold, answer, v)


# -- assignments: "y = 2x+1" against "2x+1" --------------------------------------------
TERM = st.one_of(
    st.integers(1, 9).map(str),
    st.tuples(st.integers(1, 9), st.sampled_from(["x", "x^2", "\\sqrt{2}", "\\pi", "a"])).map(lambda t: f"{t[0]}{t[1]}"),
    st.tuples(st.integers(1, 9), st.integers(2, 9)).map(lambda t: f"\\frac{{{t[0]}}}{{{t[1]}}}x"),
)
EXPR = st.lists(st.tuples(st.sampled_from(["+", "-"]), TERM), min_size=1, max_size=3).map(
    lambda parts: "".join(f"{s}{t}" for s, t in parts).lstrip("+"))
SIDE = st.builds(lambda var, expr, spaced, assign: (f"{var} = {expr}" if spaced else f"{var}={expr}") if assign else expr,
                 st.sampled_from(["y", "z"]), EXPR, st.booleans(), st.booleans())


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SIDE, st.data())
def test_an_assignment_verdict_is_math_verifys(gold, data):
    how = data.draw(st.integers(0, 2))
    if how == 0:  # the same right-hand side, with or without the assignment
        rhs = gold.split("=", 1)[-1].strip()
        answer = data.draw(st.sampled_from([rhs, f"y = {rhs}", f"z={rhs}"]))
    else:
        answer = data.draw(SIDE)
    v = compare_answer(answer, prepare_gold(gold, MATH_DEFAULTS), MATH_DEFAULTS)
    if "=" not in gold + answer or v.details.get("path") not in ("exact", "value"):
        return
    expected = math_verify.verify(list(parsed(gold)), list(parsed(answer)), float_rounding=6, timeout_seconds=None)
    assert (v.score == 1.0) == expected, (gold, answer, v)


def test_assignments_are_settled_inline():
    for gold, answer, score in (("y = 8x + 1", "8x+1", 1.0), ("y = 8x + 1", "y = 8x - 1", 0.0), ("8x+1", "y=8x+1", 1.0),
                                ("5", "x = 5", 1.0), ("y = 2x", "y = x + x", 1.0)):
        v = compare_answer(answer, prepare_gold(gold, MATH_DEFAULTS), MATH_DEFAULTS)
        assert v.score == score and v.details["path"] in ("exact", "value"), (gold, answer, v)
