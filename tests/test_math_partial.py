"""No 1.0 from a partial reading, over generated texts.

Golds and answers are generated as small constant expressions (an integer or fraction
coefficient times square roots and powers of π, one or two terms), each written in one of
the spellings real data uses: ``2√{3}``, ``2√3``, ``2\\sqrt{3}``, ``2sqrt(3)``, ``9π``,
``9pi``, ``9\\pi``, superscripts (``3²``), U+2212 minus, fullwidth digits, and a unit
(Latin, ``\\text{}``, CJK, degrees) or none. The truth is computed here from the generated
tree and a unit table written in this file, never by the reward.

For every pair the reward must give 1.0 exactly when the true values are equal and the
units allow it (same unit, or a bare number on one side), and never 1.0 otherwise; in
particular never for a truncation of the gold's spelling (``2`` for ``2√{3}``, which is
what math-verify reads of it). A symbol nothing reads (``∠``, ``△``) after a gold makes
the row null with a reason naming it; after an answer, 0.0 with a reason naming it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlmr1.plugins.math.verify import MATH_DEFAULTS, math_score, prepare_gold
from vlmr1.types import Sample

SQRT_SPELLINGS = ("√{k}", "√k", "\\sqrt{k}", "sqrt(k)", "√(k)", "sqrt{k}")
PI_SPELLINGS = ("π", "\\pi", "pi")
FULLWIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}


@dataclass(frozen=True)
class Term:
    coef: Fraction
    root: int  # 1: no root
    pi: int  # power of pi, 0..2

    def value(self) -> float:
        return float(self.coef) * math.sqrt(self.root) * math.pi ** self.pi


# unit spellings -> (dimension, size in the dimension's base); written here, not imported
UNITS = {
    "": None, "cm": ("length", 0.01), "厘米": ("length", 0.01), "\\text{ cm}": ("length", 0.01), "mm": ("length", 0.001),
    "米": ("length", 1.0), "km": ("length", 1000.0), "千米": ("length", 1000.0),
    "cm^{2}": ("area", 1e-4), "cm²": ("area", 1e-4), "平方厘米": ("area", 1e-4), "m^2": ("area", 1.0),
    "°": ("angle", 1.0), "度": ("angle", 1.0), "^{\\circ}": ("angle", 1.0),
    "kg": ("mass", 1000.0), "千克": ("mass", 1000.0), "g": None,  # "g" after a number is algebra, not a unit
    "km/h": ("speed", 1 / 3.6), "元": ("cny", 1.0),
}
UNIT_NAMES = sorted(UNITS)


def spell_coef(c: Fraction, rng: st.DataObject, first: bool) -> str:
    if c.denominator == 1:
        text = str(abs(c.numerator))
        if rng.draw(st.booleans()) and abs(c.numerator) > 1:
            text = "".join(FULLWIDTH[d] if rng.draw(st.integers(0, 3)) == 0 else d for d in text)
    else:
        text = rng.draw(st.sampled_from([f"\\frac{{{abs(c.numerator)}}}{{{c.denominator}}}",
                                         f"\\dfrac{{{abs(c.numerator)}}}{{{c.denominator}}}"]))
    return text


def spell_term(t: Term, rng: st.DataObject, first: bool) -> str:
    parts = []
    if not (abs(t.coef) == 1 and (t.root > 1 or t.pi > 0)):
        parts.append(spell_coef(t.coef, rng, first))
    if t.root > 1:
        parts.append(rng.draw(st.sampled_from(SQRT_SPELLINGS)).replace("k", str(t.root)))
    if t.pi:
        pi = rng.draw(st.sampled_from(PI_SPELLINGS))
        if t.pi == 2:
            pi = rng.draw(st.sampled_from([f"{pi}²", f"{pi}^2", f"{pi}^{{2}}"])) if pi != "pi" else "\\pi^2"
        parts.append(pi)
    text = "".join(parts)
    return text


def spell(terms: list[Term], rng: st.DataObject) -> str:
    out = ""
    for i, t in enumerate(terms):
        body = spell_term(t, rng, i == 0)
        if t.coef < 0:
            out += rng.draw(st.sampled_from(["-", "\u2212"])) + body
        else:
            out += ("+" if i else "") + body
    return out.strip()


TERMS = st.builds(
    Term,
    st.one_of(st.integers(1, 40).map(Fraction), st.fractions(min_value=Fraction(1, 9), max_value=9, max_denominator=9)),
    st.sampled_from([1, 1, 2, 3, 5, 6, 7, 10, 13, 15]),
    st.sampled_from([0, 0, 1, 1, 2]),
)
EXPRS = st.lists(TERMS, min_size=1, max_size=2).map(lambda ts: [ts[0]] + [Term(-t.coef, t.root, t.pi) for t in ts[1:]])


def value(terms: list[Term]) -> float:
    return sum(t.value() for t in terms)


def score(answer: str, gold: str):
    params = MATH_DEFAULTS
    return math_score(Sample(f"<think>work</think><answer>{answer}</answer>", solution=gold), prepare_gold(gold, params), params)


def with_unit(text: str, unit: str, rng: st.DataObject) -> str:
    if not unit:
        return text
    gap = rng.draw(st.sampled_from(["", " "]))
    if text.endswith("pi") and unit[0].isalpha():
        gap = " "  # "9pi cm", "9\\pi cm": "\\picm" is no command, "9picm" no word
    return text + gap + unit


def truly_equal(a: float, ua: str, g: float, ug: str) -> bool:
    da, dg = UNITS[ua], UNITS[ug]
    if ua == "g" or ug == "g":  # the product 5g: equal only to the same product
        return ua == ug and math.isclose(a, g, rel_tol=1e-9, abs_tol=1e-12)
    if da is not None and dg is not None:
        if da[0] != dg[0]:
            return False
        a = a * da[1] / dg[1]
    return math.isclose(a, g, rel_tol=1e-9, abs_tol=1e-12)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRS, EXPRS, st.sampled_from(UNIT_NAMES), st.sampled_from(UNIT_NAMES), st.data())
def test_accepted_exactly_when_the_values_and_units_agree(gold_terms, answer_terms, gold_unit, answer_unit, data):
    if data.draw(st.booleans()):
        answer_terms = gold_terms  # half the pairs: the same quantity, spelled anew
        answer_unit = data.draw(st.sampled_from(["", gold_unit]))
    gold = with_unit(spell(gold_terms, data), gold_unit, data)
    answer = with_unit(spell(answer_terms, data), answer_unit, data)
    v = score(answer, gold)
    expected = truly_equal(value(answer_terms), answer_unit, value(gold_terms), gold_unit)
    if expected:
        assert v.score == 1.0, f"{answer!r} for {gold!r}: {v}"
    else:
        assert v.score != 1.0, f"{answer!r} for {gold!r} accepted: {v}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRS, st.sampled_from(UNIT_NAMES), st.data())
def test_a_truncated_reading_of_the_gold_is_never_paid(gold_terms, unit, data):
    """The answers a partial reader would see in the gold: its leading coefficient (``2``
    of ``2√{3}``), its first term, its decimal value cut short."""
    gold = with_unit(spell(gold_terms, data), unit, data)
    head = gold_terms[0]
    g = value(gold_terms)
    candidates = [str(head.coef) if head.coef.denominator == 1 else f"{float(head.coef):.4f}", spell([head], data),
                  f"{g:.2f}", str(int(g))]
    for answer in candidates:
        a = score(answer, gold)
        true_answer = float(Fraction(answer)) if "\\" not in answer and "√" not in answer and "π" not in answer \
            and "pi" not in answer and "sqrt" not in answer else value([head])
        if not math.isclose(true_answer, g, rel_tol=1e-9):
            assert a.score != 1.0, f"{answer!r} for {gold!r} accepted: {a}"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRS, st.sampled_from(UNIT_NAMES), st.sampled_from(["∠", "△", "⊥", "∥", "★"]), st.sampled_from(["before", "after"]), st.data())
def test_what_cannot_be_read_is_named_gold_null_answer_zero(terms, unit, symbol, where, data):
    text = with_unit(spell(terms, data), unit, data)
    broken = f"{symbol}{text}" if where == "before" else f"{spell(terms, data)}{symbol}"
    null = score(text, broken)
    assert null.score is None and null.reason.startswith("gold_unreadable") and symbol in null.reason, null
    zero = score(broken, text)
    assert zero.score == 0.0 and zero.reason.startswith("unreadable") and symbol in zero.reason, zero


def test_the_generators_write_what_real_data_writes():
    """The spellings above are the ones the reward claims to read: check a few by hand."""
    assert score("2√{3}", "2\\sqrt{3}").score == 1.0
    assert score("2", "2√{3}").score == 0.0
    assert score("９π", "9\\pi cm^{2}").score == 1.0
    assert score("3²", "9").score == 1.0
