"""format's compat: vlm-r1 (VLM-R1's format regex, in linear time) and lenient (escape debris
and one level of wrapping forgiven, prose still refused); iou's duplicate collapse."""

from __future__ import annotations

import random
import re
import time

import pytest
import vlmr1_reference as ref
from vlmr1 import Sample
from vlmr1.config import config_from_dict
from vlmr1.engine import Engine
from vlmr1.plugins.json.vlmr1_format import vlmr1_format_ok


def score(reward, samples, **params):
    cfg = config_from_dict({"rewards": [{"name": "r", "reward": reward, "params": params}], "task": "rec", "engine": {"workers": 0}})
    with Engine(cfg) as eng:
        return eng.score(samples)


def test_vlmr1_format_equals_the_regex_on_generated_text():
    parts = ["<think>", "</think>", "<answer>", "</answer>", " ", "\n", "x", "<think></think>", "</think> <answer>"]
    rng = random.Random(0)
    for _ in range(50_000):
        t = "".join(rng.choice(parts) for _ in range(rng.randint(0, 9)))
        assert vlmr1_format_ok(t) == bool(ref.format_reward(t)), repr(t)


def test_vlmr1_format_is_linear_where_the_regex_is_not():
    hostile = "<think>" + "</think>" * 4000 + "<answer>" * 4000
    t = time.monotonic()
    r = score("format", [Sample(hostile)], compat="vlm-r1")
    assert time.monotonic() - t < 1.0 and r.columns["r"] == [0.0]


BOX = '{"bbox_2d": [0, 1, 153, 78], "label": "cup"}'
LENIENT_OK = [
    f"<think>t</think><answer>{BOX}\\n</answer>",
    f"<think>t</think><answer>{BOX}\\n\\t \\r</answer>",
    f'<think>t</think><answer>["{BOX}](["{BOX}])</answer>',
    f"<think>t</think><answer>[{BOX}]\\n\\n</answer>",
]
STILL_REFUSED = [
    f"<think>t</think><answer>The box is {BOX}</answer>",
    f"<think>t</think><answer>{BOX} and that is all</answer>",
    f"<think>t</think><answer>{BOX}](see here) and more(</answer>",
    "<think>t</think><answer>\\n</answer>",
]


def test_lenient_forgives_debris_and_nothing_else():
    strict = score("format", [Sample(c) for c in LENIENT_OK + STILL_REFUSED])
    lenient = score("format", [Sample(c) for c in LENIENT_OK + STILL_REFUSED], lenient=True)
    assert strict.columns["r"] == [0.0] * 8
    assert lenient.columns["r"] == [1.0] * 4 + [0.0] * 4
    assert set(strict.reasons["r"][:4]) == {"answer_not_json"}


def test_repeated_box_is_one_box_in_iou():
    debris = f'<think>t</think><answer>["{BOX}](["{BOX}])</answer>'
    twice = f"<think>t</think><answer>[{BOX}, {BOX}]</answer>"
    other = '{"bbox_2d": [0, 1, 153, 78], "label": "plate"}'
    two_labels = f"<think>t</think><answer>[{BOX}, {other}]</answer>"
    rows = [Sample(c, [0, 1, 153, 78]) for c in (debris, twice, two_labels)]
    r = score("iou", rows)
    assert r.columns["r"][:2] == [pytest.approx(1.0)] * 2
    assert r.columns["r"][2] == pytest.approx(0.5)  # different labels are two boxes
    kept = score("iou", rows, duplicate_iou=None)
    assert kept.columns["r"] == [pytest.approx(0.5)] * 3


def test_a_gold_that_repeats_a_box_is_collapsed_by_the_same_rule():
    """Gold [0,0,100,100] and [0,0,100,101] (IoU 100/101, same object): an exact answer is one
    box after the answer's collapse, so the gold must be one box too, or it matches half."""
    exact = "<think>t</think><answer>[{\"bbox_2d\": [0, 0, 100, 100]}, {\"bbox_2d\": [0, 0, 100, 101]}]</answer>"
    rows = [Sample(exact, [[0, 0, 100, 100], [0, 0, 100, 101]])]
    assert score("iou", rows).columns["r"] == [pytest.approx(1.0)]
    two = "<think>t</think><answer>[{\"bbox_2d\": [0, 0, 100, 100]}, {\"bbox_2d\": [0, 0, 100, 140]}]</answer>"
    apart = [Sample(two, [[0, 0, 100, 100], [0, 0, 100, 140]])]  # IoU 100/140: two objects, both kept
    assert score("iou", apart).columns["r"] == [pytest.approx(1.0)]
    assert score("iou", rows, duplicate_iou=None).columns["r"] == [pytest.approx(1.0)]


@pytest.mark.parametrize("reward", ["format", "mcq", "yes_no"])
@pytest.mark.parametrize("compat", ["vlm_r1", "VLM-R1", "", 1])
def test_a_mistyped_compat_is_refused_naming_the_allowed_values(reward, compat):
    from vlmr1.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        score(reward, [Sample("<think>t</think><answer>B</answer>", "B")], compat=compat)
    assert f"compat={compat!r}" in str(err.value) and "vlm-r1" in str(err.value)


@pytest.mark.parametrize("reward", ["format", "mcq", "yes_no"])
def test_the_allowed_compat_values_pass(reward):
    for compat in (None, "vlm-r1"):
        r = score(reward, [Sample("<think>t</think><answer>B</answer>", "B")], compat=compat)
        assert len(r.columns["r"]) == 1
