"""First-party plugin ``iou``: the ``iou`` reward and the ``bbox`` verifier.

Boxes from JSON, lists or Qwen box tokens; frames converted to original-image pixels
(Qwen2.5-VL smart_resize, Qwen2-VL [0, 1000)); IoU or GIoU, soft or thresholded;
several boxes matched one-to-one; rotated boxes and polygons through shapely;
``compat: vlm-r1`` for VLM-R1's exact REC reward. See docs/rewards/iou.md.

Importing this module loads numpy only; shapely and scipy load when a row needs them.
"""

from __future__ import annotations

from vlmr1.hookspecs import hookimpl
from vlmr1.types import Reward, Verifier

from .reward import DEFAULTS, check_params, compare, extract, prepare_gold, score_batch

__all__ = ["register_rewards", "register_verifiers"]

_DOC = (
    "Box IoU/GIoU against the solution, after converting both to original-image pixels. "
    "params: frame (auto|original|input|norm1000|norm1), gt_frame, model_family "
    "(qwen2-vl|qwen2.5-vl|qwen3-vl|internvl), patch_size/merge_size/min_pixels/max_pixels "
    "(smart_resize), metric (iou|giou), threshold, match (hungarian|greedy), labels, "
    "compat (vlm-r1|vlm-r1-eval). Reasons: iou=0.43, no_box, no_object_ok, false_alarm, "
    "missed, non_finite, too_long, too_many_boxes, bad_solution, no_image_size."
)


@hookimpl
def register_rewards(register) -> None:
    register(Reward("iou", doc=_DOC, score_batch=score_batch, prepare=prepare_gold, cheap=True, defaults=dict(DEFAULTS),
                    check_params=check_params))


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
