"""Open-vocabulary detection rewards: ``detection_ap`` (COCO AP .50:.95 or AP50, optionally
times VLM-R1's length factor) and ``detection_weighted`` (VLM-R1's ``weighted_sum``).

Default mode reads boxes with the ``iou`` parser (fenced or bare JSON, box tokens, any
coordinate frame, converted to original pixels), compares labels case- and
space-insensitively, and says why in every reason. ``compat: vlm-r1`` (and
``vlm-r1-map`` for AP) reproduces VLM-R1's functions exactly (``vlmr1_det``). Both are
cheap batch rewards: a batch's COCO evaluations run as one library call (``coco``).
See docs/rewards/detection.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from vlmr1.compat import solution_text
from vlmr1.errors import ConfigError
from vlmr1.frames import check_frame_params, resolve_frames
from vlmr1.types import Sample, Verdict

from . import geometry
from .coco import BACKENDS, coco_ap
from .params import AP_DEFAULTS, WEIGHTED_DEFAULTS
from .parse import Limits, Parsed, parse_answer, parse_solution
from .reward import _convert, _norm_label
from .unframed import warn_unframed
from .vlmr1_det import CocoJob, Raises, _TooMany, map_plan, od_plan, weighted_sum_plan

__all__ = ["AP_DEFAULTS", "WEIGHTED_DEFAULTS", "ap_score_batch", "check_ap_params", "check_weighted_params",
           "prepare_detection_gold", "weighted_score_batch"]



def _choice(p: Mapping[str, Any], key: str, choices: Sequence[Any], who: str) -> None:
    if p.get(key) not in choices:
        raise ConfigError(f"{who}: param {key}={p.get(key)!r} is not one of: {', '.join(map(str, choices))}.")


def _positive_int(p: Mapping[str, Any], key: str, who: str) -> None:
    v = p.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise ConfigError(f"{who}: {key}={v!r} must be a positive integer.")


def check_ap_params(params: Mapping[str, Any]) -> dict[str, Any]:
    p = {**AP_DEFAULTS, **dict(params)}
    check_frame_params(p, "detection_ap")
    _choice(p, "metric", ("ap", "ap50"), "detection_ap")
    _choice(p, "compat", (None, "vlm-r1", "vlm-r1-map"), "detection_ap")
    _choice(p, "coco", BACKENDS, "detection_ap")
    if not isinstance(p["length_penalty"], bool):
        raise ConfigError("detection_ap: length_penalty must be true or false.")
    for key in ("max_chars", "max_boxes"):
        _positive_int(p, key, "detection_ap")
    return p


def check_weighted_params(params: Mapping[str, Any]) -> dict[str, Any]:
    p = {**WEIGHTED_DEFAULTS, **dict(params)}
    check_frame_params(p, "detection_weighted")
    _choice(p, "compat", (None, "vlm-r1"), "detection_weighted")
    for key in ("iou_threshold", "alpha", "beta", "gamma"):
        v = p[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise ConfigError(f"detection_weighted: {key}={v!r} must be a number in [0, 1].")
    if p["alpha"] + p["beta"] + p["gamma"] <= 0:
        raise ConfigError("detection_weighted: alpha + beta + gamma must be positive.")
    for key in ("max_chars", "max_boxes", "max_pairs"):
        _positive_int(p, key, "detection_weighted")
    return p


def _limits(p: Mapping[str, Any]) -> Limits:
    return Limits(max_chars=int(p["max_chars"]), max_boxes=int(p["max_boxes"]))


def prepare_detection_gold(solution: Any, params: Mapping[str, Any]) -> Parsed:
    """The gold boxes, parsed once per distinct solution (default mode)."""
    return parse_solution(solution, Limits(max_chars=int(params.get("max_chars", 100_000)), max_boxes=1_000_000))


# -- default mode -----------------------------------------------------------------------
def _boxes_in_pixels(sample: Sample, pred: Parsed, gold: Parsed, p: Mapping[str, Any], reward: str) -> Verdict | tuple[list, list]:
    """Both sides as (label, [x1, y1, x2, y2]) in original pixels, or the verdict."""
    if not gold.ok:
        return Verdict.skip(f"bad_solution: {gold.reason}")
    if any(s.kind != "box" for s in gold.shapes):
        return Verdict.skip("bad_solution: detection needs axis-aligned boxes")
    if not pred.ok:
        return Verdict(0.0, pred.reason)
    if any(s.kind != "box" for s in pred.shapes):
        return Verdict(0.0, "bad_box: detection needs axis-aligned boxes")
    if not gold.shapes:
        return Verdict(1.0, "no_object_ok", "no_object") if not pred.shapes else Verdict(0.0, "false_alarm: gold has no object")
    if not pred.shapes:
        return Verdict(0.0, "missed: answered no object", "no_object")
    frames = resolve_frames(sample, p)
    if isinstance(frames, str):
        return Verdict.skip(frames)
    warn_unframed(reward, sample, frames, p)
    sides = []
    for shapes, frame in ((pred.shapes, frames.pred), (gold.shapes, frames.gold)):
        scaled = _convert(shapes, frame, frames)
        sides.append([(_norm_label(s.label) or "", _ordered(s.coords)) for s in scaled])
    return sides[0], sides[1]


def _ordered(c: Sequence[float]) -> list[float]:
    return [min(c[0], c[2]), min(c[1], c[3]), max(c[0], c[2]), max(c[1], c[3])]


def _ap_job(pred: list, gold: list, p: Mapping[str, Any]) -> tuple[CocoJob, int]:
    cats: dict[str, int] = {}
    job = CocoJob(score_type=0 if p["metric"] == "ap" else 1)
    for label, b in gold:
        cat = cats.setdefault(label, len(cats))
        job.gts.append((cat, [b[0], b[1], b[2] - b[0], b[3] - b[1]], (b[2] - b[0]) * (b[3] - b[1])))
    unknown = 0
    for label, b in pred:
        if label not in cats:
            unknown += 1
            continue
        job.dts.append((cats[label], [b[0], b[1], b[2] - b[0], b[3] - b[1]]))
    job.n_cats = len(cats)
    if p["length_penalty"] and len(pred) > len(gold):
        job.factor = len(gold) / len(pred)
    return job, unknown


def _as_parsed(g: Any, p: Mapping[str, Any]) -> Parsed:
    return g if isinstance(g, Parsed) else prepare_detection_gold(g, p)


# -- the AP reward ------------------------------------------------------------------------
def _plan_ap(sample: Sample, gold: Any, p: Mapping[str, Any]) -> Verdict | tuple[CocoJob, str]:
    text = sample.completion if isinstance(sample.completion, str) else ""
    if p["compat"] is not None:
        if len(text) > p["max_chars"]:
            return Verdict(0.0, "too_long")
        sol = solution_text(sample)
        score_type = 0 if p["metric"] == "ap" else 1
        try:
            if p["compat"] == "vlm-r1-map":
                got = map_plan(text, sol, p["length_penalty"], score_type)
            else:
                got = od_plan(text, sol, score_type, p["length_penalty"])
        except Raises as exc:
            return Verdict.skip(f"vlm-r1_raises: {exc}")
        if isinstance(got, CocoJob):
            if len(got.dts) > p["max_boxes"]:
                return Verdict(0.0, "too_many_boxes")
            return got, f"pred={len(got.dts)} gold={len(got.gts)}"
        return Verdict(float(got), f"{p['metric']}={got:.2f}")
    sides = _boxes_in_pixels(sample, parse_answer(text, _limits(p)), _as_parsed(gold, p), p, "detection_ap")
    if isinstance(sides, Verdict):
        return sides
    job, unknown = _ap_job(*sides, p)
    if not job.dts:
        return Verdict(0.0, f"no_known_label: {unknown} boxes, labels not in the gold")
    return job, f"pred={len(sides[0])} gold={len(sides[1])} unknown_labels={unknown}"


def ap_score_batch(samples: Sequence[Sample], golds: Sequence[Any], params: Mapping[str, Any]) -> list[Verdict]:
    """``detection_ap``: every row planned, then all COCO evaluations in one call."""
    p = check_ap_params(params)
    out: list[Verdict | None] = [None] * len(samples)
    jobs: list[tuple[int, CocoJob, str]] = []
    for i, (sample, gold) in enumerate(zip(samples, golds)):
        try:
            planned = _plan_ap(sample, gold, p)
        except Exception as exc:  # noqa: BLE001 - one odd row must not void the batch
            planned = Verdict.skip(f"error: {type(exc).__name__}: {exc}"[:160])
        if isinstance(planned, Verdict):
            out[i] = planned
        else:
            jobs.append((i, *planned))
    if jobs:
        values = coco_ap([job for _, job, _ in jobs], p["coco"])
        k = 0 if p["metric"] == "ap" else 1
        for (i, job, why), pair in zip(jobs, values):
            ap = pair[k]
            if ap < 0 and p["compat"] is None:
                out[i] = Verdict.skip("bad_solution: no gold box inside COCO's area range")
            else:
                score = ap * job.factor
                out[i] = Verdict(float(score), f"{p['metric']}={ap:.2f} {why}" + (f" length={job.factor:.2f}" if job.factor != 1.0 else ""))
    return [v if v is not None else Verdict.skip("internal: unscored") for v in out]


# -- the weighted-sum reward ---------------------------------------------------------------
def _weighted(pred: list, gold: list, p: Mapping[str, Any]) -> Verdict:
    """VLM-R1's formula with standard IoU, greedy matching, labels compared normalised."""
    values = geometry.box_iou_matrix([b for _, b in pred], [b for _, b in gold])
    values = np.nan_to_num(values, nan=0.0)
    order = np.argsort(-values, axis=None, kind="stable")
    used_p: set[int] = set()
    used_g: set[int] = set()
    position = labels_ok = 0.0
    m = len(gold)
    for flat in order:
        i, j = divmod(int(flat), m)
        v = float(values[i, j])
        if v < p["iou_threshold"] or len(used_p) == len(pred) or len(used_g) == m:
            break
        if i in used_p or j in used_g:
            continue
        used_p.add(i)
        used_g.add(j)
        if pred[i][0] == gold[j][0]:
            position += v
            labels_ok += 1
    n = len(used_p)
    completeness = 1.0 - ((m - n) / m + (len(pred) - n) / len(pred)) / 2.0
    a, b, c = float(p["alpha"]), float(p["beta"]), float(p["gamma"])
    score = (a * position / m + b * labels_ok / m + c * completeness) / (a + b + c)
    return Verdict(score, f"weighted={score:.2f} matched={n}/{m} pred={len(pred)} labels_ok={int(labels_ok)}")


def _weighted_one(sample: Sample, gold: Any, p: Mapping[str, Any]) -> Verdict:
    text = sample.completion if isinstance(sample.completion, str) else ""
    if p["compat"] is not None:
        if len(text) > p["max_chars"]:
            return Verdict(0.0, "too_long")
        try:
            score = weighted_sum_plan(text, solution_text(sample), int(p["max_pairs"]), float(p["iou_threshold"]),
                                      float(p["alpha"]), float(p["beta"]), float(p["gamma"]))
        except Raises as exc:
            return Verdict.skip(f"vlm-r1_raises: {exc}")
        except _TooMany:
            return Verdict(0.0, "too_many_boxes")
        return Verdict(float(score), f"weighted={score:.2f}")
    sides = _boxes_in_pixels(sample, parse_answer(text, _limits(p)), _as_parsed(gold, p), p, "detection_weighted")
    if isinstance(sides, Verdict):
        return sides
    if len(sides[0]) * len(sides[1]) > p["max_pairs"]:
        return Verdict(0.0, "too_many_boxes")
    return _weighted(*sides, p)


def weighted_score_batch(samples: Sequence[Sample], golds: Sequence[Any], params: Mapping[str, Any]) -> list[Verdict]:
    """``detection_weighted``: VLM-R1's position / label / completeness score per row."""
    p = check_weighted_params(params)
    out = []
    for sample, gold in zip(samples, golds):
        try:
            out.append(_weighted_one(sample, gold, p))
        except Exception as exc:  # noqa: BLE001 - one odd row must not void the batch
            out.append(Verdict.skip(f"error: {type(exc).__name__}: {exc}"[:160]))
    return out
