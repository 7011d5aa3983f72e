"""`vlmr1 inspect`: a static HTML report that shows why rewards are what they are.

One page (index.html beside its PNGs, no network needed to open it): a summary
table per reward (mean, nulls, the commonest reasons), a histogram per reward, the
lowest- and highest-scoring samples with their completions, and for box tasks the
image with predicted and ground-truth boxes drawn in both coordinate frames: the
boxes as the model gave them on the model-input-size image, and converted to
original pixels on the original image. Beside them, IoU computed both ways: when the
converted IoU is high and the scored one is near zero, the reward compared boxes in
the wrong frame — the failure that makes grounding rewards collapse to ~0.

matplotlib and Pillow are imported inside the functions that draw.
"""

from __future__ import annotations

import html
import json
import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from .errors import VlmrError

TOTAL = "reward"
GT_COLOUR = (0, 170, 0)  # green: ground truth
PRED_COLOUR = (220, 0, 0)  # red: prediction in this panel's frame
RAW_COLOUR = (255, 140, 0)  # orange: prediction drawn without any conversion
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
        return [v for v in self.values if v is not None and not math.isnan(v)]

    def summary(self) -> dict[str, Any]:
        s = self.scores
        return {
            "reward": self.name,
            "n": len(self.values),
            "mean": statistics.fmean(s) if s else None,
            "std": statistics.pstdev(s) if len(s) > 1 else (0.0 if s else None),
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
            cols[n].values.append(_num(row["rewards"].get(n)))
            if n in reasons:
                cols[n].reasons[reason_bucket(reasons[n])] += 1
        cols[TOTAL].values.append(_num(row.get(TOTAL)))
    return list(cols.values())


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


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


def _open_image(row: dict[str, Any], roots: Sequence[Path], size: tuple[int, int]) -> tuple[Any, str]:
    """The row's image at its original size, or a grey canvas and a note saying why."""
    from PIL import Image

    ref = row.get("image")
    if isinstance(ref, list):
        ref = ref[0] if ref else None
    if ref:
        for root in roots:
            path = Path(ref) if Path(ref).is_absolute() else root / ref
            if path.is_file():
                try:
                    img = Image.open(path).convert("RGB")
                except OSError as exc:
                    return Image.new("RGB", size, (128, 128, 128)), f"could not read {ref}: {exc}"
                note = "" if img.size == size else f"the file is {img.size[0]}x{img.size[1]}, the row says image_size {size[0]}x{size[1]}; resized to image_size"
                return (img if img.size == size else img.resize(size)), note
        where = ", ".join(str(r) for r in roots)
        return Image.new("RGB", size, (128, 128, 128)), f"image {ref!r} not found under {where}; pass --image-root DIR"
    return Image.new("RGB", size, (128, 128, 128)), "the row names no image; boxes drawn on a blank canvas"


def _draw(img: Any, boxes: Iterable[tuple[Box, tuple[int, int, int]]], width: int) -> Any:
    from PIL import ImageDraw

    draw = ImageDraw.Draw(img)
    for box, colour in boxes:
        x1, y1, x2, y2 = (round(c) for c in box)
        draw.rectangle([min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)], outline=colour, width=width)
    return img


MAX_SIDE = 1600  # larger images are scaled down for the page, boxes with them


def _panel(img: Any, layers: Sequence[tuple[Sequence[Box], tuple[int, int, int], int]]) -> Any:
    """Draw layers of boxes (first layer lowest) on ``img``, scaled down if it is huge."""
    scale = min(1.0, MAX_SIDE / max(img.size))
    if scale < 1.0:
        img = img.resize((max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale))))
    for boxes, colour, width in layers:
        _draw(img, [(tuple(c * scale for c in b), colour) for b in boxes], width)  # type: ignore[misc]
    return img


def draw_box_panels(view: BoxView, row: dict[str, Any], roots: Sequence[Path], out: Path, stem: str) -> BoxView:
    """Write ``<stem>_input.png`` and ``<stem>_original.png``; record their names on ``view``.

    Ground truth is drawn twice as thick and first, so where a prediction coincides with
    it both stay visible (green around red).
    """
    original, view.image_note = _open_image(row, roots, view.image_size)
    w = max(2, round(min(max(view.image_size), MAX_SIDE) / 300))
    conv = [to_original(b, view.frame, view.image_size, view.input_size) for b in view.pred_raw]
    gold_in = [to_input(g, view.image_size, view.input_size) for g in view.gold]
    pred_in = [to_input(b, view.image_size, view.input_size) for b in conv]
    inp = _panel(original.resize(view.input_size), [(gold_in, GT_COLOUR, 2 * w), (pred_in, PRED_COLOUR, w)])
    raw = [(view.pred_raw, RAW_COLOUR, w)] if view.frame != "original" else []
    orig = _panel(original, raw + [(view.gold, GT_COLOUR, 2 * w), (conv, PRED_COLOUR, w)])
    for key, img in (("input", inp), ("original", orig)):
        name = f"{stem}_{key}.png"
        img.save(out / name)
        view.files[key] = name
    return view


def histogram_png(col: Column, path: Path) -> None:
    """A histogram of one column, nulls counted in the title (matplotlib, Agg canvas)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ReportError("vlmr1 inspect draws histograms with matplotlib: pip install matplotlib (or vlmr1[train]).") from None
    fig = Figure(figsize=(4, 2.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    s = col.scores
    if s:
        lo, hi = min(min(s), 0.0), max(max(s), 1.0)  # rewards mostly live in [0, 1]: keep that axis
        ax.hist(s, bins=20, range=(lo, hi), color="#4a78b5")
    ax.set_title(f"{col.name}  (n={len(s)}, null={len(col.values) - len(s)})", fontsize=9)
    ax.set_xlabel("score", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path)


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
    hist = {}
    for i, col in enumerate(cols):
        hist[col.name] = f"hist_{i}.png"
        histogram_png(col, out / hist[col.name])
    roots = [Path(r) for r in image_roots] + [Path(scored).resolve().parent]
    low, high = rank(rows, by, k)
    views: dict[int, BoxView] = {}
    for i in dict.fromkeys(low + high):
        view = box_view(rows[i], frame)
        if view is not None:
            views[i] = draw_box_panels(view, rows[i], roots, out, f"box_{i}")
    frame_check = _frame_check(rows, frame)
    from .report_html import page

    index = out / "index.html"
    index.write_text(page(Path(scored).name, cols, hist, rows, low, high, by, views, frame_check), encoding="utf-8")
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
