"""The ``mcq`` and ``yes_no`` rewards: cheap, inline, set comparison of letters.

The answer is read from the last ``<answer>`` block when there is one, else from the
whole completion (or refused with ``no_answer_tag`` when ``require_tags`` is set). The
gold is read with the same readers, so ``(B)``, ``B``, ``<answer>B</answer>`` and, when the
row lists its options, the option's text all name the same answer.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from vlmr1.answers import answer_text
from vlmr1.choices import extract_letters, extract_yes_no, gold_letters, gold_yes_no, option_letters
from vlmr1.errors import ConfigError
from vlmr1.types import Sample, Verdict

from .choice_compat import compat_batch, mcq_compat, yes_no_compat
from .params import MCQ_DEFAULTS, YES_NO_DEFAULTS

__all__ = ["MCQ_DEFAULTS", "YES_NO_DEFAULTS", "check_choice", "mcq_score_batch", "yes_no_score_batch"]


def check_choice(params: Mapping[str, Any]) -> None:
    """A mistyped ``compat`` would quietly score in default mode: refuse it."""
    compat = params.get("compat")
    if compat not in (None, "vlm-r1"):
        raise ConfigError(f"compat={compat!r} is not one of: vlm-r1 (or leave it out for the default mode).")


def choice_extract(completion: str, params: Mapping[str, Any]) -> str | None:
    """The text an answer is read from: the last answer block, or the completion."""
    if not isinstance(completion, str):
        return None
    inner = answer_text(completion)
    if inner is None:
        return None if params.get("require_tags", False) else completion
    return inner


def _options(sample: Sample, params: Mapping[str, Any]) -> Any:
    return sample.get(str(params.get("options_column", "options")))


def mcq_compare(answer: Any, gold: Any, sample: Sample, params: Mapping[str, Any]) -> Verdict:
    options = _options(sample, params)
    want = gold_letters(gold, options)
    if want is None:
        return Verdict.skip("bad_solution")
    got = extract_letters(str(answer), options, int(params.get("max_chars", 4000)))
    if got is None:
        allowed = option_letters(options)
        loose = extract_letters(str(answer), None, int(params.get("max_chars", 4000))) if allowed else None
        return Verdict.fail("not_an_option" if loose else "no_answer")
    if got == want:
        return Verdict(1.0, "ok", got)
    if params.get("partial", False) and set(got) < set(want):
        return Verdict(len(got) / len(want), f"partial={len(got)}/{len(want)}", got)
    return Verdict(0.0, "wrong", got)


def yes_no_compare(answer: Any, gold: Any, sample: Sample, params: Mapping[str, Any]) -> Verdict:
    want = gold_yes_no(gold)
    if want is None:
        return Verdict.skip("bad_solution")
    got = extract_yes_no(str(answer), int(params.get("max_chars", 4000)))
    if got is None:
        return Verdict.fail("no_answer")
    return Verdict(1.0 if got == want else 0.0, "ok" if got == want else "wrong", got)


def _batch(samples: Sequence[Sample], golds: Sequence[Any], params: Mapping[str, Any], compare: Any) -> list[Verdict]:
    out = []
    for sample, gold in zip(samples, golds):
        if gold is None:
            gold = sample.solution
        if gold is None or gold == "":
            out.append(Verdict.skip("no_solution"))
            continue
        text = choice_extract(sample.completion, params)
        if text is None:
            out.append(Verdict.fail("no_answer_tag" if isinstance(sample.completion, str) else "not_text"))
            continue
        out.append(compare(text, gold, sample, params))
    return out


def mcq_score_batch(samples: Sequence[Sample], golds: Sequence[Any], params: Mapping[str, Any]) -> list[Verdict]:
    """``mcq``: 1.0 when the chosen letter set equals the gold's (multi-select: order-free)."""
    if params.get("compat") == "vlm-r1":
        return compat_batch(samples, mcq_compat)
    return _batch(samples, golds, params, mcq_compare)


def yes_no_score_batch(samples: Sequence[Sample], golds: Sequence[Any], params: Mapping[str, Any]) -> list[Verdict]:
    """``yes_no``: 1.0 when the answer's yes/no equals the gold's."""
    if params.get("compat") == "vlm-r1":
        return compat_batch(samples, yes_no_compat)
    return _batch(samples, golds, params, yes_no_compare)
