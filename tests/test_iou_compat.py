"""``compat: vlm-r1`` / ``vlm-r1-eval``: VLM-R1's REC reward and evaluation, case by case.

Expected values are worked out by hand from VLM-R1's rules (see plugins/iou/compat.py):
intersection from max(x1) to min(x2 - 1) counted +1 and only when strictly positive in
both axes, union from plain (x2 - x1) * (y2 - y1) areas.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vlmr1.plugins.iou.compat import eval_box, find_answer, train_box, vlmr1_iou
from vlmr1.plugins.iou.reward import prepare_gold, score_batch
from vlmr1.types import Sample

A = "<answer>{}</answer>"

TRAIN = [
    # (completion, gold, sample sizes, expected reward, why)
    (A.format('{"bbox_2d": [10,10,50,50]}'), "<answer>[10,10,50,50]</answer>", {}, 1.0, "40x40 overlap: (49-10+1)^2 / 1600"),
    (A.format("[0,0,10,10]"), "<answer>[9,0,20,10]</answer>", {}, 0.0, "one-pixel overlap counts nothing"),
    (A.format("[0,0,10,10]"), "<answer>[5,5,15,15]</answer>", {}, 25 / 175, "(9-5+1)^2=25 over 100+100-25"),
    (A.format("[0, 0, 20, 10]"), "<answer>[0,0,10,10]</answer>", {}, 0.5, "10x10 over 200"),
    (A.format("[10.5, 10, 50, 50]"), "<answer>[10,10,50,50]</answer>", {}, 0.0, "floats do not match the pattern"),
    (A.format("[ 10, 10, 50, 50]"), "<answer>[10,10,50,50]</answer>", {}, 0.0, "no space allowed after ["),
    (A.format("[-5,0,10,10]"), "<answer>[0,0,10,10]</answer>", {}, 0.0, "negative numbers do not match"),
    (A.format("[0,0,10,10] then [5,5,15,15]"), "<answer>[5,5,15,15]</answer>", {}, 25 / 175, "the first box counts"),
    ('{"bbox_2d": [10,10,50,50]}', "<answer>[10,10,50,50]</answer>", {}, 0.0, "no answer tag"),
    (A.format("[0,0,10,10]") + A.format("[10,10,50,50]"), "<answer>[10,10,50,50]</answer>", {}, 0.0, "the first answer tag counts"),
    (A.format("[5,5,25,25]"), "<answer>[10,10,50,50]</answer>", {"image_size": (200, 100), "input_size": (100, 50)}, 1.0,
     "scaled x/100*200, y/50*100"),
    (A.format("[5,5,5,5]"), "<answer>[5,5,5,5]</answer>", {}, 0.0, "zero union: ZeroDivisionError, caught as 0"),
    (A.format("[1,1,1,1]"), [0, 0, 10, 10], {}, 0.0, "a list solution works too"),
    (A.format("[0,0,10,10]"), [0, 0, 1e300, 1e300], {}, 0.0, "a huge gold: the union overflows to inf, IoU 0"),
]


@pytest.mark.parametrize("completion, gold, sizes, expected, why", TRAIN)
def test_vlmr1_training_reward(completion, gold, sizes, expected, why):
    sample = Sample(completion, **sizes)
    (v,) = score_batch([sample], [prepare_gold(gold, {})], {"compat": "vlm-r1"})
    assert v.score == pytest.approx(expected, abs=1e-12), why


def test_unreadable_or_non_finite_solution_is_none():
    for gold in ("<answer>[NaN, 0, 1, 1]</answer>", "[1, 2, 3]", "no tags, no json"):
        (v,) = score_batch([Sample(A.format("[0,0,1,1]"))], [prepare_gold(gold, {})], {"compat": "vlm-r1"})
        assert v.score is None and v.reason.startswith("bad_solution"), gold


def test_vlmr1_training_threshold_is_strict():
    sample = Sample(A.format("[0,0,20,10]"))  # IoU exactly 0.5
    (v,) = score_batch([sample], [prepare_gold([0, 0, 10, 10], {})], {"compat": "vlm-r1", "threshold": 0.5})
    assert v.score == 0.0
    (v,) = score_batch([sample], [prepare_gold([0, 0, 10, 10], {})], {"compat": "vlm-r1", "threshold": 0.4})
    assert v.score == 1.0


def test_vlmr1_grid_times_patch_size():
    """VLM-R1 takes the input size from image_grid_thw x 14; here the patch size is a param."""
    sample = Sample(A.format("[5,5,25,25]"), image_size=(200, 100), columns={"image_grid_thw": [1, 5, 10]})
    (v,) = score_batch([sample], [prepare_gold([10, 10, 50, 50], {})], {"compat": "vlm-r1", "patch_size": 10})
    assert v.score == 1.0


EVAL = [
    (A.format('{"bbox_2d": [0,0,10,10]}, {"bbox_2d": [10,10,50,50]}'), [10, 10, 50, 50], 1.0, "greedy .*: the last box"),
    (A.format("[10,10,50,50]"), [10, 10, 50, 50], 0.0, "no braces: falls back to [0,0,0,0]"),
    (A.format('{"bbox_2d": [10,10,50,50]} [0,0,1,1]'), [10, 10, 50, 50], 1.0, "a box after the last } is skipped"),
    (A.format('{"bbox_2d": [0,0,20,10]}'), [0, 0, 10, 10], 0.0, "IoU 0.5 is not > 0.5"),
    (A.format('{"bbox_2d": [0,0,19,10]}'), [0, 0, 10, 10], 1.0, "100 / 190 > 0.5"),
    ('{"bbox_2d": [10,10,50,50]}', [10, 10, 50, 50], 0.0, "no answer tag"),
]


@pytest.mark.parametrize("completion, gold, expected, why", EVAL)
def test_vlmr1_eval(completion, gold, expected, why):
    (v,) = score_batch([Sample(completion)], [prepare_gold(gold, {})], {"compat": "vlm-r1-eval"})
    assert v.score == expected, why


def test_iou_arithmetic_by_hand():
    assert vlmr1_iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert vlmr1_iou([0, 0, 10, 10], [8, 8, 20, 20]) == pytest.approx(4 / (100 + 144 - 4))
    assert vlmr1_iou([0, 0, 10, 10], [9, 9, 20, 20]) == 0.0  # overlap of one pixel
    with pytest.raises(ZeroDivisionError):
        vlmr1_iou([1, 1, 1, 1], [1, 1, 1, 1])


# VLM-R1's patterns, run with re: our linear-time versions must give the same groups.
_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_TRAIN_RE = re.compile(r"\[(\d+),\s*(\d+),\s*(\d+),\s*(\d+)]")
_EVAL_RE = re.compile(r"\{.*\[(\d+),\s*(\d+),\s*(\d+),\s*(\d+)]\s*.*\}", re.DOTALL)


def _by_regex(content, pattern):
    m = _TAG.search(content)
    if not m:
        return None
    b = pattern.search(m.group(1).strip())
    return [int(x) for x in b.groups()] if b else None


_PIECES = st.sampled_from(["<answer>", "</answer>", "{", "}", "[", "]", ",", ", ", " ", "\n", "1", "23", "0", "x", '"bbox_2d": ', "[1,2,3,4]", "[5, 6,7,  8]", "<answer>{", "[9,9,9,9]}", "}</answer>"])


@settings(max_examples=700, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_linear_extraction_equals_the_regexes(text):
    assert find_answer(text) == (m.group(1) if (m := _TAG.search(text)) else None)
    assert train_box(text) == _by_regex(text, _TRAIN_RE)
    assert eval_box(text) == _by_regex(text, _EVAL_RE)


def test_adversarial_answer_is_fast():
    import time

    text = "<answer>{" + "[1,2,3, " * 20_000 + "</answer>"
    start = time.perf_counter()
    assert eval_box(text) is None and train_box(text) is None
    assert time.perf_counter() - start < 0.5
