"""COCO average precision for many rows in one library call.

COCOeval per completion costs a COCO index, an evaluation and an accumulation each
(milliseconds of Python per row). Here a whole batch is one evaluation: every row's
classes become categories of their own (row 3's "dog" is not row 5's "dog"), all boxes
sit on one image, and the library computes the precision table of every category at
once. A row's AP is then what ``COCOeval.summarize`` reports for that row alone: the mean
of the precision table over the row's categories that have gold boxes (all of a
category's entries are set, or none), at IoU .50:.95 (``stats[0]``) or .50
(``stats[1]``), area "all", 100 detections. Evaluating only the "all" area range and
100 detections gives the same table entries and skips the work for the others.

Two libraries can do it: ``faster-coco-eval`` (evaluation and accumulation in C++) and
``pycocotools`` (the reference implementation VLM-R1 ships a copy of). ``faster`` is the
default (see docs/rewards/detection.md for the measurement); both give the same numbers
on the differential tests.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["BACKENDS", "coco_ap"]

BACKENDS = ("faster", "pycocotools")


def _dataset(rows: Sequence[Any]) -> tuple[dict[str, Any], list[dict[str, Any]], list[list[int]]]:
    gt: dict[str, Any] = {"images": [{"id": 0, "width": 2048, "height": 2048, "file_name": "batch.jpg"}],
                          "annotations": [], "categories": []}
    dts: list[dict[str, Any]] = []
    row_cats: list[list[int]] = []
    ann_id = 0
    for r, job in enumerate(rows):
        base = len(gt["categories"])
        row_cats.append(list(range(base + 1, base + job.n_cats + 1)))
        gt["categories"].extend({"id": base + k + 1, "name": f"{r}:{k}"} for k in range(job.n_cats))
        for cat, xywh, area in job.gts:
            ann_id += 1
            gt["annotations"].append({"id": ann_id, "image_id": 0, "category_id": base + cat + 1,
                                      "bbox": xywh, "area": area, "iscrowd": 0})
        for cat, xywh in job.dts:
            dts.append({"image_id": 0, "category_id": base + cat + 1, "bbox": xywh, "score": 1.0})
    return gt, dts, row_cats


def _evaluate(gt: dict[str, Any], dts: list[dict[str, Any]], backend: str) -> np.ndarray:
    """The precision table [iou, recall, category, 1, 1] of one evaluation."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        if backend == "faster":
            from faster_coco_eval import COCO, COCOeval_faster as COCOeval

            coco_gt = COCO(gt)
        else:
            from pycocotools.coco import COCO
            from pycocotools.cocoeval import COCOeval

            coco_gt = COCO()
            coco_gt.dataset = gt
            coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(dts)
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.params.areaRng = [[0.0, 1e10]]
        ev.params.areaRngLbl = ["all"]
        ev.params.maxDets = [100]
        ev.evaluate()
        ev.accumulate()
    return np.asarray(ev.eval["precision"])


def coco_ap(rows: Sequence[Any], backend: str = "faster") -> list[tuple[float, float]]:
    """``(AP .50:.95, AP50)`` per row (-1.0 where no category has a gold box in the "all"
    area range, as COCO reports it). Rows need ``n_cats``, ``gts`` and ``dts``."""
    if not rows:
        return []
    gt, dts, row_cats = _dataset(rows)
    precision = _evaluate(gt, dts, backend)
    cat_ids = sorted(c["id"] for c in gt["categories"])
    index = {c: k for k, c in enumerate(cat_ids)}
    out = []
    for cats in row_cats:
        table = precision[:, :, [index[c] for c in cats], 0, 0]
        out.append((_mean(table), _mean(table[0])))
    return out


def _mean(values: np.ndarray) -> float:
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else -1.0
