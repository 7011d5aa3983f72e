"""Math accuracy: the answer compared with the gold by value, with math-verify for LaTeX.

The decisions that shape this module:

- **Both sides are read completely or not at all.** An answer and a gold are first brought
  to one spelling (:mod:`.normalize`: ``√``, ``π``, ``²``, fullwidth, ``sqrt(3)``...),
  their units split off and compared explicitly (:mod:`.units`), and prose cut down to the
  mathematics it ends on (:mod:`.reading`). What is left is read whole, by a plain-number
  reader, by the readers in :mod:`.value` and :mod:`.exact`, or by math-verify's LaTeX
  parser on the whole text (:mod:`.latex`), never by its search for the first number it
  can find. A gold that cannot be read whole gives ``None`` and a reason naming what could
  not be read (the row is at fault); an answer that cannot, ``0.0`` and the same kind of
  reason (a ``None`` would let a policy leave the group baseline with unreadable output).
- **Plain numbers never touch sympy.** ``3`` against ``3``, ``0.5`` against
  ``\\frac{1}{2}``, ``12 apples`` against ``12`` are compared as exact fractions (optionally
  within a tolerance) in microseconds.
- **The gold is parsed once, where it is used.** ``prepare_gold`` (a bounded scan, run once
  per distinct solution in the engine's main process) keeps each acceptable form's
  normalised text, unit and exact value; math-verify's parse of a form happens at the first
  comparison that needs it, in the worker doing it, and is cached there.
- **Cheap verdicts are math-verify's verdicts.** An answer spelled like the gold, exactly
  equal to it (:mod:`.exact`), or of a clearly different value (:mod:`.value`) is settled
  without a parse, and :mod:`.shortcuts` replaces only ``verify``'s ``simplify`` step, each
  only where it gives the verdict ``verify`` gives on the same complete readings.
"""

from __future__ import annotations

from typing import Any, Mapping

from vlmr1.answers import answer_text, final_boxes
from vlmr1.choices import extract_letters
from vlmr1.types import Sample, Verdict

from .extract import clean_answer, extract_math_answer
from .guard import Bounds, check_bounds
from .latex import read_latex, verify, warm
from .numbers import plain_number
from .params import MATH_DEFAULTS
from .quick import GoldForm, MathGold, in_gold_unit, quick_form, squeezed, value_rejects
from .reading import Reading, choice_letter, read_text
from .shortcuts import decide, same_text_accepts

__all__ = ["MATH_DEFAULTS", "GoldForm", "MathGold", "plain_number", "prepare_gold", "quick_compare", "compare_answer", "math_score",
           "math_triage", "math_warmup", "math_dedupe_key"]

def _bounds(params: Mapping[str, Any]) -> Bounds:
    return Bounds(max_chars=int(params.get("max_chars", 1000)), max_depth=int(params.get("max_depth", 24)))


def _form(r: Reading, params: Mapping[str, Any]) -> GoldForm:
    if r.words:
        return GoldForm(r.math, words=True)
    if r.unread is not None:
        return GoldForm(r.math, reason=f"gold_unreadable: {r.unread}")
    if r.number is not None:
        return GoldForm(r.math, r.number, unit=r.unit, label=r.label)
    why = check_bounds(r.math, _bounds(params))
    return GoldForm(r.math, reason=f"gold_{why}" if why else "ok", unit=r.unit, label=r.label)


def _gold_forms(item: Any, params: Mapping[str, Any]) -> list[GoldForm]:
    if not isinstance(item, str):
        number = plain_number(item)
        if number is not None:
            return [GoldForm(str(item), number)]
        item = str(item)
    inner = answer_text(item)
    if inner is None and ("\\boxed" in item or "\\fbox" in item):
        inner = final_boxes(item)  # a worked solution as gold: its boxed answer
    text = clean_answer(inner if inner is not None else item)
    if len(text) > int(params.get("max_chars", 1000)):
        return [GoldForm(text[:64], reason="gold_answer_too_long")]
    letter = choice_letter(text)
    if letter is not None:
        return [GoldForm(text, choice=letter)]
    r = read_text(text, several="refuse")
    return [_form(r, params)] + ([_form(r.alt, params)] if r.alt is not None else [])


def prepare_gold(solution: Any, params: Mapping[str, Any]) -> MathGold:
    """A solution's acceptable forms: a number, a LaTeX or plain-text string (``2√{3}``,
    ``$\\frac{1}{2}$``, ``10.2米``), ``<answer>3</answer>``, or a list of those. Cheap and
    bounded: normalised and checked here, parsed (if ever) where it is compared."""
    items = list(solution) if isinstance(solution, (list, tuple)) else [solution]
    return MathGold(tuple(f for x in items if x is not None and x != "" for f in _gold_forms(x, params)))


def _numeric(expressions: tuple) -> float | None:
    for x in expressions:
        if isinstance(x, str):
            continue
        try:
            if getattr(x, "is_number", False):
                z = complex(x.evalf())
                return z.real if z.imag == 0 else None
        except Exception:  # noqa: BLE001 - sympy objects that do not evaluate
            return None
    return None



def _full_form(r: Reading, f: GoldForm, params: Mapping[str, Any]) -> tuple[bool | None, str]:
    """One form's verdict with math-verify: (accepted?, path); (None, unread) when the
    answer cannot be read whole. The gold form is known readable here."""
    math, _ = in_gold_unit(r, f) or (r.math, None)
    gold_parsed = f.parsed()
    if squeezed(math) == squeezed(f.text) and same_text_accepts(gold_parsed):
        return True, "same_text"  # "(-3,8)" for "(-3, 8)": the same tokens, so the same parse
    rounding = int(params.get("float_rounding", 6))
    if f.number is None and value_rejects(math, f, params, _numeric(gold_parsed)):
        return False, "value"
    answer_parsed, unread = read_latex(math)
    if not answer_parsed:
        return None, unread or "unreadable"
    decided = decide(gold_parsed, answer_parsed, rounding)
    path = "math_verify" if decided is None else "shortcut"
    if decided is None:
        decided = verify(gold_parsed, answer_parsed, rounding)
    if decided:
        return True, path
    rel_tol, abs_tol = float(params.get("rel_tol", 0.0)), float(params.get("abs_tol", 0.0))
    if rel_tol > 0 or abs_tol > 0:
        a, b = _numeric(answer_parsed), _numeric(gold_parsed)
        if a is not None and b is not None and abs(a - b) <= max(abs_tol, rel_tol * abs(b)):
            return True, "tolerance"
    return False, path


def _details(r: Reading, path: str, f: GoldForm | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"path": path}
    if r.unit is not None:
        out["unit"] = r.unit.name
    if f is not None and f.unit is not None:
        out["gold_unit"] = f.unit.name
    if r.label:
        out["label"] = r.label
    return out


def _read_answer(answer: str, params: Mapping[str, Any]) -> Reading | Verdict:
    max_chars = int(params.get("max_chars", 1000))
    if len(answer) > 20 * max_chars:  # even a sentence to cut the answer out of has an end
        return Verdict(0.0, "answer_too_long", answer[:64])
    r = read_text(answer)
    if len(r.math) > max_chars:
        return Verdict(0.0, "answer_too_long", r.math[:64])
    if r.unread is not None:
        if not r.math:
            return Verdict(0.0, "no_answer", answer)
        return Verdict(0.0, f"unreadable: {r.unread}", answer, {"unread": r.unread})
    why = check_bounds(r.math, _bounds(params))
    return Verdict(0.0, why, answer) if why else r


def _verbatim(answer: str, f: GoldForm) -> bool:
    """The answer is spelled exactly as a gold nothing can read: equal as text, so equal
    (math-verify too compares the texts when it cannot parse them)."""
    got = read_text(answer)
    return bool(got.math) and got.math == f.text


def _choice(answer: str, forms: tuple[GoldForm, ...]) -> Verdict:
    got = extract_letters(answer)
    if got is None:
        return Verdict(0.0, "no_answer", answer, {"path": "choice"})
    ok = any(got == f.choice for f in forms)
    return Verdict(1.0 if ok else 0.0, "ok" if ok else "wrong", got, {"path": "choice"})


def _compare(answer: str, gold: MathGold, params: Mapping[str, Any], full: bool) -> Verdict | None:
    forms = gold.usable
    if not forms:
        reasons = sorted({f.reason for f in gold.forms})
        if any(_verbatim(answer, f) for f in gold.forms if f.reason.startswith("gold_unreadable")):
            return Verdict(1.0, "ok", answer, {"path": "same_text"})
        return Verdict.skip(reasons[0] if reasons else "no_solution")
    if any(f.choice is not None for f in forms):
        return _choice(answer, tuple(f for f in forms if f.choice is not None))
    first = _read_answer(answer, params)
    if isinstance(first, Verdict):
        return first
    readings = [first] + ([first.alt] if first.alt is not None and first.alt.unread is None else [])
    undecided: list[tuple[Reading, GoldForm]] = []
    last: tuple[str, Reading, GoldForm] = ("", first, forms[0])
    for r in readings:
        for f in forms:
            accepted, path = quick_form(r, f, params)
            if accepted:
                return Verdict(1.0, "ok", r.math, _details(r, path, f))
            if accepted is None:
                undecided.append((r, f))
            else:
                last = (path, r, f)
    if undecided and not full:
        return None
    readable = [(r, f) for r, f in undecided if f.parsed()]
    if undecided and not readable and last[0] == "":
        if any(r.math == f.text for r, f in undecided):
            return Verdict(1.0, "ok", first.math, _details(first, "same_text"))
        why = read_latex(undecided[0][1].text)[1] or "unreadable"
        return Verdict.skip(f"gold_unreadable: {why}")
    unread = None
    for r, f in readable:
        accepted, path = _full_form(r, f, params)
        if accepted:
            return Verdict(1.0, "ok", r.math, _details(r, path, f))
        if accepted is None:
            unread = unread or (path, r, f)
        else:
            last = (path, r, f)
    if unread is not None and last[0] == "":
        path, r, f = unread
        return Verdict(0.0, f"unreadable: {path}", r.math, {**_details(r, "math_verify", f), "unread": path})
    path, r, f = last
    return Verdict(0.0, "wrong_unit" if path == "unit" else "wrong", r.math, _details(r, path, f))


def quick_compare(answer: str, gold: MathGold, params: Mapping[str, Any]) -> Verdict | None:
    """The verdict if it can be had without math-verify (bounded scans, microseconds), else
    None. The engine runs this inline (the reward's ``triage``), so most items never make the
    trip to a worker."""
    return _compare(answer, gold, params, full=False)


def compare_answer(answer: str, gold: MathGold, params: Mapping[str, Any]) -> Verdict:
    """Score ``answer`` (already cut out of its completion) against a prepared gold."""
    got = _compare(answer, gold, params, full=True)
    assert got is not None
    return got


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
    verdict = compare(answer, gold, params)
    if verdict is not None and verdict.score is not None:
        verdict = Verdict(verdict.score, verdict.reason, verdict.answer, {**verdict.details, "source": where})
    return verdict


def math_score(sample: Sample, gold: Any, params: Mapping[str, Any]) -> Verdict:
    """The ``math`` reward: extract, read, compare. ``gold`` is ``prepare_gold``'s result
    (a raw solution is prepared here when a caller skipped ``prepare``)."""
    return _scored(sample, gold, params, compare_answer)


def math_triage(sample: Sample, gold: Any, params: Mapping[str, Any]) -> Verdict | None:
    """``math_score``'s verdict when it needs no math-verify (run inline by the engine), else None."""
    return _scored(sample, gold, params, quick_compare)


def math_warmup() -> None:
    """Import math-verify and read the usual answer shapes once, so the first items a
    worker scores do not pay for them (about half a second)."""
    warm()


def math_dedupe_key(sample: Sample, params: Mapping[str, Any]) -> tuple[str | None, str]:
    """``math_score`` reads nothing of the completion but this: its answer and where it
    came from. Generations that reach the same answer are verified once."""
    return extract_math_answer(sample.completion)
