"""Shapes out of decoded JSON values: the records (Shape, Parsed, Limits) and the rules
that say which JSON shapes are boxes, rotated boxes or polygons.

Used for both sides: a decoded answer and a ground-truth ``solution`` column. Bounded
by :class:`Limits` (boxes, vertices, coordinate size, nesting) and never raises: a value
that breaks a rule gives a :class:`Parsed` with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .params import LIMITS

__all__ = ["BOX_KEYS", "DEFAULT_LIMITS", "LABEL_KEYS", "POLYGON_KEYS", "ROTATED_KEYS", "WRAPPER_KEYS", "Limits", "Parsed", "Shape", "shapes_from_value"]

BOX_KEYS = ("bbox_2d", "bbox", "box", "box_2d")
ROTATED_KEYS = ("rotated_box", "rbox", "obb")
POLYGON_KEYS = ("polygon", "points", "poly")
LABEL_KEYS = ("label", "name", "category", "class")
# Objects that merely wrap a list of boxes: {"objects": [...]}.
WRAPPER_KEYS = ("objects", "boxes", "bboxes", "detections", "results", "result", "answer")

@dataclass(frozen=True)
class Limits:
    """Bounds that keep parsing cheap on any input (documented in docs/rewards/iou.md)."""

    max_chars: int = LIMITS["max_chars"]
    max_boxes: int = LIMITS["max_boxes"]
    max_vertices: int = LIMITS["max_vertices"]
    max_coord: float = LIMITS["max_coord"]
    scan_attempts: int = 64

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Limits:
        d = cls()
        return cls(
            max_chars=int(params.get("max_chars", d.max_chars)),
            max_boxes=int(params.get("max_boxes", d.max_boxes)),
            max_vertices=int(params.get("max_vertices", d.max_vertices)),
            max_coord=float(params.get("max_coord", d.max_coord)),
        )


DEFAULT_LIMITS = Limits()


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


def shapes_from_value(value: Any, limits: Limits = DEFAULT_LIMITS) -> Parsed:
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
