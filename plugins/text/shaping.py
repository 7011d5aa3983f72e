"""Shaping rewards: ``cosine_length`` (length-scaled correctness, open-r1's cosine schedule)
and ``repetition`` (an n-gram repetition penalty).

``cosine_length`` follows open-r1's ``get_cosine_scaled_reward``: with ``progress =
length / max_len`` and ``c = cos(pi * progress)``, a correct completion scores
``min_value_correct + (max_value_correct - min_value_correct) * (1 + c) / 2`` (shorter is
better) and a wrong one ``max_value_wrong + (min_value_wrong - max_value_wrong) * (1 + c)
/ 2`` (longer is penalised less). Unlike open-r1 and VLM-R1, ``progress`` is clamped to
[0, 1]: past ``max_len`` the value stays at its end point instead of coming back up
(a cosine of an unclamped progress is periodic, so a completion of ``2 * max_len`` would
score like an empty one). VLM-R1's version also sets the correctness to 1.0 for every
completion (its ``acc_reward = 1.0`` overwrites the argument), so it never applies the
wrong-answer branch.

``repetition`` is open-r1's n-gram penalty: ``max_penalty * (1 - distinct / total)`` over
the lower-cased word n-grams; with ``boxes: true`` an answer that is a JSON list of
labelled boxes is judged on its items instead (VLM-R1's detection variant: 1-grams of
``box_label``), so a box listed twice is a repetition.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from vlmr1.answers import answer_text, strip_fence
from vlmr1.errors import ConfigError
from vlmr1.types import Sample, Verdict

from .params import COSINE_DEFAULTS, REPETITION_DEFAULTS

__all__ = ["COSINE_DEFAULTS", "REPETITION_DEFAULTS", "check_cosine", "check_repetition", "cosine_score",
           "cosine_triage", "cosine_value", "repetition_batch", "repetition_value"]

def _number(p: Mapping[str, Any], key: str) -> float:
    v = p[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError(f"{key}={v!r} must be a finite number.")
    return float(v)


def check_cosine(params: Mapping[str, Any]) -> dict[str, Any]:
    p = {**COSINE_DEFAULTS, **dict(params)}
    for key in ("min_value_wrong", "max_value_wrong", "min_value_correct", "max_value_correct"):
        _number(p, key)
    if isinstance(p["max_len"], bool) or not isinstance(p["max_len"], int) or p["max_len"] <= 0:
        raise ConfigError(f"cosine_length: max_len={p['max_len']!r} must be a positive integer.")
    if p["unit"] not in ("chars", "words"):
        raise ConfigError(f"cosine_length: unit={p['unit']!r} is not one of: chars, words.")
    if p["correct"] not in ("math", "exact", "always"):
        raise ConfigError(f"cosine_length: correct={p['correct']!r} is not one of: math, exact, always.")
    return p


def cosine_value(length: int, correct: bool, p: Mapping[str, Any]) -> float:
    """open-r1's cosine schedule with the progress clamped to [0, 1]."""
    progress = min(max(length / p["max_len"], 0.0), 1.0)
    cosine = math.cos(progress * math.pi)
    if correct:
        lo, hi = p["min_value_correct"], p["max_value_correct"]
    else:
        lo, hi = p["max_value_wrong"], p["min_value_wrong"]
    return float(lo + 0.5 * (hi - lo) * (1.0 + cosine))


def _correct(sample: Sample, p: Mapping[str, Any]) -> bool | Verdict:
    if p["correct"] == "always":
        return True
    gold = sample.solution
    if gold is None or (isinstance(gold, str) and not gold.strip()):
        return Verdict.skip("no_solution")
    if p["correct"] == "exact":
        from .match import read_pair

        pair = read_pair(sample.completion, gold)
        return pair if isinstance(pair, Verdict) else pair[0] == pair[1]
    from math_verify import LatexExtractionConfig, parse, verify

    gold_parsed = parse(str(gold), extraction_mode="first_match", extraction_config=[LatexExtractionConfig()],
                        parsing_timeout=None)
    if not gold_parsed:
        return Verdict.skip("bad_solution: math-verify reads no answer in it")
    return bool(verify(gold_parsed, parse(sample.completion, parsing_timeout=None), timeout_seconds=None))


def cosine_score(sample: Sample, gold: Any, params: Mapping[str, Any]) -> Verdict:
    """``cosine_length`` for one completion (isolated: ``correct: math`` runs math-verify)."""
    p = check_cosine(params)
    text = sample.completion
    if not isinstance(text, str):
        return Verdict.fail("not_text")
    correct = _correct(sample, p) if len(text) <= p["max_chars"] else False
    if isinstance(correct, Verdict):
        return correct
    length = len(text) if p["unit"] == "chars" else len(text.split())
    value = cosine_value(length, correct, p)
    return Verdict(value, f"{'correct' if correct else 'wrong'} length={length}", details={"length": length})


def cosine_triage(sample: Sample, gold: Any, params: Mapping[str, Any]) -> Verdict | None:
    """``cosine_score``'s verdict inline when it is arithmetic (``correct: always|exact``, or a
    row with nothing to verify); None leaves ``correct: math`` to a worker (math-verify)."""
    p = check_cosine(params)
    text, sol = sample.completion, sample.solution
    if (p["correct"] == "math" and isinstance(text, str) and len(text) <= p["max_chars"]
            and sol is not None and not (isinstance(sol, str) and not sol.strip())):
        return None
    return cosine_score(sample, gold, p)


def check_repetition(params: Mapping[str, Any]) -> dict[str, Any]:
    p = {**REPETITION_DEFAULTS, **dict(params)}
    n = p["ngram_size"]
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ConfigError(f"repetition: ngram_size={n!r} must be a positive integer.")
    if _number(p, "max_penalty") > 0:
        raise ConfigError("repetition: max_penalty must be <= 0 (it is a penalty).")
    return p


def _box_items(text: str, limit: int) -> list[str] | None:
    """``box_label`` strings of an answer that is a JSON list of labelled boxes, else None."""
    inner = answer_text(text)
    body = strip_fence(inner if inner is not None else text)
    if not body.startswith("[") or len(body) > limit:
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, list):
        return None
    items = [f"{d['bbox_2d']}_{d['label']}" for d in data if isinstance(d, dict) and "bbox_2d" in d and "label" in d]
    return items if items else None


def repetition_value(words: Sequence[Any], n: int, max_penalty: float) -> float:
    """``max_penalty * (1 - distinct n-grams / n-grams)``; 0 with fewer than ``n`` items."""
    if len(words) < n:
        return 0.0
    grams = list(zip(*[words[i:] for i in range(n)]))
    return (1 - len(set(grams)) / len(grams)) * max_penalty


def repetition_batch(samples: Sequence[Sample], golds: Sequence[Any], params: Mapping[str, Any]) -> list[Verdict]:
    """``repetition``: the n-gram repetition penalty of each completion (<= 0)."""
    p = check_repetition(params)
    out = []
    for s in samples:
        text = s.completion
        if not isinstance(text, str):
            out.append(Verdict.fail("not_text"))
            continue
        cut = len(text) > p["max_chars"]
        text = text[: p["max_chars"]]
        items = _box_items(text, p["max_chars"]) if p["boxes"] else None
        if items is not None:
            value, unit = repetition_value(items, 1, float(p["max_penalty"])), "boxes"
        else:
            value, unit = repetition_value(text.lower().split(), int(p["ngram_size"]), float(p["max_penalty"])), "words"
        out.append(Verdict(float(value) + 0.0, f"repetition={value:.2f} {unit}" + (" truncated" if cut else "")))
    return out
