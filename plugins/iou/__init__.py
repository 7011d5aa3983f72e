"""First-party plugin ``iou``: the ``iou`` reward and the ``bbox`` verifier.

Boxes from JSON, lists or Qwen box tokens; frames converted to original-image pixels
(Qwen2.5-VL smart_resize, Qwen2-VL [0, 1000)); IoU or GIoU, soft or thresholded;
several boxes matched one-to-one; rotated boxes and polygons through shapely;
``compat: vlm-r1`` for VLM-R1's exact REC reward. See docs/rewards/iou.md.

Importing this module loads numpy only; shapely and scipy load when a row needs them.
"""

from __future__ import annotations

from vlmr1.hookspecs import hookimpl
from vlmr1.reportviews import ReportView
from vlmr1.types import Reward, Verifier

from .detection import (
    AP_DEFAULTS,
    WEIGHTED_DEFAULTS,
    ap_score_batch,
    check_ap_params,
    check_weighted_params,
    prepare_detection_gold,
    weighted_score_batch,
)
from .reward import DEFAULTS, check_params, compare, extract, prepare_gold, score_batch

__all__ = ["register_report_views", "register_rewards", "register_verifiers"]

_DOC = (
    "Box IoU/GIoU against the solution, after converting both to original-image pixels. "
    "params: frame (auto|original|input|norm1000|norm1), gt_frame, model_family "
    "(qwen2-vl|qwen2.5-vl|qwen3-vl|internvl), patch_size/merge_size/min_pixels/max_pixels "
    "(smart_resize), metric (iou|giou), threshold, match (hungarian|greedy), labels, "
    "compat (vlm-r1|vlm-r1-eval), duplicate_iou (repeated boxes collapse). Reasons: iou=0.43, no_box, no_object_ok, false_alarm, "
    "missed, non_finite, too_long, too_many_boxes, bad_solution, no_image_size."
)


@hookimpl
def register_rewards(register) -> None:
    register(Reward("iou", doc=_DOC, score_batch=score_batch, prepare=prepare_gold, cheap=True, defaults=dict(DEFAULTS),
                    check_params=check_params))
    register(Reward(
        "detection_ap",
        doc="COCO AP of labelled boxes against the gold (one category per gold label; metric ap = IoU .50:.95, "
        "ap50), optionally times n_gold/n_pred (length_penalty, VLM-R1's odLength); a batch is one COCO "
        "evaluation. params: metric, length_penalty, coco (faster|pycocotools), frame params, compat "
        "(vlm-r1 = od_ap/od_ap50/odLength, vlm-r1-map = map). Reasons: ap=0.43 pred=3 gold=2 unknown_labels=1, "
        "no_object_ok, missed, false_alarm, no_known_label, bad_solution.",
        score_batch=ap_score_batch, prepare=prepare_detection_gold, cheap=True, defaults=dict(AP_DEFAULTS),
        check_params=check_ap_params))
    register(Reward(
        "detection_weighted",
        doc="VLM-R1's weighted_sum detection score: greedy matching at IoU >= iou_threshold, "
        "(alpha*position + beta*labels + gamma*completeness)/(alpha+beta+gamma), a wrong label counts IoU 0. "
        "params: iou_threshold, alpha, beta, gamma, frame params, compat (vlm-r1). Reasons: weighted=0.61 "
        "matched=2/3 pred=2 labels_ok=2, no_object_ok, missed, false_alarm, bad_solution.",
        score_batch=weighted_score_batch, prepare=prepare_detection_gold, cheap=True,
        defaults=dict(WEIGHTED_DEFAULTS), check_params=check_weighted_params))


@hookimpl
def register_verifiers(register) -> None:
    register(
        Verifier(
            "bbox",
            extract=extract,
            compare=compare,
            prepare=prepare_gold,
            doc="Boxes from a completion (extract), the solution parsed once (prepare), "
            "matched and scored in original-image pixels (compare); same params as the iou reward.",
        )
    )


_VIEW = "vlmr1.plugins.iou.report:"


@hookimpl
def register_report_views(register) -> None:
    register(ReportView(
        "box",
        applies=_VIEW + "applies", shapes=_VIEW + "shapes", notes=_VIEW + "notes", checks=_VIEW + "checks",
        doc="Boxes, rotated boxes and polygons of answers and solutions, in original pixels and as given; "
        "IoU both ways; the frame check (does the scored IoU column compare boxes in the model's frame?).",
    ))
