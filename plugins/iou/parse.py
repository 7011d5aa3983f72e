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
import math
import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

__all__ = [
    "Shape",
    "Parsed",
    "Limits",
    "answer_region",
    "parse_answer",
    "parse_solution",
    "shapes_from_value",
    "NO_OBJECT_TEXTS",
]

# Keys under which a box, a rotated box or a polygon is given in a JSON object.
BOX_KEYS = ("bbox_2d", "bbox", "box", "box_2d")
ROTATED_KEYS = ("rotated_box", "rbox", "obb")
POLYGON_KEYS = ("polygon", "points", "poly")
LABEL_KEYS = ("label", "name", "category", "class")
# Objects that merely wrap a list of boxes: {"objects": [...]}.
WRAPPER_KEYS = ("objects", "boxes", "bboxes", "detections", "results", "result", "answer")

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


@dataclass(frozen=True)
class Limits:
    """Bounds that keep parsing cheap on any input (documented in docs/rewards/iou.md)."""

    max_chars: int = 100_000
    max_boxes: int = 500
    max_vertices: int = 1_000
    max_coord: float = 1e9
    scan_attempts: int = 64

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "Limits":
        d = cls()
        return cls(
            max_chars=int(params.get("max_chars", d.max_chars)),
            max_boxes=int(params.get("max_boxes", d.max_boxes)),
            max_vertices=int(params.get("max_vertices", d.max_vertices)),
            max_coord=float(params.get("max_coord", d.max_coord)),
        )


@dataclass(frozen=True)
class Shape:
    """One region. ``kind`` is "box" (x1, y1, x2, y2), "rotated" (cx, cy, w, h, angle in
    degrees) or "polygon" (x0, y0, x1, y1, ... flattened)."""

    kind: str
    coords: tuple[float, ...]
    label: str | None = None


@dataclass(frozen=True)
class Parsed:
    """What one answer (or one solution) holds.

    ``reason`` is "ok" (``shapes`` holds at least one shape), "no_object" (an explicit
    empty answer: ``[]``, ``null``, ``{"bbox_2d": null}`` or a text in
    :data:`NO_OBJECT_TEXTS`), or why nothing usable was found ("no_box", "too_long",
    "too_many_boxes", "non_finite", "bad_box: ...", "coordinate_out_of_range").
    """

    shapes: tuple[Shape, ...] = ()
    reason: str = "no_box"
    source: str = ""

    @property
    def ok(self) -> bool:
        return self.reason in ("ok", "no_object")

    @property
    def no_object(self) -> bool:
        return self.reason == "no_object"


class _Bad(Exception):
    """A value that looks like boxes but breaks a rule; its message is the reason."""


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
def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _coords(values: Any, limits: Limits) -> tuple[float, ...]:
    out = []
    for v in values:
        try:
            f = float(v)
        except (OverflowError, ValueError):
            raise _Bad("coordinate_out_of_range") from None
        if not math.isfinite(f):
            raise _Bad("non_finite")
        if abs(f) > limits.max_coord:
            raise _Bad("coordinate_out_of_range")
        out.append(f)
    return tuple(out)


def _label(obj: Mapping[str, Any]) -> str | None:
    for key in LABEL_KEYS:
        v = obj.get(key)
        if isinstance(v, str):
            return v[:200]
    return None


def _polygon(value: Any, label: str | None, limits: Limits) -> Shape:
    if not isinstance(value, list):
        raise _Bad("bad_box: polygon is not a list")
    if value and all(_is_num(v) for v in value):  # flat [x0, y0, x1, y1, ...]
        if len(value) % 2:
            raise _Bad("bad_box: polygon with an odd number of coordinates")
        flat = value
    elif all(isinstance(p, list) and len(p) == 2 and all(_is_num(c) for c in p) for p in value):
        flat = [c for p in value for c in p]
    else:
        raise _Bad("bad_box: polygon points must be [x, y] pairs")
    n = len(flat) // 2
    if n > limits.max_vertices:
        raise _Bad("too_many_vertices")
    if n < 3:
        raise _Bad("bad_box: polygon with fewer than 3 points")
    return Shape("polygon", _coords(flat, limits), label)


def _numbers(value: list[Any], label: str | None, limits: Limits) -> Shape:
    if len(value) == 4:
        return Shape("box", _coords(value, limits), label)
    if len(value) == 5:
        return Shape("rotated", _coords(value, limits), label)
    raise _Bad(f"bad_box: {len(value)} numbers (want 4, or 5 for a rotated box)")


def _from_box_value(value: Any, label: str | None, limits: Limits, out: list[Shape]) -> None:
    """The value under a box key: 4 or 5 numbers, two corner points, or a list of boxes."""
    if value is None or value == []:
        return
    if not isinstance(value, list):
        raise _Bad("bad_box: box is not a list")
    if all(_is_num(v) for v in value):
        out.append(_numbers(value, label, limits))
    elif len(value) == 2 and all(isinstance(p, list) and len(p) == 2 and all(_is_num(c) for c in p) for p in value):
        out.append(Shape("box", _coords([*value[0], *value[1]], limits), label))
    elif all(isinstance(v, list) and v and all(_is_num(c) for c in v) for v in value):
        for v in value:
            out.append(_numbers(v, label, limits))
    else:
        raise _Bad("bad_box: box must be numbers")


def _walk(value: Any, limits: Limits, out: list[Shape], depth: int) -> None:
    if len(out) > limits.max_boxes:
        raise _Bad("too_many_boxes")
    if depth > 4:
        raise _Bad("bad_box: nested too deep")
    if value is None:
        return
    if isinstance(value, list):
        if not value:
            return
        if all(_is_num(v) for v in value):
            out.append(_numbers(value, None, limits))
            return
        if all(isinstance(p, list) and len(p) == 2 and all(_is_num(c) for c in p) for p in value):
            if len(value) == 2:  # two corners [[x1, y1], [x2, y2]]
                out.append(Shape("box", _coords([*value[0], *value[1]], limits)))
            else:
                out.append(_polygon(value, None, limits))
            return
        for item in value:
            _walk(item, limits, out, depth + 1)
            if len(out) > limits.max_boxes:
                raise _Bad("too_many_boxes")
        return
    if isinstance(value, dict):
        label = _label(value)
        for key in BOX_KEYS:
            if key in value:
                _from_box_value(value[key], label, limits, out)
                return
        for key in ROTATED_KEYS:
            if key in value:
                v = value[key]
                if v is not None and v != []:
                    if not isinstance(v, list) or len(v) != 5 or not all(_is_num(c) for c in v):
                        raise _Bad("bad_box: rotated box must be [cx, cy, w, h, angle]")
                    out.append(Shape("rotated", _coords(v, limits), label))
                return
        for key in POLYGON_KEYS:
            if key in value:
                if value[key] is not None and value[key] != []:
                    out.append(_polygon(value[key], label, limits))
                return
        for key in WRAPPER_KEYS:
            if key in value:
                _walk(value[key], limits, out, depth + 1)
                return
        raise _Bad("bad_box: object without a box key")
    raise _Bad(f"bad_box: {type(value).__name__} is not a box")


def shapes_from_value(value: Any, limits: Limits = Limits()) -> Parsed:
    """Shapes from an already-decoded value (a solution column, a decoded JSON answer)."""
    out: list[Shape] = []
    try:
        _walk(value, limits, out, 0)
    except _Bad as bad:
        return Parsed((), str(bad), "json")
    except RecursionError:
        return Parsed((), "bad_box: nested too deep", "json")
    if len(out) > limits.max_boxes:
        return Parsed((), "too_many_boxes", "json")
    return Parsed(tuple(out), "ok" if out else "no_object", "json")


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


def parse_text(text: str, limits: Limits = Limits()) -> Parsed:
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
    collected: list[Shape] = []
    for value in _scan(stripped, limits):
        got = shapes_from_value(value, limits)
        if got.reason == "ok":
            collected.extend(got.shapes)
            if len(collected) > limits.max_boxes:
                return Parsed((), "too_many_boxes", "embedded_json")
        elif got.reason in ("non_finite", "coordinate_out_of_range", "too_many_boxes", "too_many_vertices"):
            return Parsed((), got.reason, "embedded_json")
    if collected:
        return Parsed(tuple(collected), "ok", "embedded_json")
    try:
        lists = []
        for m in _LIST4.finditer(stripped):
            lists.append(Shape("box", _coords(m.groups(), limits)))
            if len(lists) > limits.max_boxes:
                return Parsed((), "too_many_boxes", "list")
    except _Bad as bad:
        return Parsed((), str(bad), "list")
    if lists:
        return Parsed(tuple(lists), "ok", "list")
    return Parsed((), "no_box", "")


def parse_answer(completion: Any, limits: Limits = Limits()) -> Parsed:
    """Shapes from a completion: a string, or TRL-style chat messages."""
    if isinstance(completion, list):
        parts = [m.get("content", "") for m in completion if isinstance(m, dict)]
        completion = "".join(p if isinstance(p, str) else "" for p in parts)
    if not isinstance(completion, str):
        return Parsed((), "no_box", "")
    if len(completion) > 16 * limits.max_chars:
        return Parsed((), "too_long", "")
    return parse_text(answer_region(completion), limits)


def parse_solution(solution: Any, limits: Limits = Limits()) -> Parsed:
    """Ground truth in any accepted form: 4 numbers, ``{"bbox_2d": ...}``, a list of
    labelled boxes, or a string holding any of these (optionally in ``<answer>`` tags)."""
    if isinstance(solution, str):
        return parse_text(answer_region(solution), limits)
    if isinstance(solution, tuple):
        solution = list(solution)
    return shapes_from_value(solution, limits)
