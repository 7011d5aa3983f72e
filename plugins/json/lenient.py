"""What ``format``'s ``lenient: true`` forgives in a JSON answer, and nothing more.

Real Qwen2.5-VL answers carry two kinds of debris around otherwise valid JSON:

- trailing escape debris: a literal backslash-n (or -t, -r) written after the object,
  ``{"bbox_2d": [0, 1, 153, 78]}\\n``;
- one level of wrapping: markdown-link debris that quotes the object and repeats it,
  ``["{"bbox_2d": [0, 1, 153, 78]}](["{"bbox_2d": [0, 1, 153, 78]}])``.

With ``lenient`` the answer is accepted when, after the escape debris is cut, one JSON
value stands in it with only quote and bracket characters before it (at most three)
and, after it, only such characters and at most one markdown-link tail ``](...)``.
Prose around the JSON is still rejected: this is not a search for JSON anywhere.
"""

from __future__ import annotations

import json
import re

from vlmr1.answers import strip_fence

from .jsonanswer import JsonLimits, ParsedJson, loads_safe, parse_answer_json

__all__ = ["lenient_json", "strip_escape_debris"]

_TRAILING_ESCAPES = re.compile(r"(?:\s|\\[nrt])+\Z")
_WRAP = set("[\"'(")
_TAIL = set("\"']) \t\r\n")


def strip_escape_debris(text: str) -> str:
    """``text`` without literal ``\\n`` / ``\\t`` / ``\\r`` sequences (and whitespace) at its end."""
    m = _TRAILING_ESCAPES.search(text)
    return text[: m.start()] if m else text


def _tail_ok(rest: str) -> bool:
    rest = rest.strip()
    link = rest.find("](")
    if link >= 0:
        if not rest.endswith(")") or rest.count("](") > 1:
            return False
        rest = rest[:link] + "]"
    return all(c in _TAIL for c in rest)


def lenient_json(answer: str, limits: JsonLimits = JsonLimits()) -> ParsedJson:
    """The strict reading first; else the same JSON once its debris is taken off."""
    strict = parse_answer_json(answer, limits)
    if strict.ok or strict.reason != "answer_not_json":
        return strict
    body = strip_escape_debris(strip_fence(strip_escape_debris(answer.strip())))
    got = loads_safe(body, limits)
    if got.ok or got.reason != "answer_not_json":
        return got
    starts = [i for i in (body.find("{"), body.find("[")) if 0 <= i <= 3]
    for start in sorted(starts):
        if not all(c in _WRAP for c in body[:start]):
            continue
        try:
            _, end = json.JSONDecoder().raw_decode(body, start)
        except (ValueError, RecursionError):
            continue
        if _tail_ok(body[end:]):
            return loads_safe(body[start:end], limits)
    return strict
