"""The iou plugin's report view: its boxes and polygons drawn by `vlmr1 inspect`, and the
frame check at the top of the report.

The view reads an answer exactly as the reward does: the same parser (answer region,
box syntaxes), the same ``auto`` frame rules (:func:`vlmr1.frames.resolve_frames`: the
row's ``frame`` column, its ``model_family``, else the model-input frame when
``input_size`` differs from ``image_size``). It returns the ground truth and the
prediction converted to original pixels, and, when the model's frame is not original
pixels, the prediction's numbers drawn as given: a box up and to the left of the object
is a reward comparing in the wrong frame, the failure that makes grounding rewards
collapse to ~0. The frame check does that sum over the file and compares it with the
scored IoU column.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vlmr1.frames import Frames, resolve_frames, to_original
from vlmr1.reportviews import Notice, Shape
from vlmr1.rows import sample_from_row

from .geometry import rotated_corners
from .parse import Parsed, parse_answer, parse_solution

__all__ = ["BoxView", "applies", "box_view", "checks", "iou", "notes", "parse_boxes", "shapes"]

Box = tuple[float, float, float, float]
SCORE_KEYS = ("rewards", "reward", "reasons", "failures", "details")
_IOU_REASON = re.compile(r"^g?iou=")


@dataclass
class BoxView:
    """The boxes of one row in both frames: as the model gave them (``pred_raw``), the
    gold in original pixels, and the best IoU with and without converting."""

    frame: str
    image_size: tuple[int, int]
    input_size: tuple[int, int]
    pred_raw: list[Box]
    gold: list[Box]
    iou_converted: float | None
    iou_unconverted: float | None
    frame_note: str = ""


def _parsed(value: Any, solution: bool) -> Parsed:
    if value is None:
        return Parsed()
    return parse_solution(value) if solution else parse_answer(value)


def parse_boxes(value: Any, solution: bool = False) -> list[Box]:
    """The axis-aligned boxes in an answer (or, with ``solution``, a ground truth)."""
    return [s.coords for s in _parsed(value, solution).shapes if s.kind == "box" and len(s.coords) == 4]  # type: ignore[misc]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two axis-aligned boxes (continuous coordinates)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _frames(row: Mapping[str, Any], frame: str) -> tuple[Frames | str, Any]:
    """The row's frames as the reward resolves them (``frame`` overrides ``auto``), and its Sample."""
    sample = sample_from_row({k: v for k, v in row.items() if k not in SCORE_KEYS})
    return resolve_frames(sample, {} if frame == "auto" else {"frame": frame}), sample


def _resolved(row: Mapping[str, Any], frame: str) -> tuple[str, str, tuple[int, int], tuple[int, int], str] | None:
    """(prediction frame, gold frame, image size, input size, note), or None without an image size."""
    try:
        frames, sample = _frames(row, frame)
    except Exception:  # noqa: BLE001 - a row the engine could not read either: nothing to draw
        return None
    if sample.image_size is None:
        return None
    if isinstance(frames, str):  # e.g. frame input without any input size: say so, draw as given
        note = f"frame not resolved ({frames}); drawn as original pixels"
        return "original", "original", sample.image_size, sample.image_size, note
    return frames.pred, frames.gold, sample.image_size, frames.input_size or sample.image_size, ""


def box_view(row: Mapping[str, Any], frame: str = "auto") -> BoxView | None:
    """The boxes of a box-task row in both frames; None for rows that are not about boxes."""
    gold = parse_boxes(row.get("solution"), solution=True)
    resolved = _resolved(row, frame) if gold else None
    if resolved is None:
        return None
    pred_frame, gold_frame, image_size, input_size, note = resolved
    gold = [to_original(g, gold_frame, image_size, input_size) for g in gold]  # type: ignore[misc]
    pred = parse_boxes(row.get("completion"))
    conv = [to_original(b, pred_frame, image_size, input_size) for b in pred]
    best = lambda ps: max((iou(p, g) for p in ps for g in gold), default=0.0) if ps else None  # noqa: E731
    return BoxView(pred_frame, image_size, input_size, pred, gold, best(conv), best(pred), note)  # type: ignore[arg-type]


# -- the view ---------------------------------------------------------------------------
def applies(row: Mapping[str, Any]) -> bool:
    """Rows whose solution holds boxes, rotated boxes or polygons."""
    return bool(_parsed(row.get("solution"), True).shapes)


def _flat(kind: str, coords: tuple[float, ...]) -> tuple[str, tuple[float, ...]]:
    """A parsed shape as flat x, y coordinates: a rotated box becomes its corner polygon."""
    if kind == "rotated":
        return "polygon", tuple(v for x, y in rotated_corners(*coords) for v in (x, y))
    return kind, coords


def _shapes(parsed: Parsed, frame: str, sizes: tuple[Any, Any], role: str) -> list[Shape]:
    out = []
    for s in parsed.shapes:
        kind, coords = _flat(s.kind, s.coords)
        out.append(Shape(kind, to_original(coords, frame, *sizes), role, s.label))
    return out


def shapes(row: Mapping[str, Any], options: Mapping[str, Any]) -> list[Shape]:
    """Gold (green) and prediction (red) in original pixels; the prediction's numbers as
    given (orange) too when the model's frame is not original pixels."""
    resolved = _resolved(row, str(options.get("frame") or "auto"))
    if resolved is None:
        return []
    pred_frame, gold_frame, image_size, input_size, _ = resolved
    sizes = (image_size, input_size)
    answer = _parsed(row.get("completion"), False)
    out = _shapes(_parsed(row.get("solution"), True), gold_frame, sizes, "gold")
    out += _shapes(answer, pred_frame, sizes, "prediction")
    if pred_frame != "original":
        out += _shapes(answer, "original", sizes, "as_given")
    return out


def notes(row: Mapping[str, Any], options: Mapping[str, Any]) -> list[str]:
    """IoU computed both ways, and why a frame could not be resolved."""
    view = box_view(row, str(options.get("frame") or "auto"))
    if view is None:
        return []

    def f(v: float | None) -> str:
        return "null" if v is None else f"{v:.3f}"

    out = [f"IoU converted from frame {view.frame}: {f(view.iou_converted)}; IoU of the numbers as given: {f(view.iou_unconverted)}"]
    return out + ([view.frame_note] if view.frame_note else [])


# -- the frame check --------------------------------------------------------------------
def _iou_column(rows: Sequence[Mapping[str, Any]], box_rows: Sequence[int]) -> str | None:
    """The column that holds the scored IoU: the one whose reasons on box rows read
    ``iou=`` or ``giou=`` most often (a config may call the reward anything), else ``iou``."""
    counts: dict[str, int] = {}
    for i in box_rows:
        for name, reason in (rows[i].get("reasons") or {}).items():
            if isinstance(reason, str) and _IOU_REASON.match(reason):
                counts[name] = counts.get(name, 0) + 1
    if counts:
        return max(counts, key=lambda n: counts[n])
    return "iou" if any("iou" in (r.get("rewards") or {}) for r in rows) else None


def _score(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) != float("inf") and v == v else None


def checks(rows: Sequence[Mapping[str, Any]], options: Mapping[str, Any]) -> list[Notice]:
    """Over the box rows whose boxes need converting: mean best IoU with and without
    converting, and whether the scored IoU column sits with one or the other."""
    frame = str(options.get("frame") or "auto")
    views = [(i, v) for i, row in enumerate(rows) if (v := box_view(row, frame)) is not None]
    views = [(i, v) for i, v in views if v.frame != "original" and v.iou_converted is not None]
    if not views:
        return []
    column = _iou_column(rows, [i for i, _ in views])
    scored = [s for i, _ in views if column and (s := _score((rows[i].get("rewards") or {}).get(column))) is not None]
    conv = statistics.fmean(v.iou_converted or 0.0 for _, v in views)
    raw = statistics.fmean(v.iou_unconverted or 0.0 for _, v in views)
    text = (f"Over {len(views)} box rows whose boxes need converting, mean best IoU is {conv:.3f} with predictions "
            f"converted to original pixels and {raw:.3f} comparing the numbers as given.")
    if conv - raw <= 0.2:
        return [Notice("Box frames", text, "info", "frame-check")]
    text += " The numbers as given do not line up with the ground truth: the model answers in another frame."
    advice = (" Set the iou reward's `frame` param (input, norm1000, norm1, or auto with `model_family`) "
              "and make sure rows carry `image_size` and `input_size`.")
    if not scored:
        return [Notice("Box frames", text + advice, "warning", "frame-check")]
    mean = statistics.fmean(scored)
    if abs(mean - raw) < abs(mean - conv):
        text += (f" The {column} column (mean {mean:.3f}) matches the comparison as given: the reward compared boxes "
                 f"in the wrong frame.{advice}")
        return [Notice("Box frames", text, "warning", "frame-check")]
    text += f" The {column} column (mean {mean:.3f}) matches the converted comparison: the reward converts frames."
    return [Notice("Box frames", text, "info", "frame-check")]
