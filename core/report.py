"""`vlmr1 inspect`: a static HTML report that shows why rewards are what they are.

One page (index.html beside its PNGs, no network needed to open it): a summary
table per reward (mean, nulls, the commonest reasons), a histogram per reward, the
lowest- and highest-scoring samples with their completions, and for box tasks the
image with predicted and ground-truth boxes drawn in both coordinate frames: the
boxes as the model gave them on the model-input-size image, and converted to
original pixels on the original image. Beside them, IoU computed both ways: when the
converted IoU is high and the scored one is near zero, the reward compared boxes in
the wrong frame — the failure that makes grounding rewards collapse to ~0.

The pictures are drawn by :mod:`vlmr1.report_draw`, which also decides which image
files a report may read; matplotlib and Pillow are imported inside the functions that draw.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from .errors import VlmrError
from .report_draw import GT_COLOUR, MAX_SIDE, PRED_COLOUR, RAW_COLOUR, draw_box_panels, histogram_png  # noqa: F401 - public here

TOTAL = "reward"
NON_FINITE = "non-finite score (inf or nan)"
_NUM = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


class ReportError(VlmrError):
    """A scored file `vlmr1 inspect` cannot read."""


@dataclass
class Column:
    """One reward column (or the weighted total) across the file."""

    name: str
    values: list[float | None] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)

    @property
    def scores(self) -> list[float]:
        return [v for v in self.values if v is not None and math.isfinite(v)]

    def summary(self) -> dict[str, Any]:
        s = self.scores
        return {
            "reward": self.name,
            "n": len(self.values),
            "mean": _mean(s),
            "std": _std(s),
            "min": min(s) if s else None,
            "max": max(s) if s else None,
            "null": len(self.values) - len(s),
            "reasons": self.reasons.most_common(6),
        }


@dataclass
class BoxView:
    """What the box panels of one sample show."""

    frame: str
    image_size: tuple[int, int]
    input_size: tuple[int, int]
    pred_raw: list[Box]
    gold: list[Box]
    iou_converted: float | None
    iou_unconverted: float | None
    image_note: str = ""
    files: dict[str, str] = field(default_factory=dict)
    frame_note: str = ""


def _mean(s: Sequence[float]) -> float | None:
    """The mean, also of values near the float limit (whose plain sum overflows)."""
    return math.fsum(v / len(s) for v in s) if s else None


def _std(s: Sequence[float]) -> float | None:
    if len(s) < 2:
        return 0.0 if s else None
    try:
        return statistics.pstdev(s)
    except (OverflowError, ValueError):  # a spread beyond the float range
        return math.inf


def reason_bucket(reason: str) -> str:
    """Reasons with their numbers taken out, so "iou=0.43" and "iou=0.91" count together."""
    return _NUM.sub("#", str(reason))[:80]


def read_scored(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a scored JSONL (as `vlmr1 score` writes them); errors name the line."""
    rows = []
    p = Path(path)
    if not p.is_file():
        raise ReportError(f"{p}: no such file. Give the JSONL that `vlmr1 score --output` wrote.")
    with p.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ReportError(f"{p}:{n}: not valid JSON ({exc.msg}). Each line must be one JSON object.") from None
            if not isinstance(row, dict) or not isinstance(row.get("rewards"), dict):
                raise ReportError(
                    f"{p}:{n}: this row has no \"rewards\" object, so it is not a scored row. "
                    f"Score the file first: vlmr1 score --config CONFIG --input {p.name} --output scored.jsonl"
                )
            rows.append(row)
    if not rows:
        raise ReportError(f"{p}: the file has no rows.")
    return rows


def columns_of(rows: Sequence[dict[str, Any]]) -> list[Column]:
    names: list[str] = []
    for row in rows:
        names += [k for k in row["rewards"] if k not in names]
    cols = {n: Column(n) for n in names} | {TOTAL: Column(TOTAL)}
    for row in rows:
        reasons = row.get("reasons") or {}
        for n in names:
            _add(cols[n], row["rewards"].get(n))
            if n in reasons:
                cols[n].reasons[reason_bucket(reasons[n])] += 1
        _add(cols[TOTAL], row.get(TOTAL))
    return list(cols.values())


def _add(col: Column, raw: Any) -> None:
    """A value into its column; ``Infinity``/``NaN`` (which JSON readers accept) count as null, with a reason."""
    if isinstance(raw, float) and not math.isfinite(raw):
        col.reasons[NON_FINITE] += 1
    col.values.append(_num(raw))


def _num(v: Any) -> float | None:
    """A finite number, or None: scores that are missing, not numbers, infinite or NaN."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        f = float(v)
    except OverflowError:  # an integer past the float range
        return None
    return f if math.isfinite(f) else None


def rank(rows: Sequence[dict[str, Any]], by: str, k: int) -> tuple[list[int], list[int]]:
    """Indices of the ``k`` lowest and ``k`` highest rows by column ``by`` (nulls left out)."""
    keyed = [(v, i) for i, row in enumerate(rows) if (v := _num(row.get(TOTAL) if by == TOTAL else row["rewards"].get(by))) is not None]
    keyed.sort()
    low = [i for _, i in keyed[:k]]
    high = [i for _, i in reversed(keyed[max(k, len(keyed) - k):])]  # never repeats a low row
    return low, high


# -- boxes and frames ---------------------------------------------------------------
# Parsing and frame resolution are the iou plugin's own, so the report reads an answer
# exactly as the reward did (same answer region, same box syntaxes, same `auto` rules).
Box = tuple[float, float, float, float]
FRAMES = ("auto", "original", "input", "norm1000", "norm1")


def parse_boxes(value: Any, solution: bool = False) -> list[Box]:
    """The axis-aligned boxes in an answer (or, with ``solution``, a ground truth)."""
    from vlmr1.plugins.iou.parse import parse_answer, parse_solution

    if value is None:
        return []
    parsed = parse_solution(value) if solution else parse_answer(value)
    return [s.coords for s in parsed.shapes if s.kind == "box" and len(s.coords) == 4]  # type: ignore[misc]


def to_original(box: Box, frame: str, image_size: tuple[int, int], input_size: tuple[int, int] | None) -> Box:
    """A box from ``frame`` to pixels of the original image (the iou plugin's factors)."""
    from vlmr1.frames import scale_to_original

    sx, sy = scale_to_original(frame, image_size, input_size)
    return (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)


def to_input(box: Box, image_size: tuple[int, int], input_size: tuple[int, int]) -> Box:
    """A box in original pixels to pixels of the model-input image."""
    sx, sy = input_size[0] / image_size[0], input_size[1] / image_size[1]
    return (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two axis-aligned boxes (continuous coordinates)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_view(row: dict[str, Any], frame: str = "auto") -> BoxView | None:
    """The boxes of a box-task row in both frames; None for rows that are not about boxes.

    ``auto`` resolves per row as the iou reward does: the row's ``frame`` column, its
    ``model_family``, else the model-input frame when ``input_size`` differs from
    ``image_size``.
    """
    from vlmr1.frames import resolve_frames

    from .rows import sample_from_row

    gold = parse_boxes(row.get("solution"), solution=True)
    if not gold:
        return None
    try:
        sample = sample_from_row({k: v for k, v in row.items() if k not in ("rewards", "reward", "reasons")})
    except Exception:  # a row the engine could not read either: nothing to draw
        return None
    if sample.image_size is None:
        return None
    frames = resolve_frames(sample, {} if frame == "auto" else {"frame": frame})
    note = ""
    if isinstance(frames, str):  # e.g. frame input without any input size: say so, draw as given
        note, pred_frame, gold_frame, input_size = f"frame not resolved ({frames}); drawn as original pixels", "original", "original", None
    else:
        pred_frame, gold_frame, input_size = frames.pred, frames.gold, frames.input_size
    image_size = sample.image_size
    input_size = input_size or image_size
    gold = [to_original(g, gold_frame, image_size, input_size) for g in gold]
    pred = parse_boxes(row.get("completion"))
    conv = [to_original(b, pred_frame, image_size, input_size) for b in pred]
    best = lambda ps: max((iou(p, g) for p in ps for g in gold), default=0.0) if ps else None  # noqa: E731
    return BoxView(pred_frame, image_size, input_size, pred, gold, best(conv), best(pred), frame_note=note)


def build_report(
    scored: str | Path,
    out: str | Path,
    image_roots: Sequence[str | Path] = (),
    k: int = 5,
    by: str = TOTAL,
    frame: str = "auto",
) -> Path:
    """Write ``out/index.html`` and its PNGs for a scored JSONL; returns index.html's path."""
    rows = read_scored(scored)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cols = columns_of(rows)
    names = [c.name for c in cols]
    if by not in names:
        from .errors import UnknownNameError

        raise UnknownNameError("reward column", by, names)
    if by == TOTAL and not cols[-1].scores and len(cols) > 1:
        by = cols[0].name  # no weighted total in this file: rank by the first reward
    try:
        return _write_report(scored, out, rows, cols, by, k, frame, [Path(r) for r in image_roots])
    except OSError as exc:  # a full disk, a file-size limit: say where, not only what
        raise ReportError(
            f"could not write the report into {out}: {exc.strerror or exc}. Free some space or choose another folder with --out."
        ) from exc


def _write_report(scored: str | Path, out: Path, rows: list[dict[str, Any]], cols: list[Column], by: str, k: int,
                  frame: str, image_roots: list[Path]) -> Path:
    hist = {}
    for i, col in enumerate(cols):
        hist[col.name] = f"hist_{i}.png"
        histogram_png(col, out / hist[col.name])
    roots = image_roots + [Path(scored).resolve().parent]
    low, high = rank(rows, by, k)
    views: dict[int, BoxView] = {}
    for i in dict.fromkeys(low + high):
        view = box_view(rows[i], frame)
        if view is not None:
            views[i] = draw_box_panels(view, rows[i], roots, out, f"box_{i}")
    frame_check = _frame_check(rows, frame)
    from .report_html import page

    index = out / "index.html"
    partial = out / ".index.html.partial"  # a disk that fills up leaves no half-written page behind
    try:
        partial.write_text(page(Path(scored).name, cols, hist, rows, low, high, by, views, frame_check), encoding="utf-8")
        os.replace(partial, index)
    finally:
        partial.unlink(missing_ok=True)
    return index


def _frame_check(rows: Sequence[dict[str, Any]], frame: str) -> dict[str, Any] | None:
    """Over the box rows whose boxes need converting: mean best IoU with and without
    converting, and the mean of the scored ``iou`` column on those same rows."""
    conv, raw, scored = [], [], []
    for row in rows:
        v = box_view(row, frame)
        if v is None or v.frame == "original" or v.iou_converted is None:
            continue
        conv.append(v.iou_converted)
        raw.append(v.iou_unconverted or 0.0)
        if (s := _num(row["rewards"].get("iou"))) is not None:
            scored.append(s)
    if not conv:
        return None
    return {
        "n": len(conv),
        "converted": statistics.fmean(conv),
        "unconverted": statistics.fmean(raw),
        "iou_mean": statistics.fmean(scored) if scored else None,
    }


def escape(v: Any) -> str:
    """Any value as HTML-safe text (completions are untrusted model output)."""
    return html.escape(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str), quote=True)
