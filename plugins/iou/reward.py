"""The ``iou`` reward: parse, convert to one frame, match, score.

The batch path is what keeps this reward cheap enough to run inline: completions are
parsed once per distinct text, every row whose answer and gold are one axis-aligned
box each (nearly all REC rows) is collected, and all of them are scored by one numpy
call. Rows with several boxes get a numpy IoU matrix and a matching; rows with rotated
boxes or polygons go through shapely. Every step is bounded (see parse.Limits and
``max_shape_pairs``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from vlmr1.errors import ConfigError
from vlmr1.frames import Frames, check_frame_params, resolve_frames, rotated_to_original, to_original
from vlmr1.types import Sample, Verdict

from . import geometry
from .compat import MODES, compat_verdict
from .duplicates import collapse_duplicates
from .matching import match_pairs, score_matches
from .params import DEFAULTS
from .parse import Limits, Parsed, Shape, parse_answer, parse_solution
from .unframed import warn_unframed

__all__ = ["DEFAULTS", "Gold", "check_params", "prepare_gold", "score_batch"]

_CHOICES = {
    "metric": ("iou", "giou"),
    "match": ("hungarian", "greedy"),
    "order": ("normalise", "reject"),
    "compat": (None, *MODES),
}


@dataclass(frozen=True)
class Gold:
    """A prepared solution: its shapes (in the gold frame) and the raw value (for compat)."""

    parsed: Parsed
    raw: Any = field(default=None, compare=False)


def check_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults filled in and every choice checked; a ConfigError names the bad one."""
    p = {**DEFAULTS, **{k: v for k, v in params.items()}}
    check_frame_params(p, "iou reward")
    for key, choices in _CHOICES.items():
        if p.get(key) not in choices:
            listing = ", ".join(str(c) for c in choices if c is not None)
            raise ConfigError(f"iou reward: param {key}={p.get(key)!r} is not one of: {listing}. Fix the reward's params.")
    t = p.get("threshold")
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not -1.0 <= t <= 1.0):
        raise ConfigError(f"iou reward: threshold={t!r} must be a number in [-1, 1] (or left out for a soft score).")
    d = p.get("duplicate_iou")
    if d is not None and (isinstance(d, bool) or not isinstance(d, (int, float)) or not 0.0 < d <= 1.0):
        raise ConfigError(f"iou reward: duplicate_iou={d!r} must be a number in (0, 1], or null to keep repeated boxes.")
    for key in ("max_boxes", "max_chars", "max_vertices", "max_shape_pairs"):
        v = p.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ConfigError(f"iou reward: {key}={v!r} must be a positive integer.")
    if not isinstance(p.get("labels"), bool):
        raise ConfigError(f"iou reward: labels={p.get('labels')!r} must be true or false.")
    return p


def _limits(p: Mapping[str, Any]) -> Limits:
    return Limits.from_params(p)


def prepare_gold(solution: Any, params: Mapping[str, Any]) -> Gold:
    """Parse a solution once (the engine calls this once per distinct solution).

    A gold that writes one box twice is collapsed by the rule the answers are: otherwise an
    exact answer, collapsed to one box, would match half of the gold."""
    p = check_params(params)
    parsed = parse_solution(solution, _limits(p))
    if p.get("duplicate_iou") is not None and len(parsed.shapes) > 1:
        parsed = Parsed(collapse_duplicates(parsed.shapes, float(p["duplicate_iou"])), parsed.reason, parsed.source)
    return Gold(parsed, solution)


# -- one row ------------------------------------------------------------------------
@dataclass
class _Pair:
    """A row reduced to one predicted box against one gold box, both in original pixels."""

    pred: np.ndarray
    gold: np.ndarray
    frames: Frames
    answer: Any


def _norm_label(label: str | None) -> str | None:
    return " ".join(label.casefold().split()) if label is not None else None


def _convert(shapes: Sequence[Shape], frame: str, frames: Frames) -> list[Shape]:
    """Shapes in ``frame`` as original pixels (:mod:`vlmr1.frames`); a rotated box under
    unequal x/y scaling is no longer a rotated rectangle, so it becomes a polygon."""
    if frame == "original":
        return list(shapes)
    sizes = (frames.image_size, frames.input_size)
    out = []
    for s in shapes:
        if s.kind == "rotated":
            out.append(Shape(*rotated_to_original(s.coords, frame, *sizes), s.label))
        else:
            out.append(Shape(s.kind, to_original(s.coords, frame, *sizes), s.label))
    return out


def _answer(parsed: Parsed) -> Any:
    return [list(s.coords) for s in parsed.shapes] if parsed.shapes else parsed.reason


def _inverted(shapes: Sequence[Shape]) -> bool:
    return any(s.kind == "box" and (s.coords[2] < s.coords[0] or s.coords[3] < s.coords[1]) for s in shapes)


def _floor(p: Mapping[str, Any]) -> float:
    return -1.0 if p["metric"] == "giou" and p.get("threshold") is None else 0.0


def _plan(sample: Sample, parsed: Parsed, gold: Gold, p: Mapping[str, Any]) -> Verdict | _Pair:
    """A finished verdict, or a single box pair left for the batched numpy call."""
    if not gold.parsed.ok:
        return Verdict.skip(f"bad_solution: {gold.parsed.reason}")
    floor = _floor(p)
    if not parsed.ok:
        return Verdict(floor, parsed.reason, _answer(parsed))
    if p["order"] == "reject" and _inverted(parsed.shapes):
        return Verdict(floor, "inverted_box", _answer(parsed))
    if p.get("duplicate_iou") is not None and len(parsed.shapes) > 1:
        parsed = Parsed(collapse_duplicates(parsed.shapes, float(p["duplicate_iou"])), parsed.reason, parsed.source)
    n_pred, n_gold = len(parsed.shapes), len(gold.parsed.shapes)
    if n_gold == 0:
        if n_pred == 0:
            return Verdict(1.0, "no_object_ok", "no_object")
        return Verdict(floor, "false_alarm: gold has no object", _answer(parsed))
    if n_pred == 0:
        return Verdict(floor, "missed: answered no object", "no_object")
    frames = resolve_frames(sample, p)
    if isinstance(frames, str):
        return Verdict.skip(frames)
    warn_unframed("iou", sample, frames, p)
    pred = _convert(parsed.shapes, frames.pred, frames)
    golds = _convert(gold.parsed.shapes, frames.gold, frames)
    labels_ok = not p["labels"] or golds[0].label is None or _norm_label(pred[0].label) == _norm_label(golds[0].label)
    if n_pred == 1 and n_gold == 1 and pred[0].kind == golds[0].kind == "box" and labels_ok:
        return _Pair(np.asarray(pred[0].coords), np.asarray(golds[0].coords), frames, _answer(parsed))
    return _several(pred, golds, frames, parsed, p)


def _several(pred: list[Shape], golds: list[Shape], frames: Frames, parsed: Parsed, p: Mapping[str, Any]) -> Verdict:
    giou = p["metric"] == "giou"
    n, m = len(pred), len(golds)
    if all(s.kind == "box" for s in pred) and all(s.kind == "box" for s in golds):
        values = geometry.box_iou_matrix([s.coords for s in pred], [s.coords for s in golds], giou)
    else:
        if n * m > int(p["max_shape_pairs"]):
            return Verdict(_floor(p), "too_many_boxes", _answer(parsed))
        values = geometry.shapely_iou_matrix(
            [geometry.to_geometry(s.kind, s.coords) for s in pred],
            [geometry.to_geometry(s.kind, s.coords) for s in golds],
            giou,
            hull=True,
        )
        values = np.nan_to_num(values, nan=_floor(p))
    allowed = None
    if p["labels"]:
        pl = [_norm_label(s.label) for s in pred]
        gl = [_norm_label(s.label) for s in golds]
        allowed = np.array([[g is None or a == g for g in gl] for a in pl], dtype=bool)
    threshold = p.get("threshold")
    match = match_pairs(values, allowed, p["match"], None if threshold is None else float(threshold))
    soft = score_matches(match, _floor(p))
    score = soft if threshold is None else score_matches(match, 0.0, float(threshold))
    name = p["metric"]
    if allowed is not None and not match.pairs and not allowed.any():
        reason = "label_mismatch"
    else:
        reason = f"{name}={soft:.2f} matched={len(match.pairs)}/{m} pred={n}"
    details = {"frame": frames.pred, "how": frames.how, "matched": [[i, j, round(v, 6)] for i, j, v in match.pairs]}
    return Verdict(float(score), reason, _answer(parsed), details)


def _finish_pairs(pairs: list[_Pair], p: Mapping[str, Any]) -> list[Verdict]:
    """All single-box rows of a batch in one vectorised numpy call."""
    if not pairs:
        return []
    values = geometry.box_iou_pairs(np.stack([q.pred for q in pairs]), np.stack([q.gold for q in pairs]), p["metric"] == "giou")
    threshold = p.get("threshold")
    out = []
    for q, v in zip(pairs, values.tolist()):
        score = v if threshold is None else (1.0 if v >= threshold else 0.0)
        details = {"frame": q.frames.pred, "how": q.frames.how, p["metric"]: v}
        out.append(Verdict(float(score), f"{p['metric']}={v:.2f}", q.answer, details))
    return out


def _as_gold(g: Any, p: Mapping[str, Any]) -> Gold:
    return g if isinstance(g, Gold) else prepare_gold(g, p)


def score_batch(samples: Sequence[Sample], golds: Sequence[Any], params: Mapping[str, Any]) -> list[Verdict]:
    """Score a batch inline (the engine calls this for the cheap ``iou`` reward)."""
    p = check_params(params)
    if p["compat"] is not None:
        return [compat_verdict(s, g.raw if isinstance(g, Gold) else g, p) for s, g in zip(samples, golds)]
    limits = _limits(p)
    cache: dict[str, Parsed] = {}
    results: list[Verdict | None] = [None] * len(samples)
    pending: list[tuple[int, _Pair]] = []
    for i, (sample, g) in enumerate(zip(samples, golds)):
        text = sample.completion if isinstance(sample.completion, str) else None
        if text is not None and text in cache:
            parsed = cache[text]
        else:
            parsed = parse_answer(sample.completion, limits)
            if text is not None:
                cache[text] = parsed
        try:
            planned = _plan(sample, parsed, _as_gold(g, p), p)
        except Exception as exc:  # noqa: BLE001 - one odd row must not void the batch; its reason says why
            planned = Verdict.skip(f"error: {type(exc).__name__}: {exc}"[:160])
        if isinstance(planned, _Pair):
            pending.append((i, planned))
        else:
            results[i] = planned
    for (i, _), verdict in zip(pending, _finish_pairs([q for _, q in pending], p)):
        results[i] = verdict
    return [r if r is not None else Verdict.skip("internal: unscored") for r in results]
