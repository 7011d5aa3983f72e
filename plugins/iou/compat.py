"""``compat: vlm-r1`` and ``compat: vlm-r1-eval``: VLM-R1's REC reward and REC evaluation,
reproduced number for number, for people comparing against published runs.

What VLM-R1 does (om-ai-lab/VLM-R1: ``Qwen2VLModule.iou_reward`` in
src/open-r1-multimodal/src/open_r1/vlm_modules/qwen_module.py, and ``extract_bbox_answer``
/ ``iou`` in src/eval/test_rec_r1.py):

- The answer is the first ``<answer>(.*?)</answer>`` (DOTALL), stripped; no tag, no box.
- Training: the first match of ``\\[(\\d+),\\s*(\\d+),\\s*(\\d+),\\s*(\\d+)]`` in it, so
  only non-negative integers, no space after ``[`` or before a comma.
  Evaluation: ``\\{.*\\[(\\d+),\\s*(\\d+),\\s*(\\d+),\\s*(\\d+)]\\s*.*\\}`` (DOTALL); the
  greedy ``.*`` picks the *last* such box that has a ``{`` before it and a ``}`` after
  it; no match gives ``[0, 0, 0, 0]``.
- The box is scaled from the model-input frame to the original image: ``x / input_width
  * image_width`` (and the same for y with heights).
- IoU is "pixel-inclusive" in the intersection only: the intersection runs from
  ``max(x1)`` to ``min(x2 - 1)`` and counts ``+ 1``, and is zero unless ``max(x1) <
  min(x2) - 1`` strictly (so overlaps of one pixel or less count nothing), while the
  union uses plain ``(x2 - x1) * (y2 - y1)`` areas.
- Training reward: that IoU, soft (the 0.5 threshold is commented out); any exception
  (a zero union) gives 0.0. Evaluation: correct when IoU ``> 0.5`` (strictly).

The regexes are evaluated here with ``str.find`` and a single ``finditer`` so that they
give the same groups in linear time (VLM-R1's own patterns backtrack on long inputs).
Where VLM-R1 would crash (a zero union in evaluation, a solution without ``<answer>``
tags in training), this gives a reason instead.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from vlmr1.compat import ANSWER_TAGS, first
from vlmr1.types import Sample, Verdict

from vlmr1.frames import Frames, resolve_frames

__all__ = ["MODES", "compat_verdict", "eval_box", "find_answer", "gold_box", "train_box", "vlmr1_iou"]

MODES = ("vlm-r1", "vlm-r1-eval")
_OPEN, _CLOSE = ANSWER_TAGS
_TRAIN_BOX = re.compile(r"\[(\d+),\s*(\d+),\s*(\d+),\s*(\d+)]")


def find_answer(content: str) -> str | None:
    """``re.search(r'<answer>(.*?)</answer>', content, re.DOTALL).group(1)`` in linear time."""
    return first(content, *ANSWER_TAGS)


def _ints(m: re.Match[str]) -> list[int] | None:
    try:
        return [int(g) for g in m.groups()]
    except ValueError:  # more digits than Python's int() accepts
        return None


def train_box(content: str) -> list[int] | None:
    """The box VLM-R1's training reward reads from a completion, or None."""
    answer = find_answer(content)
    if answer is None:
        return None
    m = _TRAIN_BOX.search(answer.strip())
    return _ints(m) if m else None


def eval_box(content: str) -> list[int] | None:
    """The box VLM-R1's REC evaluation reads (None where it falls back to [0, 0, 0, 0])."""
    answer = find_answer(content)
    if answer is None:
        return None
    text = answer.strip()
    brace = text.find("{")
    last_close = text.rfind("}")
    if brace < 0 or last_close < 0:
        return None
    chosen = None
    for m in _TRAIN_BOX.finditer(text, brace + 1):
        if m.end() > last_close:
            break
        chosen = m
    return _ints(chosen) if chosen else None


def vlmr1_iou(box1: Any, box2: Any) -> float:
    """VLM-R1's ``iou`` verbatim in arithmetic (raises ZeroDivisionError on a zero union)."""
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


def gold_box(solution: Any) -> list[float] | None:
    """The gold box: the last ``<answer>...</answer>`` of a string solution parsed as JSON
    (as VLM-R1's training reward reads it), a bare JSON list, or a list of 4 numbers."""
    value = solution
    if isinstance(solution, str):
        close = solution.rfind(_CLOSE)
        open_ = solution.rfind(_OPEN, 0, close) if close >= 0 else -1
        text = solution[open_ + len(_OPEN) : close] if open_ >= 0 else solution
        try:
            value = json.loads(text.strip())
        except (ValueError, RecursionError):
            return None
    if isinstance(value, dict):
        value = value.get("bbox_2d")
    if isinstance(value, (list, tuple)) and len(value) == 4 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value
    ):
        return list(value)
    return None  # VLM-R1 would crash here, or score NaN for a NaN coordinate


def _to_original(box: list[int], frames: Frames) -> list[float]:
    """VLM-R1's ``resize_bbox``, in its order of operations: ``x / input_w * image_w``."""
    if frames.pred == "original":
        return list(box)
    assert frames.image_size is not None
    w, h = frames.image_size
    if frames.pred == "input":
        assert frames.input_size is not None
        dw, dh = frames.input_size
    elif frames.pred == "norm1000":
        dw, dh = 1000, 1000
    else:
        dw, dh = 1, 1
    return [box[0] / dw * w, box[1] / dh * h, box[2] / dw * w, box[3] / dh * h]


def compat_verdict(sample: Sample, gold: Any, params: Mapping[str, Any]) -> Verdict:
    """One sample scored exactly as VLM-R1 scores it (``gold`` is the raw solution)."""
    mode = params.get("compat")
    box = gold_box(gold)
    if box is None:
        return Verdict.skip("bad_solution: want [x1, y1, x2, y2] (optionally in <answer> tags)")
    p = dict(params)
    if (p.get("frame") or "auto") == "auto" and not p.get("model_family"):
        p["frame"] = "input" if (sample.input_size or sample.get("input_size") or p.get("patch_size")) else "original"
    frames = resolve_frames(sample, p)
    if isinstance(frames, str):
        return Verdict.skip(frames)
    content = _text(sample.completion)
    threshold = params.get("threshold")
    if mode == "vlm-r1-eval":
        raw = eval_box(content)
        value, why = _iou(raw if raw is not None else [0, 0, 0, 0], box, frames)
        if value is None:
            return Verdict(0.0, why, raw)
        t = 0.5 if threshold is None else float(threshold)
        return Verdict(1.0 if value > t else 0.0, f"iou={value:.2f}", raw, {"iou": value})
    raw = train_box(content)
    if raw is None:
        return Verdict(0.0, "no_box", None)
    value, why = _iou(raw, box, frames)
    if value is None:
        return Verdict(0.0, why, raw)  # VLM-R1 catches the exception and scores 0.0
    score = value if threshold is None else (1.0 if value > float(threshold) else 0.0)
    return Verdict(score, f"iou={value:.2f}", raw, {"iou": value, "frame": frames.pred})


def _iou(raw: list[int], box: list[float], frames: Frames) -> tuple[float | None, str]:
    """VLM-R1's scaled IoU, or None and why where its arithmetic fails."""
    try:
        value = vlmr1_iou(_to_original(raw, frames), box)
    except ZeroDivisionError:
        return None, "zero_union"
    except OverflowError:
        return None, "overflow"
    return (value, "") if math.isfinite(value) else (None, "overflow")


def _text(completion: Any) -> str:
    if isinstance(completion, list):  # chat messages
        return "".join(m["content"] for m in completion if isinstance(m, dict) and isinstance(m.get("content"), str))
    return completion if isinstance(completion, str) else ""
