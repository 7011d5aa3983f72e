"""The same box written twice is one box.

Qwen2.5-VL answers sometimes repeat their box (markdown debris such as
``["{"bbox_2d": [0, 1, 153, 78]}](["{"bbox_2d": [0, 1, 153, 78]}])``, or a list holding
the box twice). Matched one to one, the copy is a false alarm and halves the score of a
perfect answer. Before matching, predicted boxes that overlap an earlier kept box with
IoU >= ``duplicate_iou`` (0.95) and carry the same label (compared case- and
space-insensitively; no label equals no label) are dropped. Boxes of different labels,
rotated boxes and polygons are never merged.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import geometry
from .shapes import Shape

__all__ = ["collapse_duplicates"]


def _label(s: Shape) -> str | None:
    return " ".join(s.label.casefold().split()) if s.label is not None else None


def collapse_duplicates(shapes: Sequence[Shape], threshold: float) -> tuple[Shape, ...]:
    """``shapes`` without the boxes that repeat an earlier kept box (order kept)."""
    boxes = [i for i, s in enumerate(shapes) if s.kind == "box"]
    if len(boxes) < 2:
        return tuple(shapes)
    values = geometry.box_iou_matrix([shapes[i].coords for i in boxes], [shapes[i].coords for i in boxes])
    dropped: set[int] = set()
    kept: list[int] = []
    for a, i in enumerate(boxes):
        for b in kept:
            if values[a, b] >= threshold and _label(shapes[i]) == _label(shapes[boxes[b]]):
                dropped.add(i)
                break
        else:
            kept.append(a)
    return tuple(s for i, s in enumerate(shapes) if i not in dropped)
