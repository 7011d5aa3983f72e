"""detection_ap and detection_weighted in default mode: COCO AP by hand on small cases, the
no-object rules, frames, the two COCO libraries agreeing, and bounded verdicts on hostile input."""

from __future__ import annotations

import json
import random

import pytest
from vlmr1 import Sample
from vlmr1.config import config_from_dict
from vlmr1.engine import Engine
from vlmr1.registry import load_registry
from vlmr1_rows import detection_row


def score(reward: str, samples, **params):
    cfg = config_from_dict({"rewards": [{"name": "r", "reward": reward, "params": params}], "engine": {"workers": 0}})
    with Engine(cfg, load_registry(allow={"iou"})) as eng:
        return eng.score(samples)


def _answer(boxes) -> str:
    return "<think>t</think><answer>```json\n" + json.dumps(boxes) + "\n```</answer>"


GOLD = [{"bbox_2d": [0, 0, 100, 100], "label": "dog"}, {"bbox_2d": [200, 200, 300, 300], "label": "Cat"}]


def test_ap_by_hand():
    # a perfect answer: AP 1; one class right and one missing: (1 + 0) / 2 categories
    perfect = Sample(_answer([{"bbox_2d": [0, 0, 100, 100], "label": "Dog "}, {"bbox_2d": [200, 200, 300, 300], "label": "cat"}]), GOLD)
    half = Sample(_answer([{"bbox_2d": [0, 0, 100, 100], "label": "dog"}]), GOLD)
    # IoU 0.81 (box shifted by 10 px): a hit at thresholds .50-.80 (7 of 10), per-class AP .7, the other class 1
    shifted = Sample(_answer([{"bbox_2d": [10, 0, 110, 100], "label": "dog"}, {"bbox_2d": [200, 200, 300, 300], "label": "cat"}]), GOLD)
    r = score("detection_ap", [perfect, half, shifted])
    assert r.columns["r"][0] == pytest.approx(1.0)
    assert r.columns["r"][1] == pytest.approx(0.5)
    assert r.columns["r"][2] == pytest.approx((0.7 + 1.0) / 2)
    r50 = score("detection_ap", [shifted], metric="ap50")
    assert r50.columns["r"][0] == pytest.approx(1.0)


def test_length_penalty_and_unknown_labels():
    extra = [{"bbox_2d": [0, 0, 100, 100], "label": "dog"}, {"bbox_2d": [200, 200, 300, 300], "label": "cat"},
             {"bbox_2d": [400, 400, 450, 450], "label": "zebra"}, {"bbox_2d": [500, 500, 550, 550], "label": "zebra"}]
    r = score("detection_ap", [Sample(_answer(extra), GOLD)])
    assert r.columns["r"][0] == pytest.approx(1.0) and "unknown_labels=2" in r.reasons["r"][0]
    r = score("detection_ap", [Sample(_answer(extra), GOLD)], length_penalty=True)
    assert r.columns["r"][0] == pytest.approx(2 / 4)


def test_no_object_rules():
    rows = [Sample("<answer>None</answer>", "None"), Sample("<answer>[]</answer>", []),
            Sample(_answer(GOLD), "none"), Sample("<answer>None</answer>", GOLD),
            Sample("<answer>not json {</answer>", GOLD), Sample(_answer(GOLD), "{broken")]
    for reward in ("detection_ap", "detection_weighted"):
        r = score(reward, rows)
        assert r.columns["r"][:5] == [1.0, 1.0, 0.0, 0.0, 0.0], reward
        assert r.reasons["r"][0] == "no_object_ok"
        assert r.reasons["r"][2].startswith("false_alarm") and r.reasons["r"][3].startswith("missed")
        assert r.columns["r"][5] is None and r.reasons["r"][5].startswith("bad_solution")


def test_weighted_by_hand_and_labels():
    # one right box (IoU 1), one box with the wrong label (IoU counts 0), one missed gold:
    gold = GOLD + [{"bbox_2d": [400, 0, 500, 100], "label": "car"}]
    pred = [{"bbox_2d": [0, 0, 100, 100], "label": "DOG"}, {"bbox_2d": [200, 200, 300, 300], "label": "car"}]
    r = score("detection_weighted", [Sample(_answer(pred), gold)])
    position, completeness = 1.0 / 3, 1 - ((1 / 3) + 0) / 2
    assert r.columns["r"][0] == pytest.approx((0.7 * position + 0.3 * completeness) / 1.0)
    # a missing label is a wrong label here (VLM-R1 would reuse the previous prediction's)
    pred = [{"bbox_2d": [0, 0, 100, 100], "label": "dog"}, {"bbox_2d": [200, 200, 300, 300]}]
    r = score("detection_weighted", [Sample(_answer(pred), GOLD)])
    assert r.columns["r"][0] == pytest.approx((0.7 * 0.5 + 0.3 * 1.0))
    fenced = "```json\n" + json.dumps(GOLD) + "\n```"
    r = score("detection_weighted", [Sample(_answer(pred), fenced)], compat="vlm-r1")
    assert r.columns["r"][0] == pytest.approx((0.7 * 0.5 + 0.3 * 1.0))  # VLM-R1 reuses "dog", wrong for the cat


@pytest.mark.parametrize("compat", [None, "vlm-r1"])
def test_weighted_params_are_used_in_both_modes(compat):
    # three gold boxes; pred: dog right (IoU 1), "car" on the cat (IoU 1, wrong label), and the
    # car shifted by half its width: overlap 50*100, union 150*100, IoU 1/3 (label right)
    gold = GOLD + [{"bbox_2d": [400, 0, 500, 100], "label": "car"}]
    pred = [{"bbox_2d": [0, 0, 100, 100], "label": "dog"}, {"bbox_2d": [200, 200, 300, 300], "label": "car"},
            {"bbox_2d": [450, 0, 550, 100], "label": "car"}]
    sol = "```json\n" + json.dumps(gold) + "\n```" if compat else gold
    row = [Sample(_answer(pred), sol)]
    labels = {"alpha": 0.0, "beta": 1.0, "gamma": 0.0, "compat": compat}
    assert score("detection_weighted", row, **labels).columns["r"] == [pytest.approx(1 / 3)]  # dog only (car IoU < 0.5)
    assert score("detection_weighted", row, iou_threshold=0.3, **labels).columns["r"] == [pytest.approx(2 / 3)]
    whole = {"alpha": 0.0, "beta": 0.0, "gamma": 1.0, "compat": compat}
    # 2 of 3 matched: miss 1/3, false alarm 1/3, completeness 1 - (1/3 + 1/3) / 2
    assert score("detection_weighted", row, **whole).columns["r"] == [pytest.approx(2 / 3)]
    assert score("detection_weighted", row, iou_threshold=0.3, **whole).columns["r"] == [pytest.approx(1.0)]
    # position alone at iou_threshold 0.3: (1 + 0 + 1/3) / 3 (the cat's IoU counts 0: wrong label)
    pos = score("detection_weighted", row, iou_threshold=0.3, alpha=1.0, beta=0.0, gamma=0.0, compat=compat)
    assert pos.columns["r"] == [pytest.approx((1 + 1 / 3) / 3)]


def test_compat_weighted_first_match_without_label_is_none_with_reason():
    pred = [{"bbox_2d": [0, 0, 100, 100]}]
    r = score("detection_weighted", [Sample(_answer(pred), "```json\n" + json.dumps(GOLD) + "\n```")], compat="vlm-r1")
    assert r.columns["r"] == [None] and r.reasons["r"][0].startswith("vlm-r1_raises: UnboundLocalError")


def test_boxes_in_the_model_input_frame_are_converted():
    sample = Sample(_answer([{"bbox_2d": [0, 0, 50, 50], "label": "dog"}]), [{"bbox_2d": [0, 0, 100, 100], "label": "dog"}],
                    image_size=(200, 200), input_size=(100, 100))
    assert score("detection_ap", [sample]).columns["r"] == [pytest.approx(1.0)]
    assert score("detection_ap", [sample], frame="original").columns["r"] == [pytest.approx(0.0)]


def test_the_two_coco_libraries_agree_on_generated_rows():
    rng = random.Random(11)
    rows = [detection_row(rng, "od_ap") for _ in range(150)]
    samples = [Sample(r["completion"], r["solution"]) for r in rows]
    for params in ({}, {"compat": "vlm-r1"}, {"compat": "vlm-r1", "metric": "ap50"}):
        a = score("detection_ap", samples, coco="faster", **params).columns["r"]
        b = score("detection_ap", samples, coco="pycocotools", **params).columns["r"]
        assert [x is None for x in a] == [x is None for x in b]
        assert max(abs(x - y) for x, y in zip(a, b) if x is not None) <= 1e-9
        assert sum(0 < x < 1 for x in a if x is not None) > 10


HOSTILE = [
    "<answer>" + json.dumps([{"bbox_2d": [i, i, i + 5, i + 5], "label": "dog"} for i in range(20_000)]) + "</answer>",
    "<answer>```json\n" + json.dumps([{"bbox_2d": [i, i, i + 5, i + 5], "label": "dog"} for i in range(20_000)]) + "\n```</answer>",
    '<answer>```json\n[{"bbox_2d": [NaN, 0, 10, 10], "label": "dog"}]\n```</answer>',
    '<answer>```json\n[{"bbox_2d": [Infinity, 0, 1e400, 10], "label": "dog"}]\n```</answer>',
    '<answer>```json\n[{"bbox_2d": [' + "9" * 400 + ', 0, 10, 10], "label": "dog"}]\n```</answer>',
    "<answer>```json\n" + "[" * 50_000 + "\n```</answer>",
    "<answer>```json\n[{\"bbox_2d\": [1, 2, 3, 4], \"label\": \"" + "x" * 200_000 + "\"}]\n```</answer>",
    "<answer>" * 30_000,
    "```json" * 30_000,
    '<answer>```json\n[{"bbox_2d": "oops", "label": ["a"]}, 5, null, {"bbox_2d": [1, 2]}]\n```</answer>',
]


@pytest.mark.parametrize("reward, params", [("detection_ap", {}), ("detection_ap", {"compat": "vlm-r1"}),
                                            ("detection_ap", {"compat": "vlm-r1-map"}), ("detection_weighted", {}),
                                            ("detection_weighted", {"compat": "vlm-r1"})])
def test_hostile_answers_give_bounded_verdicts_with_reasons(reward, params):
    import time

    gold = "```json\n" + json.dumps(GOLD) + "\n```"
    samples = [Sample(h, gold) for h in HOSTILE]
    t = time.monotonic()
    r = score(reward, samples, **params)
    assert time.monotonic() - t < 20
    for value, reason in zip(r.columns["r"], r.reasons["r"]):
        assert reason
        assert value is None or 0.0 <= value <= 1.0
