"""Math accuracy: the answer compared with the gold by value, with math-verify for LaTeX.

Three decisions shape this module:

- **Plain numbers never touch sympy.** A counting answer ``3`` against gold ``3``, or
  ``0.5`` against ``\\frac{1}{2}``, is compared as exact fractions (optionally with a
  relative/absolute tolerance) in microseconds. math-verify's LaTeX parser is only used
  when either side is not a plain number.
- **The gold is parsed once, where it is used.** ``prepare_gold`` (run once per distinct
  solution by the engine, in the main process: it is a bounded scan) keeps each
  acceptable form's text, and its exact value if it is a plain number. math-verify's
  parse of a form happens at the first comparison that needs it, in the worker doing
  that comparison, and is cached there (the engine sends all generations of one solution
  to the same worker). A gold nobody needs parsed (every answer a plain number, or
  spelled exactly like it) is never parsed, and nothing heavier than text is pickled.
- **simplify only when it matters.** math-verify's slowest step, ``simplify``, mostly runs
  on wrong answers; :mod:`.shortcuts` settles clearly unequal (and polynomial-identical)
  pairs with the same verdict in a fraction of a millisecond, and an answer spelled
  exactly like the gold is accepted without being parsed again. A constant answer whose
  value (read by :mod:`.value`, no parser) is clearly not the gold's is wrong without
  being parsed at all, and a constant exactly equal to the gold (read by :mod:`.exact`:
  ``\\sqrt{12}`` for ``2\\sqrt{3}``) is right without being parsed.
- **math-verify's own timeouts are off** (``parsing_timeout=None``,
  ``timeout_seconds=None``). They use ``signal.alarm``, which only works in a process's
  main thread and rounds fractional seconds to "no alarm"; a stuck parse is instead
  bounded beforehand by :mod:`.guard` and, failing that, killed by the engine's
  per-item process timeout (the ``math`` reward runs isolated).
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping

from vlmr1.types import Sample, Verdict

from .exact import exact_value
from .extract import clean_answer, extract_math_answer
from .guard import Bounds, check_bounds
from .shortcuts import decide, same_text_accepts
from .value import latex_value, same_spelling

__all__ = ["MATH_DEFAULTS", "GoldForm", "MathGold", "plain_number", "prepare_gold", "quick_compare", "compare_answer", "math_score",
           "math_triage", "math_extract", "math_compare"]

MATH_DEFAULTS: dict[str, Any] = {
    "rel_tol": 0.0,
    "abs_tol": 0.0,
    "max_chars": 1000,
    "max_depth": 24,
    "float_rounding": 6,
}

_INT = r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)"
_PLAIN = re.compile(rf"(?P<num>{_INT}(?:\.\d*)?|[+-]?\.\d+)(?:\s*/\s*(?P<den>\d+))?")
_DEGREES = re.compile(r"\s*(?:\^\s*(?:\\circ|\{\s*\\circ\s*\})|°)$")  # 30^\circ, 30^{\circ}, 30°: math-verify reads 30
_FRAC = re.compile(r"(?P<sign>[+-]?)\s*\\[dt]?frac\s*\{\s*(?P<num>-?\d+)\s*\}\s*\{\s*(?P<den>\d+)\s*\}")


def plain_number(text: Any) -> Fraction | None:
    """The exact value of a plain number, or None: ``3``, ``-2.50``, ``1,000``, ``.5``,
    ``3/4``, ``\\frac{3}{4}``, ``$-\\dfrac{1}{2}$``, ``3.``, ``30^\\circ``. Anything else (units, variables,
    LaTeX beyond a simple fraction) is not plain and goes to math-verify."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return Fraction(text)
    if isinstance(text, float):
        return Fraction(repr(text)) if text == text and abs(text) != float("inf") else None
    if not isinstance(text, str):
        return None
    s = text.strip()
    if len(s) > 64:
        return None
    s = clean_answer(s) if ("$" in s or "\\" in s or s.endswith(".")) else s
    if s.endswith(("circ", "}", "°")):
        s = _DEGREES.sub("", s)
    m = _PLAIN.fullmatch(s)
    try:
        if m:
            value = Fraction(m.group("num").replace(",", "").rstrip(".") or "0")
            if m.group("den") is not None:
                den = int(m.group("den"))
                return value / den if den and value.denominator == 1 else None
            return value
        m = _FRAC.fullmatch(s)
        if m and int(m.group("den")):
            value = Fraction(int(m.group("num")), int(m.group("den")))
            return -value if m.group("sign") == "-" else value
    except (ValueError, ZeroDivisionError):
        return None
    return None


def _close(a: Fraction, b: Fraction, rel_tol: float, abs_tol: float) -> bool:
    if a == b:
        return True
    if rel_tol <= 0 and abs_tol <= 0:
        return False
    return abs(float(a) - float(b)) <= max(abs_tol, rel_tol * abs(float(b)))


# -- math-verify, imported lazily (it pulls in sympy and the ANTLR parser) -------------
def _mv() -> Any:
    import math_verify

    # With timeouts off, math-verify logs a one-time warning that we handle timeouts
    # ourselves; we do (guard + process timeout), so keep worker logs quiet.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    return math_verify


def _has_expr(parsed: list) -> bool:
    return any(not isinstance(x, str) for x in parsed)


def _parse(text: str, prose: bool = False) -> list:
    """math-verify's parse of an answer already cut out of its completion.

    Read as inline LaTeX first (``$...$``): unwrapped, math-verify looks for an
    expression inside prose and takes ``1`` out of ``1+x^2``. Plain parsing is the
    fallback for text that is not LaTeX at all, and comes first for ``prose`` (a last
    line such as "The area is 12 square units.").
    """
    mv = _mv()
    if prose:
        plain = mv.parse(text, parsing_timeout=None)
        if _has_expr(plain):
            return plain
    if "$" not in text and "\\boxed" not in text and "\\(" not in text and "\\[" not in text:
        wrapped = mv.parse(f"${text}$", parsing_timeout=None)
        if _has_expr(wrapped):
            return wrapped
    return mv.parse(text, parsing_timeout=None)


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> tuple:
    return tuple(_parse(text))


@dataclass(frozen=True)
class GoldForm:
    """One acceptable form of the gold: its text and, if it is a plain number, its value."""

    text: str
    number: Fraction | None = None
    reason: str = "ok"

    def parsed(self) -> tuple:
        """math-verify's parse of the text (empty if it finds nothing), cached per process."""
        return _parse_cached(self.text)


@dataclass(frozen=True)
class MathGold:
    """A prepared solution: any of ``forms`` counts as correct."""

    forms: tuple[GoldForm, ...]

    @property
    def usable(self) -> tuple[GoldForm, ...]:
        return tuple(f for f in self.forms if f.reason == "ok")


def _bounds(params: Mapping[str, Any]) -> Bounds:
    return Bounds(max_chars=int(params.get("max_chars", 1000)), max_depth=int(params.get("max_depth", 24)))


def _gold_form(item: Any, params: Mapping[str, Any]) -> GoldForm:
    number = plain_number(item)
    text = item if isinstance(item, str) else str(item)
    if isinstance(item, str):
        from vlmr1.answers import answer_text

        inner = answer_text(item)
        text = clean_answer(inner if inner is not None else item)
        number = plain_number(text)
    if number is not None:
        return GoldForm(text, number)
    why = check_bounds(text, _bounds(params))
    return GoldForm(text, reason=f"gold_{why}") if why else GoldForm(text)


def prepare_gold(solution: Any, params: Mapping[str, Any]) -> MathGold:
    """A solution's acceptable forms: a number, a LaTeX string, ``$\\frac{1}{2}$``,
    ``<answer>3</answer>``, or a list of those. Cheap and bounded (no parsing here)."""
    items = list(solution) if isinstance(solution, (list, tuple)) else [solution]
    return MathGold(tuple(_gold_form(x, params) for x in items if x is not None and x != ""))


def _numeric(parsed: tuple) -> float | None:
    for x in parsed:
        if isinstance(x, str):
            continue
        try:
            if getattr(x, "is_number", False):
                return complex(x.evalf()).real if complex(x.evalf()).imag == 0 else None
        except Exception:
            return None
    return None


def _value_rejects(answer: str, forms: tuple[GoldForm, ...], rounding: int, rel_tol: float, abs_tol: float,
                   parse_gold: bool = True) -> bool:
    """The answer's value (read without math-verify) is clearly none of the gold forms'
    values: math-verify would parse it only to say "wrong". Without ``parse_gold`` a gold
    outside the subset leaves the question open instead of being parsed."""
    value = latex_value(answer)
    if value is None:
        return False
    for f in forms:
        if f.number is not None:
            gold = float(f.number)
        else:
            gold = latex_value(f.text)
            if gold is None and parse_gold:
                gold = _numeric(f.parsed())
        if gold is None:
            return False  # not a number (a set, a variable...): math-verify decides
        margin = max(10.0 * 10.0 ** -rounding, 1e-9 * (abs(value) + abs(gold)), abs_tol, rel_tol * abs(gold))
        if not abs(value - gold) > margin:
            return False
    return True


def quick_compare(answer: str, gold: MathGold, params: Mapping[str, Any], prose: bool = False) -> Verdict | None:
    """The verdict if it can be had without math-verify (bounded scans, microseconds), else
    None. The engine runs this inline (the reward's ``triage``), so most items never make the
    trip to a worker."""
    forms = gold.usable
    if not forms:
        reasons = {f.reason for f in gold.forms}
        return Verdict.skip(sorted(reasons)[0] if reasons else "no_solution")
    rel_tol, abs_tol = float(params.get("rel_tol", 0.0)), float(params.get("abs_tol", 0.0))
    value = plain_number(answer)
    if value is not None:
        for f in forms:
            if f.number is not None and _close(value, f.number, rel_tol, abs_tol):
                return Verdict(1.0, "ok", answer, {"path": "number"})
        if all(f.number is not None for f in forms):
            return Verdict(0.0, "wrong", answer, {"path": "number"})
    why = check_bounds(answer, _bounds(params))
    if why:
        return Verdict(0.0, why, answer)
    if not prose:
        if any(same_spelling(answer, f.text) for f in forms):
            return Verdict(1.0, "ok", answer, {"path": "same_text"})
        exact = exact_value(answer)
        if exact is not None and any(exact == exact_value(f.text) for f in forms):
            return Verdict(1.0, "ok", answer, {"path": "exact"})
        if _value_rejects(answer, forms, int(params.get("float_rounding", 6)), rel_tol, abs_tol, parse_gold=False):
            return Verdict(0.0, "wrong", answer, {"path": "value"})
    return None


def compare_answer(answer: str, gold: MathGold, params: Mapping[str, Any], prose: bool = False) -> Verdict:
    """Score ``answer`` (already extracted) against a prepared gold; ``prose``: the answer
    is a last line of text rather than a tagged or boxed answer."""
    quick = quick_compare(answer, gold, params, prose)
    if quick is not None:
        return quick
    forms = gold.usable
    rel_tol, abs_tol = float(params.get("rel_tol", 0.0)), float(params.get("abs_tol", 0.0))
    rounding = int(params.get("float_rounding", 6))
    if not prose and _value_rejects(answer, forms, rounding, rel_tol, abs_tol):
        return Verdict(0.0, "wrong", answer, {"path": "value"})
    parsed_forms = [(f, f.parsed()) for f in forms]
    if not any(g for _, g in parsed_forms) and all(f.number is None for f in forms):
        return Verdict.skip("gold_unparseable")
    if not prose:
        for f, g in parsed_forms:
            if answer == f.text and same_text_accepts(g):
                return Verdict(1.0, "ok", answer, {"path": "same_text"})
    predicted = tuple(_parse(answer, prose))
    if not predicted:
        return Verdict(0.0, "unparseable", answer)
    path = "math_verify"
    for _, gold_parsed in parsed_forms:
        if not gold_parsed:
            continue
        decided = decide(gold_parsed, predicted, rounding)
        path = "math_verify" if decided is None else "shortcut"
        if decided is None:
            decided = _mv().verify(list(gold_parsed), list(predicted), float_rounding=rounding, timeout_seconds=None)
        if decided:
            return Verdict(1.0, "ok", answer, {"path": path})
        if rel_tol > 0 or abs_tol > 0:
            a, b = _numeric(predicted), _numeric(gold_parsed)
            if a is not None and b is not None and abs(a - b) <= max(abs_tol, rel_tol * abs(b)):
                return Verdict(1.0, "ok", answer, {"path": "tolerance"})
    return Verdict(0.0, "wrong", answer, {"path": path})


def _scored(sample: Sample, gold: Any, params: Mapping[str, Any], compare: Any) -> Verdict | None:
    if not isinstance(gold, MathGold):
        if gold is None:
            gold = sample.solution
        if gold is None or gold == "":
            return Verdict.skip("no_solution")
        gold = prepare_gold(gold, params)
    answer, where = extract_math_answer(sample.completion)
    if answer is None:
        return Verdict.fail(where)
    verdict = compare(answer, gold, params, prose=where == "last_line")
    if verdict is not None and verdict.score is not None:
        verdict = Verdict(verdict.score, verdict.reason, verdict.answer, {**verdict.details, "source": where})
    return verdict


def math_score(sample: Sample, gold: Any, params: Mapping[str, Any]) -> Verdict:
    """The ``math`` reward: extract, bound, compare. ``gold`` is ``prepare_gold``'s result
    (a raw solution is prepared here when a caller skipped ``prepare``)."""
    return _scored(sample, gold, params, compare_answer)


def math_triage(sample: Sample, gold: Any, params: Mapping[str, Any]) -> Verdict | None:
    """``math_score``'s verdict when it needs no math-verify (run inline by the engine), else None."""
    return _scored(sample, gold, params, quick_compare)


# Answer shapes a math dataset is made of. ANTLR learns its parse decisions (a DFA shared by
# the whole process) from the inputs it sees, and a shape seen for the first time costs
# 5-20x more to parse; workers forked after the warm-up start with all of these learned.
_WARMUP = ("\\frac{\\sqrt{3}}{2}", "2\\sqrt{5}", "x^2 + 3x - 4", "(x-1)^2", "\\pi r^2", "\\frac{\\pi}{6}", "3\\pi/4",
           "-\\frac{7}{12}", "\\dfrac{1}{3}", "2^{10}", "\\sqrt[3]{2}", "[1, 2)", "\\{1, 2\\}", "(3, -4)", "x = 5",
           "y \\leq 2", "45\\%", "1.25", "\\text{A}", "\\infty", "a+b\\cdot c", "\\log_2 8", "\\sin(x)", "e^{2}",
           "10^{-3}", "3 \\times 4", "\\pm 2")


def math_warmup() -> None:
    """Import math-verify and parse the usual answer shapes once in the engine's main
    process, so forked (and recycled) workers start warm. About half a second, once."""
    compare_answer("x^2 + \\sqrt{2}", prepare_gold("\\sqrt{2} + x^2", {}), {})
    for text in _WARMUP:
        _parse(text)


def math_dedupe_key(sample: Sample, params: Mapping[str, Any]) -> tuple[str | None, str]:
    """``math_score`` reads nothing of the completion but this: its answer and where it
    came from. Generations that reach the same answer are verified once."""
    return extract_math_answer(sample.completion)


# -- the same logic as a Verifier's three steps ----------------------------------------
def math_extract(completion: str, params: Mapping[str, Any]) -> str | None:
    return extract_math_answer(completion)[0]


def math_compare(answer: Any, gold: Any, sample: Sample, params: Mapping[str, Any]) -> Verdict:
    if not isinstance(gold, MathGold):
        gold = prepare_gold(gold, params)
    return compare_answer(str(answer), gold, params)
