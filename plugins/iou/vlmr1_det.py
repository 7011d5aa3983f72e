"""VLM-R1's detection rewards (``map``, ``od_ap``, ``od_ap50``, ``odLength``,
``weighted_sum`` of its ``grpo_jsonl.py``), reproduced for ``compat: vlm-r1``.

What VLM-R1 does, and what is kept here on purpose:

- ``map``: the boxes are the *last* ```` ```json ... ``` ```` block of the whole completion
  and of the solution (no answer tags); ``od_ap`` / ``od_ap50`` / ``odLength`` first take
  the last ``<answer>`` block of the completion and the first of the solution, score 1.0
  when both are exactly ``None``, then do the same inside them.
- A prediction that is not JSON is an empty list; an empty list against an empty gold is 1.0.
- COCO AP with one category per distinct gold label; predicted boxes whose label is not
  a gold label (or that lack one, or whose box is not four numbers) are dropped before
  evaluation, so a hallucinated class costs nothing. Every box has score 1.0, so the
  ranking is the answer's order; only the first 100 boxes of a class count.
- ``odLength``: AP times ``n_gold / n_pred`` when more boxes (list items, of any kind)
  are predicted than exist.
- ``weighted_sum``: on ``clean_text`` of both (lower-cased), the *first* ```json block;
  greedy matching at IoU 0.5 with VLM-R1's pixel-inclusive IoU; a matched pair with
  different labels counts IoU 0; a predicted box without a label silently reuses the
  label of the previous matched prediction (a typo in VLM-R1 assigns the fallback to
  another variable), and raises when it is the first match.
- Where VLM-R1 raises (an unreadable gold, the first match without a label) the training
  step would crash; here the row gets None with ``vlm-r1_raises: <why>``.

Every regex is replaced by a linear ``str.find`` equivalent (``vlmr1.compat``); the size
of the answer is bounded by ``max_chars`` and the pairs compared by ``max_pairs``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from vlmr1.compat import clean_text, first, last

__all__ = ["CocoJob", "Raises", "map_plan", "od_plan", "weighted_sum_plan", "vlmr1_box_iou"]

_FENCE_OPEN, _FENCE_CLOSE = "```json", "```"
_ANSWER = ("<answer>", "</answer>")


class Raises(Exception):
    """VLM-R1 raises on this row (its training step would stop)."""


@dataclass
class CocoJob:
    """One row's COCO evaluation: gold and predicted boxes as ``(category, [x, y, w, h])``
    (categories numbered per row), and what to do with the result."""

    gts: list[tuple[int, list[float], float]] = field(default_factory=list)
    dts: list[tuple[int, list[float]]] = field(default_factory=list)
    n_cats: int = 0
    score_type: int = 0
    factor: float = 1.0


def _items(value: Any) -> list[Any]:
    return [item for item in value]  # what VLM-R1 does: a dict gives keys, a str characters


def _float(v: Any) -> float:
    try:
        return float(v)
    except OverflowError:
        raise Raises("coordinate too large for a float") from None


def _calculate_map(pred: list[Any], gt: list[Any], score_type: int) -> float | CocoJob:
    job = CocoJob(score_type=score_type)
    cats: dict[Any, int] = {}
    try:
        for g in gt:
            if g["label"] not in cats:
                cats[g["label"]] = len(cats)
            b = g["bbox_2d"]
            xywh = [b[0], b[1], b[2] - b[0], b[3] - b[1]]
            area = (b[2] - b[0]) * (b[3] - b[1])
            job.gts.append((cats[g["label"]], [_float(v) for v in xywh], _float(area)))
    except Raises:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever VLM-R1's own code would raise
        raise Raises(f"gold box: {type(exc).__name__}") from None
    for p in pred:
        try:
            cat = cats[p["label"]]
            b = p["bbox_2d"]
            xywh = [b[0], b[1], b[2] - b[0], b[3] - b[1]]
            (b[2] - b[0]) * (b[3] - b[1])
        except Exception:  # noqa: BLE001 - VLM-R1's bare except drops the box
            continue
        job.dts.append((cat, [_float(v) for v in xywh]))
    if not job.dts:
        return 0.0
    job.n_cats = len(cats)
    return job


def map_plan(content: str, sol: str | None, length_reward: bool = False, score_type: int = 0) -> float | CocoJob:
    """VLM-R1's ``map_reward``: a score, or the COCO evaluation still to run."""
    if sol is None:
        raise Raises("no <answer> in the solution")
    gt_json = last(sol, _FENCE_OPEN, _FENCE_CLOSE)
    gt_json = gt_json.strip() if gt_json is not None else None
    gt: list[Any] = []
    if gt_json:
        try:
            gt = _items(json.loads(gt_json))
        except Exception as exc:  # noqa: BLE001
            raise Raises(f"gold json: {type(exc).__name__}") from None
    pred: list[Any] = []
    pred_json = last(content, _FENCE_OPEN, _FENCE_CLOSE)
    if pred_json is not None:
        try:
            pred = _items(json.loads(pred_json.strip()))
        except Exception:  # noqa: BLE001 - VLM-R1: an unreadable prediction is no boxes
            pred = []
    if pred and gt:
        reward: float | CocoJob = _calculate_map(pred, gt, score_type)
    elif not pred and not gt:
        reward = 1.0
    else:
        reward = 0.0
    if not length_reward:
        return reward
    factor = 1.0 if len(gt) >= len(pred) else len(gt) / len(pred)
    if isinstance(reward, CocoJob):
        reward.factor = factor
        return reward
    return reward * factor


def od_plan(content: str, sol: str, score_type: int = 0, length_reward: bool = False) -> float | CocoJob:
    """VLM-R1's ``od_reward`` (``score_type`` 0: AP .50:.95, 1: AP50) and ``odLength_reward``."""
    gold = first(sol, *_ANSWER, dotall=True)
    gold = gold.strip() if gold is not None else None
    answer = last(content, *_ANSWER)
    if answer is None:
        return 0.0
    answer = answer.strip()
    if gold == "None" and answer == "None":
        return 1.0
    return map_plan(answer, gold, length_reward=length_reward, score_type=score_type)


def vlmr1_box_iou(box1: Any, box2: Any) -> float:
    """VLM-R1's ``iou`` (pixel-inclusive intersection, plain union); raises as it does."""
    inter_x1 = max(box1[0], box2[0])
    inter_y1 = max(box1[1], box2[1])
    inter_x2 = min(box1[2] - 1, box2[2] - 1)
    inter_y2 = min(box1[3] - 1, box2[3] - 1)
    if inter_x1 < inter_x2 and inter_y1 < inter_y2:
        inter = (inter_x2 - inter_x1 + 1) * (inter_y2 - inter_y1 + 1)
    else:
        inter = 0
    union = (box1[2] - box1[0]) * (box1[3] - box1[1]) + (box2[2] - box2[0]) * (box2[3] - box2[1]) - inter
    return float(inter) / union


def _boxes(text: str, raise_on_error: bool) -> list[Any]:
    found = first(text, _FENCE_OPEN, _FENCE_CLOSE, dotall=True)
    body = found.strip() if found is not None else None
    if not body:
        return []
    try:
        return _items(json.loads(body))
    except Exception as exc:  # noqa: BLE001
        if raise_on_error:
            raise Raises(f"gold json: {type(exc).__name__}") from None
        return []


def _label(box: Any) -> Any:
    return box["label"].lower()


def weighted_sum_plan(content: str, sol: str, max_pairs: int, iou_threshold: float = 0.5,
                      alpha: float = 0.7, beta: float = 0.0, gamma: float = 0.3) -> float:
    """VLM-R1's ``weighted_sum`` branch of ``accuracy_reward`` (``detection_score``)."""
    content, sol = clean_text(content), clean_text(sol)
    if sol == "none":
        return 1.0 if content == "none" else 0.0
    pred = _boxes(clean_text(content), False)
    gt = _boxes(clean_text(sol), True)
    if not gt:
        return 1.0 if not pred else 0.0
    if not pred:
        return 0.0
    if len(pred) * len(gt) > max_pairs:
        raise _TooMany
    ious: list[tuple[float, int, int, float]] = []
    for i, p in enumerate(pred):
        for j, g in enumerate(gt):
            try:
                v = vlmr1_box_iou(p["bbox_2d"], g["bbox_2d"])
            except Exception:  # noqa: BLE001 - VLM-R1 scores the pair 0.0
                v = 0.0
            if v > -1 and not math.isnan(v):  # VLM-R1's strict '>' from -1: others never win
                ious.append((-v, i * len(gt) + j, i, v))
    ious.sort()  # highest first; ties: first pred, then first gold (VLM-R1's scan order)
    used_p: set[int] = set()
    used_g: set[int] = set()
    matches: list[tuple[float, bool]] = []
    pred_label: Any = _UNSET
    for _, flat, i, v in ious:
        if v < iou_threshold:
            break
        j = flat - i * len(gt)
        if i in used_p or j in used_g:
            continue
        try:
            pred_label = _label(pred[i])
        except Exception:  # noqa: BLE001 - VLM-R1 assigns the fallback to another name
            pass
        try:
            gt_label = _label(gt[j])
        except Exception:  # noqa: BLE001
            gt_label = ""
        if pred_label is _UNSET:
            raise Raises("UnboundLocalError: first matched prediction has no label")
        ok = pred_label == gt_label
        matches.append((v if ok else 0.0, ok))
        used_p.add(i)
        used_g.add(j)
        if len(used_p) == len(pred) or len(used_g) == len(gt):
            break
    n_gt, n_pred = len(gt), len(pred)
    position = sum(m[0] for m in matches) / n_gt if matches else 0.0
    label_score = sum(1.0 for m in matches if m[1]) / n_gt if matches else 0.0
    miss_rate = (n_gt - len(matches)) / n_gt
    false_alarm = (n_pred - len(matches)) / n_pred
    completeness = 1.0 - (miss_rate + false_alarm) / 2.0
    return (alpha * position + beta * label_score + gamma * completeness) / (alpha + beta + gamma)


class _TooMany(Exception):
    pass


_UNSET = object()
