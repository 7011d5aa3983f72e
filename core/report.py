"""`vlmr1 inspect`: a static HTML report that shows why rewards are what they are.

One page (index.html beside its PNGs, no network needed to open it): a summary table
per reward (the numbers of :func:`vlmr1.metrics.summarize`, as ``vlmr1 score`` prints
them and the engine logs them, plus the commonest reasons), a histogram per reward, and
the lowest- and highest-scoring samples with their completions.

What an answer means is not the report's business: plugins register report views
(:mod:`vlmr1.reportviews`). For each shown row, every view that applies returns shapes
in original-image pixels, which are drawn on the row's image and on the image at the
model's input size, with the view's notes; over the whole file, the views' checks
return notices shown at the top of the page (the iou plugin's frame check is one).

The pictures are drawn by :mod:`vlmr1.report_draw`, which also decides which image
files a report may read, and the page is written by :mod:`vlmr1.report_html`;
matplotlib and Pillow are imported inside the functions that draw.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .errors import ReportError, UnknownNameError
from .frames import FRAMES as _FRAMES
from .metrics import summarize
from .report_draw import GT_COLOUR, MAX_SIDE, PRED_COLOUR, RAW_COLOUR, Panel, draw_panels, histogram_png  # noqa: F401 - public here
from .report_html import TOTAL, escape, page
from .reportviews import Notice, ReportView, Shape

__all__ = ["FRAMES", "TOTAL", "Column", "ReportError", "build_report", "columns_of", "escape", "rank", "read_scored",
           "reason_bucket", "row_panels", "view_notices"]

NON_FINITE = "non-finite score (inf or nan)"
FRAMES = ("auto", *_FRAMES)
SCORE_KEYS = ("rewards", "reward", "reasons", "failures", "details")  # what `vlmr1 score` added to a row
# A number standing as a value ("iou=0.43", "exit -9", "matched=2/3"), not digits inside a
# name ("point_2d", "norm1000", "qwen2.5-vl"): no letter, digit, '_', '.' or '-' right before it.
_NUM = re.compile(r"(?<![\w.-])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclass
class Column:
    """One reward column (or the weighted total) across the file."""

    name: str
    values: list[float | None] = field(default_factory=list)
    failures: list[str | None] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)

    @property
    def scores(self) -> list[float]:
        return [v for v in self.values if v is not None and math.isfinite(v)]

    def summary(self) -> dict[str, Any]:
        s = summarize(self.values, self.failures)
        return {"reward": self.name, "n": s.n, "mean": s.mean, "std": s.std, "min": s.min, "max": s.max, "null": s.none,
                "errors": s.errors, "timeouts": s.timeouts, "reasons": self.reasons.most_common(6)}


def reason_bucket(reason: str) -> str:
    """Reasons with the numbers that are values taken out, so "iou=0.43" and "iou=0.91"
    count together as "iou=#", while "'point_2d' is a required property" stays whole."""
    return _NUM.sub("#", str(reason))[:80]


def read_scored(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a scored JSONL (as `vlmr1 score` writes them); errors name the line."""
    import json

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
        failures = row.get("failures") if isinstance(row.get("failures"), dict) else {}
        for n in names:
            _add(cols[n], row["rewards"].get(n), failures.get(n))
            if n in reasons:
                cols[n].reasons[reason_bucket(reasons[n])] += 1
        _add(cols[TOTAL], row.get(TOTAL), None)
    return list(cols.values())


def _add(col: Column, raw: Any, failure: Any) -> None:
    """A value into its column; ``Infinity``/``NaN`` (which JSON readers accept) count as null, with a reason."""
    if isinstance(raw, float) and not math.isfinite(raw):
        col.reasons[NON_FINITE] += 1
    col.values.append(_num(raw))
    col.failures.append(failure if isinstance(failure, str) else None)


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


# -- what the plugins' report views draw ---------------------------------------------
def _who(view: ReportView) -> str:
    p = view.provenance
    return f"report view {view.name!r}" + (f" of plugin {p.plugin!r} ({p.distribution} {p.version})" if p else "")


def _sizes(row: Mapping[str, Any]) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """The row's original image size, and its model-input size when the row tells it
    (``input_size``, or ``image_grid_thw`` / ``patch_size`` columns), as the engine reads them."""
    from .frames import input_size_of
    from .rows import sample_from_row

    try:
        sample = sample_from_row({k: v for k, v in row.items() if k not in SCORE_KEYS})
        image_size = sample.image_size
        input_size = input_size_of(sample, {}, image_size)[0] if image_size is not None else None
    except Exception:  # noqa: BLE001 - a row the engine could not read either: nothing to size
        return None, None
    return image_size, input_size


def row_panels(row: Mapping[str, Any], views: Sequence[ReportView], options: Mapping[str, Any]) -> list[Panel]:
    """A :class:`Panel` for each view that applies to ``row``. A view that fails, or
    returns something that is not a list of Shapes, gets a panel with a note saying so."""
    panels = []
    sizes: tuple[tuple[int, int] | None, tuple[int, int] | None] | None = None
    for view in views:
        try:
            if not view.call("applies", row):
                continue
            shapes = list(view.call("shapes", row, options))
            notes = [str(n) for n in view.call("notes", row, options)] if view.has("notes") else []
            bad = next((s for s in shapes if not isinstance(s, Shape)), None)
            if bad is not None:
                raise TypeError(f"shapes returned {type(bad).__name__}, not a vlmr1.Shape")
        except Exception as exc:  # noqa: BLE001 - one broken view must not cost the report
            panels.append(Panel(view.name, None, None, [], [f"{_who(view)} failed on this row: {type(exc).__name__}: {str(exc)[:300]}"]))
            continue
        sizes = sizes or _sizes(row)
        image_size, input_size = sizes
        if image_size is None and shapes:
            notes.append("the row has no image_size, so its shapes are not drawn; add `image_size` (width, height) to the rows")
        panels.append(Panel(view.name, image_size, input_size or image_size, shapes, notes))
    return panels


def view_notices(rows: Sequence[Mapping[str, Any]], views: Sequence[ReportView], options: Mapping[str, Any]) -> list[Notice]:
    """What every view's ``checks`` says about the whole file."""
    out: list[Notice] = []
    for view in views:
        if not view.has("checks"):
            continue
        try:
            got = list(view.call("checks", rows, options))
            bad = next((n for n in got if not isinstance(n, Notice)), None)
            if bad is not None:
                raise TypeError(f"checks returned {type(bad).__name__}, not a vlmr1.Notice")
        except Exception as exc:  # noqa: BLE001
            got = [Notice(f"{view.name} check failed", f"{_who(view)} failed: {type(exc).__name__}: {str(exc)[:300]}",
                          "warning", f"{view.name}-failed")]
        out += got
    return out


def _installed_views() -> list[ReportView]:
    from .registry import get_registry

    return list(get_registry().report_views.values())


def build_report(
    scored: str | Path,
    out: str | Path,
    image_roots: Sequence[str | Path] = (),
    k: int = 5,
    by: str = TOTAL,
    frame: str = "auto",
    views: Sequence[ReportView] | None = None,
) -> Path:
    """Write ``out/index.html`` and its PNGs for a scored JSONL; returns index.html's path.
    ``views``: the report views to use (default: those the installed plugins register)."""
    rows = read_scored(scored)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cols = columns_of(rows)
    names = [c.name for c in cols]
    if by not in names:
        raise UnknownNameError("reward column", by, names)
    if by == TOTAL and not cols[-1].scores and len(cols) > 1:
        by = cols[0].name  # no weighted total in this file: rank by the first reward
    views = _installed_views() if views is None else list(views)
    try:
        return _write_report(scored, out, rows, cols, by, k, {"frame": frame}, views, [Path(r) for r in image_roots])
    except OSError as exc:  # a full disk, a file-size limit: say where, not only what
        raise ReportError(
            f"could not write the report into {out}: {exc.strerror or exc}. Free some space or choose another folder with --out."
        ) from exc


def _write_report(scored: str | Path, out: Path, rows: list[dict[str, Any]], cols: list[Column], by: str, k: int,
                  options: dict[str, Any], views: list[ReportView], image_roots: list[Path]) -> Path:
    hist = {}
    for i, col in enumerate(cols):
        hist[col.name] = f"hist_{i}.png"
        histogram_png(col.name, col.values, out / hist[col.name])
    roots = image_roots + [Path(scored).resolve().parent]
    low, high = rank(rows, by, k)
    panels: dict[int, list[Panel]] = {}
    for i in dict.fromkeys(low + high):
        panels[i] = [draw_panels(p, rows[i], roots, out, f"{p.view}_{i}") if p.image_size else p
                     for p in row_panels(rows[i], views, options)]
    notices = view_notices(rows, views, options)
    index = out / "index.html"
    partial = out / ".index.html.partial"  # a disk that fills up leaves no half-written page behind
    try:
        partial.write_text(page(Path(scored).name, cols, hist, rows, low, high, by, panels, notices), encoding="utf-8")
        os.replace(partial, index)
    finally:
        partial.unlink(missing_ok=True)
    return index
