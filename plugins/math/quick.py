"""Verdicts reached without a parser, each the verdict math-verify's ``verify`` gives on
the same complete readings (or a better-founded one where its own ``parse`` reads only part
of a text): plain numbers, intervals of numbers, one text, exact equality, clearly different
values, words, units, and the assignments math-verify unwraps (``y = 2x+1`` against
``2x+1``). Everything here is a bounded scan or a small exact arithmetic, run inline by the
engine for every distinct answer; what is left goes to a worker and math-verify.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping

from .exact import exact_value
from .latex import parsed
from .numbers import plain_number
from .reading import Reading, fold_words
from .units import Unit
from .value import latex_value, same_spelling

__all__ = ["GoldForm", "MathGold", "close", "in_gold_unit", "value_rejects", "quick_form", "squeezed"]

def close(a: Fraction, b: Fraction, rel_tol: float, abs_tol: float) -> bool:
    if a == b:
        return True
    if rel_tol <= 0 and abs_tol <= 0:
        return False
    return abs(float(a) - float(b)) <= max(abs_tol, rel_tol * abs(float(b)))


@dataclass(frozen=True)
class GoldForm:
    """One acceptable form of the gold: its normalised math text, its unit or label, its
    exact value when it is a plain number, and its option letter when it is a choice."""

    text: str
    number: Fraction | None = None
    reason: str = "ok"
    unit: Unit | None = None
    label: str | None = None
    choice: str | None = None
    words: bool = False

    def parsed(self) -> tuple:
        """math-verify's reading of the whole text (empty if it cannot read all of it)."""
        return parsed(self.text)


@dataclass(frozen=True)
class MathGold:
    """A prepared solution: any of ``forms`` counts as correct."""

    forms: tuple[GoldForm, ...]

    @property
    def usable(self) -> tuple[GoldForm, ...]:
        return tuple(f for f in self.forms if f.reason == "ok")



_INTERVAL = re.compile(r"([(\[])\s*([^,()\[\]]+?)\s*,\s*([^,()\[\]]+?)\s*([)\]])")
_INFINITY = {"\\infty": math.inf, "+\\infty": math.inf, "-\\infty": -math.inf, "\\infinity": math.inf}
_Interval = tuple[bool, "Fraction | float", "Fraction | float", bool, bool]


def _endpoint(text: str) -> Fraction | float | None:
    text = text.strip()
    return _INFINITY.get(text.replace(" ", ""), None) if "infty" in text or "infinity" in text else plain_number(text)


def _interval(text: str) -> _Interval | None:
    """``(a, b]``-style intervals of plain numbers or infinities with ``a < b`` (which
    math-verify's parser reads as intervals, not pairs): (left open, a, b, right open, any
    decimal). Infinite ends are open whatever bracket is written, as in sympy."""
    m = _INTERVAL.fullmatch(text.strip())
    if m is None:
        return None
    a, b = _endpoint(m.group(2)), _endpoint(m.group(3))
    if a is None or b is None or not a < b:
        return None
    decimal = "." in m.group(2) or "." in m.group(3)
    return (m.group(1) == "(" or a == -math.inf, a, b, m.group(4) == ")" or b == math.inf, decimal)


def _same_interval(x: _Interval, y: _Interval, rounding: int) -> bool:
    """math-verify's interval comparison: the same openness at each end, and each end equal
    (as a number: exactly, or rounded to ``rounding`` places when a decimal is written)."""
    def same(p: Fraction | float, q: Fraction | float) -> bool:
        if p == q:
            return True
        if isinstance(p, float) or isinstance(q, float) or not (x[4] or y[4]):
            return False
        return round(p, rounding) == round(q, rounding)

    return x[0] == y[0] and x[3] == y[3] and same(x[1], y[1]) and same(x[2], y[2])


_SPACE_BY_PUNCTUATION = re.compile(r"\s+(?=[,()\[\]{}=+\-*/^<>|:;])|(?<=[,()\[\]{}=+\-*/^<>|:;])\s+")


def squeezed(text: str) -> str:
    """``text`` without the spaces next to punctuation, which never join or split a token
    (spaces between two letters or digits stay: ``\\pi r``, ``2 3``)."""
    return _SPACE_BY_PUNCTUATION.sub("", text)


_LETTERS = re.compile(r"[A-DF-HJ-Za-df-hj-z]{1,3}")  # no e or i among them: constants to math-verify


def _fraction_latex(q: Fraction) -> str:
    if q.denominator == 1:
        return str(q.numerator)
    return f"{'-' if q < 0 else ''}\\frac{{{abs(q.numerator)}}}{{{q.denominator}}}"


def in_gold_unit(r: Reading, f: GoldForm) -> tuple[str, Fraction | None] | None:
    """The answer's math (and value) expressed in the gold form's unit: unchanged when
    either side has no unit or both the same; converted within a dimension (``1 m`` for
    ``100 cm``); None when the units cannot be compared (``3 kg`` for ``3 m``)."""
    a, g = r.unit, f.unit
    if a is None or g is None or a.name == g.name:
        return r.math, r.number
    if a.dimension != g.dimension:
        return None
    factor = a.factor / g.factor
    if r.number is not None:
        value = r.number * factor
        return _fraction_latex(value), value
    return f"{_fraction_latex(factor)}\\cdot({r.math})", None


def value_rejects(answer: str, f: GoldForm, params: Mapping[str, Any], gold_value: float | None) -> bool:
    """The answer's value (read without a parser) is clearly not the gold form's: a parse
    would only say "wrong"."""
    value = latex_value(answer)
    if value is None or gold_value is None:
        return False
    rounding = int(params.get("float_rounding", 6))
    rel_tol, abs_tol = float(params.get("rel_tol", 0.0)), float(params.get("abs_tol", 0.0))
    margin = max(10.0 * 10.0 ** -rounding, 1e-9 * (abs(value) + abs(gold_value)), abs_tol, rel_tol * abs(gold_value))
    return abs(value - gold_value) > margin


_ASSIGNMENT = re.compile(r"\s*([a-df-hj-z])\s*=(?!=)\s*([^=<>\\]*?(?:\\(?:frac|sqrt|pi|cdot|times)[^=<>\\]*?)*)\s*")
_RELATION = re.compile(r"[=<>]|\\(?:le|ge|leq|geq|ne|neq|approx|in|lt|gt)(?![A-Za-z])")


def _assignment(text: str) -> tuple[str, str] | None:
    """``y = 2x+1``: (the variable, the right-hand side), when the right-hand side has no
    relation in it and does not hold the variable."""
    m = _ASSIGNMENT.fullmatch(text)
    if m is None or _RELATION.search(m.group(2)) or re.search(rf"(?<![\\A-Za-z]){m.group(1)}(?![A-Za-z])", m.group(2)):
        return None
    return m.group(1), m.group(2)


def _unwrapped(answer: str, gold: str) -> tuple[str, str] | None:
    """The two sides math-verify compares when one or both are assignments: a gold
    assignment against an expression compares its right-hand side, an answer assignment
    against an expression likewise, and two assignments to the same variable their
    right-hand sides; None when neither is one, or they assign different variables."""
    a, g = _assignment(answer), _assignment(gold)
    if a is None and g is None:
        return None
    if (a is None and _RELATION.search(answer)) or (g is None and _RELATION.search(gold)):
        return None  # an assignment against another kind of relation: math-verify's business
    if a is not None and g is not None and a[0] != g[0]:
        return None
    return (a[1] if a else answer), (g[1] if g else gold)


def quick_form(r: Reading, f: GoldForm, params: Mapping[str, Any]) -> tuple[bool | None, str]:
    """One form's verdict when it needs no parser: (accepted?, path), or (None, "")."""
    if r.words or f.words:  # words against words, or against a run of letters ("odd")
        return fold_words(r.math) == fold_words(f.text) is not None, "text"
    got = in_gold_unit(r, f)
    if got is None:
        return False, "unit"
    math, number = got
    rel_tol, abs_tol = float(params.get("rel_tol", 0.0)), float(params.get("abs_tol", 0.0))
    if f.number is not None and _LETTERS.fullmatch(math):
        return False, "value"  # "K" for 6: a free symbol is never a number to math-verify
    if number is not None and f.number is not None:
        if close(number, f.number, rel_tol, abs_tol):
            return True, "number"
        # a decimal is compared as math-verify compares a float: both rounded to
        # float_rounding places (0.0833333333333333 is 1/12; 0.0833 is not)
        rounding = int(params.get("float_rounding", 6))
        decimal = "." in r.math or "." in f.text
        return bool(decimal and round(number, rounding) == round(f.number, rounding)), "number"
    interval, gold_interval = _interval(math), _interval(f.text)
    if interval is not None and gold_interval is not None:
        return _same_interval(interval, gold_interval, int(params.get("float_rounding", 6))), "interval"
    if math == f.text or same_spelling(math, f.text):
        return True, "same_text"  # one text is one parse; verify also compares the texts themselves
    sides = _unwrapped(math, f.text)
    if sides is not None:  # "y = 2x+1" against "2x+1" (or "y = 2x+1"): the right-hand sides
        math, gold_text = sides
        exact = exact_value(math)
        if exact is not None and exact == exact_value(gold_text):
            return True, "exact"
        if value_rejects(math, f, params, latex_value(gold_text)):
            return False, "value"
        return None, ""
    exact = exact_value(math)
    if exact is not None and exact == exact_value(f.text):
        return True, "exact"
    gold_value = float(f.number) if f.number is not None else latex_value(f.text)
    if value_rejects(math, f, params, gold_value):
        return False, "value"
    return None, ""

