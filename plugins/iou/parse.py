"""Boxes out of model completions and ground-truth solutions.

Models answer boxes in many shapes: Qwen2.5-VL writes JSON (``{"bbox_2d": [...],
"label": ...}``, often fenced, sometimes several objects without an enclosing list),
Qwen2-VL writes ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>`` tokens, other models write a
bare ``[x1, y1, x2, y2]`` in a sentence. This module turns any of them into a tuple of
:class:`Shape` records, or says in one short reason why it could not.

Everything here is linear in the length of the text and bounded: the answer is capped
at ``max_chars``, at most ``max_boxes`` shapes and ``max_vertices`` polygon vertices are
accepted, and the JSON scan tries a bounded number of start positions. It never raises
on any text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from .shapes import (
    DEFAULT_LIMITS,
    Limits,
    Parsed,
    Shape,
    _Bad,
    _coords,
    shapes_from_value,
)

__all__ = [
    "NO_OBJECT_TEXTS",
    "Limits",
    "Parsed",
    "Shape",
    "answer_region",
    "parse_answer",
    "parse_solution",
    "shapes_from_value",
]

# Whole answers (case-insensitive, surrounding punctuation and whitespace ignored) that
# say explicitly that the object is not in the image.
NO_OBJECT_TEXTS = frozenset(
    {
        "none",
        "null",
        "no object",
        "no objects",
        "no object found",
        "no objects found",
        "no such object",
        "not found",
        "not present",
        "not in the image",
        "nothing",
        "no box",
        "no boxes",
        "n/a",
    }
)

_ANSWER_OPEN, _ANSWER_CLOSE = "<answer>", "</answer>"
_THINK_CLOSE = "</think>"
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_POINT = re.compile(rf"\(\s*({_NUM})\s*,\s*({_NUM})\s*\)")
_BOX_TOKENS = re.compile(
    r"(?:<\|object_ref_start\|>([^<]{0,200})<\|object_ref_end\|>\s*)?<\|box_start\|>([^<]{0,2000})<\|box_end\|>"
)
_LIST4 = re.compile(rf"\[\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*\]")
_FENCE = "```"
_STRIP = " \t\r\n.!,;:\"'`()"


# -- where the answer is --------------------------------------------------------------
def answer_region(text: str) -> str:
    """The part of a completion that holds the answer.

    The content of the last closed ``<answer>...</answer>``; else what follows an unclosed
    ``<answer>``; else what follows the last ``</think>``; else the whole text. Plain
    ``str.rfind`` calls: linear, no regex backtracking.
    """
    close = text.rfind(_ANSWER_CLOSE)
    if close >= 0:
        open_ = text.rfind(_ANSWER_OPEN, 0, close)
        if open_ >= 0:
            return text[open_ + len(_ANSWER_OPEN) : close]
    open_ = text.rfind(_ANSWER_OPEN)
    if open_ >= 0:
        return text[open_ + len(_ANSWER_OPEN) :]
    think = text.rfind(_THINK_CLOSE)
    if think >= 0:
        return text[think + len(_THINK_CLOSE) :]
    return text


# -- JSON values to shapes ----------------------------------------------------------
# -- text to JSON candidates ----------------------------------------------------------
def _loads(text: str) -> Any:
    """``json.loads`` that keeps NaN/Infinity as floats (so they get a reason, not a pass)."""
    return json.loads(text)


def _decode(text: str) -> tuple[bool, Any]:
    try:
        return True, _loads(text)
    except (ValueError, RecursionError):
        return False, None


def _fenced(text: str) -> Iterator[str]:
    """Contents of ```-fenced blocks (language tag dropped), in order; linear scan."""
    pos = 0
    while True:
        start = text.find(_FENCE, pos)
        if start < 0:
            return
        end = text.find(_FENCE, start + 3)
        if end < 0:
            return
        body = text[start + 3 : end]
        nl = body.find("\n")
        head = body[:nl] if nl >= 0 else ""
        if nl >= 0 and head.strip().isalnum():
            body = body[nl + 1 :]
        elif body[:4].lower() == "json":
            body = body[4:]
        yield body
        pos = end + 3


def _scan(text: str, limits: Limits) -> Iterator[Any]:
    """Top-level JSON values embedded in prose, left to right, without overlap.

    At most ``scan_attempts`` start positions may fail to decode (each failure can read
    far ahead); successes consume their text, so the whole scan stays linear."""
    decoder = json.JSONDecoder()
    pos, attempts, n = 0, 0, len(text)
    while pos < n and attempts < limits.scan_attempts:
        b, c = text.find("[", pos), text.find("{", pos)
        starts = [i for i in (b, c) if i >= 0]
        if not starts:
            return
        start = min(starts)
        try:
            value, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            attempts += 1  # only failures are capped: a success moves past what it read
            pos = start + 1
            continue
        yield value
        pos = end


def _box_tokens(text: str, limits: Limits) -> Parsed | None:
    """Qwen2-VL ``<|object_ref_start|>label<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>``."""
    if "<|box_start|>" not in text:
        return None
    out: list[Shape] = []
    try:
        for m in _BOX_TOKENS.finditer(text):
            label = m.group(1).strip() if m.group(1) is not None else None
            pts = [(a, b) for a, b in _POINT.findall(m.group(2))]
            if len(pts) < 2 or len(pts) % 2:
                raise _Bad("bad_box: box tokens need two corner points")
            for i in range(0, len(pts), 2):
                out.append(Shape("box", _coords([*pts[i], *pts[i + 1]], limits), label))
            if len(out) > limits.max_boxes:
                raise _Bad("too_many_boxes")
    except _Bad as bad:
        return Parsed((), str(bad), "box_tokens")
    if not out:
        return Parsed((), "bad_box: unreadable box tokens", "box_tokens")
    return Parsed(tuple(out), "ok", "box_tokens")


def _is_no_object_text(text: str) -> bool:
    t = " ".join(text.strip(_STRIP).casefold().split())
    return t in NO_OBJECT_TEXTS


def parse_text(text: str, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    """Shapes from answer text (already cut to the answer region).

    Tried in order, the first that finds boxes (or an explicit empty answer) wins: the
    whole text as JSON; ```-fenced blocks; Qwen box tokens; JSON values embedded in
    prose; ``[n, n, n, n]`` lists (e.g. in Python-style dicts); a no-object text.
    A candidate that looks like boxes but breaks a rule (NaN, 6 numbers, too many boxes)
    stops the search with its reason: a malformed answer is not rescued by a later guess.
    """
    if len(text) > limits.max_chars:
        return Parsed((), "too_long", "")
    stripped = text.strip()
    if not stripped:
        return Parsed((), "no_box", "")
    if _is_no_object_text(stripped):
        return Parsed((), "no_object", "text")
    first_bad: Parsed | None = None

    def judge(value: Any, source: str) -> Parsed | None:
        nonlocal first_bad
        got = shapes_from_value(value, limits)
        got = Parsed(got.shapes, got.reason, source)
        if got.ok:
            return got
        if first_bad is None and not got.reason.startswith("bad_box: object without") and not got.reason.startswith("bad_box: str"):
            first_bad = got
        return None

    ok, value = _decode(stripped)
    if ok and (found := judge(value, "json")) is not None:
        return found
    for k, body in enumerate(_fenced(stripped)):
        if k >= limits.scan_attempts:
            break
        ok, value = _decode(body.strip())
        if ok and (found := judge(value, "fenced_json")) is not None:
            return found
    tokens = _box_tokens(stripped, limits)
    if tokens is not None:
        return tokens
    if first_bad is not None:
        return first_bad
    return _embedded(stripped, limits) or _lists(stripped, limits) or Parsed((), "no_box", "")


def _embedded(text: str, limits: Limits) -> Parsed | None:
    """Boxes from JSON values in prose; None when there are none."""
    collected: list[Shape] = []
    for value in _scan(text, limits):
        got = shapes_from_value(value, limits)
        if got.reason == "ok":
            collected.extend(got.shapes)
            if len(collected) > limits.max_boxes:
                return Parsed((), "too_many_boxes", "embedded_json")
        elif got.reason in ("non_finite", "coordinate_out_of_range", "too_many_boxes", "too_many_vertices"):
            return Parsed((), got.reason, "embedded_json")
    return Parsed(tuple(collected), "ok", "embedded_json") if collected else None


def _lists(text: str, limits: Limits) -> Parsed | None:
    """Boxes from bare ``[n, n, n, n]`` lists (Python-style dicts and the like); None when there are none."""
    try:
        lists = []
        for m in _LIST4.finditer(text):
            lists.append(Shape("box", _coords(m.groups(), limits)))
            if len(lists) > limits.max_boxes:
                return Parsed((), "too_many_boxes", "list")
    except _Bad as bad:
        return Parsed((), str(bad), "list")
    return Parsed(tuple(lists), "ok", "list") if lists else None


def parse_answer(completion: Any, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    """Shapes from a completion: a string, or TRL-style chat messages."""
    if isinstance(completion, list):
        parts = [m.get("content", "") for m in completion if isinstance(m, dict)]
        completion = "".join(p if isinstance(p, str) else "" for p in parts)
    if not isinstance(completion, str):
        return Parsed((), "no_box", "")
    if len(completion) > 16 * limits.max_chars:
        return Parsed((), "too_long", "")
    return parse_text(answer_region(completion), limits)


def parse_solution(solution: Any, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    """Ground truth in any accepted form: 4 numbers, ``{"bbox_2d": ...}``, a list of
    labelled boxes, or a string holding any of these (optionally in ``<answer>`` tags)."""
    if isinstance(solution, str):
        return parse_text(answer_region(solution), limits)
    if isinstance(solution, tuple):
        solution = list(solution)
    return shapes_from_value(solution, limits)
