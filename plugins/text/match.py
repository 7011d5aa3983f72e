"""Answers compared as text: ``all_match`` (normalised exact match), ``fuzzy`` (similarity
with rapidfuzz) and ``default_accuracy`` (VLM-R1's ``default`` chain).

Default mode reads the answer from the last ``<answer>`` block (or the whole completion
unless ``require_tags``) and normalises both sides the same way: Unicode NFKC,
case-folded, whitespace runs collapsed, trailing dots and spaces dropped. ``compat:
vlm-r1`` reads and normalises as VLM-R1's ``clean_text`` does (``vlmr1.compat``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vlmr1.answers import answer_text
from vlmr1.compat import ANSWER_TAGS, clean_text, extract_choice, first, last, solution_text
from vlmr1.errors import ConfigError
from vlmr1.types import Sample, Verdict

from .params import CHAIN_DEFAULTS, FUZZY_DEFAULTS, MATCH_DEFAULTS

__all__ = ["MATCH_DEFAULTS", "FUZZY_DEFAULTS", "CHAIN_DEFAULTS", "all_match_batch", "fuzzy_batch", "chain_score",
           "check_match", "check_fuzzy", "chain_warmup", "normalise", "read_pair"]

_SCORERS = ("ratio", "levenshtein", "token_sort_ratio", "token_set_ratio", "partial_ratio")


def normalise(text: str) -> str:
    """The form two answers are compared in (default mode)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.split()).rstrip(". ")


def check_match(params: Mapping[str, Any]) -> dict[str, Any]:
    p = {**MATCH_DEFAULTS, **dict(params)}
    if p["compat"] not in (None, "vlm-r1"):
        raise ConfigError(f"compat={p['compat']!r}: the only compat mode is vlm-r1.")
    v = p["max_chars"]
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise ConfigError(f"max_chars={v!r} must be a positive integer.")
    return p


def check_fuzzy(params: Mapping[str, Any]) -> dict[str, Any]:
    p = check_match({**FUZZY_DEFAULTS, **dict(params)})
    if p["scorer"] not in _SCORERS:
        raise ConfigError(f"fuzzy: scorer={p['scorer']!r} is not one of: {', '.join(_SCORERS)}.")
    t = p["threshold"]
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 1):
        raise ConfigError(f"fuzzy: threshold={t!r} must be a number in [0, 1] (or left out for the similarity itself).")
    return p


def read_pair(text: str, gold: Any, require_tags: bool = False) -> tuple[str, str] | Verdict:
    """(answer, gold) as default mode compares them: each read from its last ``<answer>``
    block when it has one, both normalised; one reading, so every text reward judges alike."""
    if gold is None or (isinstance(gold, str) and not gold.strip()):
        return Verdict.skip("no_solution")
    gold_text = gold if isinstance(gold, str) else str(gold)
    gold_inner = answer_text(gold_text)
    inner = answer_text(text)
    if inner is None:
        if require_tags:
            return Verdict.fail("no_answer_tag")
        inner = text
    return normalise(inner), normalise(gold_inner if gold_inner is not None else gold_text)


def _pair(sample: Sample, p: Mapping[str, Any]) -> tuple[str, str] | Verdict:
    """(answer, gold), both normalised, or the verdict when there is nothing to compare."""
    text = sample.completion
    if not isinstance(text, str):
        return Verdict.fail("not_text")
    if len(text) > p["max_chars"]:
        return Verdict.fail("too_long")
    if p["compat"] == "vlm-r1":
        return clean_text(text), clean_text(solution_text(sample))
    return read_pair(text, sample.solution, p["require_tags"])


def _score_pairs(samples: Sequence[Sample], p: Mapping[str, Any], judge: Callable[[str, str], Verdict]) -> list[Verdict]:
    """``judge(answer, gold)`` of every sample that has both; the others keep ``_pair``'s verdict."""
    out = []
    for s in samples:
        pair = _pair(s, p)
        out.append(pair if isinstance(pair, Verdict) else judge(*pair))
    return out


def all_match_batch(samples: Sequence[Sample], golds: Sequence[Any], params: Mapping[str, Any]) -> list[Verdict]:
    """``all_match``: 1.0 when the normalised answer equals the normalised solution."""
    def judge(answer: str, gold: str) -> Verdict:
        same = answer == gold
        return Verdict(1.0 if same else 0.0, "ok" if same else "different", answer[:200])

    return _score_pairs(samples, check_match(params), judge)


def similarity(a: str, b: str, scorer: str = "ratio") -> float:
    """rapidfuzz's similarity in [0, 1]; ``ratio`` is the normalised Indel similarity
    (``Levenshtein.ratio``, what VLM-R1 uses), ``levenshtein`` the normalised edit distance."""
    from rapidfuzz import fuzz
    from rapidfuzz.distance import Indel, Levenshtein

    if scorer == "ratio":
        return float(Indel.normalized_similarity(a, b))
    if scorer == "levenshtein":
        return float(Levenshtein.normalized_similarity(a, b))
    return float(getattr(fuzz, scorer)(a, b)) / 100.0


def fuzzy_batch(samples: Sequence[Sample], golds: Sequence[Any], params: Mapping[str, Any]) -> list[Verdict]:
    """``fuzzy``: the similarity of answer and solution (or 1/0 against ``threshold``)."""
    p = check_fuzzy(params)

    def judge(answer: str, gold: str) -> Verdict:
        value = similarity(answer, gold, p["scorer"])
        score = value if p["threshold"] is None else (1.0 if value >= p["threshold"] else 0.0)
        return Verdict(score, f"similarity={value:.2f}", answer[:200])

    return _score_pairs(samples, p, judge)


# -- VLM-R1's default chain --------------------------------------------------------------
_DIGIT = re.compile(r"\d")


def _numeric(content: str, sol: str) -> float | None:
    try:
        a, b = float(clean_text(content)), float(clean_text(sol))
    except (ValueError, OverflowError):
        return None
    return 1.0 if a == b else 0.0


def _math_equal(student: str, gold: str) -> tuple[bool, str]:
    """math-verify's parse and verify, called as VLM-R1 calls them (its exceptions mean
    "not equal"); its signal-based timeouts are off: the engine's process timeout bounds it."""
    try:
        from math_verify import parse, verify

        answer = parse(student, parsing_timeout=None)
        return float(verify(answer, parse(gold, parsing_timeout=None), timeout_seconds=None)) > 0, ""
    except Exception as exc:  # noqa: BLE001 - VLM-R1 goes on to the next method
        return False, type(exc).__name__


def chain_score(sample: Sample, gold: Any, params: Mapping[str, Any]) -> Verdict:
    """VLM-R1's ``default_accuracy_reward``: math-verify, then (gold has a digit) numeric
    equality or else similarity, (gold has a choice letter) the letter, else similarity."""
    content = sample.completion
    if not isinstance(content, str):
        return Verdict.fail("not_text")
    if len(content) > int(params.get("max_chars", 20_000)):
        return Verdict.fail("too_long")
    sol = solution_text(sample)
    found = first(sol, *ANSWER_TAGS, dotall=False)
    ground_truth = found.strip() if found is not None else sol.strip()
    found = last(content, *ANSWER_TAGS)
    student = found.strip() if found is not None else content.strip()
    equal, _ = _math_equal(student, ground_truth)
    if equal:
        return Verdict(1.0, "math_equal", student[:200])
    if _DIGIT.search(ground_truth):
        value = _numeric(student, ground_truth)
        if value is not None:
            return Verdict(value, "numeric_equal" if value else "numeric_different", student[:200])
        value = similarity(clean_text(student), clean_text(ground_truth))
        return Verdict(value, f"similarity={value:.2f}", student[:200])
    choice = extract_choice(ground_truth)
    if choice:
        got = extract_choice(student)
        if not got:
            return Verdict(0.0, "no_choice", student[:200])
        return Verdict(1.0 if got == choice.upper() else 0.0, "choice_equal" if got == choice.upper() else "choice_different", got)
    value = similarity(clean_text(student), clean_text(ground_truth))
    return Verdict(value, f"similarity={value:.2f}", student[:200])


def chain_warmup() -> None:
    """math-verify and its grammar loaded once before workers fork."""
    _math_equal("1/2", "0.5")
